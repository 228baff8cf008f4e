"""Tests of the deployment signals (`reference_impl/signals.py`) on cases with known answers."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from reference_impl import baseline, checkpoints, maml
from reference_impl.evaluation import evaluate_predictor, fixed_episodes
from reference_impl.signals import (
    Calibration,
    PairedDifference,
    Thresholds,
    adaptation_gain,
    baseline_margin,
    calibration,
    class_prototypes,
    collect_verdicts,
    expected_calibration_error,
    fit_task_shift,
    health_report,
    inner_loop_health,
    inner_loop_trace,
    judge_calibration,
    judge_inner_loop,
    judge_margin,
    maml_inner_loop_traces,
    meta_overfitting_gap,
    model_report,
    nested_shot_episodes,
    paired_difference,
    per_episode_scores,
    raw_shift_score,
    shot_curve,
    task_shift,
)
from reference_impl.signals import main as signals_main

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
    nested = nested_shot_episodes(
        data, n_way=n_way, shots=(k_shot,), n_query=n_query, num_episodes=count, seed=seed
    )
    return [ep[k_shot] for ep in nested]


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


def test_nested_shot_episodes_are_nested_with_shared_queries() -> None:
    data = clusters(8, 20, 3, 1.0, 0)
    (episode,) = nested_shot_episodes(
        data, n_way=3, shots=(1, 2, 5), n_query=4, num_episodes=1, seed=0
    )
    assert torch.equal(episode[1][2], episode[5][2])
    s5 = episode[5][0].reshape(3, 5, 3)
    assert torch.equal(episode[2][0].reshape(3, 2, 3), s5[:, :2])
    assert torch.equal(episode[5][1], torch.arange(3).repeat_interleave(5))


def test_nested_shot_episodes_rejects_bad_arguments() -> None:
    data = clusters(8, 12, 3, 1.0, 0)
    with pytest.raises(ValueError, match=r"n_query \+ max\(shots\)"):
        nested_shot_episodes(data, n_way=3, shots=(1, 10), n_query=5, num_episodes=1, seed=0)
    with pytest.raises(ValueError, match="strictly increasing"):
        nested_shot_episodes(data, n_way=3, shots=(5, 1), n_query=2, num_episodes=1, seed=0)
    with pytest.raises(ValueError, match=r"\(C, E, \*x_shape\)"):
        nested_shot_episodes(data[0], n_way=3, shots=(1,), n_query=2, num_episodes=1, seed=0)


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
    """With calibration_data, all training classes become prototypes and calibration scores are
    exactly the raw scores of tasks drawn from calibration_data."""
    embed = lambda x: x  # noqa: E731
    train, val = clusters(12, 4, 3, 1.0, 0), clusters(6, 4, 3, 1.0, 1)
    reference = fit_task_shift(embed, train, val, n_way=3, k_shot=2, num_tasks=5, seed=0)
    torch.testing.assert_close(reference.prototypes, train.mean(1), rtol=1e-12, atol=1e-12)
    assert reference.calibration.shape == (5,) and reference.metric == "euclidean"
    g = torch.Generator().manual_seed(0)
    classes = torch.randperm(6, generator=g)[:3]
    examples = torch.stack([torch.randperm(4, generator=g)[:2] for _ in classes])
    first = raw_shift_score(embed, train.mean(1), val[classes[:, None], examples].flatten(0, 1))
    assert any(abs(float(c) - first) < 1e-12 for c in reference.calibration)


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


# ----------------------------------------------------------------------------- health report
def report_inputs() -> dict:
    data = clusters(40, 20, 6, 0.6, 0)
    train, test = data[:30], data[30:]
    p0 = {"w": torch.tensor([1.0, -2.0], dtype=torch.float64)}
    return {
        "test_episodes": episodes_from(test, 5, 1, 5, 30, seed=1),
        "train_episodes": episodes_from(train, 5, 1, 5, 30, seed=2),
        "shot_data": test,
        "embed": lambda x: x,
        "shift_reference": fit_task_shift(lambda x: x, train, num_tasks=50),
        "inner_traces": [inner_loop_trace(quadratic, sgd(0.5), p0, steps=2)],
    }


def test_health_report_one_line_per_signal_with_expected_verdicts() -> None:
    inputs = report_inputs()
    verdicts = collect_verdicts(nearest_mean, baseline=ignores_support, **inputs)
    status = {v.signal: v.status for v in verdicts}
    assert list(status) == [
        "adaptation gain",
        "baseline margin",
        "meta-overfitting gap",
        "shot curve",
        "task shift",
        "calibration",
        "inner loop",
    ]
    assert status["adaptation gain"] == "OK" and status["baseline margin"] == "OK"
    assert status["shot curve"] == "OK" and status["inner loop"] == "OK"
    assert status["meta-overfitting gap"] == "OK"  # nearest-mean has nothing to memorise
    text = health_report(nearest_mean, title="toy", baseline=ignores_support, **inputs)
    lines = text.splitlines()
    assert lines[0] == "toy" and lines[-1].startswith("summary: ")
    assert sum(line.startswith(tuple(status)) for line in lines) == 7


def test_collect_verdicts_fails_support_ignoring_predictor_and_marks_missing_inputs() -> None:
    inputs = report_inputs()
    verdicts = collect_verdicts(
        ignores_support, inputs["test_episodes"], shot_data=inputs["shot_data"]
    )
    status = {v.signal: v.status for v in verdicts}
    assert status["adaptation gain"] == "FAIL" and status["shot curve"] == "FAIL"
    assert status["baseline margin"] == "n/a" and status["inner loop"] == "n/a"


@pytest.mark.parametrize(
    ("ece", "conf", "expected"),
    [(0.04, 0.9, "OK"), (0.07, 0.9, "WARN"), (0.2, 0.95, "FAIL")],
)
def test_judge_calibration_thresholds(ece: float, conf: float, expected: str) -> None:
    verdict = judge_calibration(Calibration(ece, 0.75, conf, 15, []), Thresholds())
    assert verdict.status == expected and ("over-confident" in verdict.note) == (expected != "OK")


@pytest.mark.parametrize(
    ("low", "high", "expected"), [(0.01, 0.05, "OK"), (-0.01, 0.03, "WARN"), (-0.05, -0.01, "FAIL")]
)
def test_judge_margin_uses_the_paired_interval(low: float, high: float, expected: str) -> None:
    mid = (low + high) / 2
    margin = PairedDifference(mid, high - mid, low, high, 0.8, 0.8 - mid, 0.5, 100)
    assert judge_margin(margin, Thresholds()).status == expected


# ----------------------------------------------------------------------------- MAML integration
def maml_setup(inner_lr: float) -> tuple:
    cfg = maml.MAMLConfig(backbone="conv4", conv_channels=8, inner_lr=inner_lr, test_inner_steps=2)
    cfg = dataclasses.replace(cfg, meta_batch_size=3, k_shot=1, n_query=2)
    torch.manual_seed(0)
    model = maml.build_model(cfg).double()
    sx, sy, qx, qy = maml.sample_synthetic_image_batch(cfg, torch.Generator().manual_seed(0))
    episodes = [(sx[t].double(), sy[t], qx[t].double(), qy[t]) for t in range(3)]
    return cfg, model, episodes


def test_maml_inner_loop_traces_match_maml_adapt_float64() -> None:
    cfg, model, episodes = maml_setup(0.4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    traces = maml_inner_loop_traces(model, cfg, episodes)
    params = {n: p.detach() for n, p in model.named_parameters()}
    sx, sy = episodes[1][0], episodes[1][1]
    for t in range(3):
        adapted = maml.adapt(model, params, sx, sy, cfg, steps=t)
        loss = maml.task_loss(functional_call(model, adapted, (sx,)), sy, cfg)
        assert traces[1].losses[t] == pytest.approx(float(loss.detach()), rel=1e-10)
    probe = {n: p.clone().requires_grad_() for n, p in params.items()}
    grads = torch.autograd.grad(
        maml.task_loss(functional_call(model, probe, (sx,)), sy, cfg), list(probe.values())
    )
    norm = math.sqrt(sum(float(g.pow(2).sum()) for g in grads))
    assert traces[1].grad_norms[0] == pytest.approx(norm, rel=1e-10)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_maml_with_zero_inner_lr_has_zero_gain_and_failing_inner_loop() -> None:
    cfg, model, episodes = maml_setup(0.0)
    after = maml.make_predict(model, cfg)
    before = maml.make_predict(model, dataclasses.replace(cfg, test_inner_steps=0))
    gain = adaptation_gain(after, episodes, before=before)
    assert gain.per_episode == [0.0, 0.0, 0.0] and gain.loss_drop == 0.0
    health = inner_loop_health(maml_inner_loop_traces(model, cfg, episodes))
    assert judge_inner_loop(health, Thresholds()).status == "FAIL"
    cfg, model, _ = maml_setup(0.4)
    healthy = inner_loop_health(maml_inner_loop_traces(model, cfg, episodes))
    assert healthy.mean_losses[-1] < healthy.mean_losses[0]


# ----------------------------------------------------------------------------- checkpoint report
def image_classes(count: int, seed: int) -> Tensor:
    return torch.rand(count, 20, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def test_model_report_for_saved_baseline_and_maml_models(tmp_path) -> None:
    """Round trip through `reference_impl.checkpoints`; every signal that applies gets a verdict."""
    bcfg = baseline.BaselineConfig(backbone="conv4", conv_channels=8, num_classes=12)
    torch.manual_seed(0)
    path = checkpoints.save_checkpoint(
        tmp_path / "b.safetensors",
        baseline.build_model(bcfg),
        "baseline",
        bcfg,
        split="maml",
        seed=0,
    )
    model, cfg = checkpoints.load_model(path)
    data = {
        "train_data": image_classes(12, 0),
        "val_data": image_classes(8, 1),
        "calibration_tasks": 10,
        "shot_episodes": 3,
    }
    test_data = image_classes(10, 2)
    report = model_report(
        "baseline", model, cfg, test_data=test_data, episodes=4, n_query=5, **data
    )
    lines = report.splitlines()
    assert len(lines) == 13 and lines[-1].startswith("summary:")
    statuses = {line[:21].strip(): line[77:85].strip() for line in lines[4:11]}
    assert statuses["baseline margin"] == "n/a" and statuses["inner loop"] == "n/a"
    assert all(statuses[s] in {"OK", "WARN", "FAIL"} for s in ("task shift", "calibration"))
    # The gap row scores the loaded model on the same fixed episodes as an independent evaluation.
    predict = baseline.make_predict(model, cfg)
    scores = [
        evaluate_predictor(predict, fixed_episodes(d, 5, 1, 5, 4, 0)).accuracy
        for d in (data["train_data"], test_data)
    ]
    gap = next(line for line in lines if line.startswith("meta-overfitting gap"))
    assert f"(train {scores[0]:.3f}, test {scores[1]:.3f})" in gap
    mcfg = maml.MAMLConfig(backbone="conv4", conv_channels=8, test_inner_steps=2)
    maml_report = model_report(
        "maml", maml.build_model(mcfg), mcfg, test_data=image_classes(10, 2), episodes=3, **data
    )
    inner = next(line for line in maml_report.splitlines() if line.startswith("inner loop"))
    assert inner[77:85].strip() in {"OK", "WARN", "FAIL"}


def test_main_reports_bad_input_in_one_line_without_traceback(tmp_path, capsys) -> None:
    assert signals_main([str(tmp_path / "missing.safetensors")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err and len(err.splitlines()) == 1
    assert signals_main([str(tmp_path / "missing.safetensors"), "--episodes", "1"]) == 2
    assert "episodes must be >= 2" in capsys.readouterr().err
