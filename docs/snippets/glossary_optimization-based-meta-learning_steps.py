# ruff: noqa: F821  (torch, D and the helpers come from glossary_meta-learning_linear_tasks.py,
# which the page includes in the same executed block just before this file)
# The inner learner is plain gradient descent on the support MSE with step size 0.05. Compare
# starting at 0 with starting at theta0 meta-learned on 2-shot tasks, after a number of inner steps,
# on the same 300 test tasks (so every comparison below is paired over tasks).
import itertools

import claims
import figures

generator = torch.Generator().manual_seed(0)
mu, SPREAD, INNER_LR = torch.full((D,), 1.0, dtype=torch.float64), 0.5, 0.05
STEPS, SHOTS, TASKS = (0, 1, 5, 25, 100), (4, 16), 300
CONVERGED = 1000  # where the "run to convergence" column sits on the figure's axis


def gradient_descent(theta0, support_x, support_y, steps):
    weights = theta0.expand(support_x.shape[0], D)  # (T, D)
    for _ in range(steps):
        residual = (support_x @ weights.unsqueeze(-1)).squeeze(-1) - support_y  # (T, K)
        grad = 2 / support_x.shape[1] * (support_x.transpose(1, 2) @ residual.unsqueeze(-1))
        weights = weights - INNER_LR * grad.squeeze(-1)
    return weights


def per_task_mse(weights, query_x, query_y):
    """Query MSE of each task, for adapted weights (T, D): a list of T numbers."""
    return ((query_x @ weights.unsqueeze(-1)).squeeze(-1) - query_y).pow(2).mean(-1).tolist()


theta0 = meta_train_init(*sample_tasks(TASKS, 2, 10, mu, SPREAD, generator))
starts = {"scratch": torch.zeros_like(mu), "meta": theta0}
mse = {}  # (K, steps or "inf", start) -> per-task query MSE
for k_shot in SHOTS:
    support_x, support_y, query_x, query_y = sample_tasks(TASKS, k_shot, 20, mu, SPREAD, generator)
    for name, start in starts.items():
        for steps in STEPS:
            adapted = gradient_descent(start, support_x, support_y, steps)
            mse[k_shot, steps, name] = per_task_mse(adapted, query_x, query_y)
        converged = adapt_from(start, support_x, support_y)
        mse[k_shot, "inf", name] = per_task_mse(converged, query_x, query_y)

# The page's sentences, checked against this output with paired intervals over the test tasks:
few, many = SHOTS
saves = claims.greater(
    mse[many, 25, "scratch"],
    mse[many, 5, "meta"],
    f"in this example, K = {many}: the learned start after 5 steps beats scratch after 25",
)
meet = claims.paired(mse[many, "inf", "scratch"], mse[many, "inf", "meta"])
claims.overlaps(meet, 0, f"in this example, K = {many}: both starts meet at convergence")
keeps = claims.greater(
    mse[few, "inf", "scratch"],
    mse[few, "inf", "meta"],
    f"in this example, K = {few}: the learned start stays better at convergence",
)
for k_shot in SHOTS:
    for name in starts:
        sequence = [*STEPS, "inf"]
        for earlier, later in itertools.pairwise(sequence):
            d = claims.paired(mse[k_shot, later, name], mse[k_shot, earlier, name])
            claims.check(
                d.low <= 0,
                "in this example running the inner loop longer never hurts",
                f"K = {k_shot}, {name}, {earlier} -> {later} steps: {d}",
            )

xs = [*STEPS, CONVERGED]
labels = {"scratch": "from 0 (scratch)", "meta": "from the learned θ₀"}
series = []
for k_shot in SHOTS:
    for name in starts:
        points = [claims.mean_ci(mse[k_shot, s, name]) for s in [*STEPS, "inf"]]
        series.append(
            figures.Series(
                f"K = {k_shot}, {labels[name]}",
                xs,
                [p.mean for p in points],
                ci=[p.ci95 for p in points],
            )
        )
fig = figures.line(
    series,
    x_label="inner gradient steps at test time",
    y_label="query MSE (log scale)",
    x_scale="symlog",
    y_scale="log",
    size=(6.4, 3.6),
)
axes = fig.axes[0]
axes.set_xticks(xs, [*map(str, STEPS), "converged"])
axes.minorticks_off()
rows = [
    [s, *(f"{claims.mean_ci(mse[k, s, n]).mean:.2f}" for k in SHOTS for n in starts)]
    for s in [*STEPS, "inf"]
]
print(
    figures.render(
        fig,
        alt="Query error against inner gradient steps for two support-set sizes, starting from "
        "zero or from the learned start: every curve falls with more steps; with 16 shots the "
        "two starts meet at convergence, with 4 shots the learned start stays far below scratch.",
        caption=f"Mean query MSE over the same {TASKS} test tasks at every point (bands: 95% "
        "confidence intervals over tasks); the last column runs gradient descent to convergence. "
        "Compare the two curves of one K at the left (saved compute) and at the right "
        "(information carried by the start).",
        numbers=figures.table(
            ["inner steps", *(f"K = {k}, {labels[n]}" for k in SHOTS for n in starts)], rows
        ),
    )
)
ratio = (
    claims.mean_ci(mse[few, "inf", "scratch"]).mean / claims.mean_ci(mse[few, "inf", "meta"]).mean
)
print(
    f"With K = {few}, the converged error from scratch is {ratio:.1f} times that from the learned "
    f"start (paired difference {keeps.mean:.2f} ± {keeps.ci95:.2f}); with K = {many}, the learned "
    f"start after 5 steps is {saves.mean:.2f} ± {saves.ci95:.2f} below scratch after 25."
)
