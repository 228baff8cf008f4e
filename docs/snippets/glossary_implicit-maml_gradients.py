r"""iMAML's implicit meta-gradient, by conjugate gradient on Hessian-vector products.

Implicit MAML (Rajeswaran, Finn, Kakade, Levine 2019, "Meta-Learning with Implicit Gradients",
arXiv:1909.04630) adapts to a task by solving a proximally regularised problem,

$$\phi^\star(\theta) = \arg\min_\phi\; \mathcal{L}_{\mathcal{S}}(\phi) + \tfrac{\lambda}{2}\lVert\phi - \theta\rVert^2,$$

and differentiates the solution, not the path to it. At the minimum
$\nabla\mathcal{L}_\mathcal{S}(\phi^\star) + \lambda(\phi^\star - \theta) = 0$; differentiating
this identity in $\theta$ (the implicit function theorem) gives
$d\phi^\star/d\theta = (I + H/\lambda)^{-1}$ with $H = \nabla^2\mathcal{L}_\mathcal{S}(\phi^\star)$,
so the meta-gradient of the query loss is

$$\nabla_\theta\,\mathcal{L}_\mathcal{Q}(\phi^\star(\theta)) = \big(I + \tfrac{1}{\lambda}H\big)^{-1}\,\nabla\mathcal{L}_\mathcal{Q}(\phi^\star),$$

a linear system solved by conjugate gradient with Hessian-vector products: its cost and memory
do not depend on how many steps found $\phi^\star$. The unrolled alternative backpropagates through
every inner step and stores all of them. Both are written here for a flat parameter vector.

Shapes: `P` parameters.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

Loss = Callable[[Tensor], Tensor]
"""A scalar loss of a parameter vector of shape `(P,)`."""


def inner_steps(
    support_loss: Loss, theta: Tensor, lam: float, steps: int, lr: float, create_graph: bool
) -> Tensor:
    r"""Gradient descent on $\mathcal{L}_\mathcal{S}(\phi) + \tfrac{\lambda}{2}\lVert\phi-\theta\rVert^2$ from $\phi = \theta$.

    Args:
        support_loss: The task's support loss.
        theta: Meta-parameters, shape `(P,)`; differentiated through if `create_graph`.
        lam: Proximal strength $\lambda > 0$.
        steps: Gradient steps.
        lr: Step size.
        create_graph: Keep every step in the graph (unrolled differentiation), or not (iMAML).

    Returns:
        The inner solution after `steps` steps, shape `(P,)`.
    """
    anchor = theta if create_graph else theta.detach()
    phi = anchor
    for _ in range(steps):
        if not create_graph:
            phi = phi.detach().requires_grad_()  # a fresh leaf: no graph across steps
        (grad,) = torch.autograd.grad(support_loss(phi), phi, create_graph=create_graph)
        phi = phi - lr * (grad + lam * (phi - anchor))
    return phi if create_graph else phi.detach()


def unrolled_meta_gradient(
    support_loss: Loss, query_loss: Loss, theta: Tensor, lam: float, steps: int, lr: float
) -> Tensor:
    r"""Meta-gradient by backpropagation through all `steps` inner steps (memory grows with steps).

    Args:
        support_loss: The task's support loss.
        query_loss: The task's query loss.
        theta: Meta-parameters, shape `(P,)`.
        lam: Proximal strength.
        steps: Inner steps.
        lr: Inner step size.

    Returns:
        $d\mathcal{L}_\mathcal{Q}(\phi_{steps}(\theta))/d\theta$, shape `(P,)`.
    """
    theta = theta.detach().requires_grad_()
    phi = inner_steps(support_loss, theta, lam, steps, lr, create_graph=True)
    (grad,) = torch.autograd.grad(query_loss(phi), theta)
    return grad


# --8<-- [start:implicit]
def conjugate_gradient(matvec: Callable[[Tensor], Tensor], rhs: Tensor, iterations: int) -> Tensor:
    """Solve `A x = rhs` for a symmetric positive definite `A` given only `x -> A x`.

    Args:
        matvec: The product with `A`.
        rhs: Right-hand side, shape `(P,)`.
        iterations: CG iterations (exact after at most `P` in exact arithmetic).

    Returns:
        The approximate solution, shape `(P,)`, starting from zero.
    """
    x = torch.zeros_like(rhs)
    residual = rhs.clone()
    direction = residual.clone()
    norm2 = residual @ residual
    for _ in range(iterations):
        if norm2 <= torch.finfo(rhs.dtype).tiny:
            break  # already solved: a further step would divide by zero
        product = matvec(direction)
        step = norm2 / (direction @ product)
        x = x + step * direction
        residual = residual - step * product
        new_norm2 = residual @ residual
        direction = residual + (new_norm2 / norm2) * direction
        norm2 = new_norm2
    return x


def implicit_meta_gradient(
    support_loss: Loss, query_loss: Loss, phi: Tensor, lam: float, cg_iterations: int
) -> Tensor:
    r"""iMAML's meta-gradient $(I + H/\lambda)^{-1}\nabla\mathcal{L}_\mathcal{Q}(\phi)$ at an inner solution.

    Needs only $\phi$, not the path that reached it; $H v$ is a double-backward product.

    Args:
        support_loss: The task's support loss.
        query_loss: The task's query loss.
        phi: The (approximate) inner solution $\phi^\star$, shape `(P,)`.
        lam: Proximal strength $\lambda$.
        cg_iterations: Conjugate-gradient iterations.

    Returns:
        The meta-gradient, shape `(P,)`.
    """
    phi = phi.detach().requires_grad_()
    (query_grad,) = torch.autograd.grad(query_loss(phi), phi)
    (support_grad,) = torch.autograd.grad(support_loss(phi), phi, create_graph=True)

    def matvec(v: Tensor) -> Tensor:  # (I + H / lam) v, with H v from one double backward
        (hv,) = torch.autograd.grad(support_grad, phi, grad_outputs=v, retain_graph=True)
        return v + hv / lam

    return conjugate_gradient(matvec, query_grad, cg_iterations)


# --8<-- [end:implicit]
