# ruff: noqa: F821  (sample_tasks, step_losses and learn_step_sizes come from
# glossary_maml-plus-plus_steps.py, included in the same executed block just before this file)
# Eight coordinates with curvatures from 0.1 to 10, five inner steps. Three ways to set the step
# sizes: one constant (MAML, best value on a grid of training tasks), per-step step sizes learned
# on the last step's query loss (LSLR), and per-step step sizes learned on the multi-step loss
# (LSLR + MSL). Both learned schedules start from the same decreasing schedule (larger steps
# first, 0.3 down to 0.1); 2000 held-out tasks.
import claims
import figures
import torch
from matplotlib import ticker

DIM, STEPS, NOISE, META_STEPS, META_BATCH, OUTER_LR = 8, 5, 0.1, 200, 32, 0.05
curvature = torch.logspace(-1, 1, DIM, dtype=torch.float64)
initial = torch.linspace(0.3, 0.1, STEPS, dtype=torch.float64)

train_tasks = sample_tasks(2000, curvature, NOISE, torch.Generator().manual_seed(5))
grid = torch.logspace(-3, 0, 200, dtype=torch.float64)
constant = min(
    grid, key=lambda a: step_losses(a.expand(STEPS), curvature, *train_tasks)[:, -1].mean()
)
schedules = {
    "MAML: one constant step size": constant.expand(STEPS),
    "per-step step sizes, last-step loss": learn_step_sizes(
        curvature, NOISE, STEPS, False, META_STEPS, META_BATCH, OUTER_LR,
        torch.Generator().manual_seed(0), initial,
    ),
    "per-step step sizes, multi-step loss": learn_step_sizes(
        curvature, NOISE, STEPS, True, META_STEPS, META_BATCH, OUTER_LR,
        torch.Generator().manual_seed(0), initial,
    ),
}  # fmt: skip
test_tasks = sample_tasks(2000, curvature, NOISE, torch.Generator().manual_seed(9))
losses = {name: step_losses(s, curvature, *test_tasks) for name, s in schedules.items()}  # (T, K+1)
maml, last_only, multi = (losses[name] for name in schedules)

# The page's sentences, checked on the same held-out tasks (paired differences):
for name in list(schedules)[1:]:
    claims.greater(
        maml[:, -1].tolist(), losses[name][:, -1].tolist(),
        f"{name} beats the best constant step size after the last step",
    )  # fmt: skip
worst = int(last_only.mean(0).argmax())
overshoot = claims.greater(
    last_only[:, worst].tolist(), last_only[:, 0].tolist(),
    "with the last-step loss, an intermediate step is worse than no adaptation",
)  # fmt: skip
claims.check(
    schedules[list(schedules)[1]][0].item() > 2 / curvature.max().item(),
    "the last-step schedule's first step is beyond the sharpest coordinate's stability limit",
)
for j in range(1, STEPS + 1):
    claims.greater(
        multi[:, j - 1].tolist(), multi[:, j].tolist(),
        f"with the multi-step loss, inner step {j} lowers the query loss",
    )  # fmt: skip
final_cost = claims.greater(
    multi[:, -1].tolist(), last_only[:, -1].tolist(),
    "at this budget the multi-step schedule ends above the last-step schedule",
)  # fmt: skip

cells = {
    (n, j): claims.mean_ci(losses[n][:, j].tolist()) for n in schedules for j in range(STEPS + 1)
}
fig, (left, right) = figures.canvas(size=(7.6, 4.2), ncols=2)
steps = list(range(STEPS + 1))
limit = 2 / curvature.max().item()  # a step above it amplifies the sharpest coordinate
with figures.style():  # custom drawing: text and lines follow the page's palette
    for i, name in enumerate(schedules):
        left.plot(steps, [cells[name, j].mean for j in steps], color=figures.color(i),
                  marker=figures.marker(i), label=name)  # fmt: skip
        right.plot(range(1, STEPS + 1), schedules[name].tolist(), color=figures.color(i),
                   marker=figures.marker(i))  # fmt: skip
    right.axhline(limit, color=figures.MUTED, ls="--", lw=1)
    right.text(STEPS, limit * 1.05, "stability limit of the sharpest coordinate", ha="right",
               va="bottom", fontsize=7, color=figures.FOREGROUND)  # fmt: skip
    for axis, label in (
        (left, "held-out query loss (log scale)"),
        (right, "step size (log scale)"),
    ):
        axis.set_yscale("log")
        axis.yaxis.set_major_locator(
            ticker.LogLocator(subs=(1.0,) if axis is left else (1.0, 2.0, 5.0))
        )
        axis.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        axis.yaxis.set_minor_formatter(ticker.NullFormatter())
        axis.set_ylabel(label)
        axis.set_xlabel("inner step")
    left.legend(loc="lower left", bbox_to_anchor=(0.0, 1.02), fontsize=8, ncol=1)
rows = [
    [j, *(f"{cells[n, j].mean:.3f} ± {cells[n, j].ci95:.3f}" for n in schedules),
     *(f"{schedules[n][j - 1]:.3f}" if j else "" for n in schedules)]
    for j in steps
]  # fmt: skip
print(
    figures.render(
        fig,
        alt="Left: held-out query loss after each of five inner steps for a constant step size "
        "and two learned per-step schedules; the schedule trained on the last step's loss "
        "overshoots to a loss far above the start at intermediate steps, the multi-step "
        "schedule falls at every step, and both end below the constant. Right: the learned step "
        "sizes per step.",
        caption=f"{len(test_tasks[0])} held-out tasks, means (intervals in the numbers table). "
        f"Paired, the last-step schedule's worst step (step {worst}) is "
        f"{overshoot.mean:,.0f} ± {overshoot.ci95:,.0f} above the loss before adaptation; "
        f"after the last step the multi-step schedule is {final_cost.mean:+.3g} ± "
        f"{final_cost.ci95:.2g} above it.",
        numbers=figures.table(
            [
                "inner step",
                *(f"loss, {n}" for n in schedules),
                *(f"step size, {n}" for n in schedules),
            ],
            rows,
        ),
    )
)
