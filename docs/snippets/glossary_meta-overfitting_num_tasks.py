# ruff: noqa: F821  (torch, D and the helpers come from glossary_meta-learning_linear_tasks.py,
# which the page includes in the same executed block just before this file)
# Meta-train theta0 (K = 2, 10 query points per task) on a fixed set of M training tasks, then
# score it on those same tasks and on 300 new tasks from the same distribution. Each M is
# repeated with fresh training tasks, so every point carries an interval over repetitions.
import math

import claims
import figures

generator = torch.Generator().manual_seed(0)
mu, SPREAD, K_SHOT, TRAIN_QUERIES = torch.full((D,), 1.0, dtype=torch.float64), 0.5, 2, 10
SIZES, REPEATS = (1, 2, 4, 8, 32, 128, 512), 20
test_tasks = sample_tasks(300, K_SHOT, 20, mu, SPREAD, generator)
scratch = query_mse(adapt_from(torch.zeros_like(mu), *test_tasks[:2]), *test_tasks[2:])
train, test, gap, distance = {}, {}, {}, {}  # M -> Interval over repetitions
for num_tasks in SIZES:
    rows = []
    for _ in range(REPEATS):
        train_tasks = sample_tasks(num_tasks, K_SHOT, TRAIN_QUERIES, mu, SPREAD, generator)
        theta0 = meta_train_init(*train_tasks)
        seen = query_mse(adapt_from(theta0, *train_tasks[:2]), *train_tasks[2:])
        new = query_mse(adapt_from(theta0, *test_tasks[:2]), *test_tasks[2:])
        rows.append((seen, new, new - seen, (theta0 - mu).norm().item()))
    for table, column in zip((train, test, gap, distance), zip(*rows, strict=True), strict=True):
        table[num_tasks] = claims.mean_ci(column)

# The page's sentences, checked against the intervals over repetitions:
first, last = SIZES[0], SIZES[-1]
claims.below(train[first], 0.1 * test[first].low, "one training task is fitted almost exactly")
claims.above(claims.difference(test[first], test[last]), 0, "new-task error falls with M")
claims.decreasing([gap[m] for m in (1, 8, last)], "the gap closes as M grows")
claims.above(gap[D], 0, "M = D tasks still overfit although they hold more query points than D")
claims.below(test[last], scratch, "the learned start beats starting from zero on new tasks")
large = [m for m in SIZES if m >= D]
slope = (math.log(distance[large[-1]].mean) - math.log(distance[large[0]].mean)) / (
    math.log(large[-1]) - math.log(large[0])
)
claims.check(
    abs(slope + 0.5) < 0.1, "the start's error shrinks like 1/sqrt(M)", f"slope {slope:.2f}"
)

series = [
    figures.Series(label, SIZES, [t[m].mean for m in SIZES], ci=[t[m].ci95 for m in SIZES])
    for label, t in (("meta-train tasks", train), ("new tasks", test))
]
fig = figures.line(
    series,
    x_label="training tasks M (log scale)",
    y_label="query MSE after adaptation",
    x_scale="log",
    reference=scratch,
    reference_label="new tasks, adapting from zero",
)


def shown(estimate):
    return f"{estimate.mean:.2f} ± {estimate.ci95:.2f}"


rows = [[m, shown(train[m]), shown(test[m]), shown(gap[m]), shown(distance[m])] for m in SIZES]
print(
    figures.render(
        fig,
        alt="Query error after adaptation against the number of training tasks, on the training "
        "tasks and on new tasks: with few tasks the training error is near zero and the new-task "
        "error high; the two lines meet as the number of tasks grows.",
        caption=f"Linear tasks, D = {D} weights, K = {K_SHOT} support points; each point is the "
        f"mean of {REPEATS} draws of the training tasks, bands are 95% intervals over those "
        f"draws, new tasks are the same {test_tasks[0].shape[0]} throughout. The distance of the "
        f"learned start from the true mean falls with slope {slope:.2f} on a log-log scale "
        f"between M = {large[0]} and M = {large[-1]} (table).",
        numbers=figures.table(["M", "meta-train MSE", "new-task MSE", "gap", "‖θ₀ − μ‖"], rows),
    )
)
