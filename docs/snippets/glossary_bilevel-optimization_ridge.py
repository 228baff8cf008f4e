r"""A bilevel problem solved by implicit differentiation: ridge penalties shared across tasks.

Inner problem, one per task $t$: ridge regression with a penalty $\lambda_i$ per feature,

$$w_t^\star(\lambda) = \arg\min_w\; G_t(w, \lambda) = \tfrac{1}{n}\lVert X_t w - y_t\rVert^2 + \textstyle\sum_i \lambda_i w_i^2 .$$

Outer problem: the mean query (validation) error $F(\lambda) = \tfrac1T\sum_t \mathcal{L}^\mathcal{Q}_t(w_t^\star(\lambda))$.
At the inner minimum $\nabla_w G_t = 0$; the implicit function theorem turns that identity into

$$\frac{dw^\star}{d\lambda} = -\big(\nabla^2_{w} G\big)^{-1}\,\nabla_\lambda\nabla_w G
= -A^{-1}\,2\operatorname{diag}(w^\star), \qquad A = \tfrac{2}{n}X^\top X + 2\operatorname{diag}(\lambda),$$

so the hypergradient is $\nabla_\lambda F = -2\, w^\star \circ A^{-1}\nabla_w\mathcal{L}^\mathcal{Q}(w^\star)$ per
task: one linear solve, no differentiation through any solver. With task weights drawn as
$w_i \sim \mathcal{N}(0, \tau_i^2)$ and target noise $\sigma$, the Bayes-optimal penalty is
$\lambda_i^\star = \sigma^2 / (n\,\tau_i^2)$ (the ridge solution is then the posterior mean).

Shapes: `T` tasks, `n` support points, `m` query points, `D` features.
"""

from __future__ import annotations

import torch
from torch import Tensor

Tasks = tuple[Tensor, Tensor, Tensor, Tensor]
"""`support_x (T, n, D)`, `support_y (T, n)`, `query_x (T, m, D)`, `query_y (T, m)`."""


def sample_regression_tasks(
    n_tasks: int, n_support: int, n_query: int, prior_std: Tensor, noise: float,
    generator: torch.Generator,
) -> Tasks:  # fmt: skip
    r"""Linear-regression tasks with weights $w_i \sim \mathcal{N}(0, \tau_i^2)$ and noisy targets.

    Args:
        n_tasks: Tasks (T).
        n_support: Support points per task (n).
        n_query: Query points per task (m).
        prior_std: $\tau$, shape `(D,)`.
        noise: Target noise $\sigma$.
        generator: Source of all randomness.

    Returns:
        The tasks, float64 like `prior_std`.
    """
    dim, kwargs = prior_std.shape[0], {"generator": generator, "dtype": prior_std.dtype}
    weights = prior_std * torch.randn(n_tasks, dim, **kwargs)  # (T, D)

    def draw(points: int) -> tuple[Tensor, Tensor]:
        x = torch.randn(n_tasks, points, dim, **kwargs)
        y = torch.einsum("tnd,td->tn", x, weights)
        return x, y + noise * torch.randn(y.shape, **kwargs)

    return (*draw(n_support), *draw(n_query))


# --8<-- [start:hypergradient]
def inner_solution(penalty: Tensor, support_x: Tensor, support_y: Tensor) -> Tensor:
    r"""$w^\star(\lambda)$ of every task: solve $(X^\top X/n + \operatorname{diag}\lambda)\,w = X^\top y/n$.

    Args:
        penalty: $\lambda$, shape `(D,)`, positive.
        support_x: Support inputs, shape `(T, n, D)`.
        support_y: Support targets, shape `(T, n)`.

    Returns:
        Ridge weights, shape `(T, D)`.
    """
    n = support_x.shape[1]
    gram = support_x.transpose(1, 2) @ support_x / n + torch.diag(penalty)  # (T, D, D)
    return torch.linalg.solve(gram, torch.einsum("tnd,tn->td", support_x, support_y) / n)


def outer_loss(penalty: Tensor, tasks: Tasks) -> Tensor:
    """Query mean squared error of each task's ridge solution, shape `(T,)`."""
    support_x, support_y, query_x, query_y = tasks
    weights = inner_solution(penalty, support_x, support_y)
    return (torch.einsum("tmd,td->tm", query_x, weights) - query_y).pow(2).mean(-1)


def hypergradient(penalty: Tensor, tasks: Tasks) -> Tensor:
    r"""$\nabla_\lambda F$ by the implicit function theorem, averaged over tasks, shape `(D,)`.

    Args:
        penalty: $\lambda$, shape `(D,)`.
        tasks: Support sets (inner problems) and query sets (outer loss).

    Returns:
        $-\tfrac1T\sum_t 2\,w_t^\star \circ A_t^{-1}\nabla_w\mathcal{L}^\mathcal{Q}_t(w_t^\star)$.
    """
    support_x, support_y, query_x, query_y = tasks
    n, m = support_x.shape[1], query_x.shape[1]
    weights = inner_solution(penalty, support_x, support_y)  # (T, D)
    hessian = 2 * (support_x.transpose(1, 2) @ support_x / n + torch.diag(penalty))  # (T, D, D)
    residual = torch.einsum("tmd,td->tm", query_x, weights) - query_y  # (T, m)
    query_grad = 2 / m * torch.einsum("tmd,tm->td", query_x, residual)  # (T, D)
    adjoint = torch.linalg.solve(hessian, query_grad)  # (T, D): A^{-1} grad of the query loss
    return (-2 * weights * adjoint).mean(0)


def hypergradient_descent(
    log_penalty: Tensor, tasks: Tasks, steps: int, lr: float
) -> tuple[Tensor, Tensor]:
    r"""Minimise $F$ over $\log\lambda$ with Adam, feeding it the implicit hypergradient.

    Args:
        log_penalty: Starting $\log\lambda$, shape `(D,)` (or `(1,)`: one penalty for all features).
        tasks: Training tasks.
        steps: Adam steps.
        lr: Adam's step size.

    Returns:
        The final $\lambda$ and every iterate's $\lambda$, shape `(steps + 1, D)`.
    """
    log_penalty = log_penalty.clone().requires_grad_()
    optimiser = torch.optim.Adam([log_penalty], lr=lr)
    dim = tasks[0].shape[2]
    path = [log_penalty.detach().exp()]
    for _ in range(steps):
        penalty = log_penalty.detach().exp()
        grad = hypergradient(penalty.expand(dim), tasks)  # (D,)
        if log_penalty.shape[0] == 1:
            grad = grad.sum().unsqueeze(0)  # one shared penalty: the chain rule sums over features
        log_penalty.grad = grad * penalty  # d F / d log(lambda)
        optimiser.step()
        path.append(log_penalty.detach().exp())
    return path[-1], torch.stack(path)


# --8<-- [end:hypergradient]
