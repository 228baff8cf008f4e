r"""Meta-validation: choosing among checkpoints on validation episodes, and what the choice costs.

A prototype classifier on a learned linear embedding is meta-trained on episodes, and its weights
are saved every few updates: those checkpoints are the candidates. Every checkpoint is scored on
the same large pool of held-out episodes, so its accuracy over the pool is known; the pool plays
the task distribution. Validation then draws `M` episodes of the pool, picks the checkpoint with
the best validation accuracy, and reports either that same validation accuracy or the accuracy on
`M` other episodes of the pool (a fresh test). Repeating the draw measures, against the pool:

* the **optimism** of reporting the winner's validation score, $\hat a_\text{val}(\hat c) -
  a(\hat c)$, the winner's curse of a maximum over noisy estimates;
* the **bias** of the fresh test, $\hat a_\text{test}(\hat c) - a(\hat c)$ (zero in expectation);
* the **regret** of the choice, $\max_c a(c) - a(\hat c)$.

Shapes: `E` episodes, `C` checkpoints, `N` classes, `K` shots, `Q` queries per class, `D` input
features, `F` embedding features.
"""

from __future__ import annotations

import torch
from torch import Tensor

SIGNAL_SPREAD = 0.6
"""Within-class standard deviation along the features that carry the class."""
NUISANCE_SPREAD = 1.5
"""Standard deviation, shared by all classes, of the other features."""


