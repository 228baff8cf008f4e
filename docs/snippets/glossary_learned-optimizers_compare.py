# ruff: noqa: F821  (LearnedOptimiserConfig, sample_quadratics, meta_train, run_sgd and run_adam come
# from glossary_learned-optimizers_lstm.py, included in the same executed block before this file)
# Meta-train the LSTM optimiser on T-step trajectories; tune SGD's and Adam's step sizes for the same
# T steps on validation quadratics; run all three for ten times longer on the same held-out
# quadratics. Scores are log10 of the loss per quadratic, so every comparison is paired.
import claims
import figures
import torch
from matplotlib import ticker

cfg = LearnedOptimiserConfig()
LONG, TEST, VALIDATION = 10 * cfg.horizon, 200, 64
GRIDS = {"SGD": (0.03, 0.1, 0.2), "Adam": (0.03, 0.1, 0.3, 1.0)}
RUNNERS = {"SGD": run_sgd, "Adam": run_adam}
torch.manual_seed(0)  # the LSTM's initial weights
learned = meta_train(cfg, torch.Generator().manual_seed(1))
validation = sample_quadratics(VALIDATION, cfg, torch.Generator().manual_seed(2))
test = sample_quadratics(TEST, cfg, torch.Generator().manual_seed(3))
step_size = {
    name: min(
        GRIDS[name],
        key=lambda lr, run=RUNNERS[name]: float(
            run(validation, cfg.horizon, lr).losses[:, -1].log10().mean()
        ),
    )
    for name in GRIDS
}  # tuned for the meta-training horizon, like the learned optimiser
with torch.no_grad():
    runs = {"learned (LSTM)": learned.run(test, LONG)}
for name in GRIDS:
    runs[f"{name}, tuned for T steps"] = RUNNERS[name](test, LONG, step_size[name])
curves = {name: run.losses.log10() for name, run in runs.items()}

# The page's sentences, checked against this output (paired over the same test quadratics):
names = list(curves)
at_horizon = {name: curves[name][:, cfg.horizon - 1].tolist() for name in names}
at_end = {name: curves[name][:, -1].tolist() for name in names}
short = [
    claims.greater(
        at_horizon[other],
        at_horizon[names[0]],
        "at the meta-training horizon the learned optimiser is ahead of tuned SGD and tuned Adam",
    )
    for other in names[1:]
]
long = [
    claims.greater(
        at_end[names[0]],
        at_end[other],
        "at ten times the horizon tuned SGD and tuned Adam are both ahead of the learned optimiser",
    )
    for other in names[1:]
]
claims.check(
    all(d.low > 2 for d in long),
    "both pass it by many orders of magnitude (more than two decades each)",
    ", ".join(str(d) for d in long),
)
progress = {
    name: [a - b for a, b in zip(at_horizon[name], at_end[name], strict=True)] for name in names
}
stalled = claims.greater(
    progress[names[2]], progress[names[0]],
    "after the horizon Adam lowers its loss by far more than the learned optimiser does",
)  # fmt: skip
learned_run = runs[names[0]]
overshoot = claims.greater(
    learned_run.step_rms[:, -1].log10().tolist(), learned_run.distance_rms[:, -1].log10().tolist(),
    "at the end the learned optimiser's steps are longer than its distance from the minimum",
)  # fmt: skip
not_shrinking = claims.mean_ci(
    (learned_run.step_rms[:, -1] / learned_run.step_rms[:, cfg.horizon - 1]).log10().tolist()
)
claims.check(
    not_shrinking.low > -0.5,
    "its steps stop shrinking after the horizon (less than a factor of about three smaller)",
    str(not_shrinking),
)


drawn = sorted({round(LONG ** (i / 39)) for i in range(40)})  # log-spaced steps to draw, 1..S


def band(values):
    """Mean over the quadratics of `values (n, S)` and its 95% interval at the drawn steps."""
    values = values[:, [s - 1 for s in drawn]]
    mean = values.mean(0)
    half = 1.96 * values.std(0, correction=0) / values.shape[0] ** 0.5  # as claims.mean_ci
    return mean.tolist(), (mean - half).tolist(), (mean + half).tolist()


