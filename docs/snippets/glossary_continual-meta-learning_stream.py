r"""Continual meta-learning on a toy: an initialisation meta-learned on a stream of task families.

Tasks are least-squares problems $y = w^\top x + \varepsilon$ with $w \sim \mathcal N(c_p, \tau^2 I)$;
the centre $c_p$ depends on the *phase* $p$ of the stream, and the phases arrive one after the
other. The meta-learner is MAML with one inner step (Finn et al. 2017, arXiv:1703.03400v3, Eq. 1)
on a linear model, where everything has a closed form. With support Hessian
$H_S = \tfrac{2}{K} X_S^\top X_S$,

$$\theta' = \theta - \tfrac{2\alpha}{K} X_S^\top (X_S\theta - y_S), \qquad
\nabla_\theta \mathcal L_Q(\theta') = (I - \alpha H_S)\,\tfrac{2}{Q} X_Q^\top (X_Q\theta' - y_Q).$$

Two ways to run the outer loop on the stream: on the current phase's tasks only, or on a meta-batch
half of which is replayed from a buffer of earlier tasks (reservoir sampling keeps a uniform sample
of everything seen). Shapes: `T` tasks, `K` support and `Q` query points per task, `D` features.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

Tasks = tuple[Tensor, Tensor, Tensor, Tensor]
"""`support_x (T, K, D)`, `support_y (T, K)`, `query_x (T, Q, D)`, `query_y (T, Q)`."""


@dataclass(frozen=True)
class StreamConfig:
    """Sizes of the toy stream and the meta-learner's hyperparameters."""

    dim: int = 5
    """Features (D)."""
    k_shot: int = 3
    """Support points per task (K)."""
    n_query: int = 10
    """Query points per task (Q)."""
    task_std: float = 0.5
    r"""Spread $\tau$ of task weights around their phase's centre."""
    noise: float = 0.1
    """Standard deviation of the target noise."""
    inner_lr: float = 0.1
    r"""Inner step size $\alpha$."""
    outer_lr: float = 0.05
    """Step size of the outer SGD update."""
    meta_batch_size: int = 8
    """Tasks per outer update (T)."""
    steps_per_phase: int = 100
    """Outer updates while each phase is current."""
    buffer_size: int = 64
    """Tasks kept by the replay buffer."""


def sample_tasks(
    centre: Tensor, tasks: int, cfg: StreamConfig, generator: torch.Generator
) -> Tasks:
    """Draw least-squares tasks whose weights scatter around `centre (D,)`; float64."""
    weights = centre + cfg.task_std * torch.randn(
        tasks, cfg.dim, generator=generator, dtype=torch.float64
    )  # (T, D)

    def draw(points: int) -> tuple[Tensor, Tensor]:
        x = torch.randn(tasks, points, cfg.dim, generator=generator, dtype=torch.float64)
        y = torch.einsum("tnd,td->tn", x, weights)
        return x, y + cfg.noise * torch.randn(y.shape, generator=generator, dtype=torch.float64)

    return (*draw(cfg.k_shot), *draw(cfg.n_query))


def adapt(theta: Tensor, support_x: Tensor, support_y: Tensor, inner_lr: float) -> Tensor:
    r"""One gradient step on each task's support MSE from `theta (D,)`; returns $\theta'$ `(T, D)`."""
    residual = support_x @ theta - support_y  # (T, K)
    return theta - inner_lr * 2 / support_x.shape[1] * torch.einsum(
        "tkd,tk->td", support_x, residual
    )


def query_mse(theta: Tensor, tasks: Tasks, inner_lr: float) -> Tensor:
    """Query MSE per task after the inner step from `theta (D,)`, shape `(T,)`."""
    support_x, support_y, query_x, query_y = tasks
    adapted = adapt(theta, support_x, support_y, inner_lr)  # (T, D)
    return (torch.einsum("tqd,td->tq", query_x, adapted) - query_y).pow(2).mean(1)


def meta_gradient(theta: Tensor, tasks: Tasks, inner_lr: float) -> Tensor:
    r"""Exact MAML meta-gradient of the mean query MSE, $(I - \alpha H_S)\nabla\mathcal L_Q(\theta')$.

    Returns:
        Shape `(D,)`, averaged over the tasks.
    """
    support_x, support_y, query_x, query_y = tasks
    adapted = adapt(theta, support_x, support_y, inner_lr)  # (T, D)
    residual = torch.einsum("tqd,td->tq", query_x, adapted) - query_y  # (T, Q)
    grad_query = 2 / query_x.shape[1] * torch.einsum("tqd,tq->td", query_x, residual)  # (T, D)
    hessian = 2 / support_x.shape[1] * support_x.transpose(1, 2) @ support_x  # (T, D, D)
    eye = torch.eye(theta.shape[0], dtype=theta.dtype)
    return torch.einsum("tde,te->td", eye - inner_lr * hessian, grad_query).mean(0)


