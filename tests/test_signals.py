"""Tests of the deployment signals (`reference_impl/signals.py`) on cases with known answers."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from reference_impl import maml
from reference_impl.episodes import sample_indices, sample_nested
from reference_impl.signals import (
    Thresholds,
    adaptation_distance,
    adaptation_gain,
    baseline_margin,
    calibration,
    class_prototypes,
    embedding_drift,
    expected_calibration_error,
    fit_task_shift,
    inner_loop_health,
    inner_loop_trace,
    layer_change,
    linear_cka,
    meta_overfitting_gap,
    order_sensitivity,
    paired_difference,
    per_episode_scores,
    raw_shift_score,
    rebatching_consistency,
    shot_curve,
    support_statistics,
    task_shift,
)

Tensor = torch.Tensor


# ----------------------------------------------------------------------------- fixtures
def clusters(
    num_classes: int, examples: int, dim: int, noise: float, seed: int, active: slice = slice(None)
) -> Tensor:
    """Gaussian classes `(C, E, dim)`; class centres live only in the `active` coordinates."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.zeros(num_classes, dim, dtype=torch.float64)
    centres[:, active] = torch.randn(num_classes, dim, generator=g, dtype=torch.float64)[:, active]
    return centres[:, None] + noise * torch.randn(
        num_classes, examples, dim, generator=g, dtype=torch.float64
    )


def episodes_from(
    data: Tensor, n_way: int, k_shot: int, n_query: int, count: int, seed: int
) -> list:
    generator = torch.Generator().manual_seed(seed)
    return [ep[k_shot] for ep in sample_nested(data, n_way, (k_shot,), n_query, count, generator)]


def nearest_mean(support_x: Tensor, support_y: Tensor, query_x: Tensor) -> Tensor:
    """Uses its support set: negative squared distance to each class mean."""
    n = int(support_y.max()) + 1
    means = torch.stack([support_x[support_y == k].mean(0) for k in range(n)])
    return -(torch.cdist(query_x, means) ** 2)


def ignores_support(support_x: Tensor, support_y: Tensor, query_x: Tensor) -> Tensor:
    """A fixed classifier: reads only N from the support set, never its content."""
    n = int(support_y.max()) + 1
    weight = torch.linspace(-1, 1, query_x.shape[1] * n, dtype=query_x.dtype).reshape(-1, n)
    return query_x @ weight


def coded_episode(
    labels: list[int], predicted: list[int], n_way: int, probs: list[float] | None = None
):
    """Episode whose query_x row i is (predicted_i, p_i): `coded_predict` answers predicted_i."""
    probs = probs if probs is not None else [1.0] * len(labels)
    query_x = torch.tensor(
        [[float(c), p] for c, p in zip(predicted, probs, strict=True)], dtype=torch.float64
    )
    support_y = torch.arange(n_way)
    return (torch.zeros(n_way, 2, dtype=torch.float64), support_y, query_x, torch.tensor(labels))


def coded_predict(support_x: Tensor, support_y: Tensor, query_x: Tensor) -> Tensor:
    """Puts probability p on the coded class and spreads 1 - p evenly over the others."""
    n = int(support_y.max()) + 1
    cls, p = query_x[:, 0].long(), query_x[:, 1]
    probs = ((1 - p) / (n - 1))[:, None].expand(-1, n).clone()
    probs[torch.arange(len(cls)), cls] = p
    return probs.clamp_min(1e-300).log()


# ----------------------------------------------------------------------------- adaptation gain
def test_adaptation_gain_is_exactly_zero_for_support_ignoring_predictor() -> None:
    eps = episodes_from(clusters(20, 20, 6, 0.5, 0), 5, 2, 5, 30, seed=1)
    gain = adaptation_gain(ignores_support, eps)
    assert gain.mean == 0.0 and gain.share_hurt == 0.0 and gain.loss_drop == 0.0
    assert gain.per_episode == [0.0] * 30


def test_adaptation_gain_positive_for_support_using_predictor() -> None:
    """Well-separated clusters: nearest-mean is near 1; with shuffled labels it falls to ~1/N.

    Cluster seeds 0-5 all gave after 1.000, before 0.180 (the fixed points of the seed-0 label
    shuffles, since every query is then right) and gain minus CI 0.754."""
    eps = episodes_from(clusters(20, 20, 6, 0.1, 0), 5, 1, 5, 40, seed=1)
    gain = adaptation_gain(nearest_mean, eps)
    assert gain.after_accuracy > 0.95
    assert gain.before_accuracy < 0.45
    assert gain.mean - gain.ci95 > 0.4


