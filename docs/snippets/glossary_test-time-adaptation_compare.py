# ruff: noqa: F821  (ShiftedDomains, train_source and accuracies come from
# glossary_test-time-adaptation_methods.py, included in the same executed block before this file)
# Three Gaussian classes in 6 dimensions. The source model is trained on the unshifted domain; each
# test condition draws 40 unlabelled batches of 64 inputs, and all three predictors see the same
# batches. Left: balanced batches at growing shift severity. Right: one severity, batches in which
# one class takes a growing share (label shift inside the batch).
import claims
import figures
import torch

CLASSES, DIM, BATCHES, BATCH_SIZE, TENT_STEPS, TENT_LR = 3, 6, 40, 64, 10, 0.05
SEVERITIES, SKEW_SEVERITY, MAJORITY = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0), 1.0, (1 / 3, 0.5, 0.7, 0.9)
domains = ShiftedDomains.draw(CLASSES, DIM, torch.Generator().manual_seed(0))
source_x, source_y = domains.sample(1, 3000, 0.0, torch.Generator().manual_seed(1))
model = train_source(source_x[0], source_y[0], CLASSES)

by_severity = {}  # severity -> {predictor: per-batch accuracy}
for i, severity in enumerate(SEVERITIES):
    x, y = domains.sample(BATCHES, BATCH_SIZE, severity, torch.Generator().manual_seed(10 + i))
    by_severity[severity] = accuracies(model, x, y, TENT_STEPS, TENT_LR)
by_majority = {}  # majority-class share -> {predictor: per-batch accuracy}
for i, share in enumerate(MAJORITY):
    probs = torch.tensor([share, *[(1 - share) / (CLASSES - 1)] * (CLASSES - 1)])
    x, y = domains.sample(
        BATCHES, BATCH_SIZE, SKEW_SEVERITY, torch.Generator().manual_seed(20 + i), probs
    )
    by_majority[share] = accuracies(model, x, y, TENT_STEPS, TENT_LR)
source, statistics, tent = by_severity[0.0]

# The page's sentences, checked against this output (paired over the same batches):
worst, balanced, skewed = SEVERITIES[-1], MAJORITY[0], MAJORITY[-1]
drop = claims.greater(
    by_severity[0.0][source], by_severity[worst][source],
    "the source model loses accuracy as the shift grows",
)  # fmt: skip
fix = claims.greater(
    by_severity[worst][statistics], by_severity[worst][source],
    "test-batch statistics beat the source model at the largest shift",
)  # fmt: skip
recovered = claims.difference(  # independent batches: the two intervals combined
    claims.mean_ci(by_severity[worst][statistics]), claims.mean_ci(by_severity[0.0][source])
)
claims.check(
    -0.03 < recovered.low and recovered.high < 0.03,
    "at the largest shift, test-batch statistics are back at the unshifted source accuracy",
    str(recovered),
)
skew_harm = claims.greater(
    by_majority[skewed][source], by_majority[skewed][statistics],
    "with one class dominating the batch, test-batch statistics are worse than no adaptation",
)  # fmt: skip
for name in (statistics, tent):
    claims.above(
        claims.difference(
            claims.mean_ci(by_majority[balanced][name]), claims.mean_ci(by_majority[skewed][name])
        ),
        0,
        f"{name}: accuracy falls as one class comes to dominate the batch",
    )
tent_gain = claims.greater(
    by_majority[MAJORITY[1]][tent], by_majority[MAJORITY[1]][statistics],
    "under a mild class skew, entropy minimisation beats test-batch statistics alone",
)  # fmt: skip

names = [source, statistics, tent]


def panel(ax, cells, xs, x_label):
    """One line per predictor with its 95% band over batches."""
    for i, name in enumerate(names):
        mean = [cells[x][name].mean for x in xs]
        ci = [cells[x][name].ci95 for x in xs]
        ax.plot(xs, mean, color=figures.color(i), marker=figures.marker(i), label=name)
        ax.fill_between(
            xs, [m - c for m, c in zip(mean, ci, strict=True)],
            [m + c for m, c in zip(mean, ci, strict=True)], color=figures.color(i), alpha=0.18, lw=0,
        )  # fmt: skip
    ax.axhline(1 / CLASSES, color=figures.FOREGROUND, lw=1, ls=":", label="chance")
    ax.set_xlabel(x_label)


severity_cells = {s: {n: claims.mean_ci(v) for n, v in c.items()} for s, c in by_severity.items()}
majority_cells = {m: {n: claims.mean_ci(v) for n, v in c.items()} for m, c in by_majority.items()}
fig, (left, right) = figures.canvas(size=(7.6, 3.6), ncols=2, sharey=True)
with figures.style():  # custom drawing: text and lines follow the page's palette
    panel(left, severity_cells, list(SEVERITIES), "shift severity (balanced batches)")
    panel(
        right,
        majority_cells,
        list(MAJORITY),
        f"share of one class in the batch (severity {SKEW_SEVERITY:g})",
    )
    left.set_ylabel("accuracy on the test batch")
    left.legend(loc="lower left", fontsize=8)
rows = [
    [f"severity {s:g}", *(f"{severity_cells[s][n].mean:.3f} ± {severity_cells[s][n].ci95:.3f}" for n in names)]
    for s in SEVERITIES
] + [
    [f"one class at {m:.0%}", *(f"{majority_cells[m][n].mean:.3f} ± {majority_cells[m][n].ci95:.3f}" for n in names)]
    for m in MAJORITY
]  # fmt: skip
print(
    figures.render(
        fig,
        alt="Two panels of test-batch accuracy. Left, against shift severity: the source model "
        "falls as the shift grows, while test-batch statistics and entropy minimisation stay flat "
        "near the unshifted accuracy. Right, against the share of one class in the batch: both "
        "adaptive methods fall below the source model as the batch becomes dominated by one class.",
        caption=f"{BATCHES} unlabelled batches of {BATCH_SIZE} inputs per point, the same batches "
        f"for all three predictors; bands are 95% confidence intervals over batches. Tent: "
        f"{TENT_STEPS} Adam steps of size {TENT_LR} on γ and β per batch, reset between batches.",
        numbers=figures.table(["test condition", *names], rows),
    )
)
print(
    f"Paired differences over the same batches (95% CI): source model, severity 0 − "
    f"{worst:g}: {drop.mean:+.3f} ± {drop.ci95:.3f}; at severity {worst:g}, statistics − source "
    f"{fix.mean:+.3f} ± {fix.ci95:.3f}; one class at {skewed:.0%}, source − statistics {skew_harm.mean:+.3f} ± "
    f"{skew_harm.ci95:.3f}; one class at {MAJORITY[1]:.0%}, Tent − statistics "
    f"{tent_gain.mean:+.3f} ± {tent_gain.ci95:.3f}."
)
