# ruff: noqa: F821  (torch, D, NOISE and the helpers come from glossary_meta-learning_linear_tasks.py,
# which the page includes in the same executed block just before this file)
# Meta-train a starting point theta0 on 500 tasks with K = 2, then compare three learners on
# 500 fresh tasks per K: scratch (start at 0), the meta-learned start, and the Bayes posterior
# mean, which is told mu and the spread (the best any learner can do on this distribution).
import claims
import figures
import matplotlib.ticker

generator = torch.Generator().manual_seed(0)
mu = torch.full((D,), 1.0, dtype=torch.float64)
SPREAD, SHOTS, TASKS = 0.5, (1, 2, 4, 6, 12, 24), 500
CLOSE = 0.05  # "close to the oracle": within this share of the oracle's error
theta0 = meta_train_init(*sample_tasks(TASKS, 2, 10, mu, SPREAD, generator))


def per_task_mse(weights, query_x, query_y):  # (T, D) -> (T,)
    return ((query_x @ weights.unsqueeze(-1)).squeeze(-1) - query_y).pow(2).mean(1)


errors = {}  # (learner, K) -> per-task query MSE
for k_shot in SHOTS:
    support_x, support_y, query_x, query_y = sample_tasks(TASKS, k_shot, 20, mu, SPREAD, generator)
    precision = (
        support_x.transpose(1, 2) @ support_x / NOISE**2
        + torch.eye(D, dtype=torch.float64) / SPREAD**2
    )
    rhs = (support_x.transpose(1, 2) @ support_y.unsqueeze(-1)).squeeze(-1) / NOISE**2
    weights = {
        "scratch (start at 0)": adapt_from(torch.zeros_like(mu), support_x, support_y),
        "meta-learned start": adapt_from(theta0, support_x, support_y),
        "Bayes oracle": torch.linalg.solve(precision, rhs + mu / SPREAD**2),
    }
    for learner, w in weights.items():
        errors[learner, k_shot] = per_task_mse(w, query_x, query_y).tolist()
scratch, meta, oracle = (
    name for name in ("scratch (start at 0)", "meta-learned start", "Bayes oracle")
)

# The page's sentences, checked as paired differences over the same tasks:
fewer, more = [k for k in SHOTS if k < D], [k for k in SHOTS if k > D]
for k in fewer:
    claims.greater(errors[scratch, k], errors[meta, k], f"the learned start helps at K = {k}")
    excess = claims.paired(errors[meta, k], errors[oracle, k])
    claims.below(
        excess, CLOSE * claims.mean_ci(errors[oracle, k]).mean, f"near the oracle, K = {k}"
    )
for k in more:
    same = max(abs(a - b) for a, b in zip(errors[scratch, k], errors[meta, k], strict=True))
    claims.check(same < 1e-9, f"every start gives the same answer at K = {k}", f"{same:.1e}")
ratios = [
    claims.mean_ci(errors[scratch, k]).mean / claims.mean_ci(errors[meta, k]).mean for k in fewer
]

gap = sorted((*SHOTS, D))  # K = D is drawn as a break in each line, not interpolated across


def curve(learner, field):
    return [
        float("nan") if k == D else getattr(claims.mean_ci(errors[learner, k]), field) for k in gap
    ]


series = [
    figures.Series(learner, gap, curve(learner, "mean"), ci=curve(learner, "ci95"))
    for learner in (scratch, meta, oracle)
]
fig = figures.line(
    series,
    x_label="support points K (log scale)",
    y_label="query MSE",
    x_scale="log",
    y_scale="log",
)
axes = fig.axes[0]
with figures.style():
    axes.axvline(D, color=figures.MUTED, lw=1, ls="--")
    axes.annotate(
        f"K = D = {D}", (D, 1), xytext=(4, 0), textcoords="offset points", color=figures.FOREGROUND,
        fontsize=9,
    )  # fmt: skip
axes.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
rows = [
    [k, *(str(claims.mean_ci(errors[learner, k])) for learner in (scratch, meta, oracle))]
    for k in SHOTS
]
print(
    figures.render(
        fig,
        alt="Query error against the number of support points for three learners on linear "
        "tasks: below K = D the meta-learned start is far better than starting from zero and "
        "nearly as good as the Bayes oracle; above K = D all three coincide.",
        caption=f"{TASKS} new tasks per K, D = {D} weights; bands are 95% intervals over tasks. "
        f"The learned start is {(theta0 - mu).norm() / mu.norm():.1%} of |μ| away from the task "
        f"mean μ, and below K = D it cuts the error of starting from zero "
        f"{min(ratios):.1f}- to {max(ratios):.1f}-fold. K = D itself is left out (see the text).",
        numbers=figures.table(["K", scratch, meta, oracle], rows),
    )
)
