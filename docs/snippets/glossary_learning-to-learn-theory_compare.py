# ruff: noqa: F821  (Environment, candidate_groups, environment_risk, feature_errors, choose_space,
# environment_bound and new_task_error come from glossary_learning-to-learn-theory_environment.py)
# The bias learner on 10 features with a hidden group of 3: its chosen space's true environment
# risk, its empirical risk and the bound, over 100 replicates, as the number of tasks n grows (16
# examples each) and as the examples per task m grow (32 tasks); then new tasks learned with the
# chosen space against learning them with all 10 features.
import claims
import figures
import torch

env = Environment(features=10, group=(2, 5, 7), noise=0.1)
REPLICATES, DELTA = 100, 0.05
TASKS_GRID, EXAMPLES_AT = (2, 4, 8, 16, 32, 64, 128, 256), 16
EXAMPLES_GRID, TASKS_AT = (4, 8, 16, 32, 64, 128, 256), 32
NEW_EXAMPLES, NEW_TRIALS = (1, 2, 4, 8), 2000

groups = candidate_groups(env)  # (K, r): the family of hypothesis spaces
spaces, space_size = len(groups), 2 * len(env.group)
g = torch.Generator().manual_seed(0)


def run(tasks: int, examples: int) -> dict[str, list[float]]:
    """True risk, empirical risk and bound of the chosen space in every replicate."""
    errors = feature_errors(env, REPLICATES, tasks, examples, g)
    chosen, empirical = choose_space(errors, groups, g)
    bound = environment_bound(empirical, tasks, examples, spaces, space_size, DELTA)
    return {
        "true": environment_risk(env, chosen).tolist(),
        "empirical": empirical.tolist(),
        "bound": bound.tolist(),
    }


by_tasks = {n: run(n, EXAMPLES_AT) for n in TASKS_GRID}
by_examples = {m: run(TASKS_AT, m) for m in EXAMPLES_GRID}
chosen_at_most, _ = choose_space(feature_errors(env, 1, max(TASKS_GRID), EXAMPLES_AT, g), groups, g)
spaces_new = torch.stack([chosen_at_most[0], torch.tensor(env.group)])  # learned and hidden group
everything = torch.arange(env.features).unsqueeze(0)  # no learned bias: all features
new_error = {
    (name, k): values.tolist()
    for k in NEW_EXAMPLES
    for name, values in zip(
        ("learned space", "all features"),
        [new_task_error(env, spaces_new[:1], k, NEW_TRIALS, torch.Generator().manual_seed(k))[0],
         new_task_error(env, everything, k, NEW_TRIALS, torch.Generator().manual_seed(k))[0]],
        strict=True,
    )
}  # fmt: skip

# The page's sentences, checked against this output:
cells = [*by_tasks.values(), *by_examples.values()]
violations = sum(t > b for c in cells for t, b in zip(c["true"], c["bound"], strict=True))
claims.check(violations == 0, "the bound held in every replicate of every cell", f"{violations}")
floor = min(by_tasks[max(TASKS_GRID)]["true"])
claims.check(
    all(t == env.noise for t in by_tasks[max(TASKS_GRID)]["true"]),
    f"with {max(TASKS_GRID)} tasks the learner finds the hidden group in every replicate",
    f"lowest true risk {floor}",
)
few = by_tasks[min(TASKS_GRID)]
claims.above(
    claims.mean_ci(few["true"]), env.noise,
    f"with {min(TASKS_GRID)} tasks the chosen space is often wrong",
)  # fmt: skip
noisiest = by_examples[min(EXAMPLES_GRID)]
optimism = claims.paired(noisiest["true"], noisiest["empirical"])
claims.check(
    optimism.low > 0, "the empirical risk of the chosen space is optimistic", str(optimism)
)
vacuous_n = [n for n in TASKS_GRID if min(by_tasks[n]["bound"]) >= 0.5]
vacuous_m = [m for m in EXAMPLES_GRID if min(by_examples[m]["bound"]) >= 0.5]
claims.check(
    bool(vacuous_n) and bool(vacuous_m),
    "the bound is vacuous (at least chance) at the small ends of both axes",
)
useful_n = [n for n in TASKS_GRID if n not in vacuous_n]
claims.check(
    bool(useful_n) and min(useful_n) > max(vacuous_n),
    "the bound stops being vacuous within the grid of n, and stays below chance after",
)
claims.check(
    vacuous_m == list(EXAMPLES_GRID),
    f"with {TASKS_AT} tasks the bound is vacuous at every m in the grid",
)
# Tasks the learner needed (mean true risk within 0.01 of the Bayes error) vs tasks the bound
# needed to say anything (below chance in every replicate):
needed = min(n for n in TASKS_GRID if claims.mean_ci(by_tasks[n]["true"]).high < env.noise + 0.01)
claims.check(
    min(useful_n) >= 10 * needed,
    "the bound needs at least an order of magnitude more tasks than the learner did",
    f"{min(useful_n)} vs {needed}",
)
# At fixed m the bound cannot fall below the within-task term sqrt(ln|H| / 2m), whatever n:
limit = (torch.tensor(space_size).log() / (2 * EXAMPLES_AT)).sqrt().item()
gap_at_most = claims.paired(by_tasks[max(TASKS_GRID)]["bound"], by_tasks[max(TASKS_GRID)]["true"])
claims.check(
    gap_at_most.low > limit - env.noise,
    "with many tasks the bound stays loose by about the within-task term",
    f"{gap_at_most} vs {limit:.3g}",
)
claims.increasing(
    [claims.mean_ci(by_examples[m]["bound"]) for m in reversed(EXAMPLES_GRID)],
    "the bound falls as the examples per task grow",
)
for k in NEW_EXAMPLES:
    if k > 1:
        claims.greater(
            new_error["all features", k], new_error["learned space", k],
            f"on new tasks with {k} examples, the learned space beats using all features",
        )  # fmt: skip

