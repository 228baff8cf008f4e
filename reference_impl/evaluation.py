r"""One evaluation for every method: accuracy over fixed episodes with a 95% confidence interval.

Every method exposes a predictor with the shared signature

    predict(support_x, support_y, query_x) -> logits of shape (N*Q, N)

for one episode (shapes as in `reference_impl.episodes`). `evaluate_predictor` runs it on a
sequence of episodes and reports what the papers report ([meta-test evaluation][meta-test-evaluation]):
the mean query accuracy over episodes and the half-width of its 95% confidence interval,

$$\bar a = \frac{1}{n}\sum_{e=1}^{n} a_e, \qquad
\mathrm{CI}_{95} = 1.96\,\frac{s}{\sqrt{n}}, \qquad s^2 = \frac{1}{n}\sum_{e=1}^{n} (a_e - \bar a)^2,$$

with $a_e$ the accuracy on episode $e$. This is the formula of the MAML code
(`1.96 * np.std(accs) / np.sqrt(num_episodes)`, population standard deviation). It measures
uncertainty over sampled test tasks for one trained model, not variation across training seeds.

`fixed_episodes` makes the evaluation set a pure function of the data, the episode shape and a
seed, so different methods (and different runs) see identical episodes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

import torch
from torch import Tensor

from reference_impl.episodes import Episode, check_request, gather_episodes, sample_indices

Predict = Callable[[Tensor, Tensor, Tensor], Tensor]
"""`predict(support_x, support_y, query_x) -> logits`: shapes `(N*K, ...)`, `(N*K,)`,
`(N*Q, ...)` in, `(N*Q, N)` out; one episode, no leading `T`."""

CI95_Z = 1.96
"""Normal quantile for a two-sided 95% interval, as the papers use it."""


# --8<-- [start:result]
@dataclass(frozen=True)
class EvalResult:
    """Accuracy of one predictor over a set of episodes."""

    accuracy: float
    """Mean query accuracy over episodes, in [0, 1]."""
    ci95: float
    """Half-width of the 95% confidence interval of `accuracy`: 1.96 std / sqrt(episodes)."""
    per_episode: list[float] = field(repr=False)
    """Query accuracy of each episode, in order."""
    episodes: int
    """Number of episodes evaluated."""


def confidence_interval95(per_episode: Sequence[float]) -> float:
    r"""Half-width $1.96\,s/\sqrt{n}$ of the 95% interval of a mean (population std $s$).

    Args:
        per_episode: Accuracies $a_1, \dots, a_n$.

    Returns:
        The half-width; 0.0 for a single episode.

    Raises:
        ValueError: If `per_episode` is empty.
    """
    n = len(per_episode)
    if n == 0:
        raise ValueError("need at least one episode accuracy, got none")
    mean = math.fsum(per_episode) / n
    std = math.sqrt(math.fsum((a - mean) ** 2 for a in per_episode) / n)
    return CI95_Z * std / math.sqrt(n)


# --8<-- [end:result]


# --8<-- [start:evaluate]
def evaluate_predictor(predict: Predict, episodes: Iterable[Sequence[Tensor]]) -> EvalResult:
    """Accuracy of `predict` on each episode, their mean and the 95% confidence interval.

    Autograd stays enabled: optimisation-based predictors (MAML) differentiate inside `predict`.
    An episode with a leading `T` dimension counts as `T` episodes.

    Args:
        predict: The shared predictor signature (see `Predict`).
        episodes: Episodes (or any `(support_x, support_y, query_x, query_y)` sequences), e.g.
            from `fixed_episodes`.

    Returns:
        Mean accuracy, CI half-width, per-episode accuracies and the episode count.

    Raises:
        ValueError: If there are no episodes, an episode has an empty query set or query
            labels that are not int64 in `0..N-1` (N = largest support label + 1), or
            `predict` returns logits that are not finite or whose shape is not `(N*Q, N)`.
    """
    per_episode = []
    for episode in _single_episodes(episodes):
        query_y = episode.query_y
        if query_y.dim() != 1 or query_y.dtype != torch.int64:
            raise ValueError(
                f"expected int64 query labels (N*Q,), got {query_y.dtype} of shape "
                f"{tuple(query_y.shape)}"
            )
        if query_y.shape[0] == 0:
            raise ValueError("empty query set: an episode needs at least one query to be scored")
        logits = predict(episode.support_x, episode.support_y, episode.query_x)
        if not isinstance(logits, Tensor):
            raise ValueError(f"predict must return a logits tensor, got {type(logits).__name__}")
        if logits.dim() != 2 or logits.shape[0] != query_y.shape[0]:
            raise ValueError(
                f"predict returned logits of shape {tuple(logits.shape)}; expected "
                f"({query_y.shape[0]}, N) (N*Q, N)"
            )
        logits = logits.detach()
        hits = logits.argmax(dim=1) == query_y.to(logits.device)
        parts = [episode.support_y.max(), query_y.min(), query_y.max(), logits.isfinite().all()]
        stats = [t.to(logits.device, torch.float64) for t in parts] + [hits.double().mean()]
        n_way, low, high, finite, accuracy = torch.stack(stats).tolist()  # one host sync
        n_way = int(n_way) + 1
        if logits.shape[1] != n_way:
            raise ValueError(
                f"predict returned logits of shape {tuple(logits.shape)}; expected "
                f"{(query_y.shape[0], n_way)} (N*Q, N), N = largest support label + 1"
            )
        if not finite:
            raise ValueError(
                "predict returned non-finite logits (NaN or inf): the episode cannot be scored; "
                "check the model for a diverged or corrupted weight"
            )
        if low < 0 or high >= n_way:
            raise ValueError(
                f"query labels must lie in 0..{n_way - 1}, got {int(low)}..{int(high)} (N = "
                "largest support label + 1)"
            )
        per_episode.append(accuracy)
    if not per_episode:
        raise ValueError("no episodes to evaluate; expected at least one")
    accuracy = math.fsum(per_episode) / len(per_episode)
    return EvalResult(accuracy, confidence_interval95(per_episode), per_episode, len(per_episode))


def _single_episodes(episodes: Iterable[Sequence[Tensor]]) -> Iterator[Episode]:
    if isinstance(episodes, Episode) or (
        isinstance(episodes, tuple | list)
        and len(episodes) == 4
        and all(isinstance(part, Tensor) for part in episodes)
    ):
        raise ValueError(
            "expected an iterable of episodes (support_x, support_y, query_x, query_y), got one "
            "episode or batch; wrap it in a list: [episode]"
        )
    for episode in episodes:
        if not isinstance(episode, Sequence) or len(episode) != 4:
            raise ValueError(
                "each episode must be (support_x, support_y, query_x, query_y), got "
                f"{len(episode) if isinstance(episode, Sequence) else type(episode).__name__}"
                " items"
            )
        support_x, support_y, query_x, query_y = episode  # an Episode or any 4-sequence
        if support_y.ndim == 2:  # a meta-batch: (T, N*K)
            yield from (
                Episode(*parts)
                for parts in zip(support_x, support_y, query_x, query_y, strict=True)
            )
        else:
            yield Episode(support_x, support_y, query_x, query_y)


# --8<-- [end:evaluate]


# --8<-- [start:fixed-episodes]
class FixedEpisodes(Sequence[Episode]):
    """A reproducible list of episodes that stores indices and gathers each episode on access.

    Holding 600 Omniglot 20-way 5-shot 15-query episodes as tensors would take 750 MB; their
    indices take 2 MB. Indexing returns an `Episode`; slicing returns a list of them.
    """

    def __init__(self, data: Tensor, classes: Tensor, examples: Tensor, k_shot: int) -> None:
        self._data, self._classes, self._examples, self._k_shot = data, classes, examples, k_shot

    def __len__(self) -> int:
        return self._classes.shape[0]

    @overload
    def __getitem__(self, index: int) -> Episode: ...

    @overload
    def __getitem__(self, index: slice) -> list[Episode]: ...

    def __getitem__(self, index: int | slice) -> Episode | list[Episode]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = range(len(self))[index]  # raises IndexError, handles negatives
        batch = gather_episodes(
            self._data, self._classes[i : i + 1], self._examples[i : i + 1], self._k_shot
        )
        return Episode(*(t[0] for t in batch))


def fixed_episodes(
    data: Tensor, n_way: int, k_shot: int, n_query: int, num_episodes: int, seed: int
) -> FixedEpisodes:
    """The evaluation episodes for a dataset, episode shape and seed; identical on every call.

    Episode `i` is exactly the `i`-th `sample_episode` call on a fresh
    `torch.Generator(device=data.device).manual_seed(seed)`, so a longer list extends a shorter one
    (the first 100 of 600 episodes are the 100-episode set).

    Args:
        data: Labelled examples, shape `(num_classes, examples_per_class, *x_shape)`.
        n_way: Classes per episode (N).
        k_shot: Support examples per class (K).
        n_query: Query examples per class (Q).
        num_episodes: How many episodes.
        seed: Seed of the generator.

    Returns:
        A sequence of `num_episodes` episodes with shapes `(N*K, *x_shape)`, `(N*K,)`,
        `(N*Q, *x_shape)`, `(N*Q,)`.

    Raises:
        ValueError: As `sample_batch`, if `num_episodes` is not a positive int, or if `seed`
            is outside `0..2**63-1`.
    """
    if isinstance(num_episodes, bool) or not isinstance(num_episodes, int) or num_episodes < 1:
        raise ValueError(f"num_episodes must be a positive int, got {num_episodes!r}")
    if not 0 <= seed < 2**63:  # torch would report an overflow, or wrap a negative seed
        raise ValueError(f"seed must be in 0..2**63-1, got {seed}")
    generator = torch.Generator(device=data.device).manual_seed(seed)
    check_request(data, n_way, k_shot, n_query, 1, generator)
    drawn = [
        sample_indices(data.shape[0], data.shape[1], n_way, k_shot, n_query, 1, generator)
        for _ in range(num_episodes)
    ]
    classes = torch.cat([c for c, _ in drawn])  # (episodes, N)
    examples = torch.cat([e for _, e in drawn])  # (episodes, N, K+Q)
    return FixedEpisodes(data, classes, examples, k_shot)


# --8<-- [end:fixed-episodes]
