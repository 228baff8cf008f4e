# ruff: noqa: F821  (torch, data, sample_batch and prototype_accuracy come from
# glossary_n-way-k-shot_clusters.py, included in the same executed block just before this file)
# Accuracy of the same learner on the same classes as N and K change: 200 episodes per cell,
# 10 queries per class, mean and 95% confidence interval over episodes.
import claims
import figures

WAYS, SHOTS, EPISODES, QUERIES = (2, 5, 20), (1, 5, 20), 200, 10
generator = torch.Generator().manual_seed(1)
grid = {}  # (n_way, k_shot) -> Interval of the episode accuracies
for n_way in WAYS:
    for k_shot in SHOTS:
        episodes = sample_batch(data, n_way, k_shot, QUERIES, EPISODES, generator)
        grid[n_way, k_shot] = claims.mean_ci(prototype_accuracy(episodes, n_way).tolist())

# The page's sentences, checked against this output with their uncertainty:
for n_way in WAYS:
    claims.increasing([grid[n_way, k] for k in SHOTS], f"accuracy rises with K at N = {n_way}")
for k_shot in SHOTS:
    claims.decreasing([grid[n, k_shot] for n in WAYS], f"accuracy falls with N at K = {k_shot}")
for n_way in WAYS:
    first = claims.difference(grid[n_way, SHOTS[1]], grid[n_way, SHOTS[0]])
    second = claims.difference(grid[n_way, SHOTS[2]], grid[n_way, SHOTS[1]])
    claims.above(claims.difference(first, second), 0, f"the first shots help most at N = {n_way}")

series = [
    figures.Series(
        f"N = {n} (chance {1 / n:.0%})",
        SHOTS,
        [grid[n, k].mean for k in SHOTS],
        ci=[grid[n, k].ci95 for k in SHOTS],
    )
    for n in WAYS
]
fig = figures.line(
    series, x_label="shots per class K (log scale)", y_label="query accuracy", x_scale="log"
)
rows = [
    [n, f"{1 / n:.1%}", *(f"{grid[n, k].mean:.1%} ± {grid[n, k].ci95:.1%}" for k in SHOTS)]
    for n in WAYS
]
print(
    figures.render(
        fig,
        alt=f"Query accuracy against shots per class K for N = {', '.join(map(str, WAYS))}: "
        "every line rises with K and lies below the line of a smaller N.",
        caption=f"Nearest class mean on the same synthetic classes, {EPISODES} episodes per point "
        f"and {QUERIES} queries per class; bands are 95% confidence intervals over episodes.",
        numbers=figures.table(["N", "chance", *(f"K = {k}" for k in SHOTS)], rows),
    )
)