def test_adaptation_gain_with_explicit_before_matches_closed_form() -> None:
    """After: always right with p = 0.9; before: uniform logits (accuracy 1/N by argmax tie -> class 0)."""
    n = 4
    labels = [0, 1, 2, 3, 1, 2]
    eps = [coded_episode(labels, labels, n, [0.9] * 6), coded_episode(labels, labels, n, [0.9] * 6)]

    def uniform(support_x: Tensor, support_y: Tensor, query_x: Tensor) -> Tensor:
        return query_x.new_zeros(query_x.shape[0], n)

    gain = adaptation_gain(coded_predict, eps, before=uniform)
    assert gain.after_accuracy == 1.0 and gain.before_accuracy == pytest.approx(1 / 6, abs=1e-15)
    assert gain.mean == pytest.approx(5 / 6, abs=1e-15) and gain.ci95 == 0.0
    assert gain.loss_drop == pytest.approx(math.log(4) - (-math.log(0.9)), rel=1e-12)


# ----------------------------------------------------------------------------- baseline margin
def test_paired_difference_equals_hand_computation() -> None:
    a = [0.8, 0.6, 1.0, 0.4, 0.7]
    b = [0.6, 0.6, 0.8, 0.5, 0.3]
    d = [0.2, 0.0, 0.2, -0.1, 0.4]
    mean = sum(d) / 5  # 0.14
    s = math.sqrt(sum((x - mean) ** 2 for x in d) / 5)  # population std, as EvalResult.ci95
    result = paired_difference(a, b)
    assert result.mean == pytest.approx(0.14, rel=1e-12)
    assert result.ci95 == pytest.approx(1.96 * s / math.sqrt(5), rel=1e-12)
    assert result.low == pytest.approx(mean - 1.96 * s / math.sqrt(5), rel=1e-12)
    assert result.share_a_better == 0.6 and result.n == 5


def test_baseline_margin_pairs_per_episode_accuracies() -> None:
    """Method right on 3/4, 4/4, 2/4 queries; baseline on 2/4, 2/4, 2/4 -> d = 1/4, 1/2, 0."""
    labels = [0, 1, 2, 3]
    method = [
        coded_episode(labels, [0, 1, 2, 0], 4),
        coded_episode(labels, labels, 4),
        coded_episode(labels, [0, 1, 3, 0], 4),
    ]

    # Same episodes for the baseline: a predictor that is right on the first two queries only.
    def baseline(support_x: Tensor, support_y: Tensor, query_x: Tensor) -> Tensor:
        cls = torch.tensor([0, 1, 3, 0])  # right, right, wrong, wrong
        return F.one_hot(cls, 4).double()

    margin = baseline_margin(coded_predict, baseline, method)
    expected = paired_difference([0.75, 1.0, 0.5], [0.5, 0.5, 0.5])
    assert margin == expected


# ----------------------------------------------------------------------------- overfitting gap
def test_meta_overfitting_gap_known_accuracies() -> None:
    labels = [0, 1, 2, 3]
    train_eps = [coded_episode(labels, labels, 4), coded_episode(labels, [0, 1, 2, 0], 4)]
    test_eps = [coded_episode(labels, [0, 0, 0, 0], 4), coded_episode(labels, [0, 1, 0, 0], 4)]
    gap = meta_overfitting_gap(coded_predict, train_eps, test_eps)
    assert gap.train_accuracy == 0.875 and gap.test_accuracy == 0.375 and gap.gap == 0.5
    c = 1.96 * 0.125 / math.sqrt(2)  # population std 0.125 on both sides
    assert gap.ci95 == pytest.approx(math.sqrt(2) * c, rel=1e-12)


# ----------------------------------------------------------------------------- shot curve
def test_shot_curve_flat_for_support_ignoring_predictor() -> None:
    curve = shot_curve(ignores_support, clusters(20, 20, 6, 0.5, 0), num_episodes=20)
    assert len(set(curve.accuracy)) == 1 and curve.gain == 0.0 and curve.gain_ci95 == 0.0