new = {key: claims.mean_ci(v) for key, v in new_error.items()}
for k in NEW_EXAMPLES:
    claims.above(
        new["learned space", k], env.noise,
        f"with {k} examples of a new task, ERM in the learned space stays above the Bayes error",
    )  # fmt: skip

fig, (left, right) = figures.canvas(size=(7.6, 3.5), ncols=2, sharey=True)
labels = {"bound": f"bound (δ = {DELTA})", "true": "true risk er_Q", "empirical": "empirical risk"}
with figures.style():
    for ax, grid, table in ((left, TASKS_GRID, by_tasks), (right, EXAMPLES_GRID, by_examples)):
        for i, key in enumerate(("bound", "true", "empirical")):
            stats = [claims.mean_ci(table[x][key]) for x in grid]
            ax.errorbar(
                grid, [s.mean for s in stats], yerr=[s.ci95 for s in stats],
                color=figures.color(i), marker=figures.marker(i), capsize=2, label=labels[key],
            )  # fmt: skip
        ax.axhline(0.5, color=figures.FOREGROUND, ls=":", lw=1, label="chance")
        ax.axhline(env.noise, color=figures.MUTED, ls="--", lw=1, label="Bayes error η")
        ax.set_xscale("log", base=2)
        ax.set_xticks(grid, [str(x) for x in grid])
        ax.minorticks_off()
    left.set_xlabel(f"training tasks n ({EXAMPLES_AT} examples each)")
    right.set_xlabel(f"examples per task m ({TASKS_AT} tasks)")
    left.set_ylabel("risk of the chosen hypothesis space")
    left.set_ylim(0, 2.1)
    right.legend(loc="upper right", fontsize=7)


def row(x: int, table: dict[int, dict[str, list[float]]]) -> list[object]:
    return [x, *(f"{claims.mean_ci(table[x][k]).mean:.3f}" for k in ("true", "empirical", "bound"))]


print(
    figures.render(
        fig,
        alt="Two panels of risk against training tasks and against examples per task, log "
        "scale. The bound lies above the true risk everywhere, above chance at the small ends, "
        "and falls with both; with many tasks the true risk reaches the Bayes error while the "
        "bound levels off well above it. The empirical risk lies below the true risk.",
        caption=f"{REPLICATES} replicates per point; bars are 95% confidence intervals over "
        f"replicates. Family: all {spaces} groups of {len(env.group)} of the {env.features} "
        f"features, {space_size} hypotheses per space; label noise {env.noise}.",
        numbers=figures.table(
            ["n", "true", "empirical", "bound"], [row(n, by_tasks) for n in TASKS_GRID]
        )
        + figures.table(
            ["m", "true", "empirical", "bound"], [row(m, by_examples) for m in EXAMPLES_GRID]
        ),
    )
)
print(
    f"Bound violations in {len(cells) * REPLICATES} replicates: {violations}. The learner's "
    f"true risk is within 0.01 of the Bayes error from n = {needed}; the bound falls below chance "
    f"from n = {min(useful_n)}, {min(useful_n) // needed} times as many tasks. With "
    f"{max(TASKS_GRID)} tasks the bound exceeds the true risk by {gap_at_most}; its within-task "
    f"term alone is {limit:.3f} at m = {EXAMPLES_AT}. New tasks, error of ERM with the learned "
    "space vs all features: "
    + "; ".join(
        f"{k} example{'s' if k > 1 else ''} {new['learned space', k].mean:.3f} vs {new['all features', k].mean:.3f}"
        for k in NEW_EXAMPLES
    )
    + "."
)
