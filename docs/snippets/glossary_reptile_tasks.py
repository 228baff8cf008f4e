r"""Reptile, joint training and MAML on linear-regression tasks, iteratively and in closed form.

Reptile (Nichol, Achiam, Schulman 2018, "On First-Order Meta-Learning Algorithms",
arXiv:1803.02999) runs $k$ steps of gradient descent on a task from the current initialisation
$\theta$, reaching $\phi_k$, and moves the initialisation towards the result:

$$\theta \leftarrow \theta + \varepsilon\,\frac{1}{T}\sum_{t=1}^{T} (\phi_{k,t} - \theta).$$

On a least-squares task with support Hessian $H_t = \tfrac{2}{n} X_t^\top X_t$ and support
solution $w_t$, gradient descent with step $\alpha$ is affine in $\theta$:
$\phi_k = w_t + M_t(\theta - w_t)$ with $M_t = (I - \alpha H_t)^k$. Reptile's expected update
$(I - M_t)(w_t - \theta)$ therefore vanishes at the closed-form fixed point

$$\theta_{\text{Reptile}}(k) = \Big(\sum_t (I - M_t)\Big)^{-1} \sum_t (I - M_t)\, w_t ,$$

which for $k = 1$ ($I - M_t = \alpha H_t$) is the joint least-squares fit of all support sets,
and tends to the plain average of the $w_t$ as $k$ grows. MAML instead minimises the query loss
after the $k$ steps, again a least-squares problem in $\theta$ because $\phi_k$ is affine in it.

Shapes: `T` tasks, `n` points per support or query set, `D` input features.
"""

from __future__ import annotations

import torch
from torch import Tensor

Tasks = tuple[Tensor, Tensor, Tensor, Tensor]
"""`support_x (T, n, D)`, `support_y (T, n)`, `query_x (T, n, D)`, `query_y (T, n)`."""


def sample_linear_tasks(
    n_tasks: int, n_points: int, generator: torch.Generator, noise: float = 0.1
) -> Tasks:
    r"""Two kinds of 2-D least-squares tasks, each kind with its own input scales and weights.

    Kind 0 has inputs scaled by $(2, \tfrac12)$ and weights near $(2, 0)$; kind 1 the mirror
    image. Within a kind the weights vary by a standard deviation of 0.3; targets carry noise.

    Args:
        n_tasks: Tasks to draw (T), each kind with probability one half.
        n_points: Points per support set and per query set (n).
        generator: Source of all randomness.
        noise: Standard deviation of the target noise.

    Returns:
        `support_x (T, n, 2)`, `support_y (T, n)`, `query_x (T, n, 2)`, `query_y (T, n)`, float64.
    """
    kind = torch.randint(0, 2, (n_tasks,), generator=generator)
    scales = torch.tensor([[2.0, 0.5], [0.5, 2.0]], dtype=torch.float64)[kind]  # (T, D)
    centres = torch.tensor([[2.0, 0.0], [0.0, 2.0]], dtype=torch.float64)[kind]  # (T, D)
    weights = centres + 0.3 * torch.randn(n_tasks, 2, generator=generator, dtype=torch.float64)

    def draw() -> tuple[Tensor, Tensor]:
        x = scales.unsqueeze(1) * torch.randn(
            n_tasks, n_points, 2, generator=generator, dtype=torch.float64
        )  # (T, n, D)
        y = torch.einsum("tnd,td->tn", x, weights)
        return x, y + noise * torch.randn(y.shape, generator=generator, dtype=torch.float64)

    return (*draw(), *draw())


def gradient_steps(theta: Tensor, x: Tensor, y: Tensor, steps: int, inner_lr: float) -> Tensor:
    r"""`steps` steps of gradient descent on each task's mean squared error, all tasks at once.

    $\phi \leftarrow \phi - \alpha \tfrac{2}{n} X^\top (X\phi - y)$ per task.

    Args:
        theta: Starting weights, shape `(D,)` (shared) or `(T, D)`.
        x: Inputs, shape `(T, n, D)`.
        y: Targets, shape `(T, n)`.
        steps: Gradient steps (k).
        inner_lr: Step size $\alpha$.

    Returns:
        Weights after the steps, shape `(T, D)`.
    """
    phi = theta.expand(x.shape[0], x.shape[2])  # (T, D)
    for _ in range(steps):
        residual = torch.einsum("tnd,td->tn", x, phi) - y  # (T, n)
        phi = phi - inner_lr * 2 / x.shape[1] * torch.einsum("tnd,tn->td", x, residual)
    return phi