def test_shot_curve_rises_for_nearest_mean_on_noisy_clusters() -> None:
    """Noise 1.0 around unit-variance centres in 6-D: 1-shot ~0.6, 10-shot ~0.9 (seed 0)."""
    curve = shot_curve(nearest_mean, clusters(30, 20, 6, 1.0, 0), num_episodes=40)
    assert curve.shots == (1, 2, 5, 10) and curve.monotone
    assert curve.gain - curve.gain_ci95 > 0.1


def test_sample_nested_support_sets_are_nested_with_shared_queries() -> None:
    data = clusters(8, 20, 3, 1.0, 0)
    (episode,) = sample_nested(data, 3, (1, 2, 5), 4, 1, torch.Generator().manual_seed(0))
    assert torch.equal(episode[1][2], episode[5][2])
    s5 = episode[5][0].reshape(3, 5, 3)
    assert torch.equal(episode[2][0].reshape(3, 2, 3), s5[:, :2])
    assert torch.equal(episode[5][1], torch.arange(3).repeat_interleave(5))
    pooled = torch.cat([episode[5][0], episode[5][2]])  # support and query never share an example
    assert torch.unique(pooled, dim=0).shape[0] == pooled.shape[0]


def test_sample_nested_rejects_bad_arguments() -> None:
    data, g = clusters(8, 12, 3, 1.0, 0), torch.Generator()
    with pytest.raises(ValueError, match=r"k_shot \+ n_query = 10 \+ 5 = 15 exceeds"):
        sample_nested(data, 3, (1, 10), 5, 1, g)
    with pytest.raises(ValueError, match="strictly increasing"):
        sample_nested(data, 3, (5, 1), 2, 1, g)
    with pytest.raises(ValueError, match="n_way=9 exceeds the 8 classes"):
        sample_nested(data, 9, (1,), 2, 1, g)


# ----------------------------------------------------------------------------- task shift
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_raw_shift_score_matches_explicit_loop_float64(metric: str) -> None:
    g = torch.Generator().manual_seed(0)
    protos = torch.randn(7, 5, generator=g, dtype=torch.float64)
    support = torch.randn(6, 5, generator=g, dtype=torch.float64)
    total = 0.0
    for x in support:
        if metric == "cosine":
            total += min(1 - float(torch.dot(x, p) / (x.norm() * p.norm())) for p in protos)
        else:
            total += min(math.sqrt(sum(float(x[i] - p[i]) ** 2 for i in range(5))) for p in protos)
    score = raw_shift_score(lambda x: x, protos, support, metric)
    assert score == pytest.approx(total / 6, rel=1e-10)


def test_class_prototypes_equal_class_means_for_batch_independent_embedding() -> None:
    data = clusters(7, 6, 4, 1.0, 0)
    protos = class_prototypes(lambda x: 2 * x, data, n_way=3, k_shot=2)
    torch.testing.assert_close(protos, 2 * data.mean(1), rtol=1e-12, atol=1e-12)


def test_task_shift_scores_shifted_domain_higher_than_unshifted() -> None:
    """Training domain: class centres in coordinates 0-3 of 8. Unshifted test: new classes, same
    coordinates. Shifted test: centres in coordinates 4-7. Identity embedding, Euclidean score.

    Seeds 0-5 tried (400 training classes, 200 test classes): unshifted |mean_z| <= 0.63 and
    0.00-0.17 of tasks flagged (nominal 0.05); shifted: every task flagged, mean_z >= 6.1.
    Thresholds: unshifted |mean_z| < 1 and share < 0.3; shifted share > 0.9 and mean_z at least
    5 above unshifted.
    """
    embed = lambda x: x  # noqa: E731
    train = clusters(400, 10, 8, 0.3, 0, active=slice(0, 4))
    reference = fit_task_shift(embed, train, n_way=5, k_shot=1, num_tasks=200, seed=0)
    same = episodes_from(clusters(200, 10, 8, 0.3, 100, active=slice(0, 4)), 5, 1, 2, 100, seed=2)
    moved = episodes_from(clusters(200, 10, 8, 0.3, 100, active=slice(4, 8)), 5, 1, 2, 100, seed=2)
    in_domain, shifted = task_shift(reference, embed, same), task_shift(reference, embed, moved)
    assert abs(in_domain.mean_z) < 1.0 and in_domain.share_flagged < 0.3
    assert shifted.share_flagged > 0.9 and shifted.mean_z > in_domain.mean_z + 5


