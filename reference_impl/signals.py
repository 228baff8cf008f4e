r"""Deployment signals: is meta-learning helping on *your* tasks, and where does it fail?

A library of measurements, each a plain function of a predictor
`predict(support_x, support_y, query_x) -> logits` (the shared signature of every method) and
episodes `(support_x, support_y, query_x, query_y)` from `reference_impl.episodes`, or of the
parameters or features a method exposes. Each returns a frozen dataclass of plain numbers, and
`Thresholds` says where each one becomes worth worrying about. Verdicts, the one-screen health
report and its command line are an application on top: `benchmarks/health.py`.

| Signal | Function | `Thresholds` field |
|---|---|---|
| adaptation gain | `adaptation_gain` | `max_share_hurt` |
| baseline margin | `baseline_margin` (`paired_difference`) | `margin_min` |
| order sensitivity, re-batching consistency | `order_sensitivity`, `rebatching_consistency` | `order_flip_warn`, `rebatch_flip_warn` |
| meta-overfitting gap | `meta_overfitting_gap` | `gap_warn`, `gap_fail` |
| shot curve | `shot_curve` | `saturated` |
| task shift | `fit_task_shift`, `task_shift` | `flagged_warn`, `flagged_fail` |
| calibration | `calibration` | `ece_warn`, `ece_fail` |
| inner-loop health | `inner_loop_trace`, `inner_loop_health` | `max_share_hurt` |
| adaptation distance, per-layer change | `adaptation_distance`, `layer_change` | `distance_flagged_warn`, `layer_ratio_warn` |
| embedding drift, feature similarity | `embedding_drift` (`linear_cka`) | `drift_cka_warn`, `cka_drop_warn` |
| support-set statistics | `support_statistics` | `suspect_excess_warn`, `duplicate_warn` |

A `ci95` is the half-width $1.96\, s / \sqrt{n}$ of `evaluation.confidence_interval95`
(population std over $n$ episodes): uncertainty over sampled tasks for one trained model.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from reference_impl.episodes import sample_indices, sample_nested
from reference_impl.evaluation import Predict, confidence_interval95

Embed = Callable[[Tensor], Tensor]
"""`embed(x (B, *x_shape)) -> features (B, D)`, a frozen feature extractor."""
Params = dict[str, Tensor]
EpisodeLike = Sequence[Tensor]
"""`(support_x, support_y, query_x, query_y)`, e.g. `reference_impl.episodes.Episode`."""


# --8<-- [start:thresholds]
@dataclass(frozen=True)
class Thresholds:
    """Where each signal becomes worth worrying about: rules of thumb, set them to your risk budget."""

    max_share_hurt: float = 0.2
    """Adaptation gain, inner loop: worry above this share of tasks made worse by adaptation."""
    margin_min: float = 0.0
    """Baseline margin: worry when the paired interval's lower end is at or below this."""
    order_flip_warn: float = 0.01
    """Order sensitivity: worry above this share of query predictions changed by a permutation."""
    rebatch_flip_warn: float = 0.01
    """Re-batching consistency: worry above this share of predictions changed by re-batching."""
    gap_warn: float = 0.05
    """Meta-overfitting gap: worry above this train-minus-test accuracy."""
    gap_fail: float = 0.15
    """Meta-overfitting gap: memorised training classes above this."""
    saturated: float = 0.98
    """Shot curve: a flat curve is a worry only while accuracy at the smallest K is below this."""
    flagged_warn: float = 0.10
    """Task shift: worry above this share of flagged tasks (0.05 expected in distribution)."""
    flagged_fail: float = 0.25
    """Task shift: tasks from an unseen domain above this."""
    ece_warn: float = 0.05
    """Calibration: worry above this ECE."""
    ece_fail: float = 0.10
    """Calibration: do not gate on confidence above this ECE."""
    distance_flagged_warn: float = 0.10
    """Adaptation distance: worry above this share of tasks past the in-domain 95th percentile."""
    layer_ratio_warn: float = 1.5
    """Per-layer change: worry when a layer moves this many times as far as on in-domain tasks."""
    drift_cka_warn: float = 0.9
    """Embedding drift: worry when the CKA between two versions' features falls below this."""
    cka_drop_warn: float = 0.1
    """Feature similarity across adaptation: worry when CKA falls this far below in-domain."""
    suspect_excess_warn: float = 0.02
    """Support statistics: worry when the share of suspect labels exceeds in-domain by this."""
    duplicate_warn: float = 0.0
    """Support statistics: worry above this share of episodes holding a repeated input."""


