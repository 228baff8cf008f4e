# ruff: noqa: F821  (torch, D and the helpers come from glossary_meta-learning_linear_tasks.py,
# which the page includes in the same executed block just before this file)
# Part 1: how similar must tasks be? Meta-train theta0 (K = 2) at five task spreads and compare
# with scratch on fresh tasks from the same distribution. Part 2: train at spread 0.5, then test
# on distributions whose mean has moved. Scratch and meta are scored on the same test tasks.
import claims
import figures

generator = torch.Generator().manual_seed(0)
mu = torch.full((D,), 1.0, dtype=torch.float64)
K_SHOT, TRAIN_TASKS, TEST_TASKS = 2, 300, 300
SPREADS = (0.25, 0.5, 1.0, 2.0, 4.0)


def per_task_mse(weights, query_x, query_y):
    """Query MSE of each task for adapted weights (T, D)."""
    return ((query_x @ weights.unsqueeze(-1)).squeeze(-1) - query_y).pow(2).mean(-1)


def scratch_and_meta(theta0, test_mean, spread):
    """Per-task query MSE after adapting from 0 and from theta0, on the same fresh tasks."""
    support_x, support_y, query_x, query_y = sample_tasks(
        TEST_TASKS, K_SHOT, 20, test_mean, spread, generator
    )
    scratch = adapt_from(torch.zeros_like(mu), support_x, support_y)
    meta = adapt_from(theta0, support_x, support_y)
    return per_task_mse(scratch, query_x, query_y), per_task_mse(meta, query_x, query_y)


def ratio(numerator, denominator):
    """Ratio of means with its 95% interval (delta method over the paired tasks)."""
    r = numerator.mean() / denominator.mean()
    influence = r + (numerator - r * denominator) / denominator.mean()  # mean = r
    return claims.mean_ci(influence.tolist())


gains, predicted = {}, {}
for spread in SPREADS:
    theta0 = meta_train_init(*sample_tasks(TRAIN_TASKS, K_SHOT, 10, mu, spread, generator))
    scratch, meta = scratch_and_meta(theta0, mu, spread)
    gains[spread] = ratio(scratch, meta)
    predicted[spread] = (1 + mu.square().sum() / (D * spread**2)).item()

theta0 = meta_train_init(*sample_tasks(TRAIN_TASKS, K_SHOT, 10, mu, 0.5, generator))
SHIFTS = {"μ (no shift)": mu, "μ / 2": mu / 2, "0": 0 * mu, "−μ": -mu}
shifted = {name: scratch_and_meta(theta0, mean, 0.5) for name, mean in SHIFTS.items()}

# The page's sentences, checked against this output:
for spread in SPREADS:
    claims.overlaps(
        gains[spread],
        predicted[spread],
        f"in this example the gain at spread {spread} agrees with 1 + |mu|^2 / (D s^2)",
    )
claims.decreasing([gains[s] for s in SPREADS[:3]], "in this example the gain falls with spread")
claims.below(
    gains[SPREADS[-1]], 1.1, "in this example the gain is almost gone at the widest spread"
)
no_shift, half, zero, opposite = (shifted[name] for name in SHIFTS)
claims.greater(no_shift[0].tolist(), no_shift[1].tolist(), "the learned start helps without shift")
claims.overlaps(
    claims.paired(half[1].tolist(), half[0].tolist()),
    0,
    "at mu / 2 the learned start and zero are equally far from the test mean: no difference",
)
for name, (scratch, meta) in (("0", zero), ("−μ", opposite)):
    claims.greater(
        meta.tolist(), scratch.tolist(), f"in this example the learned start hurts at mean {name}"
    )

fig, (left, right) = figures.canvas((6.8, 3.1), ncols=2)
with figures.style():  # legends, text and bars take the site's style when created
    left.errorbar(
        SPREADS, [gains[s].mean for s in SPREADS], yerr=[gains[s].ci95 for s in SPREADS],
        color=figures.color(0), marker=figures.marker(0), ls="none", capsize=3, label="measured",
    )  # fmt: skip
    fine = [0.2 * 1.1**i for i in range(35)]  # spreads 0.2 to 5
    left.plot(
        fine, [1 + mu.square().sum().item() / (D * s**2) for s in fine], color=figures.color(1),
        ls="--", lw=1.2, label="1 + ‖μ‖² / (D s²)",
    )  # fmt: skip
    left.axhline(1, color=figures.FOREGROUND, lw=1, ls=":", label="no gain")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xticks(SPREADS, [f"{s:g}" for s in SPREADS])
    left.minorticks_off()
    left.set_xlabel("task spread s")
    left.set_ylabel("gain: scratch / meta error")
    left.legend(loc="upper right")
    positions = range(len(SHIFTS))
    for i, (label, index) in enumerate((("from 0 (scratch)", 0), ("from the learned θ₀", 1))):
        stats = [claims.mean_ci(shifted[name][index].tolist()) for name in SHIFTS]
        right.errorbar(
            [x + (i - 0.5) * 0.15 for x in positions], [p.mean for p in stats],
            yerr=[p.ci95 for p in stats], color=figures.color(i + 2), marker=figures.marker(i + 2),
            ls="none", capsize=3, label=label,
        )  # fmt: skip
    right.set_xticks(list(positions), list(SHIFTS))
    right.grid(False, axis="x")
    right.set_xlabel("mean of the test tasks (trained at μ)")
    right.set_ylabel("query MSE")
    right.legend(loc="upper left")


rows = [
    [f"spread {s:g}", f"{gains[s].mean:.2f} ± {gains[s].ci95:.2f}", f"{predicted[s]:.2f}", "", ""]
    for s in SPREADS
]
for name, (scratch, meta) in shifted.items():
    a, b = claims.mean_ci(scratch.tolist()), claims.mean_ci(meta.tolist())
    rows.append(
        [
            f"test mean {name}",
            "",
            "",
            f"{a.mean:.2f} ± {a.ci95:.2f}",
            f"{b.mean:.2f} ± {b.ci95:.2f}",
        ]
    )
print(
    figures.render(
        fig,
        alt="Left: the gain of the learned start over scratch against the task spread, on log "
        "axes, following the predicted curve from a large gain at small spread down to no gain. "
        "Right: query error of both starts as the test tasks' mean moves away from the training "
        "mean: the learned start is best without shift, equal at half the mean, and worst at the "
        "opposite mean.",
        caption=f"{TEST_TASKS} fresh test tasks per point, the same tasks for both starts; bars "
        "are 95% confidence intervals over tasks (delta method for the gain). Left: read the "
        "points against the dashed prediction. Right: read where the two starts cross.",
        numbers=figures.table(
            ["", "gain (measured)", "gain (predicted)", "scratch MSE", "meta MSE"], rows
        ),
    )
)
worst = ratio(opposite[1], opposite[0])
print(
    f"The gain falls from {gains[SPREADS[0]].mean:.1f}× at spread {SPREADS[0]} to "
    f"{gains[SPREADS[-1]].mean:.1f}× at spread {SPREADS[-1]}; at test mean −μ the learned start's "
    f"error is {worst.mean:.1f}× (± {worst.ci95:.1f}) that of scratch."
)
