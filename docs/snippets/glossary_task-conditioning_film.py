r"""Task conditioning by FiLM: a task embedding read from the support set sets a per-feature scale.

A prototype classifier (squared Euclidean distance to class means, as in Prototypical Networks)
on features $h = \gamma \odot x + \beta$, where the FiLM parameters $(\gamma, \beta)$ are either
one learned pair shared by every task (an unconditioned learned metric) or produced per task by a
small generator from a task embedding $z$, the mean of the support inputs (as TADAM's task
embedding is the mean of the class prototypes; Oreshkin et al. 2018):

$$z = \frac{1}{NK}\sum_{(x, y) \in \mathcal{S}} x,\qquad
  \gamma = \exp(A z + a),\quad \beta = B z + b .$$

The toy task family has two kinds of task. Both kinds live in the same `D` input features: the
first half of the features separates classes in kind 0 and is noise in kind 1, the second half
the reverse, and one extra *context* feature carries no class information but a kind-specific
offset, the only cue to a task's kind. A metric shared by all tasks cannot weight the right half
for both kinds; a conditioned one can, if its task embedding picks up the cue.

Shapes: `T` tasks, `N` classes, `K` shots, `Q` queries per class, `D` input features.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class TaskFamily:
    """The two-kind toy task distribution."""

    half: int = 4
    """Features per half; inputs have `2 * half + 1` features (the last is the context)."""
    class_spread: float = 1.0
    """Standard deviation of class means along the features that matter in a task."""
    noise: float = 0.5
    """Within-class standard deviation along the features that matter."""
    nuisance: float = 1.5
    """Standard deviation, shared by all classes, along the features that do not matter."""
    context_offset: float = 2.0
    """Mean of the context feature: `+offset` in kind 0 tasks, `-offset` in kind 1."""

    @property
    def features(self) -> int:
        """Input features `D`."""
        return 2 * self.half + 1


def sample_tasks(
    family: TaskFamily, n_tasks: int, n_way: int, k_shot: int, n_query: int, g: torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    """Episodes of both kinds, alternating: kind `t % 2` for task `t`.

    Args:
        family: The task distribution.
        n_tasks: `T` (even numbers give as many tasks of each kind).
        n_way: `N` classes per task.
        k_shot: `K` support examples per class.
        n_query: `Q` query examples per class.
        g: Source of all randomness.

    Returns:
        `(support_x, query_x, kind)`: shapes `(T, N, K, D)`, `(T, N, Q, D)` and `(T,)`; the class
        of an example is its index along the `N` axis.

    Raises:
        ValueError: If a count is not positive.
    """
    if min(n_tasks, n_way, k_shot, n_query) < 1:
        raise ValueError(
            f"counts must be positive, got {n_tasks=}, {n_way=}, {k_shot=}, {n_query=}"
        )
    h, d = family.half, family.features
    kind = torch.arange(n_tasks) % 2  # (T,)
    relevant = torch.zeros(n_tasks, d, dtype=torch.bool)  # (T, D): features that carry the class
    relevant[kind == 0, :h] = True
    relevant[kind == 1, h : 2 * h] = True
    means = family.class_spread * torch.randn(n_tasks, n_way, 1, d, generator=g)  # (T, N, 1, D)
    means = means * relevant[:, None, None, :]
    spread = torch.where(relevant, family.noise, family.nuisance)  # (T, D)
    spread[:, -1] = family.noise  # the context feature: a small spread around its offset
    offset = torch.zeros(n_tasks, d)
    offset[:, -1] = family.context_offset * (1 - 2 * kind)  # (T, D): +offset kind 0, -offset kind 1

    def draw(shots: int) -> Tensor:
        eps = torch.randn(n_tasks, n_way, shots, d, generator=g)  # (T, N, shots, D)
        return means + offset[:, None, None, :] + spread[:, None, None, :] * eps

    return draw(k_shot), draw(n_query), kind


# --8<-- [start:film]
def task_embedding(support_x: Tensor) -> Tensor:
    r"""$z$: the mean of a task's support inputs, one vector per task.

    Args:
        support_x: Shape `(T, N, K, D)`.

    Returns:
        Shape `(T, D)`.
    """
    return support_x.mean(dim=(1, 2))


def film(
    x: Tensor, z: Tensor, generator: dict[str, Tensor] | None, shared: dict[str, Tensor]
) -> Tensor:
    r"""$h = \gamma \odot x + \beta$ with $(\gamma, \beta)$ from the task embedding, or shared.

    Args:
        x: Inputs, shape `(T, ..., D)`.
        z: Task embeddings, shape `(T, D)`.
        generator: `{"A", "B"}` of shape `(D, D)`: $\log\gamma = Az + a$, $\beta = Bz + b$; `None`
            for an unconditioned metric ($\gamma = \exp(a)$, $\beta = b$ for every task).
        shared: `{"a", "b"}` of shape `(D,)`.

    Returns:
        Features, the shape of `x`.
    """
    log_gamma = shared["a"].expand_as(z)  # (T, D)
    beta = shared["b"].expand_as(z)
    if generator is not None:  # the conditioning: a per-task scale and shift
        log_gamma = log_gamma + z @ generator["A"].T
        beta = beta + z @ generator["B"].T
    view = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
    return log_gamma.exp().reshape(view) * x + beta.reshape(view)


def prototype_logits(support_h: Tensor, query_h: Tensor) -> Tensor:
    """Negative squared distances of every query to every class mean of its own task.

    Args:
        support_h: Shape `(T, N, K, D)`.
        query_h: Shape `(T, N, Q, D)`.

    Returns:
        Shape `(T, N*Q, N)`.
    """
    prototypes = support_h.mean(dim=2)  # (T, N, D)
    queries = query_h.flatten(1, 2)  # (T, N*Q, D)
    return -torch.cdist(queries, prototypes).pow(2)


# --8<-- [end:film]


def query_labels(n_tasks: int, n_way: int, n_query: int) -> Tensor:
    """Class of every query in `prototype_logits` order, shape `(T, N*Q)`."""
    return torch.arange(n_way).repeat_interleave(n_query).expand(n_tasks, -1)


def episode_accuracy(
    support_x: Tensor,
    query_x: Tensor,
    generator: dict[str, Tensor] | None,
    shared: dict[str, Tensor],
    z: Tensor | None = None,
) -> Tensor:
    """Query accuracy per task of the prototype classifier on FiLM features.

    Args:
        support_x: Shape `(T, N, K, D)`.
        query_x: Shape `(T, N, Q, D)`.
        generator: As in `film`.
        shared: As in `film`.
        z: Task embeddings to condition on, shape `(T, D)`; default: each task's own.

    Returns:
        Shape `(T,)`.
    """
    z = task_embedding(support_x) if z is None else z
    with torch.no_grad():
        logits = prototype_logits(
            film(support_x, z, generator, shared), film(query_x, z, generator, shared)
        )
    labels = query_labels(query_x.shape[0], query_x.shape[1], query_x.shape[2])
    return (logits.argmax(-1) == labels).float().mean(-1)


def meta_train(
    family: TaskFamily,
    conditioned: bool,
    steps: int,
    meta_batch_size: int,
    episode: tuple[int, int, int],
    outer_lr: float,
    g: torch.Generator,
) -> tuple[dict[str, Tensor] | None, dict[str, Tensor]]:
    """Meta-train the FiLM parameters with Adam on the episodes' query cross-entropy.

    Args:
        family: The task distribution.
        conditioned: Learn the generator (task-conditioned) or only the shared pair.
        steps: Meta-updates.
        meta_batch_size: `T` tasks per update.
        episode: `(N, K, Q)` of the training episodes.
        outer_lr: Adam step size.
        g: Source of the episodes.

    Returns:
        `(generator, shared)` as `film` takes them (`generator` is `None` if not conditioned).

    Raises:
        ValueError: If `steps` is not positive.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    d = family.features
    shared = {"a": torch.zeros(d, requires_grad=True), "b": torch.zeros(d, requires_grad=True)}
    generator = (
        {"A": torch.zeros(d, d, requires_grad=True), "B": torch.zeros(d, d, requires_grad=True)}
        if conditioned
        else None
    )  # zero generator: training starts from the unconditioned identity metric
    params = [*shared.values(), *(generator.values() if generator else [])]
    optimiser = torch.optim.Adam(params, lr=outer_lr)
    n_way, k_shot, n_query = episode
    labels = query_labels(meta_batch_size, n_way, n_query).flatten()  # (T*N*Q,)
    for _ in range(steps):
        support_x, query_x, _ = sample_tasks(family, meta_batch_size, n_way, k_shot, n_query, g)
        z = task_embedding(support_x)
        logits = prototype_logits(
            film(support_x, z, generator, shared), film(query_x, z, generator, shared)
        )
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    detach = lambda p: {k: v.detach() for k, v in p.items()}  # noqa: E731
    return (detach(generator) if generator else None), detach(shared)
