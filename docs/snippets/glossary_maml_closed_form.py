# MAML's meta-gradient through the project's inner loop (reference_impl.maml.adapt), checked
# against its closed form on 2-parameter linear least squares, where everything is known exactly
# (float64), and drawn on the two loss surfaces it lives between.
import math

import claims
import figures
import torch
from torch import nn
from torch.func import functional_call

from reference_impl.maml import MAMLConfig, adapt, task_loss

generator = torch.Generator().manual_seed(0)
N_SUPPORT, N_QUERY, ALPHA = 8, 8, 0.15
TOLERANCE = 1e-12  # float64: autograd and the closed form agree to rounding
model = nn.Linear(2, 1, bias=False).double()
w_task = torch.tensor([[1.0], [1.0]], dtype=torch.float64)  # (2, 1) the task's true weights
stretch = torch.tensor([[1.4, 0.0], [0.0, 0.5]], dtype=torch.float64)  # one steep, one flat axis
xs = torch.randn(N_SUPPORT, 2, generator=generator, dtype=torch.float64) @ stretch  # (S, 2)
xq = torch.randn(N_QUERY, 2, generator=generator, dtype=torch.float64) @ stretch  # (Q, 2)
ys = xs @ w_task + 0.3 * torch.randn(N_SUPPORT, 1, generator=generator, dtype=torch.float64)
yq = xq @ w_task + 0.3 * torch.randn(N_QUERY, 1, generator=generator, dtype=torch.float64)
cfg = MAMLConfig(inner_lr=ALPHA, inner_steps=1)
start = torch.tensor([[-1.0, 2.2]], dtype=torch.float64)  # (1, 2) the initialisation theta
params = {"weight": start.clone().requires_grad_()}

adapted = adapt(model, params, xs, ys, cfg)
query_loss = task_loss(functional_call(model, adapted, (xq,)), yq, cfg)
(autograd,) = torch.autograd.grad(query_loss, params["weight"])

w = start.T  # (2, 1)
hessian = 2 / N_SUPPORT * xs.T @ xs  # support-loss Hessian H_S
w_adapted = w - ALPHA * 2 / N_SUPPORT * xs.T @ (xs @ w - ys)  # one inner step, Eq. (1)
grad_query = 2 / N_QUERY * xq.T @ (xq @ w_adapted - yq)  # query gradient at theta'
closed_form = (torch.eye(2, dtype=torch.float64) - ALPHA * hessian) @ grad_query
error = ((autograd.T - closed_form).norm() / closed_form.norm()).item()
first_order_change = ((grad_query - closed_form).norm() / closed_form.norm()).item()
angle = math.degrees(
    math.acos(torch.nn.functional.cosine_similarity(grad_query, closed_form, dim=0).item())
)
shrink = torch.linalg.eigvalsh(torch.eye(2, dtype=torch.float64) - ALPHA * hessian).tolist()
claims.check(error < TOLERANCE, "autograd through adapt equals the closed form", f"{error:.1e}")
claims.check(all(0 < v < 1 for v in shrink), "the factor shrinks the gradient in every direction")


def maml_objective(theta):  # (G, 2) -> (G,): the query loss one inner step after theta
    support_grad = 2 / N_SUPPORT * (theta @ xs.T - ys.T) @ xs  # (G, 2)
    return (((theta - ALPHA * support_grad) @ xq.T - yq.T) ** 2).mean(dim=1)


step = 1e-6  # central differences of the plotted surface at the start
probe = start + step * torch.eye(2, dtype=torch.float64)  # (2, 2)
numeric = maml_objective(probe) - maml_objective(start - step * torch.eye(2, dtype=torch.float64))
numeric = numeric / (2 * step)
claims.check(
    torch.allclose(numeric, closed_form.flatten(), rtol=1e-6, atol=1e-9),
    "the exact meta-gradient is the gradient of the plotted MAML objective",
)

