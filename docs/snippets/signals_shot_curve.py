# ruff: noqa: F821  (predict, baseline_predict, test_data and signals come from earlier blocks)
# The shot curve of the ProtoNet and of the transfer baseline on the same nested episodes.
import claims
import figures

curves = {
    name: signals.shot_curve(p, test_data)
    for name, p in (("ProtoNet", predict), ("transfer baseline", baseline_predict))
}
for name, c in curves.items():
    claims.check(
        c.gain - c.gain_ci95 > 0,
        f"the {name}'s accuracy rises from the smallest to the largest K",
        f"gain {c.gain:+.3f} ± {c.gain_ci95:.3f}",
    )
fig = figures.line(
    [figures.Series(n, c.shots, c.accuracy, ci=c.ci95) for n, c in curves.items()],
    x_label="shots per class K (log scale)", y_label="query accuracy", x_scale="log",
    reference=1 / 5,
)  # fmt: skip
rows = [
    [name, *(f"{a:.3f} ± {ci:.3f}" for a, ci in zip(c.accuracy, c.ci95, strict=True)),
     f"{c.gain:+.3f} ± {c.gain_ci95:.3f}"]
    for name, c in curves.items()
]  # fmt: skip
shots = next(iter(curves.values())).shots
print(
    figures.render(
        fig,
        alt="5-way query accuracy against shots per class for the ProtoNet and the transfer "
        "baseline on the synthetic test classes: both curves rise with K.",
        caption="Shot curve on nested support sets (the same queries at every K); bands are 95% "
        "confidence intervals over episodes; the dotted line is chance.",
        numbers=figures.table(
            ["predictor", *(f"K = {k}" for k in shots), "gain, largest minus smallest K"], rows
        ),
    )
)
