# ruff: noqa: F821  (sample_linear_tasks, gradient_steps, mse, reptile_fixed_point, maml_optimum
# and reptile come from glossary_reptile_tasks.py, included in the same executed block before this)
# 400 training and 500 held-out 2-D least-squares tasks of two kinds; inner step 0.05. Reptile with
# k = 1 and k = 5 inner steps (iteratively, and its closed-form fixed point for every k), joint
# least squares on all support sets ("pretraining"), and MAML's optimum for 5 inner steps.
import claims
import figures
import torch
from matplotlib import ticker

INNER_LR, POINTS, META_STEPS, META_BATCH, OUTER_LR = 0.05, 10, 300, 10, 0.5
REPTILE_STEPS, TEST_STEPS = (1, 5), tuple(range(11))
MAML_STEPS = ADAPT = 5  # MAML is trained for, and every initialisation tested at, 5 steps
train_support_x, train_support_y, *train_query = sample_linear_tasks(
    400, POINTS, torch.Generator().manual_seed(0)
)
test_support_x, test_support_y, test_query_x, test_query_y = sample_linear_tasks(
    500, POINTS, torch.Generator().manual_seed(1)
)

joint = torch.linalg.lstsq(train_support_x.flatten(0, 1), train_support_y.reshape(-1, 1))
joint = joint.solution.squeeze(-1)  # (D,): least squares on all support sets pooled
fixed = {
    k: reptile_fixed_point(train_support_x, train_support_y, k, INNER_LR) for k in range(1, 41)
}
paths = {
    k: reptile(
        train_support_x, train_support_y, k, INNER_LR, META_STEPS, META_BATCH, OUTER_LR,
        torch.Generator().manual_seed(2),
    )
    for k in REPTILE_STEPS
}  # fmt: skip
maml = maml_optimum((train_support_x, train_support_y, *train_query), MAML_STEPS, INNER_LR)
inits = {
    "joint training (= Reptile, k = 1)": joint,
    f"Reptile, k = {REPTILE_STEPS[1]}": paths[REPTILE_STEPS[1]][-1],
    f"MAML, {MAML_STEPS} steps": maml,
}
test_mse = {  # (initialisation, adaptation steps) -> per-task query MSE on held-out tasks
    (name, steps): mse(
        gradient_steps(theta, test_support_x, test_support_y, steps, INNER_LR),
        test_query_x,
        test_query_y,
    ).tolist()
    for name, theta in inits.items()
    for steps in TEST_STEPS
}

# The page's sentences, checked against this output:
claims.check(
    torch.allclose(fixed[1], joint, rtol=1e-9, atol=1e-12),
    "Reptile's fixed point with one inner step is the joint least-squares fit",
)
distance = {k: (paths[k][-1] - fixed[k]).norm().item() for k in REPTILE_STEPS}
spread = (fixed[1] - fixed[40]).norm().item()
for k in REPTILE_STEPS:
    claims.check(
        distance[k] < 0.05 * spread,
        f"iterative Reptile with k = {k} ends at its closed-form fixed point",
        f"distance {distance[k]:.3g}, fixed-point curve length scale {spread:.3g}",
    )
names = list(inits)
reptile_gain = claims.greater(
    test_mse[names[0], ADAPT], test_mse[names[1], ADAPT],
    f"after {ADAPT} steps, Reptile with k = 5 beats joint training on held-out tasks",
)  # fmt: skip
maml_gain = claims.greater(
    test_mse[names[1], ADAPT], test_mse[names[2], ADAPT],
    f"after {ADAPT} steps, MAML beats Reptile on held-out tasks in this example",
)  # fmt: skip
claims.greater(
    test_mse[names[2], 0], test_mse[names[1], 0],
    "before adaptation, MAML's initialisation is worse than Reptile's",
)  # fmt: skip
maml_unadapted = claims.greater(
    test_mse[names[2], 0], test_mse[names[0], 0],
    "before adaptation, MAML's initialisation is worse than joint training",
)  # fmt: skip

