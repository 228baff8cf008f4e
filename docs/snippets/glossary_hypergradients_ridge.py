r"""Hypergradients of a ridge penalty: unrolled, implicit, and finite differences.

The inner problem fits ridge regression on a training set by gradient descent,

$$\mathcal{L}_\text{train}(w, \lambda) = \tfrac{1}{n}\lVert Xw - y\rVert^2 + \lambda\lVert w\rVert^2,
\qquad w_{k+1} = w_k - \eta\,\nabla_w \mathcal{L}_\text{train}(w_k, \lambda),\quad w_0 = 0,$$

and the outer objective is the validation error $F(\lambda) = \tfrac{1}{m}\lVert X_v w(\lambda) -
y_v\rVert^2$. The hypergradient $dF/d\log\lambda$ is computed three ways:

* **unrolled** (reverse mode through the $T$ inner steps, Maclaurin et al. 2015,
  arXiv:1502.03492; Franceschi et al. 2017, arXiv:1703.01785): the exact derivative of the
  *truncated* objective $F(w_T(\lambda))$, with memory that grows with $T$;
* **implicit** (implicit function theorem at an inner solution, Pedregosa 2016,
  arXiv:1602.02355; Lorraine et al. 2020, arXiv:1911.02590): exact for the converged problem,
  evaluated here at whatever iterate $w_T$ the inner loop reached;
* **finite differences** of either objective: two outer evaluations per hyperparameter, the
  check, not a method.

Log-penalties are used throughout so that $\lambda$ stays positive and steps are relative.
Shapes: `n` training points, `m` validation points, `D` features.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class RidgeProblem:
    """One regression problem split into training and validation data."""

    train_x: Tensor
    """Training inputs, shape `(n, D)`."""
    train_y: Tensor
    """Training targets, shape `(n,)`."""
    val_x: Tensor
    """Validation inputs, shape `(m, D)`."""
    val_y: Tensor
    """Validation targets, shape `(m,)`."""

    def __post_init__(self) -> None:
        n, dim = self.train_x.shape
        if self.train_y.shape != (n,) or self.val_x.shape[1:] != (dim,):
            raise ValueError(
                "expected train_x (n, D), train_y (n,), val_x (m, D), val_y (m,); got "
                f"{tuple(self.train_x.shape)}, {tuple(self.train_y.shape)}, "
                f"{tuple(self.val_x.shape)}, {tuple(self.val_y.shape)}"
            )
        if self.val_y.shape != self.val_x.shape[:1]:
            raise ValueError(f"val_y must be (m,) = ({self.val_x.shape[0]},)")

    @property
    def gram(self) -> Tensor:
        r"""$X^\top X / n$, shape `(D, D)` (half the data term's Hessian)."""
        return self.train_x.T @ self.train_x / self.train_x.shape[0]

    @property
    def moment(self) -> Tensor:
        r"""$X^\top y / n$, shape `(D,)`."""
        return self.train_x.T @ self.train_y / self.train_x.shape[0]


def make_problem(
    n_train: int, n_val: int, dim: int, noise: float, generator: torch.Generator
) -> RidgeProblem:
    """A linear problem with decaying feature scales (an ill-conditioned Gram matrix).

    Feature `j` (counting from 1) has scale `1 / j`, the true weights are standard normal and
    the targets carry Gaussian noise of standard deviation `noise`, all in float64.
    """
    scales = 1.0 / torch.arange(1, dim + 1, dtype=torch.float64)  # (D,)
    weights = torch.randn(dim, generator=generator, dtype=torch.float64)
    x = torch.randn(n_train + n_val, dim, generator=generator, dtype=torch.float64) * scales
    y = x @ weights + noise * torch.randn(n_train + n_val, generator=generator, dtype=torch.float64)
    return RidgeProblem(x[:n_train], y[:n_train], x[n_train:], y[n_train:])


def validation_loss(problem: RidgeProblem, weights: Tensor) -> Tensor:
    r"""Outer objective $F = \tfrac{1}{m}\lVert X_v w - y_v\rVert^2$ (a scalar)."""
    return (problem.val_x @ weights - problem.val_y).pow(2).mean()


# --8<-- [start:inner]
def exact_solution(problem: RidgeProblem, log_penalty: Tensor) -> Tensor:
    r"""The inner minimiser $w^\star = (X^\top X/n + \lambda I)^{-1} X^\top y / n$, shape `(D,)`."""
    eye = torch.eye(problem.gram.shape[0], dtype=problem.gram.dtype)
    return torch.linalg.solve(problem.gram + log_penalty.exp() * eye, problem.moment)


def unrolled_solution(problem: RidgeProblem, log_penalty: Tensor, steps: int, lr: float) -> Tensor:
    r"""$w_T$ after `steps` gradient steps from zero, differentiable in `log_penalty`.

    $\nabla_w\mathcal{L}_\text{train} = 2(X^\top X/n + \lambda I)w - 2X^\top y/n$; autograd records
    every step, so a backward pass through the result costs memory proportional to `steps`.

    Returns:
        The iterate, shape `(D,)`.
    """
    penalty = log_penalty.exp()
    weights = problem.moment.new_zeros(problem.moment.shape)
    for _ in range(steps):
        grad = 2 * (problem.gram @ weights + penalty * weights - problem.moment)  # (D,)
        weights = weights - lr * grad
    return weights


# --8<-- [end:inner]
# --8<-- [start:hypergradients]
def hypergradient_unrolled(
    problem: RidgeProblem, log_penalty: float, steps: int, lr: float
) -> float:
    r"""$dF(w_T(\lambda))/d\log\lambda$ by reverse mode through the unrolled inner loop."""
    theta = torch.tensor(log_penalty, dtype=problem.gram.dtype, requires_grad=True)
    loss = validation_loss(problem, unrolled_solution(problem, theta, steps, lr))
    (grad,) = torch.autograd.grad(loss, theta)
    return float(grad)


def hypergradient_implicit(problem: RidgeProblem, log_penalty: float, weights: Tensor) -> float:
    r"""Implicit-function-theorem hypergradient, evaluated at the inner solution `weights`.

    At a minimiser, $\nabla_w\mathcal{L}_\text{train}(w^\star(\lambda), \lambda) = 0$;
    differentiating this identity in $\lambda$ gives
    $dw^\star/d\lambda = -(X^\top X/n + \lambda I)^{-1} w^\star$, so

    $$\frac{dF}{d\log\lambda} = -\lambda\, \nabla_w F(w)^\top (X^\top X/n + \lambda I)^{-1} w .$$

    Exact when `weights` is the minimiser; at an unconverged iterate it is the formula applied
    at the wrong point, with an error that shrinks as the iterate converges.

    Args:
        problem: The data.
        log_penalty: $\log\lambda$.
        weights: The inner solution the formula is evaluated at, shape `(D,)`.

    Returns:
        The hypergradient estimate.
    """
    penalty = float(torch.tensor(log_penalty).exp())
    w = weights.detach()
    residual = problem.val_x @ w - problem.val_y  # (m,)
    grad_f = 2 * problem.val_x.T @ residual / problem.val_x.shape[0]  # (D,): dF/dw
    eye = torch.eye(w.shape[0], dtype=w.dtype)
    response = -torch.linalg.solve(problem.gram + penalty * eye, w)  # (D,): dw*/dlambda
    return float(penalty * grad_f @ response)


def finite_difference(objective: Callable[[float], float], log_penalty: float, eps: float) -> float:
    """Central difference `(F(x + eps) - F(x - eps)) / (2 eps)` of a scalar objective."""
    return (objective(log_penalty + eps) - objective(log_penalty - eps)) / (2 * eps)


# --8<-- [end:hypergradients]
def saved_bytes_unrolled(problem: RidgeProblem, log_penalty: float, steps: int, lr: float) -> int:
    """Bytes autograd keeps for the backward pass of the unrolled hypergradient.

    Counted with `torch.autograd.graph.saved_tensors_hooks` while the unrolled forward pass runs:
    every tensor an operation saves for its backward is added once per save.
    """
    total = 0

    def pack(tensor: Tensor) -> Tensor:
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        theta = torch.tensor(log_penalty, dtype=problem.gram.dtype, requires_grad=True)
        validation_loss(problem, unrolled_solution(problem, theta, steps, lr))
    return total