# The two surfaces on a grid of initialisations: the query loss at theta itself, and the MAML
# objective, the query loss after one inner step from theta.
grid = torch.linspace(-1.5, 3.5, 61, dtype=torch.float64)
g0, g1 = torch.meshgrid(grid, grid, indexing="xy")
thetas = torch.stack([g0.flatten(), g1.flatten()], dim=1)  # (G, 2)
before = ((thetas @ xq.T - yq.T) ** 2).mean(dim=1).reshape(g0.shape)  # L_Q(theta)
after = maml_objective(thetas).reshape(g0.shape)

fig, (left, right) = figures.canvas((7.6, 3.8), ncols=2, sharey=True)
with figures.style():  # custom artists read colours and fonts when they are created
    p, q = start.flatten().tolist(), w_adapted.flatten().tolist()
    TITLES = (
        r"query loss $L_Q(\theta)$",
        r"MAML objective $L_Q(\theta - \alpha \nabla L_S(\theta))$",
    )
    for ax, surface, title in zip((left, right), (before, after), TITLES, strict=True):
        levels = torch.quantile(surface.flatten(), torch.linspace(0.02, 0.9, 9, dtype=grid.dtype))
        ax.contour(
            *(t.numpy() for t in (g0, g1, surface)), levels=levels.tolist(), colors=figures.MUTED
        )
        ax.set_title(title)
        ax.set_xlabel(r"$\theta_1$")
        ax.set_aspect("equal")
        ax.grid(False)
        ax.plot(*p, marker="o", color=figures.FOREGROUND, ls="none")
        ax.annotate("start θ", p, xytext=(-4, 8), textcoords="offset points", ha="right",
                    color=figures.FOREGROUND)  # fmt: skip

    def arrow(ax, tip, i, text, offset):
        ax.annotate(
            "",
            xy=tip,
            xytext=p,
            arrowprops={"arrowstyle": "->", "color": figures.color(i), "lw": 1.8},
        )
        ax.annotate(text, tip, xytext=offset, textcoords="offset points", color=figures.color(i),
                    fontsize=9)  # fmt: skip

    left.set_ylabel(r"$\theta_2$")
    arrow(left, q, 2, "inner step to θ′", (-30, -16))
    scale = 0.8 / closed_form.norm().item()  # both directions drawn, the exact one 0.8 long
    for i, (direction, text, offset) in enumerate(
        ((closed_form, "exact", (-22, -16)), (grad_query, "first-order", (4, -4)))
    ):
        tip = [a - scale * b for a, b in zip(p, direction.flatten().tolist(), strict=True)]
        arrow(right, tip, i, text, offset)
rows = [
    ["exact meta-gradient (autograd)", ", ".join(f"{v:.4f}" for v in autograd.flatten().tolist())],
    ["closed form (I − αH)∇L_Q(θ')", ", ".join(f"{v:.4f}" for v in closed_form.flatten().tolist())],
    ["first-order ∇L_Q(θ')", ", ".join(f"{v:.4f}" for v in grad_query.flatten().tolist())],
    ["relative difference autograd vs closed form", f"{error:.1e}"],
    ["first-order change of the meta-gradient", f"{first_order_change:.1%} ({angle:.0f}°)"],
    ["eigenvalues of I − αH", ", ".join(f"{v:.3f}" for v in shrink)],
]
print(
    figures.render(
        fig,
        alt="Two contour plots over the two parameters. Left: the query loss, with the start and "
        "the point one inner step later. Right: the MAML objective, whose contours are stretched "
        "along the axis on which the support loss is steep; from the start, the exact "
        "meta-gradient step and the first-order step point in different directions.",
        caption=f"One task, {N_SUPPORT} support and {N_QUERY} query points, α = {ALPHA}. The exact "
        "meta-gradient is the gradient of the right-hand surface (steepest descent, across its "
        "contours, not a step to its minimum); the first-order one is the query gradient at θ′, "
        f"which differs from it by {first_order_change:.0%} of its length "
        f"and {angle:.0f}° in direction.",
        numbers=figures.table(["quantity", "value"], rows),
    )
)
