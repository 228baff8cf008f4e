# ruff: noqa: F821  (QuadraticTasks, adapt and meta_train come from glossary_meta-sgd_steps.py,
# included in the same executed block just before this file)
# Six coordinates with curvatures from 1/4 to 4 and support/query noise alternating between small
# and large: the optimal step size differs per coordinate by more than an order of magnitude.
# Meta-SGD learns theta and alpha jointly (Adam, 500 updates of 64 tasks); it is compared on 2000
# held-out tasks with the closed-form optimal step sizes and with the best single step size.
import claims
import figures
import torch
from matplotlib import ticker

DIM = 6
tasks = QuadraticTasks(
    curvature=2.0 ** torch.linspace(-2, 2, DIM, dtype=torch.float64),
    centre=torch.linspace(-1, 1, DIM, dtype=torch.float64),
    spread=torch.ones(DIM, dtype=torch.float64),
    noise=torch.tensor([0.2, 1.0, 0.2, 1.0, 0.2, 1.0], dtype=torch.float64),
)
params, learned = meta_train(
    tasks, meta_steps=500, meta_batch_size=64, outer_lr=0.05, initial_step_size=0.05,
    generator=torch.Generator().manual_seed(0),
)  # fmt: skip
optimal, single = tasks.optimal_step_sizes(), tasks.best_single_step_size()
newton = 1 / tasks.curvature

support, query = tasks.sample(2000, torch.Generator().manual_seed(1))
query_loss = {  # rule -> per-task query loss after one step on held-out tasks
    "Meta-SGD (learned)": tasks.loss(adapt(tasks, params, learned, support), query),
    "optimal per-coordinate steps": tasks.loss(adapt(tasks, tasks.centre, optimal, support), query),
    "best single step size": tasks.loss(adapt(tasks, tasks.centre, single, support), query),
    "no step": tasks.loss(tasks.centre.expand_as(support), query),
}
losses = {name: values.tolist() for name, values in query_loss.items()}

# The page's sentences, checked against this output:
ratio = learned / optimal
worst = ratio.log().abs().max().exp().item()
claims.check(worst < 1.25, "every learned step size lies close to its optimal value", f"{ratio}")
gain = claims.greater(
    losses["best single step size"], losses["Meta-SGD (learned)"],
    "Meta-SGD beats the best single step size on held-out tasks",
)  # fmt: skip
share = (query_loss["best single step size"] - query_loss["Meta-SGD (learned)"]) - 0.95 * (
    query_loss["best single step size"] - query_loss["optimal per-coordinate steps"]
)  # per task: what Meta-SGD recovers beyond 95% of the possible gain
claims.above(
    claims.mean_ci(share.tolist()), 0, "Meta-SGD recovers more than 95% of the possible gain"
)
recovered = (
    gain.mean
    / claims.paired(losses["best single step size"], losses["optimal per-coordinate steps"]).mean
)  # share of the possible gain, for the page to print
claims.check(
    (optimal.max() / optimal.min()).item() > 10, "the optimal step sizes span an order of magnitude"
)
claims.check(bool((optimal < newton).all()), "the optimal steps are shorter than Newton steps")

fig = figures.scatter(
    [
        figures.Series("Meta-SGD, learned step size", optimal.tolist(), learned.tolist()),
        figures.Series("Newton step 1/h (ignores noise)", optimal.tolist(), newton.tolist()),
    ],
    x_label="optimal step size α* (log scale)",
    y_label="step size (log scale)",
    diagonal=True,
    x_scale="log",
    y_scale="log",
    reference=single.item(),
    reference_label="best single step size",
    size=(6.0, 3.8),
)
for axis in (fig.axes[0].xaxis, fig.axes[0].yaxis):  # ticks at 1, 2, 5 per decade, plain labels
    axis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(ticker.NullFormatter())
cells = {name: claims.mean_ci(values) for name, values in losses.items()}
rows = [
    [i, f"{tasks.curvature[i]:.3g}", f"{tasks.noise[i]:.3g}", f"{optimal[i]:.3f}",
     f"{learned[i]:.3f}", f"{newton[i]:.3f}"]
    for i in range(DIM)
]  # fmt: skip
print(
    figures.render(
        fig,
        alt="Learned Meta-SGD step size against the optimal step size, one point per "
        "coordinate on log axes: the points lie on the diagonal; Newton steps lie above it on "
        "noisy coordinates; a single step size is one horizontal line.",
        caption=f"One point per coordinate. Largest ratio between a learned and an optimal step "
        f"size: {worst:.2f}. Held-out query loss after one step (mean ± 95% CI over "
        f"{len(support)} tasks): "
        + "; ".join(f"{name} {cell.mean:.3f} ± {cell.ci95:.3f}" for name, cell in cells.items())
        + ".",
        numbers=figures.table(
            ["coordinate", "curvature h", "noise σ", "optimal α*", "learned α", "Newton 1/h"], rows
        ),
    )
)
print(
    f"Paired difference on the same held-out tasks (95% CI): best single step size − Meta-SGD "
    f"{gain.mean:+.3f} ± {gain.ci95:.3f}, that is {recovered:.1%} of the gain of the optimal "
    "steps over the best single step size (the block asserts more than 95%, with its interval)."
)
