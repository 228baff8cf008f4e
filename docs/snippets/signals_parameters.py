# ruff: noqa: F821  (torch and signals come from earlier blocks of the same page session)
# Adaptation distance and per-layer change on linear-regression tasks y = x.w + b, adapted by
# maml.adapt from the start that fits the task family: the mean task (w0, 0).
import claims
import figures

from reference_impl import maml

rcfg = maml.MAMLConfig(backbone="mlp", inner_lr=0.1, inner_steps=5)  # MSE task loss
start = torch.nn.Linear(4, 1).double()
w0 = torch.tensor([[1.0, -1.0, 0.5, 2.0]], dtype=torch.float64)
theta0 = {"weight": w0, "bias": torch.zeros(1, dtype=torch.float64)}
rg = torch.Generator().manual_seed(0)


def adapted_tasks(count: int, weight_spread: float, offset: float) -> list:
    """`count` tasks of 10 examples, adapted from theta0; weights w0 + spread * noise."""
    out = []
    for _ in range(count):
        w = w0 + weight_spread * torch.randn(1, 4, generator=rg, dtype=torch.float64)
        b = offset + 0.3 * torch.randn(1, generator=rg, dtype=torch.float64)
        x = torch.randn(10, 4, generator=rg, dtype=torch.float64)
        out.append(maml.adapt(start, theta0, x, x @ w.T + b, rcfg))
    return out


in_domain = adapted_tasks(100, 0.3, 0.0)
ref_distance = signals.adaptation_distance(theta0, in_domain)
ref_layers = signals.layer_change(theta0, in_domain)
rows = {}
for name, tasks in (
    ("new in-domain tasks", adapted_tasks(50, 0.3, 0.0)),
    ("weights drifted", adapted_tasks(50, 1.5, 0.0)),
    ("offset drifted", adapted_tasks(50, 0.3, 3.0)),
):
    d = signals.adaptation_distance(theta0, tasks, ref_distance.per_episode)
    layers = signals.layer_change(theta0, tasks, ref_layers)
    rows[name] = d, layers


th = signals.Thresholds()
claims.check(
    rows["new in-domain tasks"][0].share_above_reference <= th.distance_flagged_warn,
    "new tasks of the same family are not flagged",
)
for name in ("weights drifted", "offset drifted"):
    claims.check(
        rows[name][0].share_above_reference > th.distance_flagged_warn, f"{name} is flagged"
    )
claims.check(
    rows["offset drifted"][1].ratio["bias"] > th.layer_ratio_warn, "the offset moves the bias"
)
claims.check(
    rows["weights drifted"][1].ratio["weight"] > th.layer_ratio_warn, "drift moves the weights"
)
cut = float(torch.quantile(torch.tensor(ref_distance.per_episode), 0.95))
claims.check(rows["new in-domain tasks"][0].mean < cut, "new in-domain tasks stay below the cut")
claims.check(all(rows[n][0].mean > cut for n in list(rows)[1:]), "drifted tasks lie above the cut")
names = ["in-domain (reference)", *rows]
stats = [claims.mean_ci(ref_distance.per_episode)] + [
    claims.mean_ci(d.per_episode) for d, _ in rows.values()
]
fig = figures.intervals(
    names, [figures.Series("mean distance ± 95% CI", range(len(names)), [s.mean for s in stats], ci=[s.ci95 for s in stats])],
    y_label="distance from the start", reference=cut, reference_label="in-domain 95th percentile",
)  # fmt: skip
print(
    figures.render(
        fig,
        alt="Mean adaptation distance per task family: the new in-domain tasks sit with the "
        "reference below its 95th percentile, both drifted families well above it.",
        caption="Adaptation distance from the learned start, mean and 95% CI over tasks; the "
        "dotted line is the in-domain 95th percentile the threshold compares with.",
        numbers=figures.table(
            [
                "tasks",
                "mean distance",
                "past the in-domain 95th percentile",
                "weight ratio",
                "bias ratio",
            ],
            [[names[0], f"{ref_distance.mean:.3f}", "-", "1", "1"]]
            + [
                [
                    n,
                    f"{d.mean:.3f}",
                    f"{d.share_above_reference:.0%}",
                    f"{c.ratio['weight']:.2f}",
                    f"{c.ratio['bias']:.2f}",
                ]
                for n, (d, c) in rows.items()
            ],
        ),
    )
)