def test_fit_task_shift_uses_given_calibration_classes() -> None:
    """With calibration_data, all training classes become prototypes and the calibration scores
    are exactly the raw scores of the support sets `episodes.sample_indices` draws from it."""
    embed = lambda x: x  # noqa: E731
    train, val = clusters(12, 4, 3, 1.0, 0), clusters(6, 4, 3, 1.0, 1)
    reference = fit_task_shift(embed, train, val, n_way=3, k_shot=2, num_tasks=5, seed=0)
    torch.testing.assert_close(reference.prototypes, train.mean(1), rtol=1e-12, atol=1e-12)
    assert reference.calibration.shape == (5,) and reference.metric == "euclidean"
    classes, examples = sample_indices(6, 4, 3, 2, 0, 5, torch.Generator().manual_seed(0))
    expected = sorted(
        raw_shift_score(embed, train.mean(1), val[c[:, None], e].flatten(0, 1))
        for c, e in zip(classes, examples, strict=True)
    )
    assert reference.calibration.tolist() == pytest.approx(expected, rel=1e-12)


def test_fit_task_shift_rejects_too_few_classes() -> None:
    with pytest.raises(ValueError, match="classes for prototypes and for calibration"):
        fit_task_shift(lambda x: x, clusters(6, 4, 3, 1.0, 0), n_way=5)
    with pytest.raises(ValueError, match="metric must be one of"):
        fit_task_shift(lambda x: x, clusters(60, 4, 3, 1.0, 0), metric="manhattan")


# ----------------------------------------------------------------------------- calibration
def test_ece_exactly_zero_for_perfectly_calibrated_predictor() -> None:
    """Confidence 0.9 right 9/10 times, 0.7 right 7/10, 0.75 right 3/4: ECE = 0 up to rounding."""
    labels = [1] * 24
    predicted = [1] * 9 + [0] + [1] * 7 + [0] * 3 + [1] * 3 + [0]
    probs = [0.9] * 10 + [0.7] * 10 + [0.75] * 4
    result = calibration(coded_predict, [coded_episode(labels, predicted, 2, probs)])
    assert result.ece < 1e-12
    assert result.accuracy == pytest.approx(19 / 24) and result.n_bins == 15


def test_ece_within_sampling_tolerance_when_labels_drawn_from_confidences() -> None:
    """20,000 predictions, correct with probability = confidence ~ U(0.5, 1). Sampling noise alone
    gives ECE ~ 0.006 (about 8 occupied bins of ~2,500, each |acc - conf| ~ N(0, 0.008));
    tolerance 0.02 is three times that."""
    g = torch.Generator().manual_seed(0)
    conf = 0.5 + 0.5 * torch.rand(20_000, generator=g, dtype=torch.float64)
    correct = torch.rand(20_000, generator=g, dtype=torch.float64) < conf
    ece, counts = expected_calibration_error(conf, correct, n_bins=15)
    assert ece < 0.02 and sum(counts) == 20_000


def test_ece_of_overconfident_predictor_is_confidence_minus_accuracy() -> None:
    conf = torch.ones(10, dtype=torch.float64)
    correct = torch.tensor([1, 1, 1, 0, 1, 0, 1, 0, 1, 0])
    assert expected_calibration_error(conf, correct)[0] == pytest.approx(0.4, abs=1e-15)


def test_ece_matches_explicit_bin_loop() -> None:
    g = torch.Generator().manual_seed(1)
    conf = torch.rand(500, generator=g, dtype=torch.float64)
    correct = torch.rand(500, generator=g, dtype=torch.float64) < 0.6
    m = 10
    total = 0.0
    for b in range(m):
        lo, hi = b / m, (b + 1) / m
        members = [i for i in range(500) if (lo < conf[i] <= hi) or (b == 0 and conf[i] == 0)]
        if members:
            acc = sum(float(correct[i]) for i in members) / len(members)
            avg = sum(float(conf[i]) for i in members) / len(members)
            total += len(members) / 500 * abs(acc - avg)
    assert expected_calibration_error(conf, correct, n_bins=m)[0] == pytest.approx(total, rel=1e-10)