def mse(weights: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """Mean squared error per task, shape `(T,)`, of weights `(T, D)` or `(D,)` on `x (T, n, D)`."""
    return (
        (torch.einsum("tnd,td->tn", x, weights.expand(x.shape[0], x.shape[2])) - y).pow(2).mean(-1)
    )


def step_matrices(x: Tensor, steps: int, inner_lr: float) -> Tensor:
    r"""$M_t = (I - \alpha H_t)^k$ with $H_t = \tfrac{2}{n}X_t^\top X_t$, shape `(T, D, D)`."""
    hessian = 2 / x.shape[1] * x.transpose(1, 2) @ x  # (T, D, D)
    eye = torch.eye(x.shape[2], dtype=x.dtype)
    return torch.linalg.matrix_power(eye - inner_lr * hessian, steps)


def reptile_fixed_point(x: Tensor, y: Tensor, steps: int, inner_lr: float) -> Tensor:
    r"""Where Reptile's expected update is zero: $(\sum_t (I-M_t))^{-1} \sum_t (I-M_t) w_t$.

    Args:
        x: Support inputs of the training tasks, shape `(T, n, D)` with `n >= D`.
        y: Support targets, shape `(T, n)`.
        steps: Inner steps k of Reptile.
        inner_lr: Inner step size $\alpha$.

    Returns:
        The fixed point, shape `(D,)`.
    """
    solution = torch.linalg.lstsq(x, y.unsqueeze(-1)).solution  # (T, D, 1): each task's w_t
    pull = torch.eye(x.shape[2], dtype=x.dtype) - step_matrices(x, steps, inner_lr)  # (T, D, D)
    return torch.linalg.solve(pull.sum(0), (pull @ solution).sum(0)).squeeze(-1)


def maml_optimum(tasks: Tasks, steps: int, inner_lr: float) -> Tensor:
    r"""The initialisation minimising the mean query MSE after `steps` support steps (MAML).

    $\phi_k(\theta) = M_t\theta + c_t$ with $c_t = \phi_k(0)$, so the objective
    $\sum_t \lVert X^Q_t (M_t\theta + c_t) - y^Q_t\rVert^2$ is ordinary least squares in $\theta$.

    Args:
        tasks: Training tasks (support and query sets).
        steps: Inner steps k.
        inner_lr: Inner step size $\alpha$.

    Returns:
        The minimiser, shape `(D,)`.
    """
    support_x, support_y, query_x, query_y = tasks
    offset = gradient_steps(
        support_x.new_zeros(support_x.shape[2]), support_x, support_y, steps, inner_lr
    )
    design = query_x @ step_matrices(support_x, steps, inner_lr)  # (T, n, D)
    target = query_y - torch.einsum("tnd,td->tn", query_x, offset)  # (T, n)
    return torch.linalg.lstsq(design.flatten(0, 1), target.reshape(-1, 1)).solution.squeeze(-1)


# --8<-- [start:reptile]
def reptile(
    x: Tensor,
    y: Tensor,
    steps: int,
    inner_lr: float,
    meta_steps: int,
    meta_batch_size: int,
    outer_lr: float,
    generator: torch.Generator,
) -> Tensor:
    r"""Run Reptile from $\theta = 0$ with a linearly annealed outer step $\varepsilon$.

    Args:
        x: Support inputs of the training tasks, shape `(T, n, D)`.
        y: Support targets, shape `(T, n)`.
        steps: Inner steps k per task.
        inner_lr: Inner step size $\alpha$.
        meta_steps: Outer updates.
        meta_batch_size: Tasks drawn per outer update.
        outer_lr: Initial outer step $\varepsilon$, annealed linearly to zero.
        generator: Draws the tasks of each outer update.

    Returns:
        The initialisation after every outer update, shape `(meta_steps + 1, D)`.
    """
    theta = x.new_zeros(x.shape[2])
    path = [theta]
    for i in range(meta_steps):
        batch = torch.randint(0, x.shape[0], (meta_batch_size,), generator=generator)
        phi = gradient_steps(theta, x[batch], y[batch], steps, inner_lr)  # (B, D)
        theta = theta + outer_lr * (1 - i / meta_steps) * (phi.mean(0) - theta)
        path.append(theta)
    return torch.stack(path)


# --8<-- [end:reptile]
