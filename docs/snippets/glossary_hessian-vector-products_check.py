# ruff: noqa: F821  (mlp_task, gradient, hvp_double_backward, hvp_forward_over_reverse,
# hessian_explicit, hvp_finite_difference, maml_meta_gradient and top_curvature come from
# glossary_hessian-vector-products_hvp.py, included in the same executed block just before this)
# Left panel, live and in float64: a tanh network with two hidden layers of 8 units (P = 121
# parameters, 32 examples). Both autodiff Hessian-vector products are compared with the explicit
# Hessian times v, and central finite differences of gradients with it over a sweep of steps h;
# the one-step MAML meta-gradient built from one HVP is compared with autograd through the step,
# and the support Hessian's extreme eigenvalue found by power iteration on HVPs with its spectrum.
# Right panel: the committed benchmark `benchmarks/results/hvp_speed.json` (python -m
# benchmarks.hvp), CPU time per call relative to one gradient, measured in one process.
import itertools
import json
from pathlib import Path

import claims
import figures
import torch
from matplotlib import ticker

WIDTH, INPUTS, BATCH, INNER_LR = 8, 4, 32, 0.1
STEPS = tuple(10.0**-e for e in range(1, 11))  # finite-difference steps h
POWER_STEPS = 30  # power iterations, one HVP each
g = torch.Generator().manual_seed(0)
loss, theta = mlp_task(WIDTH, INPUTS, BATCH, g, torch.float64)
v = torch.randn(theta.shape, generator=g, dtype=torch.float64)  # (P,)

exact = hessian_explicit(loss, theta) @ v  # (P,): the P x P matrix, formed once as the reference


def rel_error(estimate):
    return max(((estimate - exact).norm() / exact.norm()).item(), 1e-16)  # floor for log axes


autodiff = {
    "double backward (reverse over reverse)": rel_error(hvp_double_backward(loss, theta, v)),
    "forward over reverse": rel_error(hvp_forward_over_reverse(loss, theta, v)),
}
finite = [rel_error(hvp_finite_difference(loss, theta, v, h)) for h in STEPS]
best = min(range(len(STEPS)), key=finite.__getitem__)

# MAML's second-order term by one HVP, against autograd through the inner step.
support_loss, _ = mlp_task(WIDTH, INPUTS, BATCH, g, torch.float64)  # same network, new batches
query_loss, _ = mlp_task(WIDTH, INPUTS, BATCH, g, torch.float64)
leaf = theta.detach().requires_grad_()
(inner,) = torch.autograd.grad(support_loss(leaf), leaf, create_graph=True)
(through_step,) = torch.autograd.grad(query_loss(leaf - INNER_LR * inner), leaf)
by_hvp = maml_meta_gradient(support_loss, query_loss, theta, INNER_LR)
first_order = gradient(query_loss, theta - INNER_LR * gradient(support_loss, theta))
meta_error = ((by_hvp - through_step).norm() / through_step.norm()).item()
second_order_share = ((first_order - through_step).norm() / through_step.norm()).item()

# The curvature that bounds a stable inner step, from HVPs only, against the full spectrum.
curvature = top_curvature(support_loss, theta, POWER_STEPS, g)
spectrum = torch.linalg.eigvalsh(hessian_explicit(support_loss, theta))  # (P,), ascending
extreme = spectrum[spectrum.abs().argmax()].item()

speed = json.loads(Path("benchmarks/results/hvp_speed.json").read_text())
rows = speed["rows"]
ratio = {
    name: [(r["parameters"], r["ratio_to_gradient"][name]) for r in rows
           if name in r["ratio_to_gradient"]]
    for name in ("double_backward", "forward_over_reverse", "explicit_hessian")
}  # fmt: skip
hvp_ratios = [x for name in ("double_backward", "forward_over_reverse") for _, x in ratio[name]]
largest = rows[-1]["ratio_to_gradient"]
MODE_WORRY = 1e-4  # the page's mode-agreement threshold in float32
mode_gap = max(r["modes_max_rel_diff"] for r in rows)

# The page's sentences, checked against this output:
for name, err in autodiff.items():
    claims.check(err < 1e-12, f"{name} equals the explicit Hessian times v", f"{err:.1e}")
claims.check(
    finite[best] > 100 * max(autodiff.values()),
    "the best finite difference is far less accurate than either autodiff product",
    f"{finite[best]:.1e}",
)
claims.check(
    0 < best < len(STEPS) - 1 and finite[0] > 10 * finite[best] and finite[-1] > 10 * finite[best],
    "finite differences are worse for steps both larger and smaller than the best one",
)
claims.check(meta_error < 1e-12, "one HVP gives MAML's exact meta-gradient", f"{meta_error:.1e}")
claims.check(
    second_order_share > 1e-3,
    "dropping the HVP (first-order MAML) changes the meta-gradient here",
    f"{second_order_share:.1e}",
)
claims.check(
    abs(curvature - extreme) < 1e-9 * abs(extreme),
    "power iteration on HVPs finds the support Hessian's eigenvalue of largest magnitude",
    f"{curvature:.6f} vs {extreme:.6f}",
)
claims.check(
    0 < INNER_LR * curvature < 2,
    "the inner step is inside the stable range of the support loss's top curvature",
    f"{INNER_LR * curvature:.2f}",
)
claims.check(
    mode_gap < MODE_WORRY,
    "in the benchmark the two autodiff modes agree in float32 well inside the worry threshold",
    f"{mode_gap:.1e}",
)
claims.check(
    all(1 < x < 20 for x in hvp_ratios),
    "every measured HVP costs between one and twenty gradients",
    str(hvp_ratios),
)
claims.check(
    all(1 < largest[name] < 10 for name in ("double_backward", "forward_over_reverse")),
    "at the largest network both HVPs cost less than ten gradients",
    str(largest),
)
smallest = rows[0]["ratio_to_gradient"]
claims.check(
    smallest["forward_over_reverse"] > smallest["double_backward"]
    and largest["forward_over_reverse"] < smallest["forward_over_reverse"],
    "forward over reverse pays a fixed overhead that dominates on the smallest network",
    f"{smallest} then {largest}",
)
hessian_x = ratio["explicit_hessian"]
claims.check(
    len(hessian_x) >= 2
    and all(b[1] / a[1] > 0.5 * b[0] / a[0] for a, b in itertools.pairwise(hessian_x)),
    "the explicit Hessian's cost grows about in proportion to the parameter count",
    str(hessian_x),
)
claims.check(
    hessian_x[-1][1] > 10 * max(ratio["double_backward"][len(hessian_x) - 1][1], 1),
    "at the largest size it was timed, the Hessian costs over ten times an HVP",
)

