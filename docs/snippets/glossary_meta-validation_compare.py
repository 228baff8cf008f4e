# ruff: noqa: F821  (sample_episodes, episode_accuracy, meta_train_checkpoints and
# select_and_report come from glossary_meta-validation_selection.py, included before this)
# A linear-embedding prototype classifier meta-trained on 5-way 1-shot episodes, a checkpoint every
# 10 of 150 updates (16 candidates, the first being the untrained identity). Every checkpoint is
# scored on one pool of 2000 held-out episodes; validation and test sets of M episodes each are
# drawn from the pool 300 times per M, and the choice is compared with the pool's own accuracies.
import claims
import figures
import torch
from matplotlib import ticker

FEATURES, STEPS, EVERY, EPISODE, META_BATCH, OUTER_LR = 16, 150, 10, (5, 1, 5), 8, 0.02
POOL, POOL_QUERIES, REPEATS = 2000, 10, 300
SIZES = (10, 25, 50, 100, 200, 400, 800)  # validation episodes M
checkpoints = meta_train_checkpoints(
    FEATURES, STEPS, EVERY, EPISODE, META_BATCH, OUTER_LR, torch.Generator().manual_seed(0)
)
pool_support, pool_query = sample_episodes(
    POOL, EPISODE[0], EPISODE[1], POOL_QUERIES, FEATURES, torch.Generator().manual_seed(1)
)
scores = torch.stack([episode_accuracy(w, pool_support, pool_query) for w in checkpoints])  # (C, E)
truth = scores.mean(1)  # (C,)
updates = [EVERY * i for i in range(len(checkpoints))]
draws = torch.Generator().manual_seed(2)
runs = {m: select_and_report(scores, m, REPEATS, draws) for m in SIZES}
final_regret = (truth.max() - truth[-1]).item()
est = {  # (quantity, M) -> mean and 95% CI over the repeats
    (k, m): claims.mean_ci(r[k].tolist()) for m, r in runs.items() for k in r if k != "chosen"
}
one_draw = scores[:, torch.randperm(POOL, generator=draws)[: SIZES[1]]].mean(1)  # (C,)

# The page's sentences, checked against this output:
small, large = SIZES[1], SIZES[-2]
claims.above(est["optimism", small], 0.0, f"with {small} validation episodes the winner's "
             "validation score overstates its accuracy")  # fmt: skip
claims.decreasing(
    [est["optimism", m] for m in (SIZES[1], SIZES[3], SIZES[5])],
    "the optimism shrinks as the validation set grows",
)
for m in SIZES:
    claims.overlaps(est["test_bias", m], 0.0, f"with {m} episodes a fresh test set is unbiased")
    claims.overlaps(est["final_bias", m], 0.0, f"with {m} episodes the final weights' "
                    "validation score is unbiased: nothing was chosen on it")  # fmt: skip
claims.above(est["regret", small], final_regret, f"with {small} validation episodes the chosen "
             "checkpoint is worse on average than the final weights")  # fmt: skip
claims.below(est["regret", large], final_regret, f"with {large} validation episodes the chosen "
             "checkpoint is better on average than the final weights")  # fmt: skip
single = claims.mean_ci(scores[-1, :small].tolist()).ci95  # one candidate's interval at M
claims.check(
    est["optimism", small].high < 0.5 * single,
    "correlated checkpoints keep the optimism to a fraction of one candidate's interval",
    f"{est['optimism', small]} vs half-width {single:.3f}",
)
claims.check(
    truth[-1] > truth[0] + 0.2 and truth[-1] >= truth.max() - 0.01,
    "meta-training helps, and the curve has flattened by the last checkpoint",
    str(truth.tolist()),
)


def points(x):
    return f"{100 * x:.2f}"