def sample_episodes(
    n_episodes: int, n_way: int, k_shot: int, n_query: int, features: int, g: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Gaussian classes whose means differ along the first quarter of the features only.

    The other features are shared noise of a larger spread, so an embedding that learns to
    ignore them classifies better: there is something for meta-training to learn.

    Args:
        n_episodes: `E`.
        n_way: `N` classes per episode.
        k_shot: `K` support examples per class.
        n_query: `Q` queries per class.
        features: `D` (at least 4).
        g: Source of all randomness.

    Returns:
        `(support_x, query_x)`, shapes `(E, N, K, D)` and `(E, N, Q, D)`; the class of an example
        is its index along the `N` axis.

    Raises:
        ValueError: If a count is not positive or `features` is below 4.
    """
    if min(n_episodes, n_way, k_shot, n_query) < 1 or features < 4:
        raise ValueError(
            f"counts must be positive and features at least 4, got {n_episodes=}, {n_way=}, "
            f"{k_shot=}, {n_query=}, {features=}"
        )
    signal = features // 4
    means = torch.zeros(n_episodes, n_way, 1, features)
    means[..., :signal] = torch.randn(n_episodes, n_way, 1, signal, generator=g)
    spread = torch.full((features,), NUISANCE_SPREAD)
    spread[:signal] = SIGNAL_SPREAD

    def draw(shots: int) -> Tensor:
        return means + spread * torch.randn(n_episodes, n_way, shots, features, generator=g)

    return draw(k_shot), draw(n_query)


def episode_accuracy(weights: Tensor, support_x: Tensor, query_x: Tensor) -> Tensor:
    """Query accuracy per episode of nearest class mean in the embedding `x @ weights`.

    Args:
        weights: Embedding, shape `(D, F)`.
        support_x: Shape `(E, N, K, D)`.
        query_x: Shape `(E, N, Q, D)`.

    Returns:
        Shape `(E,)`.
    """
    prototypes = (support_x @ weights).mean(2)  # (E, N, F)
    queries = (query_x @ weights).flatten(1, 2)  # (E, N*Q, F)
    predicted = torch.cdist(queries, prototypes).argmin(-1)  # (E, N*Q)
    labels = torch.arange(query_x.shape[1]).repeat_interleave(query_x.shape[2])  # (N*Q,)
    return (predicted == labels).float().mean(-1)


def meta_train_checkpoints(
    features: int,
    steps: int,
    every: int,
    episode: tuple[int, int, int],
    meta_batch_size: int,
    outer_lr: float,
    g: torch.Generator,
) -> list[Tensor]:
    """Meta-train the embedding with Adam on episodes' query cross-entropy; keep every `every`-th.

    Args:
        features: `D`; the embedding is `(D, D)`, initialised at the identity (raw features).
        steps: Meta-updates.
        every: Updates between checkpoints (the initial weights are the first checkpoint).
        episode: `(N, K, Q)` of the training episodes.
        meta_batch_size: Episodes per update.
        outer_lr: Adam step size.
        g: Source of the training episodes.

    Returns:
        The checkpoints, `steps // every + 1` tensors of shape `(D, D)`.

    Raises:
        ValueError: If `steps` or `every` is not positive.
    """
    if steps < 1 or every < 1:
        raise ValueError(f"steps and every must be positive, got {steps=}, {every=}")
    n_way, k_shot, n_query = episode
    weights = torch.eye(features, requires_grad=True)
    optimiser = torch.optim.Adam([weights], lr=outer_lr)
    labels = torch.arange(n_way).repeat_interleave(n_query).repeat(meta_batch_size)
    checkpoints = [weights.detach().clone()]
    for step in range(1, steps + 1):
        support_x, query_x = sample_episodes(meta_batch_size, n_way, k_shot, n_query, features, g)
        prototypes = (support_x @ weights).mean(2)  # (T, N, F)
        queries = (query_x @ weights).flatten(1, 2)  # (T, N*Q, F)
        logits = -torch.cdist(queries, prototypes).pow(2)  # (T, N*Q, N)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % every == 0:
            checkpoints.append(weights.detach().clone())
    return checkpoints


# --8<-- [start:select]
def select_and_report(
    scores: Tensor, n_validation: int, repeats: int, g: torch.Generator
) -> dict[str, Tensor]:
    r"""Choose a checkpoint on `M` validation episodes, report it on the same or on fresh ones.

    Each repeat draws `2M` distinct episodes of the pool: the first `M` validate, the other `M`
    test. The pool mean $a(c)$ of each checkpoint is the truth the reports are compared with.

    Args:
        scores: Accuracy of every checkpoint on every pool episode, shape `(C, E)`.
        n_validation: `M` (at most `E // 2`).
        repeats: Independent draws of the validation and test episodes.
        g: Source of the draws.

    Returns:
        Per repeat, shape `(repeats,)`: `"optimism"` $\hat a_\text{val}(\hat c) - a(\hat c)$,
        `"test_bias"` $\hat a_\text{test}(\hat c) - a(\hat c)$, `"regret"`
        $\max_c a(c) - a(\hat c)$, `"final_bias"` $\hat a_\text{val}(c_\text{last}) -
        a(c_\text{last})$ (the last checkpoint, reported without a choice), and `"chosen"`.

    Raises:
        ValueError: If `scores` is not `(C, E)` or `n_validation` is not between 1 and `E // 2`.
    """
    if scores.dim() != 2:
        raise ValueError(f"scores must have shape (C, E), got {tuple(scores.shape)}")
    n_episodes = scores.shape[1]
    if not 1 <= n_validation <= n_episodes // 2:
        raise ValueError(f"n_validation must be in [1, {n_episodes // 2}], got {n_validation}")
    truth = scores.mean(1)  # (C,): the pool plays the task distribution
    out: dict[str, list[Tensor]] = {
        k: [] for k in ("optimism", "test_bias", "regret", "final_bias", "chosen")
    }
    for _ in range(repeats):
        drawn = torch.randperm(n_episodes, generator=g)[: 2 * n_validation]
        validation = scores[:, drawn[:n_validation]].mean(1)  # (C,)
        test = scores[:, drawn[n_validation:]].mean(1)
        chosen = int(validation.argmax())  # ties: the earliest checkpoint
        out["optimism"].append(validation[chosen] - truth[chosen])
        out["test_bias"].append(test[chosen] - truth[chosen])
        out["regret"].append(truth.max() - truth[chosen])
        out["final_bias"].append(validation[-1] - truth[-1])
        out["chosen"].append(torch.tensor(chosen))
    return {k: torch.stack(v) for k, v in out.items()}


# --8<-- [end:select]
