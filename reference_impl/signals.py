r"""Deployment signals: is meta-learning helping on *your* tasks, and where does it fail?

Each signal is a plain function of a predictor `predict(support_x, support_y, query_x) -> logits`
(the shared signature of every method in `reference_impl`) and a list of episodes
`(support_x, support_y, query_x, query_y)`, and returns a frozen dataclass of plain numbers. The
docstring of each says what a healthy and an unhealthy value look like; `health_report` turns
them into one screen with a verdict line per signal, and `python -m reference_impl.signals
CHECKPOINT` prints that screen for a trained checkpoint.

| Signal | Function | Catches |
|---|---|---|
| adaptation gain | `adaptation_gain` | a method that ignores (or is hurt by) its support set |
| baseline margin | `baseline_margin`, `paired_difference` | complexity that does not pay: no better than a pre-trained classifier |
| meta-overfitting gap | `meta_overfitting_gap` | memorised training classes |
| shot curve | `shot_curve` | accuracy that does not grow with more support examples |
| task shift | `fit_task_shift`, `task_shift` | tasks from a domain the model never saw |
| calibration | `expected_calibration_error`, `calibration` | confident wrong answers |
| inner-loop health (MAML) | `inner_loop_trace`, `maml_inner_loop_traces`, `inner_loop_health` | diverging or non-finite adaptation |
| health report | `health_report`, `model_report`, `checkpoint_report`, `main` | one screen, one verdict per signal |

Conventions: accuracies are fractions in [0, 1]; a `ci95` is the half-width
$1.96\, s / \sqrt{n}$ of `reference_impl.evaluation.confidence_interval95`, with $s$ the
population standard deviation over the $n$ episodes (as in the MAML code), so it describes
uncertainty over sampled tasks for one trained model, and matches `EvalResult.ci95`. The verdict
thresholds (`Thresholds`) are rules of thumb, not results; change them to your risk budget.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from reference_impl import checkpoints, maml, methods, omniglot, protonet
from reference_impl.evaluation import Predict, confidence_interval95, fixed_episodes

Embed = Callable[[Tensor], Tensor]
"""`embed(x (B, *x_shape)) -> features (B, D)`, a frozen feature extractor."""
Params = dict[str, Tensor]
EpisodeLike = Sequence[Tensor]
"""`(support_x, support_y, query_x, query_y)`, e.g. `reference_impl.episodes.Episode`."""


# --8<-- [start:helpers]
def _check_episodes(episodes: Sequence[EpisodeLike], minimum: int = 1) -> None:
    if len(episodes) < minimum:
        raise ValueError(f"need at least {minimum} episodes, got {len(episodes)}")
    for i, episode in enumerate(episodes):
        if len(episode) != 4:
            raise ValueError(
                f"episode {i}: expected (support_x, support_y, query_x, query_y), got {len(episode)} items"
            )
        support_x, support_y, query_x, query_y = episode
        if support_y.dim() != 1 or support_x.shape[0] != support_y.shape[0]:
            raise ValueError(
                f"episode {i}: expected support_x (N*K, ...) and support_y (N*K,), "
                f"got {tuple(support_x.shape)} and {tuple(support_y.shape)}"
            )
        if query_y.dim() != 1 or query_x.shape[0] != query_y.shape[0]:
            raise ValueError(
                f"episode {i}: expected query_x (N*Q, ...) and query_y (N*Q,), "
                f"got {tuple(query_x.shape)} and {tuple(query_y.shape)}"
            )


def mean_ci95(values: Sequence[float]) -> tuple[float, float]:
    r"""Mean and 95% half-width $1.96\, s/\sqrt{n}$ (population std, as `EvalResult.ci95`).

    Raises:
        ValueError: If fewer than 2 values are given.
    """
    if len(values) < 2:
        raise ValueError(f"need at least 2 values for a confidence interval, got {len(values)}")
    return math.fsum(values) / len(values), confidence_interval95(values)


def query_logits(predict: Predict, episode: EpisodeLike) -> Tensor:
    """Run `predict` on one episode and check the logits' shape `(N*Q, N)`.

    Raises:
        ValueError: If the logits do not have shape `(N*Q, N)`.
    """
    support_x, support_y, query_x, _ = episode
    logits = predict(support_x, support_y, query_x)
    n_way = int(support_y.max()) + 1
    if logits.shape != (query_x.shape[0], n_way):
        raise ValueError(
            f"predict must return logits (N*Q, N) = {(query_x.shape[0], n_way)}, got {tuple(logits.shape)}"
        )
    return logits


def per_episode_scores(
    predict: Predict, episodes: Sequence[EpisodeLike]
) -> tuple[list[float], list[float]]:
    """Query accuracy and mean query cross-entropy of every episode.

    Returns:
        Two lists of length `len(episodes)`: accuracies in [0, 1] and losses (nats).
    """
    _check_episodes(episodes)
    accs, losses = [], []
    for episode in episodes:
        logits = query_logits(predict, episode).detach().double()
        query_y = episode[3].to(logits.device)
        accs.append(float((logits.argmax(-1) == query_y).double().mean()))
        losses.append(float(F.cross_entropy(logits, query_y)))
    return accs, losses


# --8<-- [end:helpers]


# --8<-- [start:adaptation-gain]
@dataclass(frozen=True)
class AdaptationGain:
    """Accuracy after adaptation minus before, per episode."""

    mean: float
    """Mean accuracy gain over episodes."""
    ci95: float
    """95% half-width of `mean`."""
    median: float
    """Median gain."""
    p10: float
    """10th percentile of the gain: the bad tail."""
    share_hurt: float
    """Fraction of episodes where adaptation lowered accuracy."""
    loss_drop: float
    """Mean query cross-entropy before minus after (positive: adaptation helps)."""
    before_accuracy: float
    """Mean accuracy of the reference (before adaptation)."""
    after_accuracy: float
    """Mean accuracy of `predict`."""
    per_episode: list[float] = field(repr=False)
    """The gain of every episode."""


def shuffled_support(predict: Predict, seed: int = 0) -> Predict:
    """Reference predictor for methods without a "before": `predict` with shuffled support labels.

    Shuffling `support_y` (one seeded permutation per call) keeps the support inputs and class
    counts but removes what the labels say about the query; a method that uses its support set
    falls to about chance (1/N), one that ignores it is unchanged.
    """
    generator = torch.Generator().manual_seed(seed)

    def reference(support_x: Tensor, support_y: Tensor, query_x: Tensor) -> Tensor:
        perm = torch.randperm(support_y.shape[0], generator=generator).to(support_y.device)
        return predict(support_x, support_y[perm], query_x)

    return reference


def adaptation_gain(
    predict: Predict,
    episodes: Sequence[EpisodeLike],
    *,
    before: Predict | None = None,
    seed: int = 0,
) -> AdaptationGain:
    """How much each task's support set improves the prediction.

    For MAML, pass `before` = the meta-initialisation's predictor (zero inner steps): the gain is
    then exactly "after minus before adaptation". Without `before`, the reference is
    `shuffled_support(predict, seed)`, the same method deprived of the support labels.

    Healthy: `mean` clearly above 0 (`mean - ci95 > 0`) and `share_hurt` near 0. Unhealthy:
    `mean` near 0 (the method ignores its support set, e.g. it memorised training classes, or a
    MAML inner loop with a learning rate of ~0), or `share_hurt` above ~0.2 (adaptation damages
    many tasks: inner learning rate too large, or support sets too noisy).

    Args:
        predict: The adapted predictor.
        episodes: At least 2 episodes.
        before: Reference predictor; default: shuffled support labels.
        seed: Seed of the shuffles when `before` is None.

    Returns:
        The gain's summary.
    """
    _check_episodes(episodes, minimum=2)
    reference = before if before is not None else shuffled_support(predict, seed)
    acc_after, loss_after = per_episode_scores(predict, episodes)
    acc_before, loss_before = per_episode_scores(reference, episodes)
    gains = [a - b for a, b in zip(acc_after, acc_before, strict=True)]
    mean, ci95 = mean_ci95(gains)
    g = torch.tensor(gains, dtype=torch.float64)
    return AdaptationGain(
        mean=mean,
        ci95=ci95,
        median=float(g.quantile(0.5)),
        p10=float(g.quantile(0.1)),
        share_hurt=float((g < 0).double().mean()),
        loss_drop=sum(loss_before) / len(loss_before) - sum(loss_after) / len(loss_after),
        before_accuracy=sum(acc_before) / len(acc_before),
        after_accuracy=sum(acc_after) / len(acc_after),
        per_episode=gains,
    )


# --8<-- [end:adaptation-gain]


# --8<-- [start:baseline-margin]
@dataclass(frozen=True)
class PairedDifference:
    """Mean of per-episode differences `a - b` with a paired 95% interval."""

    mean: float
    """Mean difference."""
    ci95: float
    r"""$1.96\, s_d/\sqrt{n}$ with $s_d$ the population std of the differences."""
    low: float
    """`mean - ci95`."""
    high: float
    """`mean + ci95`."""
    a_mean: float
    """Mean of `a`."""
    b_mean: float
    """Mean of `b`."""
    share_a_better: float
    """Fraction of episodes with `a > b`."""
    n: int
    """Number of episodes."""


def paired_difference(a: Sequence[float], b: Sequence[float]) -> PairedDifference:
    r"""Paired comparison of two methods scored on the *same* episodes.

    $$\bar d = \frac{1}{n}\sum_i (a_i - b_i), \qquad
    \text{CI}_{95} = \bar d \pm 1.96\,\frac{s_d}{\sqrt n}$$

    Pairing removes the episode-difficulty variance both methods share, so the interval is
    usually much narrower than the two unpaired intervals combined.

    Raises:
        ValueError: If the lengths differ or fewer than 2 pairs are given.
    """
    if len(a) != len(b):
        raise ValueError(f"expected a and b of equal length, got {len(a)} and {len(b)}")
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    mean, ci95 = mean_ci95(diffs)
    return PairedDifference(
        mean=mean,
        ci95=ci95,
        low=mean - ci95,
        high=mean + ci95,
        a_mean=sum(a) / len(a),
        b_mean=sum(b) / len(b),
        share_a_better=sum(x > y for x, y in zip(a, b, strict=True)) / len(a),
        n=len(a),
    )


def baseline_margin(
    predict: Predict, baseline: Predict, episodes: Sequence[EpisodeLike]
) -> PairedDifference:
    """Method accuracy minus transfer-baseline accuracy on the same episodes, paired.

    Healthy: `low > 0`, meta-learning beats a pre-trained classifier with a nearest-mean or
    logistic head (`reference_impl.baseline`). Unhealthy: the interval contains 0 (the extra
    training machinery buys nothing you can measure) or `high < 0` (the baseline is better).
    """
    _check_episodes(episodes, minimum=2)
    method_acc, _ = per_episode_scores(predict, episodes)
    baseline_acc, _ = per_episode_scores(baseline, episodes)
    return paired_difference(method_acc, baseline_acc)


# --8<-- [end:baseline-margin]


# --8<-- [start:overfitting-gap]
@dataclass(frozen=True)
class OverfittingGap:
    """Accuracy on episodes of meta-training classes minus on held-out classes."""

    train_accuracy: float
    """Mean accuracy on episodes drawn from meta-training classes."""
    test_accuracy: float
    """Mean accuracy on episodes of held-out classes."""
    gap: float
    """`train_accuracy - test_accuracy`."""
    ci95: float
    r"""Unpaired half-width $\sqrt{c_{train}^2 + c_{test}^2}$ (different episodes)."""


def meta_overfitting_gap(
    predict: Predict,
    train_episodes: Sequence[EpisodeLike],
    test_episodes: Sequence[EpisodeLike],
) -> OverfittingGap:
    """Gap between meta-training and held-out classes, same N, K and Q.

    Healthy: a gap within a few points that stops growing during training. Unhealthy: a gap above
    ~0.15 or one that keeps growing while held-out accuracy stalls: the model memorises its
    training classes (meta-overfitting) instead of learning to learn from the support set.
    """
    _check_episodes(train_episodes, minimum=2)
    _check_episodes(test_episodes, minimum=2)
    train_mean, train_ci = mean_ci95(per_episode_scores(predict, train_episodes)[0])
    test_mean, test_ci = mean_ci95(per_episode_scores(predict, test_episodes)[0])
    return OverfittingGap(
        train_mean, test_mean, train_mean - test_mean, math.sqrt(train_ci**2 + test_ci**2)
    )


# --8<-- [end:overfitting-gap]


# --8<-- [start:shot-curve]
@dataclass(frozen=True)
class ShotCurve:
    """Accuracy as the number of shots K grows, on nested support sets and fixed queries."""

    shots: tuple[int, ...]
    """The K values."""
    accuracy: tuple[float, ...]
    """Mean accuracy per K."""
    ci95: tuple[float, ...]
    """95% half-width per K."""
    gain: float
    """Accuracy at the largest K minus at the smallest."""
    gain_ci95: float
    """Paired 95% half-width of `gain`."""
    monotone: bool
    """Whether mean accuracy never decreases as K grows."""


def nested_shot_episodes(
    data: Tensor,
    *,
    n_way: int,
    shots: Sequence[int],
    n_query: int,
    num_episodes: int,
    seed: int,
) -> list[dict[int, tuple[Tensor, Tensor, Tensor, Tensor]]]:
    """Episodes whose support sets are nested across K and whose queries are shared.

    For each episode: draw N classes, shuffle each class's examples, take the first `n_query` as
    queries and the next `max(shots)` as a support pool; the K-shot support set is the pool's
    first K. Every difference along the curve is then a paired, within-episode difference.

    Args:
        data: Classes, shape `(C, E, *x_shape)` with `E >= n_query + max(shots)`.
        n_way: N.
        shots: Increasing K values.
        n_query: Q.
        num_episodes: Episodes.
        seed: Seed of the sampling.

    Returns:
        One dict per episode mapping K to `(support_x, support_y, query_x, query_y)`.

    Raises:
        ValueError: If `data` has too few classes or examples, or `shots` is not increasing.
    """
    if data.dim() < 3:
        raise ValueError(f"expected data (C, E, *x_shape), got {tuple(data.shape)}")
    c, e = data.shape[:2]
    if list(shots) != sorted(set(shots)) or min(shots) < 1:
        raise ValueError(f"shots must be strictly increasing positive integers, got {tuple(shots)}")
    if c < n_way or e < n_query + max(shots):
        raise ValueError(
            f"need data with >= {n_way} classes and >= {n_query + max(shots)} examples per class "
            f"(n_query + max(shots)), got {tuple(data.shape[:2])}"
        )
    generator = torch.Generator().manual_seed(seed)
    query_y = torch.arange(n_way).repeat_interleave(n_query)
    out = []
    for _ in range(num_episodes):
        classes = torch.randperm(c, generator=generator)[:n_way]
        order = torch.stack([torch.randperm(e, generator=generator) for _ in range(n_way)])
        picked = data[classes[:, None], order]  # (N, E, *x_shape)
        query_x = picked[:, :n_query].reshape(n_way * n_query, *data.shape[2:])
        pool = picked[:, n_query:]
        out.append(
            {
                k: (
                    pool[:, :k].reshape(n_way * k, *data.shape[2:]),
                    torch.arange(n_way).repeat_interleave(k),
                    query_x,
                    query_y,
                )
                for k in shots
            }
        )
    return out


def shot_curve(
    predict: Predict,
    data: Tensor,
    *,
    n_way: int = 5,
    shots: Sequence[int] = (1, 2, 5, 10),
    n_query: int = 5,
    num_episodes: int = 50,
    seed: int = 0,
) -> ShotCurve:
    """Accuracy at K = 1, 2, 5, 10 on held-out classes.

    Healthy: accuracy rises with K until it saturates; `gain - gain_ci95 > 0` unless accuracy at
    the smallest K is already near 1. Unhealthy: a flat curve (`gain` within its interval of 0):
    the method does not use extra support examples, so its "few-shot learning" is a fixed
    classifier in disguise; a falling curve: more support data hurts (e.g. MAML tuned for one K).

    Args:
        predict: The predictor.
        data: Held-out classes, shape `(C, E, *x_shape)`, `E >= n_query + max(shots)`.
        n_way: N.
        shots: K values, increasing.
        n_query: Q (Omniglot has 20 examples per class: with K up to 10, Q <= 10).
        num_episodes: Episodes per K (the same episodes for every K).
        seed: Seed of the episode sampling.

    Returns:
        The curve.
    """
    nested = nested_shot_episodes(
        data, n_way=n_way, shots=shots, n_query=n_query, num_episodes=num_episodes, seed=seed
    )
    per_k = {k: per_episode_scores(predict, [ep[k] for ep in nested])[0] for k in shots}
    stats = [mean_ci95(per_k[k]) for k in shots]
    gain = paired_difference(per_k[shots[-1]], per_k[shots[0]])
    means = [m for m, _ in stats]
    return ShotCurve(
        shots=tuple(shots),
        accuracy=tuple(means),
        ci95=tuple(c for _, c in stats),
        gain=gain.mean,
        gain_ci95=gain.ci95,
        monotone=all(b >= a for a, b in itertools.pairwise(means)),
    )


# --8<-- [end:shot-curve]


# --8<-- [start:task-shift]
METRICS = ("euclidean", "cosine")


@dataclass(frozen=True)
class TaskShiftReference:
    """What "in distribution" looks like: training-class prototypes and calibration scores."""

    prototypes: Tensor
    """Mean features of the meta-training classes used as prototypes, shape `(C, D)`."""
    calibration: Tensor
    """Sorted raw scores of in-domain calibration tasks, shape `(M,)`."""
    mean: float
    """Mean of `calibration`."""
    std: float
    """Sample std of `calibration`."""
    metric: str
    """`"euclidean"` or `"cosine"` distance in feature space."""


@dataclass(frozen=True)
class TaskShift:
    """Task-shift scores of a set of episodes against a `TaskShiftReference`."""

    mean_z: float
    """Mean z-score `(raw - reference.mean) / reference.std` over episodes."""
    share_flagged: float
    """Fraction of episodes above the calibration's 95th percentile (about 0.05 in distribution)."""
    mean_raw: float
    """Mean raw score (mean distance to the nearest prototype)."""
    per_episode_z: list[float] = field(repr=False)
    """The z-score of every episode."""