def test_ece_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"confidence \(n,\) and correct \(n,\)"):
        expected_calibration_error(torch.ones(3), torch.ones(4))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        expected_calibration_error(torch.tensor([1.5]), torch.tensor([1]))


# ----------------------------------------------------------------------------- inner loop
def quadratic(p: dict[str, Tensor]) -> Tensor:
    return 0.5 * sum((v**2).sum() for v in p.values())


def sgd(lr: float):
    return lambda p: {k: v - lr * v for k, v in p.items()}  # gradient of `quadratic` is p


def test_inner_loop_trace_matches_closed_form_on_quadratic() -> None:
    """L = |p|^2 / 2 and p <- (1 - a) p: L_t = (1 - a)^(2t) L_0, |grad_t| = |1 - a|^t |p_0|."""
    p0 = {
        "w": torch.tensor([3.0, 4.0], dtype=torch.float64),
        "b": torch.tensor([12.0], dtype=torch.float64),
    }
    trace = inner_loop_trace(quadratic, sgd(0.25), p0, steps=3)
    assert trace.first_nonfinite_step is None
    for t in range(4):
        assert trace.losses[t] == pytest.approx(0.75 ** (2 * t) * 84.5, rel=1e-12)
    for t in range(3):
        assert trace.grad_norms[t] == pytest.approx(0.75**t * 13.0, rel=1e-12)
    assert torch.equal(p0["w"], torch.tensor([3.0, 4.0], dtype=torch.float64))


def test_inner_loop_health_flags_divergence_and_nonfinite() -> None:
    p0 = {"w": torch.tensor([1.0, -2.0], dtype=torch.float64)}
    good = inner_loop_trace(quadratic, sgd(0.5), p0, steps=2)
    diverging = inner_loop_trace(quadratic, sgd(2.5), p0, steps=2)  # |1 - 2.5| = 1.5 > 1

    def explode(p: dict[str, Tensor]) -> dict[str, Tensor]:
        return {k: v * 1e200 for k, v in p.items()}

    broken = inner_loop_trace(quadratic, explode, p0, steps=3)
    assert broken.first_nonfinite_step == 1  # parameters ~1e200 are finite, their squares are not
    health = inner_loop_health([good, diverging, broken])
    assert health.share_nonfinite == pytest.approx(1 / 3)
    assert health.share_loss_increased == pytest.approx(1 / 3)
    assert health.mean_losses[0] == pytest.approx(2.5) and health.n == 3
    assert inner_loop_health([good]).mean_losses == pytest.approx([2.5, 0.625, 0.15625], rel=1e-12)


# ----------------------------------------------------------------------------- bad input
def test_signals_reject_malformed_episodes_and_logits() -> None:
    eps = episodes_from(clusters(10, 10, 3, 1.0, 0), 3, 1, 2, 2, seed=0)
    bad = [(eps[0][0], eps[0][1][:-1], eps[0][2], eps[0][3])]
    with pytest.raises(ValueError, match=r"support_y \(N\*K,\)"):
        per_episode_scores(nearest_mean, bad)
    with pytest.raises(ValueError, match=r"logits \(N\*Q, N\)"):
        per_episode_scores(lambda sx, sy, qx: qx[:, :2], eps)
    with pytest.raises(ValueError, match="at least 2 episodes"):
        adaptation_gain(nearest_mean, eps[:1])
    with pytest.raises(ValueError, match="equal length"):
        paired_difference([0.1, 0.2], [0.3])


# ----------------------------------------------------------------------------- order / re-batching
def first_label(support_x: Tensor, support_y: Tensor, query_x: Tensor) -> Tensor:
    """Order-dependent on purpose: answers the label of the first support example, always."""
    n = int(support_y.max()) + 1
    return F.one_hot(support_y[0].expand(query_x.shape[0]), n).double()


