r"""Hessian-vector products by automatic differentiation, and the references they are checked against.

For a scalar loss $\mathcal{L}(\theta)$ of $P$ parameters, the Hessian-vector product
$H v = \nabla^2\mathcal{L}(\theta)\, v$ is the directional derivative of the gradient,

$$H v = \frac{d}{d\varepsilon}\nabla\mathcal{L}(\theta + \varepsilon v)\Big|_{\varepsilon = 0}
      = \nabla_\theta\big(\nabla\mathcal{L}(\theta)^\top v\big),$$

so it costs a small constant multiple of one gradient and never forms the $P \times P$ matrix
(Pearlmutter 1994, "Fast Exact Multiplication by the Hessian"). Two ways to compute it:

* **reverse over reverse** (double backward): differentiate $\nabla\mathcal{L}^\top v$ once more by
  backpropagation, which needs the first backward pass recorded (`create_graph=True`);
* **forward over reverse**: push the tangent $v$ forward through the gradient computation
  (`torch.func.jvp` of `torch.func.grad`), one forward-mode pass over the backward graph.

The explicit Hessian needs $P$ such products (one per basis vector), and a central finite
difference of two gradients approximates $H v$ with an error that depends on its step.

`mlp_task` builds the loss of a small tanh network on a flat parameter vector, so every function
here works on one tensor of shape `(P,)`.

Shapes: `P` parameters, `B` examples, `I` inputs, `W` hidden units.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

Loss = Callable[[Tensor], Tensor]
"""A scalar loss of a parameter vector of shape `(P,)`."""


def gradient(loss: Loss, theta: Tensor) -> Tensor:
    r"""The gradient $\nabla\mathcal{L}(\theta)$ by one backward pass, the unit of cost below.

    Args:
        loss: The loss.
        theta: Parameters, shape `(P,)`.

    Returns:
        The gradient, shape `(P,)`.
    """
    theta = theta.detach().requires_grad_()
    (grad,) = torch.autograd.grad(loss(theta), theta)
    return grad


def check_direction(theta: Tensor, v: Tensor) -> None:
    """Raise unless `theta` is a flat parameter vector `(P,)` and `v` a direction of the same shape.

    Raises:
        ValueError: If `theta` is not one-dimensional or `v` does not have its shape.
    """
    if theta.dim() != 1 or v.shape != theta.shape:
        raise ValueError(
            f"theta must have shape (P,) and v the same shape, got {tuple(theta.shape)} "
            f"and {tuple(v.shape)}"
        )


# --8<-- [start:hvp]
def hvp_double_backward(loss: Loss, theta: Tensor, v: Tensor) -> Tensor:
    r"""$H v$ by reverse over reverse: backpropagate $\nabla\mathcal{L}(\theta)^\top v$ once more.

    Args:
        loss: The loss.
        theta: Parameters, shape `(P,)`.
        v: Direction, shape `(P,)`.

    Returns:
        $\nabla^2\mathcal{L}(\theta)\,v$, shape `(P,)`.

    Raises:
        ValueError: If the shapes are not `(P,)` and `(P,)`.
    """
    check_direction(theta, v)
    theta = theta.detach().requires_grad_()
    (grad,) = torch.autograd.grad(loss(theta), theta, create_graph=True)  # keep the backward graph
    (hv,) = torch.autograd.grad(grad, theta, grad_outputs=v)  # d(grad . v)/d theta
    return hv


def hvp_forward_over_reverse(loss: Loss, theta: Tensor, v: Tensor) -> Tensor:
    r"""$H v$ by forward over reverse: the directional derivative of the gradient along $v$.

    Args:
        loss: The loss (written with tensor operations `torch.func` can transform).
        theta: Parameters, shape `(P,)`.
        v: Direction, shape `(P,)`.

    Returns:
        $\nabla^2\mathcal{L}(\theta)\,v$, shape `(P,)`.

    Raises:
        ValueError: If the shapes are not `(P,)` and `(P,)`.
    """
    check_direction(theta, v)
    _, hv = torch.func.jvp(torch.func.grad(loss), (theta.detach(),), (v,))
    return hv


# --8<-- [end:hvp]


def hessian_explicit(loss: Loss, theta: Tensor) -> Tensor:
    r"""The full Hessian, row by row: one double-backward product per parameter.

    Row $i$ is $H e_i$, so forming $H$ costs $P$ Hessian-vector products (`torch.autograd`'s
    `hessian` loops over the rows of the Jacobian of the gradient).

    Args:
        loss: The loss.
        theta: Parameters, shape `(P,)`.

    Returns:
        $\nabla^2\mathcal{L}(\theta)$, shape `(P, P)`.
    """
    return torch.autograd.functional.hessian(loss, theta.detach())


def hvp_finite_difference(loss: Loss, theta: Tensor, v: Tensor, step: float) -> Tensor:
    r"""Central difference of two gradients, $\big(\nabla\mathcal{L}(\theta + h v) - \nabla\mathcal{L}(\theta - h v)\big) / 2h$.

    Its error is about $h^2$ (the third derivative) plus rounding of order $\epsilon_{\text{mach}}/h$.

    Args:
        loss: The loss.
        theta: Parameters, shape `(P,)`.
        v: Direction, shape `(P,)`.
        step: The step $h > 0$.

    Returns:
        The approximation of $H v$, shape `(P,)`.

    Raises:
        ValueError: If `step` is not positive, or the shapes are not `(P,)` and `(P,)`.
    """
    check_direction(theta, v)
    if step <= 0:
        raise ValueError(f"step must be positive, got {step}")
    return (gradient(loss, theta + step * v) - gradient(loss, theta - step * v)) / (2 * step)


# --8<-- [start:meta-gradient]
def maml_meta_gradient(
    support_loss: Loss, query_loss: Loss, theta: Tensor, inner_lr: float
) -> Tensor:
    r"""One-step MAML meta-gradient from one gradient at $\theta'$ and one Hessian-vector product.

    With $\theta' = \theta - \alpha\nabla\mathcal{L}_\mathcal{S}(\theta)$ the chain rule gives
    $\nabla_\theta\mathcal{L}_\mathcal{Q}(\theta') = (I - \alpha H_\mathcal{S})\,
    \nabla\mathcal{L}_\mathcal{Q}(\theta')$ with $H_\mathcal{S} = \nabla^2\mathcal{L}_\mathcal{S}(\theta)$
    (symmetric, so no transpose); first-order MAML drops the $\alpha H_\mathcal{S}$ term.

    Args:
        support_loss: The task's support loss.
        query_loss: The task's query loss.
        theta: Meta-parameters, shape `(P,)`.
        inner_lr: Inner step size $\alpha$.

    Returns:
        The meta-gradient, shape `(P,)`.
    """
    adapted = theta.detach() - inner_lr * gradient(support_loss, theta)  # theta'
    query_grad = gradient(query_loss, adapted)  # (P,)
    return query_grad - inner_lr * hvp_double_backward(support_loss, theta, query_grad)


# --8<-- [end:meta-gradient]


def top_curvature(loss: Loss, theta: Tensor, iterations: int, generator: torch.Generator) -> float:
    r"""The Hessian's eigenvalue of largest magnitude, by power iteration on Hessian-vector products.

    $u \leftarrow H u / \lVert H u \rVert$, then the Rayleigh quotient $u^\top H u$; each iteration
    is one HVP, so the curvature that limits a stable inner step size ($\alpha\lambda_{\max} < 2$
    for gradient descent on a quadratic) is measured without forming $H$.

    Args:
        loss: The loss.
        theta: Parameters, shape `(P,)`.
        iterations: Power iterations (the error shrinks like $(\lambda_2/\lambda_1)^{2k}$).
        generator: Source of the random start.

    Returns:
        The estimate of $\lambda$ with the largest $|\lambda|$ (signed).

    Raises:
        ValueError: If `iterations` is less than one.
    """
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")
    u = torch.randn(theta.shape, generator=generator, dtype=theta.dtype)  # (P,)
    u = u / u.norm()
    for _ in range(iterations):
        hu = hvp_double_backward(loss, theta, u)
        u = hu / hu.norm()
    return float(u @ hvp_double_backward(loss, theta, u))


def mlp_task(
    width: int, n_inputs: int, batch: int, generator: torch.Generator, dtype: torch.dtype
) -> tuple[Loss, Tensor]:
    r"""The mean squared error of a two-hidden-layer tanh network, as a function of its flat parameters.

    $f(x) = w_3^\top \tanh(W_2^\top \tanh(W_1^\top x + b_1) + b_2) + b_3$ on a fixed random batch
    with random targets, so the Hessian is dense and has no closed form.

    Args:
        width: Hidden units `W` per layer.
        n_inputs: Input features `I`.
        batch: Examples `B` in the fixed batch.
        generator: Source of the batch and of the parameters.
        dtype: Dtype of the batch and parameters.

    Returns:
        `(loss, theta)`: the loss of a flat parameter vector, and a random parameter vector of
        shape `(P,)` with `P = I*W + W + W*W + W + W + 1`.

    Raises:
        ValueError: If a size is not positive.
    """
    if min(width, n_inputs, batch) < 1:
        raise ValueError(f"sizes must be positive, got {width=}, {n_inputs=}, {batch=}")
    shapes = [(n_inputs, width), (width,), (width, width), (width,), (width, 1), (1,)]
    sizes = [torch.Size(shape).numel() for shape in shapes]
    x = torch.randn(batch, n_inputs, generator=generator, dtype=dtype)  # (B, I)
    y = torch.randn(batch, 1, generator=generator, dtype=dtype)  # (B, 1)

    def loss(theta: Tensor) -> Tensor:
        w1, b1, w2, b2, w3, b3 = (
            part.reshape(shape) for part, shape in zip(theta.split(sizes), shapes, strict=True)
        )
        hidden = torch.tanh(torch.tanh(x @ w1 + b1) @ w2 + b2)  # (B, W)
        return (hidden @ w3 + b3 - y).pow(2).mean()

    scale = 1.0 / max(n_inputs, width) ** 0.5  # keeps the tanh units out of saturation
    theta = scale * torch.randn(sum(sizes), generator=generator, dtype=dtype)  # (P,)
    return loss, theta
