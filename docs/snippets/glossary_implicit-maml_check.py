# ruff: noqa: F821  (inner_steps, unrolled_meta_gradient, implicit_meta_gradient come from
# glossary_implicit-maml_gradients.py, included in the same executed block just before this file)
# One least-squares task in float64: 20 parameters, 10 support points (so the support Hessian has
# rank 10 and the proximal term is what makes the inner problem well posed), 20 query points,
# lambda = 0.5, inner step 1 / (largest curvature + lambda). The exact meta-gradient comes from
# the closed-form inner solution; finite differences check it; then the unrolled gradient and
# iMAML's implicit gradient are compared with it as their iteration counts grow.
import itertools

import claims
import figures
import torch
from matplotlib import ticker

PARAMS, SUPPORT, QUERY, LAM = 20, 10, 20, 0.5
ITERATIONS = (1, 2, 5, 11, 20, 50, 100, 200, 400)
g = torch.Generator().manual_seed(0)
weights = torch.randn(PARAMS, generator=g, dtype=torch.float64)
support_x = torch.randn(SUPPORT, PARAMS, generator=g, dtype=torch.float64)
query_x = torch.randn(QUERY, PARAMS, generator=g, dtype=torch.float64)
support_y = support_x @ weights + 0.1 * torch.randn(SUPPORT, generator=g, dtype=torch.float64)
query_y = query_x @ weights + 0.1 * torch.randn(QUERY, generator=g, dtype=torch.float64)
theta = 0.5 * torch.randn(PARAMS, generator=g, dtype=torch.float64)


def support_loss(phi):
    return (support_x @ phi - support_y).pow(2).mean()


def query_loss(phi):
    return (query_x @ phi - query_y).pow(2).mean()


# Closed forms: H = 2/n X^T X, the inner solution, and the exact meta-gradient through it.
hessian = 2 / SUPPORT * support_x.T @ support_x  # (P, P), rank SUPPORT
eye = torch.eye(PARAMS, dtype=torch.float64)


def exact_solution(anchor):
    return torch.linalg.solve(
        hessian + LAM * eye, 2 / SUPPORT * support_x.T @ support_y + LAM * anchor
    )


phi_star = exact_solution(theta)
query_grad = 2 / QUERY * query_x.T @ (query_x @ phi_star - query_y)
exact = torch.linalg.solve(eye + hessian / LAM, query_grad)  # (P,)
step = 1 / (torch.linalg.eigvalsh(hessian).max().item() + LAM)


def error(estimate):
    return max(((estimate - exact).norm() / exact.norm()).item(), 1e-16)  # floor for log axes


finite = torch.stack([
    (query_loss(exact_solution(theta + 1e-6 * e)) - query_loss(exact_solution(theta - 1e-6 * e)))
    / 2e-6
    for e in eye
])  # fmt: skip
unrolled = [
    error(unrolled_meta_gradient(support_loss, query_loss, theta, LAM, j, step)) for j in ITERATIONS
]
cg = [error(implicit_meta_gradient(support_loss, query_loss, phi_star, LAM, j)) for j in ITERATIONS]
at_inexact = [
    error(implicit_meta_gradient(
        support_loss, query_loss, inner_steps(support_loss, theta, LAM, j, step, False), LAM, PARAMS
    ))
    for j in ITERATIONS
]  # fmt: skip

# The page's sentences, checked against this output:
claims.check(
    error(finite) < 1e-6,
    "the implicit formula agrees with finite differences",
    f"{error(finite):.2e}",
)
at_rank = ITERATIONS.index(SUPPORT + 1)
claims.check(
    cg[at_rank] < 1e-10,
    f"CG is exact after {SUPPORT + 1} iterations",
    f"{cg[at_rank]:.2e}",
)
claims.check(
    unrolled[at_rank] > 1e-3,
    "the unrolled gradient is still off at that step count",
    f"{unrolled[at_rank]:.2e}",
)
claims.check(
    all(b < a for a, b in itertools.pairwise(unrolled)),
    "the unrolled error falls with every step count",
)
claims.check(
    unrolled[-1] < 1e-8,
    "unrolled converges to the implicit gradient",
    f"{unrolled[-1]:.2e}",
)
claims.check(
    all(b < a for a, b in itertools.pairwise(at_inexact)),
    "the implicit gradient at an inexact inner solution improves with the inner solve",
)

names = [
    "unrolled: backprop through j inner steps",
    "implicit: j CG iterations at the exact inner solution",
    "implicit: exact solve at the j-step inner solution",
]
fig = figures.line(
    [
        figures.Series(n, ITERATIONS, v)
        for n, v in zip(names, (unrolled, cg, at_inexact), strict=True)
    ],
    x_label="inner steps or CG iterations j (log scale)",
    y_label="relative error of the meta-gradient",
    x_scale="log",
    y_scale="log",
    size=(6.0, 4.4),
)
fig.axes[0].yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:.0e}"))
fig.axes[0].yaxis.set_minor_formatter(ticker.NullFormatter())
with figures.style():
    fig.axes[0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), fontsize=8)  # below
rows = [
    [j, f"{a:.1e}", f"{b:.1e}", f"{c:.1e}"]
    for j, a, b, c in zip(ITERATIONS, unrolled, cg, at_inexact, strict=True)
]
print(
    figures.render(
        fig,
        alt="Relative error of three meta-gradient estimates against the number of inner steps or "
        "CG iterations, log-log: conjugate gradient reaches rounding error after a handful of "
        "iterations; the unrolled gradient and the implicit gradient at an inexact inner solution "
        "fall steadily and need hundreds of inner steps.",
        caption=f"One least-squares task with {PARAMS} parameters and {SUPPORT} support points, "
        f"λ = {LAM}. Errors are relative to the exact meta-gradient; finite differences agree with "
        f"it to {error(finite):.0e}. Errors are floored at 1e-16 for the log axis.",
        numbers=figures.table(["j", *names], rows),
    )
)