def test_order_sensitivity_zero_for_set_function_and_replayed_for_first_label() -> None:
    """Nearest-mean is a function of the support *set*: nothing changes. `first_label` changes
    all of an episode's answers exactly when the permutation moves another class to the front;
    replaying the seeded permutations gives the share. Its accuracy is 1/N either way (balanced
    queries), so the paired accuracy difference is exactly 0."""
    eps = episodes_from(clusters(20, 20, 6, 0.5, 0), 5, 2, 3, 40, seed=1)
    stable = order_sensitivity(nearest_mean, eps)
    assert stable.share_changed == 0.0 and stable.accuracy.mean == 0.0
    assert stable.share_changed <= Thresholds().order_flip_warn
    g = torch.Generator().manual_seed(0)
    moved = [int(ep[1][torch.randperm(10, generator=g)[0]] != ep[1][0]) for ep in eps]
    flipped = order_sensitivity(first_label, eps, seed=0)
    assert flipped.share_changed == pytest.approx(sum(moved) / 40, abs=1e-15)
    assert flipped.accuracy.mean == 0.0 and flipped.accuracy.a_mean == pytest.approx(0.2)
    assert flipped.share_changed > Thresholds().order_flip_warn  # 4 in 5 expected


def centred_nearest_mean(support_x: Tensor, support_y: Tensor, query_x: Tensor) -> Tensor:
    """Transductive on purpose: centres the queries on their own batch mean (like batch-statistics
    BatchNorm). One query alone becomes the origin."""
    n = int(support_y.max()) + 1
    means = torch.stack([support_x[support_y == k].mean(0) for k in range(n)])
    means = means - support_x.mean(0)
    return -(torch.cdist(query_x - query_x.mean(0), means) ** 2)


def test_rebatching_consistency_zero_for_independent_queries_and_exact_for_transductive() -> None:
    """Scored one at a time, every centred query is the origin, so it gets the class whose
    centred mean is nearest the origin: accuracy exactly 1/N, and the changed share is the share
    of batch answers that differ from that class (computed independently)."""
    eps = episodes_from(clusters(20, 20, 6, 0.3, 0), 5, 2, 4, 30, seed=1)
    assert rebatching_consistency(nearest_mean, eps).share_changed == 0.0
    result = rebatching_consistency(centred_nearest_mean, eps, chunk=1)
    differ = 0
    for sx, sy, qx, _ in eps:
        means = torch.stack([sx[sy == k].mean(0) for k in range(5)]) - sx.mean(0)
        alone = int(means.norm(dim=1).argmin())
        differ += int((centred_nearest_mean(sx, sy, qx).argmax(-1) != alone).sum())
    assert result.share_changed == pytest.approx(differ / (30 * 20), abs=1e-15)
    assert result.accuracy.a_mean == pytest.approx(0.2, abs=1e-15)
    assert result.share_changed > Thresholds().rebatch_flip_warn and result.accuracy.high < 0
    with pytest.raises(ValueError, match="chunk must be >= 1"):
        rebatching_consistency(nearest_mean, eps, chunk=0)


# ----------------------------------------------------------------------------- parameter change
def linear_task(x: Tensor, shift: float, seed: int) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    w = torch.tensor([[1.0, -2.0, 0.5]], dtype=torch.float64)
    return x, x @ w.T + shift + 0.1 * torch.randn(x.shape[0], 1, generator=g, dtype=torch.float64)


def test_adaptation_distance_matches_closed_form_gradient_step() -> None:
    """One step of `maml.adapt` on least squares: theta' - theta = -alpha grad L with
    grad_w = 2/n (Xw + b - y)^T X and grad_b = 2/n sum(Xw + b - y)."""
    cfg = maml.MAMLConfig(backbone="mlp", inner_lr=0.05, inner_steps=1)
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1).double()
    params = {n: p.detach() for n, p in model.named_parameters()}
    g = torch.Generator().manual_seed(0)
    tasks = [
        linear_task(torch.randn(10, 3, generator=g, dtype=torch.float64), 0.0, s) for s in range(4)
    ]
    adapted = [maml.adapt(model, params, x, y, cfg) for x, y in tasks]
    result = adaptation_distance(params, adapted)
    for (x, y), d in zip(tasks, result.per_episode, strict=True):
        r = x @ params["weight"].T + params["bias"] - y  # (n, 1) residuals
        grad_w, grad_b = 2 / 10 * r.T @ x, 2 / 10 * r.sum()
        expected = 0.05 * math.sqrt(float(grad_w.pow(2).sum() + grad_b**2))
        assert d == pytest.approx(expected, rel=1e-10)
    assert math.isnan(result.share_above_reference)


