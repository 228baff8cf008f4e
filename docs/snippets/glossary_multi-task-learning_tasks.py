r"""Multi-task learning against meta-learning on a toy with shared structure, in closed form.

Tasks are least-squares problems $y = w_t^\top x + \varepsilon$ whose weights share structure:
$w_t = c + B z_t$ with a common centre $c$ `(D,)`, a common low-rank basis $B$ `(D, r)` and task
coordinates $z_t \sim \mathcal N(0, \tau^2 I_r)$. Every learner below uses the same model class,
$w = w_0 + U h$: shared parameters $(w_0, U)$ and a task head $h$ `(r,)`, fitted to a task's support
set by ridge regression on the features $x^\top U$. What differs is the objective that sets
$(w_0, U)$:

* **multi-task learning** minimises the training tasks' own losses, each task with its own head
  fitted jointly on all of its data: $\min_{w_0, U, \{h_t\}} \sum_t \lVert y_t - X_t(w_0 + U h_t)\rVert^2$
  (alternating least squares: every step solves one block exactly);
* **meta-learning** minimises the query loss *after* the head is fitted on a small support set,
  $\min_{w_0, U} \sum_t \lVert y^Q_t - X^Q_t(w_0 + U\,\hat h(w_0, U, \mathcal S_t))\rVert^2$, through the
  closed-form ridge head (differentiated by autograd, as in MetaOptNet or R2-D2).

Shapes: `T` tasks, `K` support and `Q` query points per task, `N` points of a training task,
`D` features, `r` the rank of the shared part.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class MultiTaskConfig:
    """Sizes of the toy task family and the learners' hyperparameters."""

    dim: int = 10
    """Features (D)."""
    rank: int = 2
    """Rank r of the shared part of the task weights (and of every learner's features)."""
    task_std: float = 1.0
    r"""Spread $\tau$ of the task coordinates $z_t$."""
    noise: float = 0.3
    """Standard deviation of the target noise."""
    train_tasks: int = 60
    """Training tasks, shared by every learner."""
    train_points: int = 20
    """Labelled points of each training task (N): multi-task learning fits all of them."""
    ridge: float = 1.0
    r"""Penalty $\lambda$ on the task head, $\lVert h\rVert^2$, when it is fitted to a support set."""
    mtl_iterations: int = 25
    """Alternating least-squares sweeps of multi-task learning."""
    meta_k_shot: int = 3
    """Support points per training task in meta-learning's episodes."""
    meta_steps: int = 200
    """Adam steps of meta-learning."""
    meta_batch_size: int = 20
    """Episodes per meta-learning step (T)."""
    meta_lr: float = 0.05
    """Adam step size of meta-learning."""


@dataclass(frozen=True)
class Family:
    """The hidden structure shared by the tasks: centre `(D,)` and basis `(D, r)`."""

    centre: Tensor
    basis: Tensor


def make_family(cfg: MultiTaskConfig, generator: torch.Generator) -> Family:
    """Draw a centre and an orthonormal basis of the shared subspace; float64."""
    centre = torch.randn(cfg.dim, generator=generator, dtype=torch.float64)
    basis, _ = torch.linalg.qr(
        torch.randn(cfg.dim, cfg.rank, generator=generator, dtype=torch.float64)
    )  # (D, r), orthonormal columns
    return Family(centre, basis)