# --8<-- [end:thresholds]


# --8<-- [start:helpers]
def _check_episodes(episodes: Sequence[EpisodeLike], minimum: int = 1) -> None:
    if len(episodes) < minimum:
        raise ValueError(f"need at least {minimum} episodes, got {len(episodes)}")
    for i, episode in enumerate(episodes):
        if len(episode) != 4:
            raise ValueError(f"episode {i}: expected (support_x, support_y, query_x, query_y)")
        support_x, support_y, query_x, query_y = episode
        for name, x, y in (("support", support_x, support_y), ("query", query_x, query_y)):
            n = "N*K" if name == "support" else "N*Q"
            if y.dim() != 1 or x.shape[0] != y.shape[0]:
                raise ValueError(
                    f"episode {i}: expected {name}_x ({n}, ...) and {name}_y ({n},), "
                    f"got {tuple(x.shape)} and {tuple(y.shape)}"
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
    """Logits of one episode's queries, shape `(N*Q, N)`, detached, float64.

    Raises:
        ValueError: If `predict` does not return shape `(N*Q, N)`.
    """
    support_x, support_y, query_x, _ = episode
    logits = predict(support_x, support_y, query_x)
    expected = (query_x.shape[0], int(support_y.max()) + 1)
    if logits.shape != expected:
        raise ValueError(
            f"predict must return logits (N*Q, N) = {expected}, got {tuple(logits.shape)}"
        )
    return logits.detach().double()


def per_episode_scores(
    predict: Predict, episodes: Sequence[EpisodeLike]
) -> tuple[list[float], list[float]]:
    """Query accuracy in [0, 1] and mean query cross-entropy (nats) of every episode."""
    _check_episodes(episodes)
    accs, losses = [], []
    for episode in episodes:
        logits = query_logits(predict, episode)
        query_y = episode[3].to(logits.device)
        accs.append(float((logits.argmax(-1) == query_y).double().mean()))
        losses.append(float(F.cross_entropy(logits, query_y)))
    return accs, losses


# --8<-- [end:helpers]


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
    r"""Paired comparison of two scores on the *same* episodes.

    $$\bar d = \frac{1}{n}\sum_i (a_i - b_i), \qquad
    \text{CI}_{95} = \bar d \pm 1.96\,\frac{s_d}{\sqrt n}$$

    Raises:
        ValueError: If the lengths differ or fewer than 2 pairs are given.
    """
    if len(a) != len(b):
        raise ValueError(f"expected a and b of equal length, got {len(a)} and {len(b)}")
    mean, ci95 = mean_ci95([x - y for x, y in zip(a, b, strict=True)])
    better = sum(x > y for x, y in zip(a, b, strict=True)) / len(a)
    return PairedDifference(
        mean, ci95, mean - ci95, mean + ci95, sum(a) / len(a), sum(b) / len(b), better, len(a)
    )


def baseline_margin(
    predict: Predict, baseline: Predict, episodes: Sequence[EpisodeLike]
) -> PairedDifference:
    """Method minus transfer-baseline accuracy on the same episodes; worry if `low <= margin_min`."""
    _check_episodes(episodes, minimum=2)
    return paired_difference(
        per_episode_scores(predict, episodes)[0], per_episode_scores(baseline, episodes)[0]
    )


# --8<-- [end:baseline-margin]


# --8<-- [start:adaptation-gain]
@dataclass(frozen=True)
class AdaptationGain:
    """Accuracy after adaptation minus before, per episode."""

    mean: float
    """Mean accuracy gain over episodes."""
    ci95: float
    """95% half-width of `mean`."""
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
    """`predict` with its support labels shuffled by a seeded permutation on every call.

    The support inputs and class counts stay, what the labels say goes: a method that uses its
    support set falls to about chance, one that ignores it does not move.
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

    Worry when `mean - ci95 <= 0` (the support set is not used) or `share_hurt >
    Thresholds.max_share_hurt`.

    Args:
        predict: The adapted predictor.
        episodes: At least 2 episodes.
        before: Reference predictor, e.g. MAML with zero inner steps; default
            `shuffled_support(predict, seed)`.
        seed: Seed of the shuffles when `before` is None.
    """
    _check_episodes(episodes, minimum=2)
    reference = before if before is not None else shuffled_support(predict, seed)
    acc_after, loss_after = per_episode_scores(predict, episodes)
    acc_before, loss_before = per_episode_scores(reference, episodes)
    gains = [a - b for a, b in zip(acc_after, acc_before, strict=True)]
    mean, ci95 = mean_ci95(gains)
    g, n = torch.tensor(gains, dtype=torch.float64), len(gains)
    return AdaptationGain(
        mean, ci95, float(g.quantile(0.1)), float((g < 0).double().mean()),
        (sum(loss_before) - sum(loss_after)) / n, sum(acc_before) / n, sum(acc_after) / n, gains,
    )  # fmt: skip


# --8<-- [end:adaptation-gain]


# --8<-- [start:prediction-change]
@dataclass(frozen=True)
class PredictionChange:
    """How a predictor's answers move when the same episodes are presented differently."""

    share_changed: float
    """Fraction of all query predictions (argmax) that differ between the two presentations."""
    accuracy: PairedDifference
    """Per-episode accuracy of the changed presentation minus the original, paired."""


def prediction_change(
    predict: Predict, changed: Predict, episodes: Sequence[EpisodeLike]
) -> PredictionChange:
    """Compare `predict` with `changed` (the same model, presented differently) query by query."""
    _check_episodes(episodes, minimum=2)
    flips, total, acc_a, acc_b = 0, 0, [], []
    for episode in episodes:
        query_y = episode[3].cpu()
        a, b = (query_logits(p, episode).argmax(-1).cpu() for p in (predict, changed))
        flips, total = flips + int((a != b).sum()), total + a.numel()
        acc_a.append(float((a == query_y).double().mean()))
        acc_b.append(float((b == query_y).double().mean()))
    return PredictionChange(flips / total, paired_difference(acc_b, acc_a))


def order_sensitivity(
    predict: Predict, episodes: Sequence[EpisodeLike], *, seed: int = 0
) -> PredictionChange:
    r"""Share of query predictions that change when each support set is permuted.

    $$\text{flip} = \frac{1}{\sum_e |Q_e|}\sum_e \sum_{q \in Q_e}
      \mathbb{1}\big[\hat y(q \mid S_e) \ne \hat y(q \mid \pi_e S_e)\big]$$

    with $\pi_e$ a seeded permutation of the (input, label) pairs. A set function (prototypes,
    a summed support loss) gives 0 up to floating-point ties, a sequential reader (fast weights,
    in-context learning) need not. Worry above `Thresholds.order_flip_warn`.
    """
    generator = torch.Generator().manual_seed(seed)

    def permuted(support_x: Tensor, support_y: Tensor, query_x: Tensor) -> Tensor:
        perm = torch.randperm(support_y.shape[0], generator=generator).to(support_y.device)
        return predict(support_x[perm], support_y[perm], query_x)

    return prediction_change(predict, permuted, episodes)


def rebatching_consistency(
    predict: Predict, episodes: Sequence[EpisodeLike], *, chunk: int = 1
) -> PredictionChange:
    """Share of query predictions that change when the queries arrive `chunk` at a time.

    Each episode is scored with all queries in one call and again in consecutive chunks (1: each
    request alone). Queries scored independently give 0; batch-statistics BatchNorm does not.
    Worry above `Thresholds.rebatch_flip_warn`.

    Raises:
        ValueError: If `chunk < 1`.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")

    def rebatched(support_x: Tensor, support_y: Tensor, query_x: Tensor) -> Tensor:
        return torch.cat([predict(support_x, support_y, q) for q in query_x.split(chunk)])

    return prediction_change(predict, rebatched, episodes)


# --8<-- [end:prediction-change]


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
    predict: Predict, train_episodes: Sequence[EpisodeLike], test_episodes: Sequence[EpisodeLike]
) -> OverfittingGap:
    """Gap between meta-training and held-out classes, same N, K and Q.

    Worry above `Thresholds.gap_warn`, above all if it grows over training; above
    `Thresholds.gap_fail` the model memorises its training classes.
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
    """Accuracy at K = 1, 2, 5, 10 on held-out classes `data` `(C, E, *x_shape)`, paired across K.

    The episodes are `episodes.sample_nested` draws: the same classes and queries at every K.

    Worry when the curve is flat (`gain - gain_ci95 <= 0`) while accuracy at the smallest K is
    below `Thresholds.saturated`: extra support examples are not used. Omniglot has 20 examples
    per class, so with K up to 10 keep `n_query <= 10`.
    """
    generator = torch.Generator(device=data.device).manual_seed(seed)
    nested = sample_nested(data, n_way, shots, n_query, num_episodes, generator)
    per_k = {k: per_episode_scores(predict, [ep[k] for ep in nested])[0] for k in shots}
    stats = [mean_ci95(per_k[k]) for k in shots]
    gain = paired_difference(per_k[shots[-1]], per_k[shots[0]])
    means = tuple(m for m, _ in stats)
    monotone = all(b >= a for a, b in itertools.pairwise(means))
    return ShotCurve(
        tuple(shots), means, tuple(c for _, c in stats), gain.mean, gain.ci95, monotone
    )


# --8<-- [end:shot-curve]


# --8<-- [start:task-shift]
METRICS = ("euclidean", "cosine")


@dataclass(frozen=True)
class TaskShiftReference:
    """What "in distribution" looks like: training-class prototypes and calibration scores."""

    prototypes: Tensor
    """Mean features of the meta-training classes, shape `(C, D)`."""
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

    with $d$ the Euclidean distance or the cosine distance $1 - \cos$.

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
    """Mean feature of every class of `data` `(C, E, *x_shape)`, as prototypes `(C, D)`.

    Inputs are embedded in support-set-shaped batches (`n_way` classes, `k_shot` examples each;
    the last `E mod k_shot` examples unused), so batch-statistics BatchNorm sees test-time batches.
    """
    used = data.shape[1] - data.shape[1] % k_shot
    sums: list[Tensor] = []
    with torch.no_grad():
        for first in range(0, data.shape[0], n_way):
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

    The calibration scores `num_tasks` N-way K-shot support sets of `calibration_data`, drawn
    with `episodes.sample_indices`: pass validation classes of the training domain. Without
    it, a random `holdout_fraction` of the training classes calibrates instead; the embedding was
    trained on those, so the calibration is then conservative (fewer flags).

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
    classes, examples = (
        t.to(calibration_data.device)
        for t in sample_indices(c, e, n_way, k_shot, 0, num_tasks, generator)
    )  # (M, N), (M, N, K)
    support = calibration_data[classes[..., None], examples]  # (M, N, K, *x_shape)
    scores = sorted(raw_shift_score(embed, prototypes, s.flatten(0, 1), metric) for s in support)
    calibration = torch.tensor(scores, dtype=torch.float64)
    return TaskShiftReference(
        prototypes, calibration, float(calibration.mean()), float(calibration.std()), metric
    )


def task_shift(
    reference: TaskShiftReference, embed: Embed, episodes: Sequence[EpisodeLike]
) -> TaskShift:
    """Score each episode's support set against the training domain; no labels needed.

    Worry when `share_flagged > Thresholds.flagged_warn` (0.05 is the false-alarm rate built
    into the 95th-percentile cut): tasks from a domain the model was not trained on.
    """
    _check_episodes(episodes)
    cut = float(torch.quantile(reference.calibration, 0.95))
    raw = [raw_shift_score(embed, reference.prototypes, ep[0], reference.metric) for ep in episodes]
    z = [(r - reference.mean) / max(reference.std, 1e-12) for r in raw]
    return TaskShift(sum(z) / len(z), sum(r > cut for r in raw) / len(raw), sum(raw) / len(raw), z)


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
    bins = (torch.ceil(conf * n_bins).long() - 1).clamp(0, n_bins - 1)  # (n,)
    gap = torch.bincount(bins, weights=correct.detach().double() - conf, minlength=n_bins)
    counts = torch.bincount(bins, minlength=n_bins)
    return float(gap.abs().sum() / conf.numel()), [int(c) for c in counts]


def calibration(
    predict: Predict, episodes: Sequence[EpisodeLike], *, n_bins: int = 15
) -> Calibration:
    """ECE of all query predictions of `episodes` pooled, 15 equal-width bins by default.

    Worry above `Thresholds.ece_warn` if you gate automation on confidence; above
    `Thresholds.ece_fail` a confidence cut lets through far more errors than it promises.
    """
    _check_episodes(episodes)
    confs, hits = [], []
    for episode in episodes:
        conf, pred = torch.softmax(query_logits(predict, episode), dim=-1).max(dim=-1)
        confs.append(conf)
        hits.append(pred == episode[3].to(pred.device))
    confidence, correct = torch.cat(confs), torch.cat(hits)
    ece, counts = expected_calibration_error(confidence, correct, n_bins)
    return Calibration(
        ece, float(correct.double().mean()), float(confidence.mean()), n_bins, counts
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

    The step is the method's own (for MAML: `maml.adapt` with one step), so no second copy of
    the inner loop exists. Stops at the first non-finite value; `params` is not modified.

    Args:
        support_loss: Support-set loss of a parameter dict, a scalar.
        step: One inner update, `params -> adapted_params`.
        params: Starting parameters (the meta-initialisation).
        steps: Number of steps to trace.
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
        squares = (float(g.detach().double().pow(2).sum()) for g in grads if g is not None)
        grad_norms.append(math.sqrt(sum(squares)))
        if not math.isfinite(grad_norms[-1]):
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

    Worry at any non-finite value, at a support loss that rises on some tasks (on more than
    `Thresholds.max_share_hurt` of them the inner learning rate is too large), or at a mean loss
    that does not fall (inner learning rate near 0, vanishing gradients).

    Raises:
        ValueError: If `traces` is empty.
    """
    if not traces:
        raise ValueError("need at least 1 trace")
    finite = [t for t in traces if t.first_nonfinite_step is None]
    steps = min((len(t.losses) for t in finite), default=0)
    norms = [g for t in traces for g in t.grad_norms if math.isfinite(g)]
    return InnerLoopHealth(
        [sum(t.losses[i] for t in finite) / len(finite) for i in range(steps)],
        max(norms, default=math.nan),
        sum(t.losses[-1] > t.losses[0] for t in finite) / len(traces),
        (len(traces) - len(finite)) / len(traces),
        len(traces),
    )


# --8<-- [end:inner-loop-health]


# --8<-- [start:parameter-change]
def _squared_changes(params: Params, adapted_params: Sequence[Params]) -> list[dict[str, float]]:
    if not adapted_params:
        raise ValueError("need at least 1 adapted parameter dict")
    if any(a.keys() != params.keys() for a in adapted_params):
        raise ValueError(f"every adapted parameter dict must have the keys {sorted(params)}")
    return [
        {n: float((a[n].detach() - p.detach()).double().pow(2).sum()) for n, p in params.items()}
        for a in adapted_params
    ]


@dataclass(frozen=True)
class AdaptationDistance:
    r"""How far adaptation moves the parameters, $\lVert\theta'_t - \theta_0\rVert_2$ per task."""

    mean: float
    """Mean distance over tasks."""
    share_above_reference: float
    """Share of tasks past the reference distances' 95th percentile (NaN without reference)."""
    per_episode: list[float] = field(repr=False)
    """The distance of every task."""


def adaptation_distance(
    params: Params, adapted_params: Sequence[Params], reference: Sequence[float] | None = None
) -> AdaptationDistance:
    r"""Distance of each task's adapted parameters from the meta-learned start.

    $$d_t = \lVert\theta'_t - \theta_0\rVert_2 = \Big(\sum_l \lVert\theta'_{t,l} - \theta_{0,l}\rVert_2^2\Big)^{1/2}$$

    Tasks far from what the start encodes need a long walk. Pass `reference` = the distances of
    in-domain held-out tasks; worry when `share_above_reference` exceeds
    `Thresholds.distance_flagged_warn` (0.05 expected in distribution).

    Args:
        params: Meta-parameters $\theta_0$.
        adapted_params: One dict $\theta'_t$ per task, with the keys and shapes of `params`.
        reference: In-domain distances, e.g. another call's `per_episode`.

    Raises:
        ValueError: If no adapted dict is given or the keys differ.
    """
    dist = [math.sqrt(math.fsum(c.values())) for c in _squared_changes(params, adapted_params)]
    share = math.nan
    if reference is not None:
        cut = float(torch.quantile(torch.tensor(reference, dtype=torch.float64), 0.95))
        share = sum(d > cut for d in dist) / len(dist)
    return AdaptationDistance(math.fsum(dist) / len(dist), share, dist)


@dataclass(frozen=True)
class LayerChange:
    """How far adaptation moves each parameter tensor."""

    change: dict[str, float]
    r"""Mean over tasks of $\lVert\theta'_{t,l} - \theta_{0,l}\rVert_2$."""
    relative: dict[str, float]
    r"""`change` over $\lVert\theta_{0,l}\rVert_2$ (NaN for an all-zero tensor)."""
    ratio: dict[str, float]
    """`change` over the reference's (NaN without a reference; 1 where neither moves)."""
    max_ratio: float
    """Largest `ratio` (NaN without a reference)."""


def layer_change(
    params: Params, adapted_params: Sequence[Params], reference: LayerChange | None = None
) -> LayerChange:
    r"""Which layers adaptation moves, and whether new tasks move them more than in-domain ones.

    $$c_l = \frac{1}{T}\sum_t \lVert\theta'_{t,l} - \theta_{0,l}\rVert_2, \qquad
      \rho_l = c_l / c_l^{\text{ref}}$$

    Pass `reference` = the `layer_change` of in-domain held-out tasks; worry when `max_ratio`
    exceeds `Thresholds.layer_ratio_warn`.

    Raises:
        ValueError: If no adapted dict is given or the keys differ.
    """
    changes = _squared_changes(params, adapted_params)
    change = {n: math.fsum(math.sqrt(c[n]) for c in changes) / len(changes) for n in params}
    norms = {n: float(p.detach().double().norm()) for n, p in params.items()}
    relative = {n: change[n] / norms[n] if norms[n] > 0 else math.nan for n in params}
    if reference is None:
        return LayerChange(change, relative, {n: math.nan for n in params}, math.nan)
    ref = reference.change
    ratio = {
        n: c / ref[n] if ref[n] > 0 else (1.0 if c == 0 else math.inf) for n, c in change.items()
    }
    return LayerChange(change, relative, ratio, max(ratio.values()))


# --8<-- [end:parameter-change]


# --8<-- [start:embedding-drift]
def linear_cka(a: Tensor, b: Tensor) -> float:
    r"""Linear centred kernel alignment of two feature sets of the same inputs.

    $$\mathrm{CKA}(A, B) = \frac{\lVert B_c^\top A_c\rVert_F^2}{\lVert A_c^\top A_c\rVert_F\,\lVert B_c^\top B_c\rVert_F}$$

    with $A_c, B_c$ the column-centred features (Kornblith et al. 2019, arXiv:1905.00414): 1 when
    $B$ is a rotation or scaling of $A$, the squared correlation for one-dimensional features.

    Args:
        a: Features, shape `(n, D1)`.
        b: Features of the same `n` inputs, shape `(n, D2)`.

    Raises:
        ValueError: If the shapes do not match `(n, D1)`, `(n, D2)` with `n >= 2`, or a feature
            set is constant.
    """
    if a.dim() != 2 or b.dim() != 2 or a.shape[0] != b.shape[0] or a.shape[0] < 2:
        raise ValueError(
            f"expected a (n, D1) and b (n, D2), n >= 2, got {tuple(a.shape)}, {tuple(b.shape)}"
        )
    a, b = a.detach().double(), b.detach().double()
    a, b = a - a.mean(0), b - b.mean(0)
    denom = float((a.T @ a).norm() * (b.T @ b).norm())
    if denom == 0:
        raise ValueError("CKA is undefined for constant features")
    return float((b.T @ a).pow(2).sum()) / denom


@dataclass(frozen=True)
class EmbeddingDrift:
    """How two embeddings of the same probe inputs differ."""

    cka: float
    """Linear CKA of the two feature sets (1: the same geometry up to rotation and scale)."""
    relative_change: float
    r"""$\sum_i\lVert f_1(x_i) - f_0(x_i)\rVert / \sum_i \lVert f_0(x_i)\rVert$; NaN if widths differ."""


def embedding_drift(old: Embed, new: Embed, probe_x: Tensor) -> EmbeddingDrift:
    """Compare two feature extractors on fixed probe inputs `(B, *x_shape)`, `B >= 2`.

    `old` and `new` are two versions of a model, or its features before and after adapting to a
    task. Worry between versions when `cka < Thresholds.drift_cka_warn` (cached prototypes,
    indices and task-shift calibrations are stale); across adaptation when the mean CKA on new
    tasks falls more than `Thresholds.cka_drop_warn` below its value on in-domain tasks.
    """
    with torch.no_grad():
        a, b = old(probe_x).flatten(1).double(), new(probe_x).flatten(1).double()
    change = math.nan
    if a.shape == b.shape:
        change = float((b - a).norm(dim=1).sum() / a.norm(dim=1).sum().clamp_min(1e-300))
    return EmbeddingDrift(linear_cka(a, b), change)


# --8<-- [end:embedding-drift]


# --8<-- [start:support-statistics]
@dataclass(frozen=True)
class SupportStatistics:
    """Data-quality statistics of the support sets of a list of episodes."""

    share_imbalanced: float
    """Share of episodes whose classes have different numbers of shots."""
    share_duplicated: float
    """Share of episodes in which some input appears twice (support and query pooled)."""
    share_suspect: float
    """Share of checked support examples that look mislabelled; NaN if no class has 2 shots."""
    suspects: list[tuple[int, int]] = field(repr=False)
    """`(episode, support index)` of every suspect example."""


def support_statistics(
    episodes: Sequence[EpisodeLike], embed: Embed | None = None
) -> SupportStatistics:
    r"""Shots per class, repeated inputs, and support examples that look mislabelled.

    Example $i$ of a class with at least 2 shots is a suspect when it lies nearer another class's
    mean feature than the mean of its own class without it:
    $\lVert f(x_i) - \mu_{y_i}^{-i}\rVert > \min_{c \ne y_i} \lVert f(x_i) - \mu_c\rVert$.
    Classes overlap, so clean support sets have suspects too: worry when `share_suspect` exceeds
    its value on in-domain held-out episodes by more than `Thresholds.suspect_excess_warn`, or
    when `share_duplicated > Thresholds.duplicate_warn`.

    Args:
        episodes: Episodes; queries are only checked for repeats.
        embed: Features for the suspect test; default: the inputs, flattened.
    """
    _check_episodes(episodes)
    imbalanced = duplicated = checked = 0
    suspects: list[tuple[int, int]] = []
    for e, (support_x, support_y, query_x, _) in enumerate(episodes):
        counts = torch.bincount(support_y)
        imbalanced += int(counts.min() != counts.max())
        pooled = torch.cat([support_x, query_x]).flatten(1)
        duplicated += int(torch.unique(pooled, dim=0).shape[0] < pooled.shape[0])
        with torch.no_grad():
            z = (embed(support_x) if embed is not None else support_x.flatten(1)).double()
        sums = z.new_zeros(counts.shape[0], z.shape[1]).index_add_(0, support_y, z)  # (N, D)
        k = counts.to(z)[:, None]  # (N, 1)
        for i in (i for i in range(z.shape[0]) if counts[support_y[i]] >= 2):
            own = int(support_y[i])
            dist = (z[i] - sums / k.clamp_min(1)).norm(dim=1)  # (N,) to every class mean
            dist[own] = (z[i] - (sums[own] - z[i]) / (k[own] - 1)).norm()  # own mean without i
            checked += 1
            if bool((dist[torch.arange(len(dist)) != own] < dist[own]).any()):
                suspects.append((e, i))
    n = len(episodes)
    share = len(suspects) / checked if checked else math.nan
    return SupportStatistics(imbalanced / n, duplicated / n, share, suspects)


# --8<-- [end:support-statistics]
