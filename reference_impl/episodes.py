r"""N-way K-shot episodes drawn from a preloaded labelled tensor, the format every method shares.

An [episode][episodic-training] is four plain tensors:

| Field | Shape | Content |
|---|---|---|
| `support_x` | `(N*K, *x_shape)` | $K$ examples of each of $N$ classes, class-major |
| `support_y` | `(N*K,)` | labels `0..N-1`, i.e. `arange(N).repeat_interleave(K)` |
| `query_x` | `(N*Q, *x_shape)` | $Q$ further examples of the same classes, class-major |
| `query_y` | `(N*Q,)` | labels `0..N-1` |

A meta-batch of $T$ episodes adds a leading `T` dimension to all four. The same format serves
Omniglot images `(1, 28, 28)`, sinusoid regression points and 2-D toy classification.

The sampler draws indices, then gathers once from a tensor `data` of shape
`(num_classes, examples_per_class, *x_shape)` (e.g. `load_omniglot`'s output); no files are
touched per episode. Classes are a uniformly random ordered subset of size $N$ (so label $i$ is
the $i$-th drawn class and the label assignment is a random permutation), and each class's
$K + Q$ examples are distinct, so support and query never share an example. All randomness comes
from an explicit `torch.Generator` on the same device as `data`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import Tensor


class Episode(NamedTuple):
    """One episode, or a batch of episodes with a leading `T` dimension."""

    support_x: Tensor
    """Support inputs, shape `(N*K, *x_shape)` or `(T, N*K, *x_shape)`."""
    support_y: Tensor
    """Support labels in `0..N-1`, shape `(N*K,)` or `(T, N*K)`, int64."""
    query_x: Tensor
    """Query inputs, shape `(N*Q, *x_shape)` or `(T, N*Q, *x_shape)`."""
    query_y: Tensor
    """Query labels in `0..N-1`, shape `(N*Q,)` or `(T, N*Q)`, int64."""


# --8<-- [start:validate]
def check_request(
    data: Tensor, n_way: int, k_shot: int, n_query: int, meta_batch_size: int, generator: object
) -> None:
    """Check that `data` can serve `meta_batch_size` N-way K-shot Q-query episodes.

    Args:
        data: Labelled examples, shape `(num_classes, examples_per_class, *x_shape)`.
        n_way: Classes per episode (N).
        k_shot: Support examples per class (K).
        n_query: Query examples per class (Q).
        meta_batch_size: Episodes (T).
        generator: Must be a `torch.Generator` on `data.device`.

    Raises:
        ValueError: Naming the offending numbers: a count that is not a positive int, `n_way`
            above the classes, `k_shot + n_query` above the examples per class, or a generator
            on another device.
    """
    if data.ndim < 2:
        raise ValueError(
            "data must have shape (num_classes, examples_per_class, *x_shape), "
            f"got {tuple(data.shape)}"
        )
    counts = {
        "n_way": n_way,
        "k_shot": k_shot,
        "n_query": n_query,
        "meta_batch_size": meta_batch_size,
    }
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    num_classes, examples = data.shape[0], data.shape[1]
    if n_way > num_classes:
        raise ValueError(f"n_way={n_way} exceeds the {num_classes} classes in data")
    if k_shot + n_query > examples:
        raise ValueError(
            f"k_shot + n_query = {k_shot} + {n_query} = {k_shot + n_query} exceeds the "
            f"{examples} examples per class in data"
        )
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if torch.device(generator.device) != data.device:
        raise ValueError(
            f"generator is on {generator.device} but data is on {data.device}; "
            "expected both on the same device"
        )


# --8<-- [end:validate]


# --8<-- [start:indices]
def sample_indices(
    num_classes: int,
    examples_per_class: int,
    n_way: int,
    k_shot: int,
    n_query: int,
    meta_batch_size: int,
    generator: torch.Generator,
) -> tuple[Tensor, Tensor]:
    """Draw which classes and which examples each episode of a meta-batch uses.

    Ranking i.i.d. uniform keys gives a uniformly random ordered subset: `topk` of `n_way` keys
    among `num_classes` picks the classes (in random order), and the `k_shot + n_query` largest of
    `examples_per_class` keys pick distinct examples; the first `k_shot` go to the support set.
    No validation; `sample_batch` validates.

    Args:
        num_classes: Classes available.
        examples_per_class: Examples per class.
        n_way: Classes per episode (N).
        k_shot: Support examples per class (K).
        n_query: Query examples per class (Q).
        meta_batch_size: Episodes (T).
        generator: Source of randomness; its device is where the indices live.

    Returns:
        Class indices, shape `(T, N)`, and example indices, shape `(T, N, K+Q)`, both int64.
    """
    device = generator.device
    class_keys = torch.rand(meta_batch_size, num_classes, generator=generator, device=device)
    classes = class_keys.topk(n_way, dim=1).indices  # (T, N), random order
    example_keys = torch.rand(
        meta_batch_size, n_way, examples_per_class, generator=generator, device=device
    )
    examples = example_keys.topk(k_shot + n_query, dim=2).indices  # (T, N, K+Q), distinct
    return classes, examples


# --8<-- [end:indices]


# --8<-- [start:gather]
def gather_episodes(data: Tensor, classes: Tensor, examples: Tensor, k_shot: int) -> Episode:
    """Build a meta-batch of episodes from sampled indices, one gather per set.

    Args:
        data: Labelled examples, shape `(num_classes, examples_per_class, *x_shape)`; contiguous
            data is gathered as rows of `data.flatten(0, 1)` (fastest), other layouts by indexing.
        classes: Class of each label, shape `(T, N)`.
        examples: Example indices per class, shape `(T, N, K+Q)`; the first `k_shot` are support.
        k_shot: Support examples per class (K).

    Returns:
        The episodes, with a leading `T` dimension.
    """
    meta_batch_size, n_way, total = examples.shape
    n_query = total - k_shot
    x_shape = data.shape[2:]

    def take(chosen: Tensor) -> Tensor:  # (T, N, M) example indices -> (T, N*M, *x_shape)
        if data.is_contiguous():
            rows = classes.unsqueeze(-1) * data.shape[1] + chosen  # row of data.flatten(0, 1)
            picked = data.flatten(0, 1).index_select(0, rows.reshape(-1))  # (T*N*M, *x_shape)
        else:
            picked = data[classes.unsqueeze(-1), chosen]  # (T, N, M, *x_shape)
        return picked.reshape(meta_batch_size, -1, *x_shape)

    labels = torch.arange(n_way, device=data.device)
    support_y = labels.repeat_interleave(k_shot).expand(meta_batch_size, -1)  # (T, N*K)
    query_y = labels.repeat_interleave(n_query).expand(meta_batch_size, -1)  # (T, N*Q)
    return Episode(
        take(examples[..., :k_shot]), support_y.contiguous(),
        take(examples[..., k_shot:]), query_y.contiguous(),
    )  # fmt: skip


# --8<-- [end:gather]


# --8<-- [start:sample]
def sample_batch(
    data: Tensor,
    n_way: int,
    k_shot: int,
    n_query: int,
    meta_batch_size: int,
    generator: torch.Generator,
) -> Episode:
    """Draw a meta-batch of N-way K-shot episodes with Q queries per class.

    Args:
        data: Labelled examples, shape `(num_classes, examples_per_class, *x_shape)`.
        n_way: Classes per episode (N).
        k_shot: Support examples per class (K).
        n_query: Query examples per class (Q).
        meta_batch_size: Episodes (T).
        generator: Source of randomness, on `data.device`.

    Returns:
        Episodes with shapes `(T, N*K, *x_shape)`, `(T, N*K)`, `(T, N*Q, *x_shape)`, `(T, N*Q)`.

    Raises:
        ValueError: If a count is not a positive int, `n_way` exceeds the classes, `k_shot +
            n_query` exceeds the examples per class, or `generator` is on another device.
    """
    check_request(data, n_way, k_shot, n_query, meta_batch_size, generator)
    classes, examples = sample_indices(
        data.shape[0], data.shape[1], n_way, k_shot, n_query, meta_batch_size, generator
    )
    return gather_episodes(data, classes, examples, k_shot)


def sample_episode(
    data: Tensor, n_way: int, k_shot: int, n_query: int, generator: torch.Generator
) -> Episode:
    """Draw one N-way K-shot episode with Q queries per class.

    Consumes the generator exactly as `sample_batch` with `meta_batch_size=1` does and returns
    that episode without the leading dimension.

    Args:
        data: Labelled examples, shape `(num_classes, examples_per_class, *x_shape)`.
        n_way: Classes per episode (N).
        k_shot: Support examples per class (K).
        n_query: Query examples per class (Q).
        generator: Source of randomness, on `data.device`.

    Returns:
        An episode with shapes `(N*K, *x_shape)`, `(N*K,)`, `(N*Q, *x_shape)`, `(N*Q,)`.

    Raises:
        ValueError: As `sample_batch`.
    """
    batch = sample_batch(data, n_way, k_shot, n_query, 1, generator)
    return Episode(*(t[0] for t in batch))


def make_batch_sampler(
    data: Tensor, n_way: int, k_shot: int, n_query: int, meta_batch_size: int
) -> Callable[[torch.Generator], Episode]:
    """Bind a dataset and episode shape into the `sample_batch(generator)` task source of `train`.

    Args:
        data: Labelled examples, shape `(num_classes, examples_per_class, *x_shape)`.
        n_way: Classes per episode (N).
        k_shot: Support examples per class (K).
        n_query: Query examples per class (Q).
        meta_batch_size: Episodes per call (T).

    Returns:
        A function `generator -> Episode` with a leading `T` dimension.

    Raises:
        ValueError: If the counts cannot be served by `data` (checked now, not on first call).
    """
    check_request(
        data, n_way, k_shot, n_query, meta_batch_size, torch.Generator(device=data.device)
    )

    def sampler(generator: torch.Generator) -> Episode:
        return sample_batch(data, n_way, k_shot, n_query, meta_batch_size, generator)

    return sampler


# --8<-- [end:sample]


# --8<-- [start:nested]
def sample_nested(
    data: Tensor,
    n_way: int,
    shots: Sequence[int],
    n_query: int,
    num_episodes: int,
    generator: torch.Generator,
) -> list[dict[int, Episode]]:
    """Draw episodes whose support sets are nested across several K and whose queries are shared.

    Each episode is one `sample_indices` draw of `max(shots)` support and `n_query` query examples
    per class; its K-shot support set is the first K of the `max(shots)`, so a curve over K
    compares the same classes and queries at every K (a paired, within-episode difference).

    Args:
        data: Labelled examples, shape `(num_classes, examples_per_class, *x_shape)`.
        n_way: Classes per episode (N).
        shots: Strictly increasing support sizes K.
        n_query: Query examples per class (Q).
        num_episodes: Episodes.
        generator: Source of randomness, on `data.device`.

    Returns:
        One dict per episode mapping each K to an episode with shapes `(N*K, *x_shape)`,
        `(N*K,)`, `(N*Q, *x_shape)`, `(N*Q,)`.

    Raises:
        ValueError: If `shots` is not strictly increasing and positive, or as `sample_batch` for
            `k_shot = max(shots)`.
    """
    if not shots or list(shots) != sorted(set(shots)) or min(shots) < 1:
        raise ValueError(f"shots must be strictly increasing positive integers, got {tuple(shots)}")
    top = max(shots)
    check_request(data, n_way, top, n_query, 1, generator)
    out = []
    for _ in range(num_episodes):
        classes, examples = sample_indices(
            data.shape[0], data.shape[1], n_way, top, n_query, 1, generator
        )
        pick = {k: torch.cat([examples[..., :k], examples[..., top:]], -1) for k in shots}
        out.append(
            {k: Episode(*(t[0] for t in gather_episodes(data, classes, pick[k], k))) for k in shots}
        )
    return out


# --8<-- [end:nested]