def test_adaptation_distance_flags_tasks_far_from_the_start() -> None:
    """Targets shifted by +10 need a much longer step than in-domain ones: every shifted task
    lies past the in-domain 95th percentile (model and draw seeds 0-5 tried: all 1.0, the nearest
    shifted task at least 1.6 times the in-domain 95th percentile)."""
    cfg = maml.MAMLConfig(backbone="mlp", inner_lr=0.05, inner_steps=1)
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1).double()
    params = {n: p.detach() for n, p in model.named_parameters()}
    g = torch.Generator().manual_seed(0)

    def distances(shift: float, count: int) -> list:
        tasks = [
            linear_task(torch.randn(10, 3, generator=g, dtype=torch.float64), shift, s)
            for s in range(count)
        ]
        return [maml.adapt(model, params, x, y, cfg) for x, y in tasks]

    reference = adaptation_distance(params, distances(0.0, 40)).per_episode
    far = adaptation_distance(params, distances(10.0, 20), reference)
    assert far.share_above_reference == 1.0 > Thresholds().distance_flagged_warn
    assert sorted(reference)[38] < min(far.per_episode)


def test_layer_change_relative_change_and_ratio_closed_form() -> None:
    """|0.1 * 1_4| / |1_4| = 0.1 and |0.3 * 1_4| / |1_4| = 0.3: the mean over two tasks is 0.2;
    against a reference that moved `a` by 0.1, its ratio is exactly 2 (over the 1.5 threshold)."""
    params = {"a": torch.ones(4, dtype=torch.float64), "b": 2 * torch.ones(2, dtype=torch.float64)}
    tasks = [
        {"a": params["a"] + 0.1, "b": params["b"]},
        {"a": params["a"] - 0.3, "b": params["b"] * 1.5},
    ]
    reference = layer_change(params, [{"a": params["a"] + 0.1, "b": params["b"] * 1.5}])
    change = layer_change(params, tasks, reference)
    assert change.relative["a"] == pytest.approx(0.2, rel=1e-12)
    assert change.relative["b"] == pytest.approx(0.25, rel=1e-12)  # (0 + 0.5) / 2
    assert change.ratio["a"] == pytest.approx(2.0, rel=1e-12)
    assert change.ratio["b"] == pytest.approx(0.5, rel=1e-12)
    assert (
        change.max_ratio == pytest.approx(2.0) and change.max_ratio > Thresholds().layer_ratio_warn
    )
    assert layer_change(params, tasks, change).max_ratio == pytest.approx(1.0, rel=1e-12)
    zero = layer_change(
        {"z": torch.zeros(3), "c": torch.ones(1)}, [{"z": torch.ones(3), "c": torch.ones(1)}]
    )
    assert math.isnan(zero.relative["z"]) and zero.change["z"] == pytest.approx(math.sqrt(3))
    again = layer_change(
        {"z": torch.zeros(3), "c": torch.ones(1)}, [{"z": torch.ones(3), "c": torch.ones(1)}], zero
    )
    assert again.ratio == {"z": 1.0, "c": 1.0}  # c moves in neither
    with pytest.raises(ValueError, match="keys"):
        layer_change(params, [{"a": params["a"]}])