def sample_tasks(
    family: Family, tasks: int, points: int, cfg: MultiTaskConfig, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Draw `tasks` tasks of `points` labelled points each: `x (T, N, D)`, `y (T, N)`."""
    z = cfg.task_std * torch.randn(
        tasks, cfg.rank, generator=generator, dtype=torch.float64
    )  # (T, r)
    weights = family.centre + z @ family.basis.T  # (T, D)
    x = torch.randn(tasks, points, cfg.dim, generator=generator, dtype=torch.float64)
    y = torch.einsum("tnd,td->tn", x, weights)
    return x, y + cfg.noise * torch.randn(y.shape, generator=generator, dtype=torch.float64)


# --8<-- [start:head]
def ridge_head(w0: Tensor, basis: Tensor, x: Tensor, y: Tensor, ridge: float) -> Tensor:
    r"""Fit each task's head on its support set: $\hat h = (F^\top F + \lambda I)^{-1} F^\top (y - X w_0)$.

    Args:
        w0: Shared weights $w_0$, shape `(D,)`.
        basis: Shared features $U$, shape `(D, r)`; the task's features are $F = X U$.
        x: Support inputs, shape `(T, K, D)`.
        y: Support targets, shape `(T, K)`.
        ridge: Penalty $\lambda \ge 0$ on $\lVert h\rVert^2$ (0 needs `K >= r`).

    Returns:
        Heads, shape `(T, r)`; differentiable with respect to `w0` and `basis`.

    Raises:
        ValueError: If `x` is not `(T, K, D)` with `y` `(T, K)`, or `ridge` is negative.
    """
    if x.ndim != 3 or y.shape != x.shape[:2] or basis.shape[0] != x.shape[2]:
        raise ValueError(
            f"expected x (T, K, D), y (T, K) and basis (D, r), got {tuple(x.shape)}, "
            f"{tuple(y.shape)} and {tuple(basis.shape)}"
        )
    if ridge < 0:
        raise ValueError(f"ridge must be >= 0, got {ridge}")
    features = x @ basis  # (T, K, r)
    residual = y - x @ w0  # (T, K)
    gram = features.transpose(1, 2) @ features  # (T, r, r)
    eye = torch.eye(basis.shape[1], dtype=basis.dtype)
    rhs = torch.einsum("tkr,tk->tr", features, residual)
    return torch.linalg.solve(gram + ridge * eye, rhs)  # (T, r)


def predict(w0: Tensor, basis: Tensor, heads: Tensor, x: Tensor) -> Tensor:
    r"""Predictions $x^\top (w_0 + U h_t)$ for `x (T, Q, D)` with `heads (T, r)`; shape `(T, Q)`."""
    return torch.einsum("tqd,td->tq", x, w0 + heads @ basis.T)


# --8<-- [end:head]


# --8<-- [start:objectives]
def fit_multitask(
    x: Tensor, y: Tensor, cfg: MultiTaskConfig, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor, list[float]]:
    r"""Multi-task learning: minimise $\sum_t \lVert y_t - X_t(w_0 + U h_t)\rVert^2$ by alternating exact solves.

    With $(w_0, U)$ fixed the heads are per-task least squares; with the heads fixed the model is
    linear in $(w_0, \mathrm{vec}\,U)$ with per-point features $[x, h_t \otimes x]$, one least-squares
    solve over every training point. Each half-step is exact, so the objective never increases.

    Args:
        x: Inputs of the training tasks, shape `(T, N, D)` with `N >= r`.
        y: Targets, shape `(T, N)`.
        cfg: Uses `rank` and `mtl_iterations`.
        generator: Draws the random starting basis.

    Returns:
        `w0 (D,)`, `basis (D, r)`, the training tasks' `heads (T, r)` and the objective (mean
        squared error over all training points) after each sweep.

    Raises:
        ValueError: If a training task has fewer than `cfg.rank` points.
    """
    tasks, points, dim = x.shape
    if points < cfg.rank:
        raise ValueError(f"each task needs at least rank = {cfg.rank} points, got {points}")
    basis = torch.randn(dim, cfg.rank, generator=generator, dtype=x.dtype)
    w0 = x.new_zeros(dim)
    history = []
    for _ in range(cfg.mtl_iterations):
        heads = ridge_head(w0, basis, x, y, 0.0)  # (T, r): exact per-task least squares
        design = torch.cat(
            [x, torch.einsum("tr,tnd->tnrd", heads, x).reshape(tasks, points, -1)], dim=-1
        )  # (T, N, D + r*D): y = x.w0 + sum_j h_j x.U[:, j]
        solution = torch.linalg.lstsq(design.reshape(-1, design.shape[-1]), y.reshape(-1, 1))
        w0 = solution.solution[:dim, 0]
        basis = solution.solution[dim:, 0].reshape(cfg.rank, dim).T  # (D, r)
        history.append(
            float((predict(w0, basis, ridge_head(w0, basis, x, y, 0.0), x) - y).pow(2).mean())
        )
    basis, _ = torch.linalg.qr(basis)  # orthonormal columns: the fit is unchanged, heads rotate
    return w0, basis, ridge_head(w0, basis, x, y, 0.0), history


def meta_train(
    x: Tensor, y: Tensor, cfg: MultiTaskConfig, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    r"""Meta-learning: Adam on the query MSE after `ridge_head` on a `meta_k_shot`-point support set.

    Each step draws `meta_batch_size` training tasks and splits each task's points at random into
    a support set of `cfg.meta_k_shot` points and a query set of the rest.

    Args:
        x: Inputs of the training tasks, shape `(T, N, D)`.
        y: Targets, shape `(T, N)`.
        cfg: Uses `rank`, `ridge`, `meta_k_shot`, `meta_steps`, `meta_batch_size`, `meta_lr`.
        generator: Draws the initial basis, the episodes' tasks and their support/query splits.

    Returns:
        `w0 (D,)` and `basis (D, r)`, detached.
    """
    tasks, points, dim = x.shape
    basis = (0.1 * torch.randn(dim, cfg.rank, generator=generator, dtype=x.dtype)).requires_grad_()
    w0 = x.new_zeros(dim, requires_grad=True)
    optimiser = torch.optim.Adam([w0, basis], lr=cfg.meta_lr)
    for _ in range(cfg.meta_steps):
        pick = torch.randint(0, tasks, (cfg.meta_batch_size,), generator=generator)
        order = torch.argsort(torch.rand(cfg.meta_batch_size, points, generator=generator), dim=1)
        ex, ey = x[pick[:, None], order], y[pick[:, None], order]  # (T, N, D), (T, N) shuffled
        k = cfg.meta_k_shot
        heads = ridge_head(w0, basis, ex[:, :k], ey[:, :k], cfg.ridge)
        loss = (predict(w0, basis, heads, ex[:, k:]) - ey[:, k:]).pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return w0.detach(), basis.detach()


# --8<-- [end:objectives]


def joint_fit(x: Tensor, y: Tensor) -> Tensor:
    """One model for every task, no task parameters: pooled least squares, shape `(D,)`."""
    return torch.linalg.lstsq(x.reshape(-1, x.shape[-1]), y.reshape(-1, 1)).solution[:, 0]


def finetune(start: Tensor, x: Tensor, y: Tensor, ridge: float) -> Tensor:
    r"""Adapt all `D` weights from `start (D,)`: $\min_w \lVert y - Xw\rVert^2 + \lambda\lVert w - w_{\text{start}}\rVert^2$.

    Returns:
        Per-task weights, shape `(T, D)`, for support sets `x (T, K, D)`, `y (T, K)`.
    """
    eye = torch.eye(x.shape[-1], dtype=x.dtype)
    gram = x.transpose(1, 2) @ x  # (T, D, D)
    rhs = torch.einsum("tkd,tk->td", x, y - x @ start)  # (T, D)
    return start + torch.linalg.solve(gram + ridge * eye, rhs)