fig, (accuracy_ax, cost_ax) = figures.canvas(size=(8.0, 3.8), ncols=2)
with figures.style():  # custom drawing: text and lines follow the page's palette
    accuracy_ax.plot(
        STEPS, finite, color=figures.color(2), marker=figures.marker(2), label="finite difference"
    )
    for i, (name, err) in enumerate(autodiff.items()):
        accuracy_ax.axhline(err, color=figures.color(i), ls=("-", "--")[i], lw=1.5, label=name)
    accuracy_ax.set_xscale("log")
    accuracy_ax.set_yscale("log")
    accuracy_ax.invert_xaxis()
    accuracy_ax.set_xlabel("finite-difference step h (log scale)")
    accuracy_ax.set_ylabel("relative error against H v")
    accuracy_ax.set_title(f"accuracy, float64, P = {theta.numel()}")
    accuracy_ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), fontsize=8)
    names = {
        "double_backward": "double backward",
        "forward_over_reverse": "forward over reverse",
        "explicit_hessian": "explicit Hessian, then H v",
    }
    for i, (name, points) in enumerate(ratio.items()):
        cost_ax.plot(
            [p for p, _ in points], [x for _, x in points], color=figures.color(i),
            marker=figures.marker(i), ls=("-", "--", ":")[i], label=names[name],
        )  # fmt: skip
    cost_ax.axhline(1, color=figures.FOREGROUND, lw=1, ls=":", label="one gradient")
    cost_ax.set_xscale("log")
    cost_ax.set_yscale("log")
    cost_ax.set_xlabel("parameters P (log scale)")
    cost_ax.set_ylabel("CPU time / one gradient")
    cost_ax.set_title("cost, float32, from the benchmark")
    cost_ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), fontsize=8)

for axis, fmt in (
    (accuracy_ax.xaxis, "{:.0e}"),
    (accuracy_ax.yaxis, "{:.0e}"),
    (cost_ax.xaxis, "{:,.0f}"),
    (cost_ax.yaxis, "{:,.0f}"),
):  # plain tick labels: matplotlib's default log labels are mathtext, slow to lay out
    axis.set_major_formatter(ticker.FuncFormatter(lambda x, _, fmt=fmt: fmt.format(x)))
    axis.set_minor_formatter(ticker.NullFormatter())

table_rows = [
    [
        r["width"],
        r["parameters"],
        *(f"{r['ratio_to_gradient'][n]:.2f}" if n in r["ratio_to_gradient"] else "–"
          for n in names),
    ]
    for r in rows
]  # fmt: skip
print(
    figures.render(
        fig,
        alt="Left: relative error of a finite-difference Hessian-vector product against its step "
        "size, a V shape far above the two autodiff products, which agree with the explicit "
        "Hessian to rounding. Right: CPU time relative to one gradient against the parameter "
        "count: both Hessian-vector products stay a small multiple of a gradient, the explicit "
        "Hessian's cost climbs with the parameter count.",
        caption=f"Left: live, a tanh network with {theta.numel()} parameters in float64; errors "
        "floored at 1e-16 for the log axis. Right: the committed benchmark result "
        f"({speed['machine']['cpu']}, one thread, {speed['conditions']['rounds']} interleaved "
        "rounds, medians of per-round ratios; the Hessian only for the smallest networks).",
        numbers=figures.table(
            ["width", "parameters", *(f"{names[n]} / gradient" for n in names)], table_rows
        ),
    )
)
print(
    f"Best finite difference: relative error {finite[best]:.0e} at h = {STEPS[best]:.0e}; "
    f"autodiff products: {', '.join(f'{e:.0e}' for e in autodiff.values())}. MAML meta-gradient "
    f"from one HVP against autograd through the step: relative difference {meta_error:.0e}; "
    f"first-order MAML (no HVP) differs from it by {second_order_share:.0%}. Top curvature of "
    f"the support loss by {POWER_STEPS} HVPs: {curvature:.4f} (eigendecomposition: {extreme:.4f}), "
    f"so the inner step times it is {INNER_LR * curvature:.2f}. Benchmark, float32: the two "
    f"modes differ by at most {mode_gap:.0e} (relative); at "
    f"{rows[-1]['parameters']:,} parameters an HVP costs {largest['double_backward']:.1f} "
    f"(double backward) and {largest['forward_over_reverse']:.1f} (forward over reverse) "
    "gradients."
)