# ----------------------------------------------------------------------------- CKA / drift
def test_linear_cka_invariances_and_one_dimensional_closed_form() -> None:
    """CKA(X, sXQ) = 1 for an orthogonal Q and a scale s; in one dimension it is the squared
    Pearson correlation, computed here by an explicit loop."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 6, generator=g, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=g, dtype=torch.float64))
    assert linear_cka(x, 3.0 * x @ q) == pytest.approx(1.0, rel=1e-12)
    a, b = (
        torch.randn(40, generator=g, dtype=torch.float64),
        torch.randn(40, generator=g, dtype=torch.float64),
    )
    b = 0.5 * a + b
    ma, mb = float(a.mean()), float(b.mean())
    cov = sum((float(u) - ma) * (float(v) - mb) for u, v in zip(a, b, strict=True))
    var_a = sum((float(u) - ma) ** 2 for u in a)
    var_b = sum((float(v) - mb) ** 2 for v in b)
    assert linear_cka(a[:, None], b[:, None]) == pytest.approx(cov**2 / (var_a * var_b), rel=1e-10)
    with pytest.raises(ValueError, match=r"a \(n, D1\) and b \(n, D2\)"):
        linear_cka(x, x[:10])
    with pytest.raises(ValueError, match="constant"):
        linear_cka(torch.ones(5, 2), x[:5])


def test_embedding_drift_same_geometry_and_unrelated_features() -> None:
    """Doubling the features keeps CKA 1 and moves every feature by its own length (relative
    change 1). Features orthogonal after centring (+-1 patterns) have CKA exactly 0 (a trip)."""
    x = torch.tensor([[1.0], [-1.0], [1.0], [-1.0]], dtype=torch.float64)
    doubled = embedding_drift(lambda v: v, lambda v: 2 * v, x)
    assert doubled.cka == pytest.approx(1.0, rel=1e-12)
    assert doubled.relative_change == pytest.approx(1.0, rel=1e-12)
    other = torch.tensor([[1.0], [1.0], [-1.0], [-1.0]], dtype=torch.float64)
    unrelated = embedding_drift(lambda v: v, lambda v: other, x)
    assert unrelated.cka == 0.0 and unrelated.cka < Thresholds().drift_cka_warn
    wider = embedding_drift(lambda v: v, lambda v: torch.cat([v, v], 1), x)
    assert math.isnan(wider.relative_change) and wider.cka == pytest.approx(1.0, rel=1e-12)


# ----------------------------------------------------------------------------- support statistics
def test_support_statistics_find_the_planted_label_error_duplicate_and_imbalance() -> None:
    """Three tight 2-D clusters, 3 shots each: one example of class 0 placed in class 1's cluster
    is the only suspect (1 of 9 checked; 0 without it, so the excess is over the threshold); a query equal to a support
    input and an episode with 2 + 1 shots are counted; 1-shot episodes check no suspect."""
    centres = torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]], dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    sx = centres.repeat_interleave(3, 0) + 0.1 * torch.randn(9, 2, generator=g, dtype=torch.float64)
    sy = torch.arange(3).repeat_interleave(3)
    sx[1] = centres[1] + 0.05
    qx = centres + 0.2
    clean = (sx, sy, qx, torch.arange(3))
    dup = (
        sx[[0, 3, 4, 6, 7]],
        torch.tensor([0, 1, 1, 2, 2]),
        torch.cat([qx[:2], sx[:1]]),
        torch.tensor([0, 1, 0]),
    )
    stats = support_statistics([clean, dup])
    assert stats.suspects == [(0, 1)]
    assert stats.share_suspect == pytest.approx(1 / 13)  # 9 checked + 4 of the 2-shot classes
    reference = support_statistics(
        [(sx[[0, 2, 3, 4, 5, 6, 7, 8]], sy[[0, 2, 3, 4, 5, 6, 7, 8]], qx, torch.arange(3))]
    )
    assert reference.suspects == [] and reference.share_suspect == 0.0
    assert stats.share_suspect - reference.share_suspect > Thresholds().suspect_excess_warn
    assert stats.share_duplicated == 0.5 and stats.share_imbalanced == 0.5
    one_shot = (centres, torch.arange(3), qx, torch.arange(3))
    assert math.isnan(support_statistics([one_shot]).share_suspect)


def test_support_statistics_suspects_match_explicit_leave_one_out_loop() -> None:
    eps = episodes_from(clusters(10, 20, 4, 1.5, 0), 4, 3, 2, 10, seed=5)
    expected = []
    for e, (sx, sy, _, _) in enumerate(eps):
        for i in range(len(sy)):
            own = [j for j in range(len(sy)) if sy[j] == sy[i] and j != i]
            d_own = float((sx[i] - sx[own].mean(0)).norm())
            d_other = min(
                float((sx[i] - sx[sy == c].mean(0)).norm()) for c in range(4) if c != sy[i]
            )
            if d_own > d_other:
                expected.append((e, i))
    stats = support_statistics(eps, embed=lambda x: x)
    assert stats.suspects == expected and stats.share_suspect == len(expected) / 120
    assert expected  # noise 1.5 around unit-variance centres leaves some suspects