cells = {key: claims.mean_ci(values) for key, values in test_mse.items()}
fig, (plane, curve) = figures.canvas(size=(7.6, 4.0), ncols=2)
solutions = torch.linalg.lstsq(train_support_x, train_support_y.unsqueeze(-1)).solution
along = torch.stack(list(fixed.values()))  # (40, D): fixed points for k = 1 ... 40
with figures.style():  # custom drawing: text and lines follow the page's palette
    plane.scatter(*solutions.squeeze(-1).T, s=5, color=figures.MUTED, label="task solutions")
    plane.plot(
        *along.T, color=figures.FOREGROUND, lw=1, ls=":", label="Reptile fixed points, k = 1…40"
    )
    for i, k in enumerate(REPTILE_STEPS):
        plane.plot(*paths[k].T, color=figures.color(i), lw=1.2, label=f"Reptile path, k = {k}")
    plane.plot(*maml, marker="*", ms=11, ls="none", color=figures.color(2), label=names[2])
    plane.plot(*solutions.mean(0).squeeze(-1), marker="x", ms=8, ls="none",
               color=figures.FOREGROUND, label="mean of task solutions")  # fmt: skip
    plane.set_xlabel("weight 1")
    plane.set_ylabel("weight 2")
    plane.set_ylim(-2.6, 3.2)  # room for the legend below the clusters
    plane.set_aspect("equal")
    plane.legend(loc="lower left", fontsize=7)
    for i, name in enumerate(names):
        mean = [cells[name, s].mean for s in TEST_STEPS]
        ci = [cells[name, s].ci95 for s in TEST_STEPS]
        curve.plot(TEST_STEPS, mean, color=figures.color(i), marker=figures.marker(i), label=name)
        curve.fill_between(
            TEST_STEPS, [m - c for m, c in zip(mean, ci, strict=True)],
            [m + c for m, c in zip(mean, ci, strict=True)], color=figures.color(i), alpha=0.18, lw=0,
        )  # fmt: skip
    curve.axvline(ADAPT, color=figures.MUTED, lw=1, ls="--")
    curve.set_yscale("log")
    curve.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    curve.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))  # no mathtext
    curve.yaxis.set_minor_formatter(ticker.NullFormatter())
    curve.set_xlabel("adaptation steps on the support set")
    curve.set_ylabel("held-out query MSE (log scale)")
    curve.legend(loc="upper right", fontsize=7)
rows = [
    [s, *(f"{cells[n, s].mean:.3f} ± {cells[n, s].ci95:.3f}" for n in names)] for s in TEST_STEPS
]
print(
    figures.render(
        fig,
        alt="Left: the plane of the two weights with the task solutions in two clusters, "
        "Reptile's paths and fixed points moving from the joint fit towards the mean of the task "
        "solutions as k grows, and MAML's optimum near that mean. Right: held-out query error "
        "against adaptation steps; MAML starts worst and ends best, Reptile between.",
        caption=f"{len(test_support_x)} held-out tasks; bands are 95% confidence intervals over "
        f"tasks; the dashed line marks the {ADAPT} steps MAML was trained for. Reptile ran "
        f"{META_STEPS} outer updates of {META_BATCH} tasks.",
        numbers=figures.table(["adaptation steps", *names], rows),
    )
)
print(
    f"Paired differences of held-out MSE after {ADAPT} steps (95% CI): joint − Reptile "
    f"{reptile_gain.mean:+.3f} ± {reptile_gain.ci95:.3f}; Reptile − MAML {maml_gain.mean:+.3f} ± "
    f"{maml_gain.ci95:.3f}. Before adaptation, MAML − joint {maml_unadapted.mean:+.3f} ± "
    f"{maml_unadapted.ci95:.3f}. Iterative Reptile ends "
    + ", ".join(f"{distance[k]:.3f} (k = {k})" for k in REPTILE_STEPS)
    + " from its closed-form fixed point."
)