steps = drawn
fig, (left, right) = figures.canvas(size=(8.0, 3.6), ncols=2, width_ratios=(1.4, 1))
with figures.style():  # custom drawing: text and lines follow the page's palette
    for i, name in enumerate(names):
        mean, low, high = band(curves[name])
        left.plot(steps, mean, color=figures.color(i), label=name)
        left.fill_between(steps, low, high, color=figures.color(i), alpha=0.18, lw=0)
    for ax in (left, right):
        ax.axvline(cfg.horizon, color=figures.MUTED, lw=1, ls="--")
        ax.text(
            cfg.horizon, 1.01, " meta-training horizon", transform=ax.get_xaxis_transform(),
            ha="left", va="bottom", fontsize=8,
        )  # fmt: skip
    left.set_xscale("log")
    left.set_xlabel("optimisation step")
    left.set_ylabel("log10 of the loss (mean over quadratics)")
    left.legend(loc="lower left", fontsize=7)
    for i, name in enumerate(names):
        right.plot(steps, band(runs[name].step_rms.log10())[0], color=figures.color(i), label=name)
    right.plot(
        steps,
        band(learned_run.distance_rms.log10())[0],
        color=figures.color(0), ls=":", label="learned: distance from the minimum",
    )  # fmt: skip
    right.set_xscale("log")
    right.set_xlabel("optimisation step")
    right.set_ylabel("log10 of the step length (RMS)")
    right.legend(loc="lower left", fontsize=7)
    for ax in (left, right):  # plain step numbers on the log axes (no mathtext)
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
marks = [cfg.horizon - 1, 2 * cfg.horizon - 1, LONG // 2 - 1, LONG - 1]
rows = [
    [name, *(f"{claims.mean_ci(curves[name][:, s].tolist()).mean:.2f}" for s in marks)]
    for name in names
]
rows += [
    [f"{name}: log10 step length", *(f"{claims.mean_ci(runs[name].step_rms[:, s].log10().tolist()).mean:.2f}" for s in marks)]
    for name in names
]  # fmt: skip
print(
    figures.render(
        fig,
        alt="Left: log loss against optimisation step for the learned LSTM optimiser, SGD and "
        "Adam on held-out quadratics; the learned optimiser is ahead at its meta-training "
        "horizon, then flattens while SGD and Adam keep falling and pass it. Right: step length "
        "against step; SGD's and Adam's steps keep shrinking, the learned optimiser's stop "
        "shrinking after the horizon and stay longer than its distance from the minimum.",
        caption=f"{TEST} held-out quadratics in {cfg.dim} dimensions, curvatures log-uniform over "
        f"[{cfg.curvature_range[0]:g}, {cfg.curvature_range[1]:g}]; the LSTM ({cfg.hidden} units, "
        f"shared by all coordinates) was meta-trained for {cfg.meta_steps} steps on "
        f"{cfg.horizon}-step trajectories; SGD's and Adam's step sizes ({step_size['SGD']:g}, "
        f"{step_size['Adam']:g}) were chosen on validation quadratics for the same {cfg.horizon} "
        f"steps. Left, bands: 95% confidence intervals over the quadratics; right: means of log10 "
        f"over the quadratics.",
        numbers=figures.table(["optimiser (log10 loss)", *(f"step {s + 1}" for s in marks)], rows),
    )
)
print(
    f"Paired differences of log10 loss over the same quadratics (95% CI): at step {cfg.horizon}, "
    f"SGD − learned {short[0].mean:+.2f} ± {short[0].ci95:.2f}, Adam − learned "
    f"{short[1].mean:+.2f} ± {short[1].ci95:.2f}; at step {LONG}, learned − SGD "
    f"{long[0].mean:+.2f} ± {long[0].ci95:.2f}, learned − Adam {long[1].mean:+.2f} ± "
    f"{long[1].ci95:.2f}. Decrease after the horizon, Adam − learned {stalled.mean:+.2f} ± "
    f"{stalled.ci95:.2f} decades; at step {LONG}, learned step length − distance from the "
    f"minimum {overshoot.mean:+.2f} ± {overshoot.ci95:.2f} decades."
)