def raw_shift_score(
    embed: Embed, prototypes: Tensor, support_x: Tensor, metric: str = "euclidean"
) -> float:
    r"""Mean distance from each support embedding to its nearest training-class prototype.

    $$s(\mathcal{S}) = \frac{1}{|\mathcal{S}|}\sum_{x \in \mathcal{S}} \min_c d\big(f(x), p_c\big)$$

    with $d$ the Euclidean distance or the cosine distance $1 - \cos$. Euclidean is the default:
    a shifted input often changes the *size* of the features (a filter that fires on unfamiliar
    strokes, nuisance directions leaking through), which cosine distance ignores.

    Args:
        embed: Frozen feature extractor; called once on the whole support set.
        prototypes: Shape `(C, D)`.
        support_x: Shape `(N*K, *x_shape)`.
        metric: `"euclidean"` or `"cosine"`.

    Raises:
        ValueError: If `metric` is unknown.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    with torch.no_grad():
        feats = embed(support_x).double()  # (N*K, D)
    protos = prototypes.to(feats)
    if metric == "cosine":
        dist = 1 - F.normalize(feats, dim=-1) @ F.normalize(protos, dim=-1).T  # (N*K, C)
    else:
        dist = torch.cdist(feats, protos)  # (N*K, C)
    return float(dist.min(dim=-1).values.mean())


def class_prototypes(embed: Embed, data: Tensor, n_way: int, k_shot: int) -> Tensor:
    """Mean feature of every class, embedding task-shaped batches of `n_way * k_shot` inputs.

    Batches mix `n_way` classes, `k_shot` examples each, like a support set, so that an
    embedding with batch-statistics BatchNorm sees the same batch composition as at test time.

    Args:
        embed: Frozen feature extractor.
        data: Classes, shape `(C, E, *x_shape)`; the last `E mod k_shot` examples are unused.
        n_way: Classes per batch.
        k_shot: Examples of each class per batch.

    Returns:
        Prototypes, shape `(C, D)`.
    """
    c, e = data.shape[:2]
    used = e - e % k_shot
    sums: list[Tensor] = []
    with torch.no_grad():
        for first in range(0, c, n_way):
            chunk = data[first : first + n_way, :used]  # (n, E', *x_shape)
            parts = [
                embed(chunk[:, j : j + k_shot].flatten(0, 1)).double().unflatten(0, (-1, k_shot))
                for j in range(0, used, k_shot)
            ]  # each (n, k, D)
            sums.append(torch.cat(parts, dim=1).mean(1))  # (n, D)
    return torch.cat(sums)  # (C, D)


def fit_task_shift(
    embed: Embed,
    train_data: Tensor,
    calibration_data: Tensor | None = None,
    *,
    n_way: int = 5,
    k_shot: int = 1,
    num_tasks: int = 200,
    holdout_fraction: float = 0.25,
    metric: str = "euclidean",
    seed: int = 0,
) -> TaskShiftReference:
    """Prototypes of the meta-training classes, calibrated on in-domain tasks of *new* classes.

    Calibration scores come from `num_tasks` N-way K-shot support sets of `calibration_data`:
    pass validation classes of the training domain (e.g. the split's `val` part). New classes
    from the training domain are exactly what a healthy test task looks like; scoring support
    sets of seen classes instead would make every new class look shifted.

    Without `calibration_data`, a random `holdout_fraction` of the training classes is held out
    of the prototypes and calibrates instead. The embedding was trained on those classes, which
    sit farther from the other classes' prototypes than truly new ones do: the calibration is then
    conservative (in-domain test tasks get negative z-scores, fewer flags than 5%).

    Args:
        embed: Frozen feature extractor (the method's own embedding, or the transfer baseline's).
        train_data: Meta-training classes, shape `(C, E, *x_shape)`.
        calibration_data: In-domain classes unseen in training, shape `(C', E', *x_shape)`.
        n_way: N of the tasks to be scored.
        k_shot: K of the tasks to be scored.
        num_tasks: Calibration tasks.
        holdout_fraction: Share of training classes held out when `calibration_data` is None.
        metric: `"euclidean"` or `"cosine"`.
        seed: Seed of the class split and the calibration tasks.

    Returns:
        The reference.

    Raises:
        ValueError: If a class set is smaller than `n_way`, has fewer than `k_shot` examples, or
            `metric` is unknown.
    """
    for name, d in (("train_data", train_data), ("calibration_data", calibration_data)):
        if d is not None and (d.dim() < 3 or d.shape[1] < k_shot):
            raise ValueError(f"expected {name} (C, E >= k_shot, *x_shape), got {tuple(d.shape)}")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    generator = torch.Generator().manual_seed(seed)
    if calibration_data is None:
        order = torch.randperm(train_data.shape[0], generator=generator)
        n_held = round(train_data.shape[0] * holdout_fraction)
        calibration_data, train_data = train_data[order[:n_held]], train_data[order[n_held:]]
    if train_data.shape[0] < n_way or calibration_data.shape[0] < n_way:
        raise ValueError(
            f"need >= {n_way} classes for prototypes and for calibration, got "
            f"{train_data.shape[0]} and {calibration_data.shape[0]}"
        )
    prototypes = class_prototypes(embed, train_data, n_way, k_shot)
    c, e = calibration_data.shape[:2]
    scores = []
    for _ in range(num_tasks):
        classes = torch.randperm(c, generator=generator)[:n_way]
        examples = torch.stack([torch.randperm(e, generator=generator)[:k_shot] for _ in classes])
        support_x = calibration_data[classes[:, None], examples].flatten(0, 1)  # (N*K, *x_shape)
        scores.append(raw_shift_score(embed, prototypes, support_x, metric))
    calibration = torch.tensor(sorted(scores), dtype=torch.float64)
    return TaskShiftReference(
        prototypes,
        calibration,
        float(calibration.mean()),
        float(calibration.std(correction=1)),
        metric,
    )


def task_shift(
    reference: TaskShiftReference, embed: Embed, episodes: Sequence[EpisodeLike]
) -> TaskShift:
    """Score each episode's support set against the training domain.

    Healthy: `mean_z` near 0 and `share_flagged` near 0.05 (the false-alarm rate built into the
    95th-percentile cut). Unhealthy: `share_flagged` well above 0.05, `mean_z` above ~2: the
    tasks come from a domain the model was not meta-trained on (new alphabets, new sensor, new
    preprocessing); accuracy estimates from the training domain do not transfer. Check each
    flagged task before trusting its prediction.
    """
    _check_episodes(episodes)
    cut = float(torch.quantile(reference.calibration, 0.95))
    raw = [raw_shift_score(embed, reference.prototypes, ep[0], reference.metric) for ep in episodes]
    z = [(r - reference.mean) / max(reference.std, 1e-12) for r in raw]
    return TaskShift(
        mean_z=sum(z) / len(z),
        share_flagged=sum(r > cut for r in raw) / len(raw),
        mean_raw=sum(raw) / len(raw),
        per_episode_z=z,
    )


# --8<-- [end:task-shift]


# --8<-- [start:calibration]
@dataclass(frozen=True)
class Calibration:
    """Reliability of the query predictions' confidence (max softmax probability)."""

    ece: float
    """Expected calibration error."""
    accuracy: float
    """Fraction of correct query predictions."""
    mean_confidence: float
    """Mean max-probability."""
    n_bins: int
    """Equal-width confidence bins."""
    bin_counts: list[int] = field(repr=False)
    """Predictions per bin."""


def expected_calibration_error(
    confidence: Tensor, correct: Tensor, n_bins: int = 15
) -> tuple[float, list[int]]:
    r"""ECE over equal-width confidence bins $B_b = ((b-1)/M, b/M]$ (the first bin includes 0).

    $$\text{ECE} = \sum_{b=1}^{M} \frac{|B_b|}{n}\,\big|\text{acc}(B_b) - \text{conf}(B_b)\big|$$

    Args:
        confidence: Max predicted probability per prediction, shape `(n,)`, values in [0, 1].
        correct: Whether each prediction is right, shape `(n,)`, bool or 0/1.
        n_bins: M.

    Returns:
        The ECE and the count of predictions per bin.

    Raises:
        ValueError: On mismatched shapes, an empty input, confidences outside [0, 1] or `n_bins < 1`.
    """
    if confidence.dim() != 1 or confidence.shape != correct.shape or confidence.numel() == 0:
        raise ValueError(
            f"expected confidence (n,) and correct (n,) with n >= 1, got "
            f"{tuple(confidence.shape)} and {tuple(correct.shape)}"
        )
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    conf = confidence.detach().double()
    if bool((conf < 0).any() or (conf > 1).any()):
        raise ValueError("confidence values must lie in [0, 1]")
    hit = correct.detach().double()
    bins = (torch.ceil(conf * n_bins).long() - 1).clamp(0, n_bins - 1)  # (n,)
    counts = torch.bincount(bins, minlength=n_bins)
    gap = torch.bincount(bins, weights=hit - conf, minlength=n_bins)  # sum of (acc - conf) per bin
    return float(gap.abs().sum() / conf.numel()), [int(c) for c in counts]


def calibration(
    predict: Predict, episodes: Sequence[EpisodeLike], *, n_bins: int = 15
) -> Calibration:
    """ECE of all query predictions of `episodes` pooled, with 15 equal-width bins by default.

    Healthy: ECE below ~0.05: a stated 90% confidence is right about 90% of the time, so
    confidence can gate automation (defer low-confidence answers to a human). Unhealthy: ECE above
    ~0.1, usually `mean_confidence` well above `accuracy` (over-confidence); thresholds on the
    confidence then let through more errors than they promise. Temperature scaling on held-out
    training tasks is the usual fix.
    """
    _check_episodes(episodes)
    confs, hits = [], []
    for episode in episodes:
        probs = torch.softmax(query_logits(predict, episode).detach().double(), dim=-1)
        conf, pred = probs.max(dim=-1)
        confs.append(conf)
        hits.append(pred == episode[3].to(pred.device))
    confidence, correct = torch.cat(confs), torch.cat(hits)
    ece, counts = expected_calibration_error(confidence, correct, n_bins)
    return Calibration(
        ece=ece,
        accuracy=float(correct.double().mean()),
        mean_confidence=float(confidence.mean()),
        n_bins=n_bins,
        bin_counts=counts,
    )


# --8<-- [end:calibration]


# --8<-- [start:inner-loop-health]
@dataclass(frozen=True)
class InnerLoopTrace:
    """One task's inner loop, step by step."""

    losses: list[float]
    """Support loss before each step and after the last (`steps + 1` values, fewer if stopped)."""
    grad_norms: list[float]
    """Global L2 norm of the support-loss gradient at each step."""
    first_nonfinite_step: int | None
    """First step whose loss, gradient or updated parameters hold NaN/inf; None if all finite."""


def inner_loop_trace(
    support_loss: Callable[[Params], Tensor],
    step: Callable[[Params], Params],
    params: Params,
    steps: int,
) -> InnerLoopTrace:
    """Follow an inner loop one step at a time, measuring without changing it.

    The step is the method's own (for MAML: its `adapt` with one inner step), so no second
    copy of the inner loop exists. Stops at the first non-finite value.

    Args:
        support_loss: Support-set loss of a parameter dict, a scalar.
        step: One inner update, `params -> adapted_params`.
        params: Starting parameters (the meta-initialisation); not modified.
        steps: Number of steps to trace.

    Returns:
        The trace.
    """
    losses: list[float] = []
    grad_norms: list[float] = []
    current = {name: p.detach() for name, p in params.items()}
    for t in range(steps + 1):
        probe = {name: p.detach().requires_grad_(True) for name, p in current.items()}
        with torch.enable_grad():
            loss = support_loss(probe)
            grads = torch.autograd.grad(loss, list(probe.values()), allow_unused=True)
        losses.append(float(loss.detach()))
        if not math.isfinite(losses[-1]):
            return InnerLoopTrace(losses, grad_norms, t)
        if t == steps:
            break
        norm = math.sqrt(
            sum(float(g.detach().double().pow(2).sum()) for g in grads if g is not None)
        )
        grad_norms.append(norm)
        if not math.isfinite(norm):
            return InnerLoopTrace(losses, grad_norms, t)
        with torch.enable_grad():
            current = {name: p.detach() for name, p in step(current).items()}
        if not all(bool(torch.isfinite(p).all()) for p in current.values()):
            return InnerLoopTrace(losses, grad_norms, t + 1)
    return InnerLoopTrace(losses, grad_norms, None)


@dataclass(frozen=True)
class InnerLoopHealth:
    """Inner-loop traces of many tasks, summarised."""

    mean_losses: list[float]
    """Mean support loss per step over the tasks that stayed finite."""
    max_grad_norm: float
    """Largest gradient norm seen at any step of any task."""
    share_loss_increased: float
    """Fraction of tasks whose final support loss is above the initial one."""
    share_nonfinite: float
    """Fraction of tasks with a NaN/inf loss, gradient or parameter."""
    n: int
    """Number of tasks."""


def inner_loop_health(traces: Sequence[InnerLoopTrace]) -> InnerLoopHealth:
    """Summarise `inner_loop_trace` results over tasks.

    Healthy: the mean support loss falls at every step, no task's loss rises, no non-finite
    values, gradient norms stay within an order of magnitude of their start. Unhealthy: any
    non-finite value (inner learning rate or logits exploding; often after a few thousand
    meta-steps, so check periodically); a rising support loss on some tasks (inner learning rate
    too large for them); a loss that does not fall (inner learning rate ~0 or vanishing
    gradients: MAML degenerates into a fixed classifier).

    Raises:
        ValueError: If `traces` is empty.
    """
    if not traces:
        raise ValueError("need at least 1 trace")
    finite = [t for t in traces if t.first_nonfinite_step is None]
    steps = min((len(t.losses) for t in finite), default=0)
    mean_losses = [sum(t.losses[i] for t in finite) / len(finite) for i in range(steps)]
    norms = [g for t in traces for g in t.grad_norms if math.isfinite(g)]
    return InnerLoopHealth(
        mean_losses=mean_losses,
        max_grad_norm=max(norms, default=float("nan")),
        share_loss_increased=sum(t.losses[-1] > t.losses[0] for t in finite) / len(traces),
        share_nonfinite=(len(traces) - len(finite)) / len(traces),
        n=len(traces),
    )


def maml_inner_loop_traces(
    model: nn.Module,
    cfg: maml.MAMLConfig,
    episodes: Sequence[EpisodeLike],
    steps: int | None = None,
) -> list[InnerLoopTrace]:
    """Trace MAML's own inner loop (`maml.adapt`, one step at a time) on each episode's support set.

    Args:
        model: A `maml.build_model` network holding the meta-parameters; not modified.
        cfg: MAML configuration (`inner_lr`, `backbone`, ...).
        episodes: Episodes; only the support sets are used.
        steps: Steps to trace; default `cfg.test_inner_steps`.

    Returns:
        One trace per episode.
    """
    _check_episodes(episodes)
    steps = cfg.test_inner_steps if steps is None else steps
    params = {name: p.detach() for name, p in model.named_parameters()}
    traces = []
    for support_x, support_y, _, _ in episodes:

        def support_loss(p: Params, sx: Tensor = support_x, sy: Tensor = support_y) -> Tensor:
            return maml.task_loss(functional_call(model, p, (sx,)), sy, cfg)

        def step(p: Params, sx: Tensor = support_x, sy: Tensor = support_y) -> Params:
            return maml.adapt(model, p, sx, sy, cfg, steps=1)

        traces.append(inner_loop_trace(support_loss, step, params, steps))
    return traces


# --8<-- [end:inner-loop-health]


# --8<-- [start:health-report]
@dataclass(frozen=True)
class Thresholds:
    """Verdict thresholds of `health_report`: rules of thumb, set them to your risk budget."""

    max_share_hurt: float = 0.2
    """Adaptation gain: WARN above this share of tasks made worse by adaptation."""
    gap_warn: float = 0.05
    """Meta-overfitting gap: WARN above this train-minus-test accuracy."""
    gap_fail: float = 0.15
    """Meta-overfitting gap: FAIL above this."""
    saturated: float = 0.98
    """Shot curve: accuracy at the smallest K above which a flat curve is fine (nothing to gain)."""
    flagged_warn: float = 0.10
    """Task shift: WARN above this share of flagged tasks (0.05 expected in distribution)."""
    flagged_fail: float = 0.25
    """Task shift: FAIL above this."""
    ece_warn: float = 0.05
    """Calibration: WARN above this ECE."""
    ece_fail: float = 0.10
    """Calibration: FAIL above this ECE."""


@dataclass(frozen=True)
class Verdict:
    """One line of the health report."""

    signal: str
    """Signal name."""
    status: str
    """`"OK"`, `"WARN"`, `"FAIL"` or `"n/a"` (inputs not given)."""
    value: str
    """The numbers, formatted."""
    note: str
    """What the status means, in a few words."""


def judge_gain(g: AdaptationGain, th: Thresholds) -> Verdict:
    """Verdict on `adaptation_gain`."""
    value = f"{g.mean:+.3f} ± {g.ci95:.3f}, {g.share_hurt:.0%} of tasks hurt"
    if g.mean - g.ci95 <= 0:
        return Verdict("adaptation gain", "FAIL", value, "support set not used (or harmful)")
    if g.share_hurt > th.max_share_hurt:
        return Verdict("adaptation gain", "WARN", value, "adaptation hurts many tasks")
    return Verdict("adaptation gain", "OK", value, "uses its support set")


def judge_margin(m: PairedDifference, th: Thresholds) -> Verdict:
    """Verdict on `baseline_margin`."""
    value = f"{m.mean:+.3f} [{m.low:+.3f}, {m.high:+.3f}] ({m.a_mean:.3f} vs {m.b_mean:.3f})"
    if m.low > 0:
        return Verdict("baseline margin", "OK", value, "beats the transfer baseline")
    if m.high < 0:
        return Verdict("baseline margin", "FAIL", value, "the transfer baseline is better")
    return Verdict("baseline margin", "WARN", value, "no measurable gain over the baseline")


def judge_gap(g: OverfittingGap, th: Thresholds) -> Verdict:
    """Verdict on `meta_overfitting_gap`."""
    value = (
        f"{g.gap:+.3f} ± {g.ci95:.3f} (train {g.train_accuracy:.3f}, test {g.test_accuracy:.3f})"
    )
    if g.gap > th.gap_fail:
        return Verdict("meta-overfitting gap", "FAIL", value, "memorised classes or shifted tasks")
    if g.gap > th.gap_warn:
        return Verdict("meta-overfitting gap", "WARN", value, "watch the trend over training")
    return Verdict("meta-overfitting gap", "OK", value, "generalises to new classes")


def judge_curve(c: ShotCurve, th: Thresholds) -> Verdict:
    """Verdict on `shot_curve`."""
    value = "K=" + ",".join(map(str, c.shots)) + ": " + " ".join(f"{a:.3f}" for a in c.accuracy)
    if c.accuracy[0] >= th.saturated:
        return Verdict("shot curve", "OK", value, "saturated at the smallest K")
    if c.gain - c.gain_ci95 <= 0:
        return Verdict("shot curve", "FAIL", value, "flat: extra shots are not used")
    if not c.monotone:
        return Verdict("shot curve", "WARN", value, "not monotone in K")
    return Verdict("shot curve", "OK", value, "rises with K")


def judge_shift(s: TaskShift, th: Thresholds) -> Verdict:
    """Verdict on `task_shift`."""
    value = f"mean z {s.mean_z:+.2f}, {s.share_flagged:.0%} of tasks flagged (5% expected)"
    if s.share_flagged > th.flagged_fail:
        return Verdict("task shift", "FAIL", value, "tasks from an unseen domain")
    if s.share_flagged > th.flagged_warn:
        return Verdict("task shift", "WARN", value, "some tasks look out of domain")
    return Verdict("task shift", "OK", value, "tasks look like the training domain")


def judge_calibration(c: Calibration, th: Thresholds) -> Verdict:
    """Verdict on `calibration`."""
    value = f"ECE {c.ece:.3f} ({c.n_bins} bins; conf {c.mean_confidence:.3f}, acc {c.accuracy:.3f})"
    side = "over-confident" if c.mean_confidence > c.accuracy else "under-confident"
    if c.ece > th.ece_fail:
        return Verdict("calibration", "FAIL", value, f"{side}: do not gate on confidence")
    if c.ece > th.ece_warn:
        return Verdict("calibration", "WARN", value, f"somewhat {side}")
    return Verdict("calibration", "OK", value, "confidence can be trusted")


def judge_inner_loop(h: InnerLoopHealth, th: Thresholds) -> Verdict:
    """Verdict on `inner_loop_health`."""
    losses = " > ".join(f"{v:.3f}" for v in h.mean_losses)
    value = f"support loss {losses}; max |grad| {h.max_grad_norm:.3g}"
    if h.share_nonfinite > 0:
        return Verdict("inner loop", "FAIL", value, f"{h.share_nonfinite:.0%} of tasks non-finite")
    if h.share_loss_increased > th.max_share_hurt or h.mean_losses[-1] >= h.mean_losses[0]:
        return Verdict("inner loop", "FAIL", value, "support loss does not fall")
    if h.share_loss_increased > 0:
        return Verdict("inner loop", "WARN", value, f"loss rises on {h.share_loss_increased:.0%}")
    return Verdict("inner loop", "OK", value, "support loss falls every step")


def _memoize(predict: Predict) -> Predict:
    """Reuse logits for inputs seen before (same tensor objects), so signals share predictions."""
    cache: dict[tuple[int, int, int], tuple[tuple[Tensor, Tensor, Tensor], Tensor]] = {}

    def cached(support_x: Tensor, support_y: Tensor, query_x: Tensor) -> Tensor:
        key = (id(support_x), id(support_y), id(query_x))
        if key not in cache:  # the stored inputs keep their ids from being reused
            cache[key] = ((support_x, support_y, query_x), predict(support_x, support_y, query_x))
        return cache[key][1]

    return cached


def collect_verdicts(
    predict: Predict,
    test_episodes: Sequence[EpisodeLike],
    *,
    before: Predict | None = None,
    baseline: Predict | None = None,
    train_episodes: Sequence[EpisodeLike] | None = None,
    shot_data: Tensor | None = None,
    embed: Embed | None = None,
    shift_reference: TaskShiftReference | None = None,
    inner_traces: Sequence[InnerLoopTrace] | None = None,
    thresholds: Thresholds | None = None,
    shot_episodes: int = 50,
    seed: int = 0,
) -> list[Verdict]:
    """Compute every signal whose inputs are given and judge it; the others are "n/a".

    Args:
        predict: The method's predictor.
        test_episodes: Held-out episodes (at least 2), the same ones for every signal.
        before: Pre-adaptation predictor (MAML); default: shuffled support labels.
        baseline: Transfer-baseline predictor, for the baseline margin.
        train_episodes: Episodes of meta-training classes, for the overfitting gap.
        shot_data: Held-out classes `(C, E, *x_shape)`, `E >= 15`, for the shot curve.
        embed: Feature extractor, for the task shift (with `shift_reference`).
        shift_reference: From `fit_task_shift`.
        inner_traces: From `inner_loop_trace`, one per task (MAML).
        thresholds: Verdict thresholds; default `Thresholds()`.
        shot_episodes: Episodes per K of the shot curve.
        seed: Seed of the label shuffles and of the shot-curve episodes.

    Returns:
        Seven verdicts in a fixed order.
    """
    th = thresholds if thresholds is not None else Thresholds()
    n_way = int(test_episodes[0][1].max()) + 1
    test_episodes = [tuple(ep) for ep in test_episodes]  # the same tensor objects on every pass
    predict = _memoize(predict)

    def missing(signal: str, hint: str) -> Verdict:
        return Verdict(signal, "n/a", "-", hint)

    out = [
        judge_gain(adaptation_gain(predict, test_episodes, before=before, seed=seed), th),
        judge_margin(baseline_margin(predict, baseline, test_episodes), th)
        if baseline is not None
        else missing("baseline margin", "needs a baseline predictor"),
        judge_gap(meta_overfitting_gap(predict, train_episodes, test_episodes), th)
        if train_episodes is not None
        else missing("meta-overfitting gap", "needs episodes of training classes"),
        judge_curve(
            shot_curve(predict, shot_data, n_way=n_way, num_episodes=shot_episodes, seed=seed), th
        )
        if shot_data is not None
        else missing("shot curve", "needs held-out class data"),
        judge_shift(task_shift(shift_reference, embed, test_episodes), th)
        if embed is not None and shift_reference is not None
        else missing("task shift", "needs an embedding and a reference"),
        judge_calibration(calibration(predict, test_episodes), th),
        judge_inner_loop(inner_loop_health(inner_traces), th)
        if inner_traces
        else missing("inner loop", "MAML only"),
    ]
    return out


def format_report(title: str, verdicts: Sequence[Verdict]) -> str:
    """Lay verdicts out as a one-screen table with a summary line."""
    rule = "-" * 100
    lines = [title, rule, f"{'signal':<21}{'value':<56}{'verdict':<8}note", rule]
    for v in verdicts:
        lines.append(f"{v.signal:<21}{v.value:<56}{v.status:<8}{v.note}")
    counts = {s: sum(v.status == s for v in verdicts) for s in ("OK", "WARN", "FAIL", "n/a")}
    lines += [rule, "summary: " + ", ".join(f"{n} {s}" for s, n in counts.items())]
    return "\n".join(lines)


def health_report(
    predict: Predict,
    test_episodes: Sequence[EpisodeLike],
    *,
    title: str = "Health report",
    before: Predict | None = None,
    baseline: Predict | None = None,
    train_episodes: Sequence[EpisodeLike] | None = None,
    shot_data: Tensor | None = None,
    embed: Embed | None = None,
    shift_reference: TaskShiftReference | None = None,
    inner_traces: Sequence[InnerLoopTrace] | None = None,
    thresholds: Thresholds | None = None,
    shot_episodes: int = 50,
    seed: int = 0,
) -> str:
    """One-screen report: `collect_verdicts` laid out by `format_report`.

    Args:
        predict: The method's predictor.
        test_episodes: Held-out episodes.
        title: First line.
        before: See `collect_verdicts`.
        baseline: See `collect_verdicts`.
        train_episodes: See `collect_verdicts`.
        shot_data: See `collect_verdicts`.
        embed: See `collect_verdicts`.
        shift_reference: See `collect_verdicts`.
        inner_traces: See `collect_verdicts`.
        thresholds: See `collect_verdicts`.
        shot_episodes: See `collect_verdicts`.
        seed: See `collect_verdicts`.

    Returns:
        The report: title, one line per signal, a summary line.
    """
    verdicts = collect_verdicts(
        predict,
        test_episodes,
        before=before,
        baseline=baseline,
        train_episodes=train_episodes,
        shot_data=shot_data,
        embed=embed,
        shift_reference=shift_reference,
        inner_traces=inner_traces,
        thresholds=thresholds,
        shot_episodes=shot_episodes,
        seed=seed,
    )
    return format_report(title, verdicts)


# --8<-- [end:health-report]


# --8<-- [start:checkpoint-report]
def method_features(method: str, model: nn.Module, cfg: object) -> Embed | None:
    """The frozen feature extractor of a checkpoint's model, for the task-shift score.

    Baseline: `model.embed`; ProtoNets: the embedding; fast weights: the encoder; MAML (image
    tasks): every layer but the final linear one. None for anything else.
    """
    if method == "baseline":
        return cast(Embed, model.embed)
    if method == "protonet":
        return lambda x: protonet.embed(model, x, cfg)  # type: ignore[arg-type]
    if method == "fast_weights":
        return cast(Embed, model.encoder)
    if (
        method == "maml"
        and isinstance(model, nn.Sequential)
        and getattr(cfg, "backbone", "") == "conv4"
    ):
        return model[:-1]
    return None


def model_report(
    method: str,
    model: nn.Module,
    cfg: object,
    *,
    train_data: Tensor,
    test_data: Tensor,
    val_data: Tensor | None = None,
    baseline: Predict | None = None,
    episodes: int = 100,
    n_way: int = 5,
    k_shot: int = 1,
    n_query: int = 15,
    prototype_classes: int = 400,
    calibration_tasks: int = 200,
    shot_episodes: int = 50,
    seed: int = 0,
    title: str = "Health report",
) -> str:
    """Health report of a model of a registered method on class tensors `(C, E, *x_shape)`.

    Test episodes come from `test_data`; the overfitting gap uses episodes of `train_data`; the
    task-shift score is calibrated on `val_data` (held-out training classes when None), with
    prototypes of `prototype_classes` random training classes (all of them would cost a forward
    pass over every training image) and `calibration_tasks` tasks; the shot curve uses
    `shot_episodes` episodes per K; for MAML the "before" predictor is the meta-initialisation
    and the inner loop is traced on the first 20 test episodes.

    Raises:
        ValueError: If `episodes < 2` or the episode shape does not fit the data.
    """
    if episodes < 2:
        raise ValueError(f"episodes must be >= 2, got {episodes}")
    predict = methods.get(method).make_predict(model, cfg)
    test_episodes = list(fixed_episodes(test_data, n_way, k_shot, n_query, episodes, seed))
    train_episodes = list(fixed_episodes(train_data, n_way, k_shot, n_query, episodes, seed))
    embed = method_features(method, model, cfg)
    reference = None
    if embed is not None:
        pick = torch.randperm(train_data.shape[0], generator=torch.Generator().manual_seed(seed))
        reference = fit_task_shift(
            embed,
            train_data[pick[:prototype_classes]],
            val_data,
            n_way=n_way,
            k_shot=k_shot,
            num_tasks=calibration_tasks,
        )
    before, traces = None, None
    if method == "maml":
        before = maml.make_predict(model, dataclasses.replace(cfg, test_inner_steps=0))  # type: ignore[type-var,arg-type]
        traces = maml_inner_loop_traces(model, cfg, test_episodes[:20])  # type: ignore[arg-type]
    return health_report(
        predict,
        test_episodes,
        title=title,
        before=before,
        baseline=baseline,
        train_episodes=train_episodes,
        shot_data=test_data,
        embed=embed,
        shift_reference=reference,
        inner_traces=traces,
        shot_episodes=shot_episodes,
        seed=seed,
    )


def checkpoint_report(
    path: str | Path,
    *,
    baseline: str | Path | None = None,
    episodes: int = 100,
    part: str = "test",
    split: str | None = None,
    n_way: int = 5,
    k_shot: int = 1,
    n_query: int = 15,
    seed: int = 0,
    root: str | Path | None = None,
) -> str:
    """`model_report` of a saved checkpoint on Omniglot: train, val and `part` of its split.

    Args:
        path: Checkpoint written by `reference_impl.checkpoints.save_checkpoint`.
        baseline: Optional transfer-baseline checkpoint, for the baseline margin.
        episodes: Test episodes (and episodes of training classes).
        part: Split part to test on.
        split: Omniglot split; default the checkpoint's.
        n_way: N.
        k_shot: K.
        n_query: Q.
        seed: Seed of the episodes.
        root: Omniglot root; default `reference_impl.omniglot.default_root()`.

    Returns:
        The report.

    Raises:
        FileNotFoundError: If a checkpoint or the data is missing.
        ValueError: If a checkpoint is invalid or the arguments do not fit the data.
    """
    if episodes < 2:
        raise ValueError(f"episodes must be >= 2, got {episodes}")
    metadata = checkpoints.load_checkpoint(path).metadata
    model, cfg = checkpoints.load_model(path)
    baseline_predict = checkpoints.load_predictor(baseline) if baseline is not None else None
    split = split if split is not None else metadata["split"]
    return model_report(
        metadata["method"],
        model,
        cfg,
        train_data=omniglot.load_omniglot(root, split=split, part="train"),
        val_data=omniglot.load_omniglot(root, split=split, part="val"),
        test_data=omniglot.load_omniglot(root, split=split, part=part),
        baseline=baseline_predict,
        episodes=episodes,
        n_way=n_way,
        k_shot=k_shot,
        n_query=n_query,
        seed=seed,
        title=(
            f"Health report · {metadata['method']} · {Path(path).name} · split {split}, "
            f"part {part} · {episodes} episodes {n_way}-way {k_shot}-shot"
        ),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m reference_impl.signals CHECKPOINT [...]`: print `checkpoint_report`.

    Returns:
        0 on success, 2 on bad input (one line on stderr, no traceback).
    """
    parser = argparse.ArgumentParser(
        prog="python -m reference_impl.signals",
        description="Print the one-screen health report of a trained checkpoint.",
    )
    parser.add_argument("checkpoint", type=Path, help="weights file of a saved checkpoint")
    parser.add_argument("--baseline", type=Path, help="transfer-baseline checkpoint (margin)")
    parser.add_argument("--episodes", type=int, default=100, help="test episodes (default 100)")
    parser.add_argument("--part", default="test", help="split part to test on (default test)")
    parser.add_argument("--split", help="Omniglot split (default: the checkpoint's)")
    parser.add_argument("--n-way", type=int, default=5)
    parser.add_argument("--k-shot", type=int, default=1)
    parser.add_argument("--n-query", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", type=Path, help="Omniglot root (default: the data layer's)")
    args = parser.parse_args(argv)
    try:
        report = checkpoint_report(
            args.checkpoint,
            baseline=args.baseline,
            episodes=args.episodes,
            part=args.part,
            split=args.split,
            n_way=args.n_way,
            k_shot=args.k_shot,
            n_query=args.n_query,
            seed=args.seed,
            root=args.root,
        )
    except (FileNotFoundError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
# --8<-- [end:checkpoint-report]
