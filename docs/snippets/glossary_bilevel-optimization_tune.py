# ruff: noqa: F821  (sample_regression_tasks, inner_solution, outer_loss, hypergradient and
# hypergradient_descent come from glossary_bilevel-optimization_ridge.py, included just before)
# Eight features whose prior spread runs from 0.32 to 3.2, twelve support and fifty query points
# per task, noise 0.5; 500 training tasks, 1000 held-out. First one penalty shared by all
# features (grid against hypergradient descent), then one penalty per feature (hypergradient
# descent against the Bayes-optimal penalties). Hypergradients by the implicit function theorem.
import claims
import figures
import torch
from matplotlib import ticker

DIM, SUPPORT, QUERY, NOISE, STEPS, LR = 8, 12, 50, 0.5, 150, 0.1
prior_std = torch.logspace(-0.5, 0.5, DIM, dtype=torch.float64)
train = sample_regression_tasks(
    500, SUPPORT, QUERY, prior_std, NOISE, torch.Generator().manual_seed(0)
)
test = sample_regression_tasks(
    1000, SUPPORT, QUERY, prior_std, NOISE, torch.Generator().manual_seed(1)
)

# Check the implicit hypergradient against central finite differences of the outer loss.
probe = torch.full((DIM,), 0.05, dtype=torch.float64)
implicit = hypergradient(probe, train)
finite = torch.stack([
    (outer_loss(probe + 1e-7 * e, train).mean() - outer_loss(probe - 1e-7 * e, train).mean()) / 2e-7
    for e in torch.eye(DIM, dtype=torch.float64)
])  # fmt: skip
fd_error = ((implicit - finite).norm() / finite.norm()).item()

grid = torch.logspace(-4, -1, 31, dtype=torch.float64)
grid_loss = torch.stack([outer_loss(v.expand(DIM), train).mean() for v in grid])
shared, shared_path = hypergradient_descent(
    torch.tensor([-7.0], dtype=torch.float64), train, STEPS, LR
)
per_feature, _ = hypergradient_descent(
    torch.full((DIM,), -7.0, dtype=torch.float64), train, STEPS, LR
)
bayes = NOISE**2 / (SUPPORT * prior_std**2)
held_out = {  # penalty -> per-task query MSE on held-out tasks
    "one shared penalty (hypergradient)": outer_loss(shared.expand(DIM), test),
    "a penalty per feature (hypergradient)": outer_loss(per_feature, test),
    "Bayes-optimal penalties": outer_loss(bayes, test),
}
names = list(held_out)

# The page's sentences, checked against this output:
claims.check(
    fd_error < 1e-6, "the implicit hypergradient equals finite differences", f"{fd_error:.1e}"
)
shared_loss = outer_loss(shared.expand(DIM), train).mean().item()
claims.check(
    shared_loss <= grid_loss.min().item() * (1 + 1e-4),
    "hypergradient descent on one penalty reaches the grid's minimum",
    f"{shared_loss:.6f} against {grid_loss.min().item():.6f}",
)
ratio = (per_feature / bayes).log().abs().max().exp().item()
claims.check(
    ratio < 2,
    "each learned penalty is within a factor of two of the Bayes-optimal one",
    f"{ratio:.2f}",
)
gain = claims.greater(
    held_out[names[0]].tolist(), held_out[names[1]].tolist(),
    "a penalty per feature beats one shared penalty on held-out tasks",
)  # fmt: skip
beyond = (held_out[names[0]] - held_out[names[1]]) - 0.9 * (held_out[names[0]] - held_out[names[2]])
claims.above(
    claims.mean_ci(beyond.tolist()), 0, "per-feature penalties recover over 90% of the Bayes gain"
)

fig, (left, right) = figures.canvas(size=(7.6, 3.8), ncols=2)
path_loss = [outer_loss(v.expand(DIM), train).mean().item() for v in shared_path[::10]]
span = [bayes.min().item() / 1.5, bayes.max().item() * 1.5]
with figures.style():  # custom drawing: text and lines follow the page's palette
    left.plot(grid.tolist(), grid_loss.tolist(), color=figures.FOREGROUND, lw=1.2,
              label="grid over one penalty")  # fmt: skip
    left.plot(shared_path[::10].squeeze(-1).tolist(), path_loss, ls="none", marker="o", ms=4,
              color=figures.color(0), label="hypergradient descent, every 10th step")  # fmt: skip
    left.set_xscale("log")
    left.set_xlabel("shared penalty λ (log scale)")
    left.set_ylabel("mean query MSE, training tasks")
    left.legend(loc="upper left", fontsize=7)
    right.plot(bayes.tolist(), per_feature.tolist(), ls="none", marker="s", color=figures.color(1),
               label="learned per-feature penalty")  # fmt: skip
    right.plot(span, span, color=figures.MUTED, ls="--", lw=1, label="y = x")
    right.axhline(shared.item(), color=figures.color(0), ls=":", lw=1.2,
                  label="learned shared penalty")  # fmt: skip
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("Bayes-optimal penalty σ²/(nτ²) (log scale)")
    right.set_ylabel("learned penalty (log scale)")
    right.legend(loc="upper left", fontsize=7)
    for axis in (left.xaxis, right.xaxis, right.yaxis):  # 1, 2, 5 per decade, plain labels
        axis.set_major_locator(
            ticker.LogLocator(subs=(1.0,) if axis is left.xaxis else (1.0, 2.0, 5.0))
        )
        axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(ticker.NullFormatter())
cells = {name: claims.mean_ci(values.tolist()) for name, values in held_out.items()}
rows = [[i, f"{prior_std[i]:.3g}", f"{bayes[i]:.4f}", f"{per_feature[i]:.4f}"] for i in range(DIM)]
print(
    figures.render(
        fig,
        alt="Left: training query error against one shared ridge penalty on a log axis, with the "
        "hypergradient-descent iterates walking down to the curve's minimum. Right: learned "
        "per-feature penalties against the Bayes-optimal ones on log axes, close to the diagonal.",
        caption=f"Hypergradients by the implicit function theorem (finite differences agree to "
        f"{fd_error:.0e}). Largest ratio of a learned to a Bayes-optimal penalty: {ratio:.2f}. "
        f"Held-out query MSE (mean ± 95% CI over {len(test[0])} tasks): "
        + "; ".join(f"{n} {c.mean:.3f} ± {c.ci95:.3f}" for n, c in cells.items())
        + ".",
        numbers=figures.table(["feature", "prior std τ", "Bayes-optimal λ*", "learned λ"], rows),
    )
)
print(
    f"Paired difference on the same held-out tasks (95% CI): shared − per-feature "
    f"{gain.mean:+.3f} ± {gain.ci95:.3f}; learned shared penalty {shared.item():.4f}."
)
