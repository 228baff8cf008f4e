r"""Two of MAML++'s fixes on quadratic tasks: per-step learned step sizes and the multi-step loss.

MAML++ (Antoniou, Edwards, Storkey 2019, "How to train your MAML", arXiv:1810.09502) learns a
step size per layer and per inner step (LSLR) and trains with a multi-step loss (MSL): the query
loss after *every* inner step, weighted, with the weights annealed towards the last step over
training. This file has one "layer" of $D$ coordinates; along coordinate $i$ every loss is a
parabola of curvature $h_i$, task optima are standard normal, and the support and query sets see
a task's optimum through small independent noise. Inner step $j$ is

$$\phi_{j} = \phi_{j-1} - \alpha_j\, h \circ (\phi_{j-1} - v^{\mathcal{S}}), \qquad \phi_0 = 0,$$

and $\mathcal{L}_j = \tfrac12\sum_i h_i(\phi_{j,i} - v^\mathcal{Q}_i)^2$ is the query loss after it.
Because the steps of a quadratic commute, the loss after the last step depends only on the *set*
of step sizes, $\prod_j (1 - \alpha_j h_i)$; the order decides the intermediate losses.

Shapes: `T` tasks, `D` coordinates, `K` inner steps.
"""

from __future__ import annotations

import torch
from torch import Tensor


def sample_tasks(
    n_tasks: int, curvature: Tensor, noise: float, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Task optima as seen by the support and by the query set, each of shape `(T, D)`."""
    shape = (n_tasks, curvature.shape[0])
    optimum = torch.randn(shape, generator=generator, dtype=curvature.dtype)
    support = optimum + noise * torch.randn(shape, generator=generator, dtype=curvature.dtype)
    query = optimum + noise * torch.randn(shape, generator=generator, dtype=curvature.dtype)
    return support, query


# --8<-- [start:steps]
def step_losses(step_sizes: Tensor, curvature: Tensor, support: Tensor, query: Tensor) -> Tensor:
    r"""Query loss before adaptation and after each of the `K` inner steps.

    Args:
        step_sizes: $\alpha_1, \dots, \alpha_K$, shape `(K,)` (the same value K times: MAML).
        curvature: $h$, shape `(D,)`.
        support: Support optima $v^\mathcal{S}$, shape `(T, D)`.
        query: Query optima $v^\mathcal{Q}$, shape `(T, D)`.

    Returns:
        Losses $\mathcal{L}_0, \dots, \mathcal{L}_K$ per task, shape `(T, K+1)`.
    """
    phi = torch.zeros_like(support)  # (T, D): the initialisation, fixed at the mean optimum
    losses = [0.5 * (curvature * (phi - query) ** 2).sum(-1)]
    for step_size in step_sizes:
        phi = phi - step_size * curvature * (phi - support)  # one inner step per task
        losses.append(0.5 * (curvature * (phi - query) ** 2).sum(-1))
    return torch.stack(losses, dim=-1)


def multi_step_weights(n_steps: int, progress: float, floor: float) -> Tensor:
    """MSL importance of the query loss after each inner step, annealed towards the last step.

    Every step starts with weight `1/n_steps`; the weights of the steps before the last fall
    linearly with training `progress` (0 to 1) to `floor / n_steps`, and the last step takes the
    rest, so the weights always sum to one.

    Args:
        n_steps: Inner steps (K).
        progress: Fraction of meta-training done, in `[0, 1]`.
        floor: Final weight of each early step, as a multiple of `1/n_steps`.

    Returns:
        Weights, shape `(K,)`.
    """
    early = max((1 - progress) / n_steps, floor / n_steps)
    weights = torch.full((n_steps,), early, dtype=torch.float64)
    weights[-1] = 1 - early * (n_steps - 1)
    return weights


def learn_step_sizes(
    curvature: Tensor,
    noise: float,
    n_steps: int,
    multi_step: bool,
    meta_steps: int,
    meta_batch_size: int,
    outer_lr: float,
    generator: torch.Generator,
    initial: Tensor,
) -> Tensor:
    r"""Meta-learn per-step step sizes (as logs, so they stay positive) with Adam.

    Args:
        curvature: $h$, shape `(D,)`.
        noise: Noise of the support and query views of a task's optimum.
        n_steps: Inner steps (K).
        multi_step: Train on the annealed multi-step loss (MSL) instead of the last step's loss.
        meta_steps: Outer updates.
        meta_batch_size: Tasks per update (T).
        outer_lr: Adam's step size on $\log\alpha$.
        generator: Draws the tasks.
        initial: Starting step sizes, shape `(K,)`; unequal values break the tie between steps.

    Returns:
        The learned step sizes, shape `(K,)`.
    """
    log_step = initial.log().clone().requires_grad_()
    optimiser = torch.optim.Adam([log_step], lr=outer_lr)
    for update in range(meta_steps):
        losses = step_losses(log_step.exp(), curvature, *sample_tasks(
            meta_batch_size, curvature, noise, generator
        )).mean(0)  # fmt: skip
        if multi_step:
            loss = multi_step_weights(n_steps, update / meta_steps, floor=0.03) @ losses[1:]
        else:
            loss = losses[-1]
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return log_step.detach().exp()


# --8<-- [end:steps]