fig, (curve_ax, bias_ax) = figures.canvas(size=(8.0, 3.6), ncols=2)
with figures.style():  # custom drawing: text and lines follow the page's palette
    curve_ax.plot(updates, truth.tolist(), color=figures.color(0), marker=figures.marker(0),
                  label=f"accuracy over the {POOL}-episode pool")  # fmt: skip
    curve_ax.plot(updates, one_draw.tolist(), color=figures.color(1), marker=figures.marker(1),
                  ls="--", label=f"one validation draw, M = {small}")  # fmt: skip
    pick = int(one_draw.argmax())
    curve_ax.plot([updates[pick]], [one_draw[pick].item()], "o", ms=11, mfc="none",
                  color=figures.color(1), label="its choice")  # fmt: skip
    curve_ax.set_xlabel("meta-training updates (checkpoint)")
    curve_ax.set_ylabel("5-way 1-shot query accuracy")
    curve_ax.set_title("candidates: checkpoints")
    curve_ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), fontsize=8)
    lines = (
        ("optimism", "winner's validation score − its accuracy"),
        ("test_bias", "fresh test score − its accuracy"),
        ("regret", "best accuracy − chosen's accuracy"),
    )
    for i, (key, label) in enumerate(lines):
        means = [100 * est[key, m].mean for m in SIZES]
        cis = [100 * est[key, m].ci95 for m in SIZES]
        bias_ax.errorbar(SIZES, means, yerr=cis, color=figures.color(i), marker=figures.marker(i),
                         capsize=3, ls=("-", "--", ":")[i], label=label)  # fmt: skip
    bias_ax.axhline(100 * final_regret, color=figures.color(3), lw=1.2, ls="-.",
                    label="final weights' regret")  # fmt: skip
    bias_ax.axhline(0, color=figures.FOREGROUND, lw=0.8)
    bias_ax.set_xscale("log")
    bias_ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda x, _: f"{x:.0f}"))
    bias_ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    bias_ax.set_xticks(SIZES)
    bias_ax.set_xlabel("validation episodes M (log scale)")
    bias_ax.set_ylabel("accuracy points")
    bias_ax.set_title(f"mean over {REPEATS} draws, 95% CI")
    bias_ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), fontsize=8)

rows = [
    [m, *(f"{points(est[k, m].mean)} ± {points(est[k, m].ci95)}" for k, _ in lines),
     f"{points(est['final_bias', m].mean)} ± {points(est['final_bias', m].ci95)}"]
    for m in SIZES
]  # fmt: skip
print(
    figures.render(
        fig,
        alt="Left: accuracy of each checkpoint over the whole pool rises and flattens; a "
        "validation curve from a few episodes scatters around it and picks a checkpoint on the "
        "plateau by chance. Right: against the number of validation episodes, the winner's "
        "validation score overstates its accuracy, most with few episodes; a fresh test set is "
        "unbiased; the regret of the choice falls below the final weights' regret only with "
        "many validation episodes.",
        caption=f"{len(checkpoints)} checkpoints of {STEPS} meta-training updates, each scored "
        f"on the same {POOL} held-out episodes ({POOL_QUERIES} queries per class), which play "
        f"the task distribution; validation and test sets of M episodes each drawn from the pool "
        f"{REPEATS} times per M. Points are accuracy points (hundredths).",
        numbers=figures.table(
            ["M", *(label for _, label in lines), "final weights' validation score − accuracy"],
            rows,
        ),
    )
)
print(
    f"Pool accuracy: untrained {truth[0].item():.1%}, final {truth[-1].item():.1%}, "
    f"best checkpoint {truth.max().item():.1%} (final weights' regret "
    f"{points(final_regret)} points). With M = {small}: optimism "
    f"{points(est['optimism', small].mean)} ± {points(est['optimism', small].ci95)} points, "
    f"regret {points(est['regret', small].mean)} ± {points(est['regret', small].ci95)}; with "
    f"M = {large}: optimism {points(est['optimism', large].mean)} ± "
    f"{points(est['optimism', large].ci95)}, regret {points(est['regret', large].mean)} ± "
    f"{points(est['regret', large].ci95)}."
)