class Reservoir:
    """A fixed-size buffer holding a uniform sample of every task offered to it (reservoir sampling).

    The i-th task offered replaces a random slot with probability `capacity / i` once the buffer
    is full, so at any time each task seen so far is in the buffer with the same probability.
    """

    def __init__(self, capacity: int, generator: torch.Generator) -> None:
        self.capacity, self.generator = capacity, generator
        self.tasks: list[tuple[Tensor, ...]] = []  # one (support_x, support_y, query_x, query_y)
        self.seen = 0

    def add(self, tasks: Tasks) -> None:
        """Offer every task of a batch, in order."""
        for i in range(tasks[0].shape[0]):
            self.seen += 1
            task = tuple(t[i] for t in tasks)
            if len(self.tasks) < self.capacity:
                self.tasks.append(task)
            elif (slot := int(torch.randint(0, self.seen, (1,), generator=self.generator))) < (
                self.capacity
            ):
                self.tasks[slot] = task

    def sample(self, n: int) -> Tasks:
        """`n` tasks drawn uniformly, with replacement, from the buffer."""
        pick = torch.randint(0, len(self.tasks), (n,), generator=self.generator).tolist()
        return tuple(
            torch.stack(parts) for parts in zip(*(self.tasks[i] for i in pick), strict=True)
        )  # type: ignore[return-value]


# --8<-- [start:stream]
def meta_train_stream(
    centres: Tensor,
    cfg: StreamConfig,
    replay: bool,
    generator: torch.Generator,
    evaluate: dict[str, Tasks],
    every: int,
) -> tuple[Tensor, dict[str, list[list[float]]]]:
    """Meta-train an initialisation on the phases in order, optionally replaying earlier tasks.

    Args:
        centres: Phase centres, shape `(P, D)`, visited in order for `cfg.steps_per_phase` updates.
        cfg: Sizes and hyperparameters.
        replay: Fill half of each meta-batch from a reservoir of the tasks seen before.
        generator: Draws the stream's tasks and the buffer's choices.
        evaluate: Held-out tasks per name, scored before every `every`-th update and at the end.
        every: Updates between evaluations.

    Returns:
        The final initialisation `(D,)` and, per name, the per-task query MSE at each evaluation.
    """
    theta = centres.new_zeros(cfg.dim)
    reservoir = Reservoir(cfg.buffer_size, generator)
    history: dict[str, list[list[float]]] = {name: [] for name in evaluate}
    half = cfg.meta_batch_size // 2
    step = 0
    for centre in centres:
        for _ in range(cfg.steps_per_phase):
            if step % every == 0:
                for name, tasks in evaluate.items():
                    history[name].append(query_mse(theta, tasks, cfg.inner_lr).tolist())
            fresh = sample_tasks(centre, cfg.meta_batch_size, cfg, generator)
            batch = fresh
            if replay and reservoir.tasks:  # half current tasks, half replayed ones
                replayed = reservoir.sample(cfg.meta_batch_size - half)
                batch = tuple(
                    torch.cat([f[:half], r]) for f, r in zip(fresh, replayed, strict=True)
                )  # type: ignore[assignment]
            theta = theta - cfg.outer_lr * meta_gradient(theta, batch, cfg.inner_lr)
            reservoir.add(fresh)
            step += 1
    for name, tasks in evaluate.items():
        history[name].append(query_mse(theta, tasks, cfg.inner_lr).tolist())
    return theta, history


# --8<-- [end:stream]


def meta_train_joint(centres: Tensor, cfg: StreamConfig, generator: torch.Generator) -> Tensor:
    """Offline reference: the same number of updates, each meta-batch drawn from every phase."""
    theta = centres.new_zeros(cfg.dim)
    for _ in range(cfg.steps_per_phase * centres.shape[0]):
        phase = torch.randint(0, centres.shape[0], (cfg.meta_batch_size,), generator=generator)
        tasks = [sample_tasks(centres[p], 1, cfg, generator) for p in phase.tolist()]
        batch = tuple(torch.cat(parts) for parts in zip(*tasks, strict=True))
        theta = theta - cfg.outer_lr * meta_gradient(theta, batch, cfg.inner_lr)  # type: ignore[arg-type]
    return theta
