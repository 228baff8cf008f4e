"""Tests of the health report application (`benchmarks/health.py`): verdicts, layout, the MAML
inputs, the checkpoint report and its command line."""

from __future__ import annotations

import dataclasses
import io
import json
import math
from pathlib import Path

import pytest
import torch
from test_signals import clusters, episodes_from, ignores_support, nearest_mean
from torch.func import functional_call

from benchmarks import health
from benchmarks.health import ReportInputs
from reference_impl import baseline, checkpoints, maml, methods, signals
from reference_impl.evaluation import evaluate_predictor, fixed_episodes
from reference_impl.signals import Thresholds

Tensor = torch.Tensor
MAML = methods.get("maml")
SIGNALS = [
    "adaptation gain",
    "baseline margin",
    "order sensitivity",
    "re-batching",
    "meta-overfitting gap",
    "shot curve",
    "task shift",
    "calibration",
    "support statistics",
    "inner loop",
    "adaptation distance",
    "per-layer change",
    "feature similarity",
    "embedding drift",
]


def report_inputs(predict=nearest_mean, **more) -> ReportInputs:
    data = clusters(40, 20, 6, 0.6, 0)
    train, test = data[:30], data[30:]
    return ReportInputs(
        predict,
        episodes_from(test, 5, 1, 5, 30, seed=1),
        train_episodes=episodes_from(train, 5, 1, 5, 30, seed=2),
        shot_data=test,
        embed=lambda x: x,
        shift_reference=signals.fit_task_shift(lambda x: x, train, num_tasks=50),
        **more,
    )


def test_health_report_one_line_per_signal_with_expected_verdicts() -> None:
    inputs = report_inputs(baseline=ignores_support, previous_embed=lambda x: 2 * x)
    verdicts = health.collect_verdicts(inputs)
    status = {v.signal: v.status for v in verdicts}
    assert list(status) == SIGNALS
    for signal in ("adaptation gain", "baseline margin", "shot curve", "order sensitivity"):
        assert status[signal] == "OK", signal
    assert status["re-batching"] == "OK" and status["embedding drift"] == "OK"
    assert status["meta-overfitting gap"] == "OK"  # nearest-mean has nothing to memorise
    assert status["calibration"] == "WARN"  # squared distances make over-confident logits
    assert status["inner loop"] == "n/a" and status["adaptation distance"] == "n/a"
    lines = health.health_report(inputs, title="toy").splitlines()
    assert lines[0] == "toy" and lines[-1] == "summary: 9 OK, 1 WARN, 0 FAIL, 4 n/a"
    assert sum(line.startswith(tuple(status)) for line in lines) == len(SIGNALS)


def test_collect_verdicts_fails_support_ignoring_predictor_and_marks_missing_inputs() -> None:
    inputs = report_inputs(ignores_support)
    inputs = dataclasses.replace(inputs, embed=None, shift_reference=None, train_episodes=None)
    status = {v.signal: v.status for v in health.collect_verdicts(inputs)}
    assert status["adaptation gain"] == "FAIL" and status["shot curve"] == "FAIL"
    assert status["baseline margin"] == "n/a" and status["task shift"] == "n/a"
    assert status["meta-overfitting gap"] == "n/a" and status["embedding drift"] == "n/a"


@pytest.mark.parametrize(
    ("ece", "conf", "expected"),
    [(0.04, 0.9, "OK"), (0.07, 0.9, "WARN"), (0.2, 0.95, "FAIL")],
)
def test_judge_calibration_thresholds(ece: float, conf: float, expected: str) -> None:
    verdict = health.judge_calibration(signals.Calibration(ece, 0.75, conf, 15, []), Thresholds())
    assert verdict.status == expected and ("over-confident" in verdict.note) == (expected != "OK")


@pytest.mark.parametrize(
    ("low", "high", "expected"), [(0.01, 0.05, "OK"), (-0.01, 0.03, "WARN"), (-0.05, -0.01, "FAIL")]
)
def test_judge_margin_uses_the_paired_interval(low: float, high: float, expected: str) -> None:
    mid = (low + high) / 2
    margin = signals.PairedDifference(mid, high - mid, low, high, 0.8, 0.8 - mid, 0.5, 100)
    assert health.judge_margin(margin, Thresholds()).status == expected


@pytest.mark.parametrize(
    ("share", "high", "expected"), [(0.0, 0.0, "OK"), (0.02, 0.01, "WARN"), (0.5, -0.1, "FAIL")]
)
def test_judge_change_warns_above_threshold_and_fails_when_accuracy_drops(
    share: float, high: float, expected: str
) -> None:
    accuracy = signals.PairedDifference(high - 0.01, 0.01, high - 0.02, high, 0.5, 0.5, 0.1, 50)
    change = signals.PredictionChange(share, accuracy)
    limit = Thresholds().rebatch_flip_warn
    assert health.judge_change("re-batching", change, limit, "x").status == expected


def test_judge_support_distance_layers_similarity_drift_at_their_thresholds() -> None:
    th = Thresholds()
    support = signals.SupportStatistics(0.0, 0.0, 0.1 + th.suspect_excess_warn + 0.01, [])
    reference = dataclasses.replace(support, share_suspect=0.1)
    assert health.judge_support(support, reference, th).status == "WARN"
    assert health.judge_support(reference, reference, th).status == "OK"
    assert (
        health.judge_support(dataclasses.replace(support, share_suspect=math.nan), None, th).status
        == "OK"
    )
    far = signals.AdaptationDistance(1.0, th.distance_flagged_warn + 0.01, [])
    assert health.judge_distance(far, 0.5, th).status == "WARN"
    ratio = th.layer_ratio_warn + 0.1
    layers = signals.LayerChange({"w": 0.3}, {"w": 0.1}, {"w": ratio}, ratio)
    assert health.judge_layers(layers, th).status == "WARN"
    assert health.judge_similarity(0.7, 0.7 + th.cka_drop_warn + 0.01, th).status == "WARN"
    assert health.judge_similarity(0.7, 0.75, th).status == "OK"
    assert (
        health.judge_drift(signals.EmbeddingDrift(th.drift_cka_warn - 0.01, 0.2), th).status
        == "WARN"
    )


def test_progress_prints_stage_lines_and_counts_predictions() -> None:
    stream = io.StringIO()
    progress = health.Progress(stream, every=0.0)
    health.collect_verdicts(report_inputs(), progress=progress)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("health: signal 1/12 adaptation gain | 0 predictions")
    assert any("signal 8/12 calibration" in line for line in lines)
    assert progress.calls > 30 * 4  # gain twice, order, re-batching (one call per query) ...
    quiet = io.StringIO()
    health.collect_verdicts(report_inputs(), progress=health.Progress(quiet, every=math.inf))
    assert quiet.getvalue() == ""


# ----------------------------------------------------------------------------- MAML inputs
def test_parameter_space_signals_apply_to_the_methods_that_adapt_parameters() -> None:
    adapting = {name for name, row in methods.METHODS.items() if health.adapts_parameters(row)}
    assert adapting == {"maml", "fomaml"}


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
    traces = health.inner_loop_traces(MAML, model, cfg, episodes)
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
    gain = signals.adaptation_gain(after, episodes, before=before)
    assert gain.per_episode == [0.0, 0.0, 0.0] and gain.loss_drop == 0.0
    h = signals.inner_loop_health(health.inner_loop_traces(MAML, model, cfg, episodes))
    assert health.judge_inner_loop(h, Thresholds()).status == "FAIL"
    cfg, model, _ = maml_setup(0.4)
    healthy = signals.inner_loop_health(health.inner_loop_traces(MAML, model, cfg, episodes))
    assert healthy.mean_losses[-1] < healthy.mean_losses[0]


def test_maml_adaptation_features_are_the_body_under_the_given_parameters() -> None:
    """The table's `embed` run under given parameters: at the meta-parameters it is `model[:-1]`,
    under adapted ones the same layers with `maml.adapt`'s parameters."""
    cfg, model, episodes = maml_setup(0.4)
    a = health.parameter_adaptation(MAML, model, cfg)
    sx, sy, qx, _ = episodes[0]
    torch.testing.assert_close(a.features(a.params, qx), model[:-1](qx), rtol=1e-12, atol=1e-12)
    adapted = a.adapt(sx, sy)
    expected = maml.adapt(model, a.params, sx, sy, cfg, steps=cfg.test_inner_steps)
    assert all(torch.equal(adapted[n], expected[n].detach()) for n in expected)
    body = {n: v for n, v in adapted.items() if not n.startswith(str(len(model) - 1))}
    torch.testing.assert_close(a.features(adapted, qx), functional_call(model[:-1], body, (qx,)))


# ----------------------------------------------------------------------------- checkpoint report
def image_classes(count: int, seed: int) -> Tensor:
    return torch.rand(count, 20, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def statuses(report: str) -> dict[str, str]:
    rows = [line for line in report.splitlines() if line.startswith(tuple(SIGNALS))]
    return {line[:24].strip(): line[88:96].strip() for line in rows}


def saved_baseline(tmp_path: Path) -> Path:
    """A tiny untrained transfer-baseline checkpoint (conv4, 8 channels, 12 classes)."""
    bcfg = baseline.BaselineConfig(backbone="conv4", conv_channels=8, num_classes=12)
    return checkpoints.save_checkpoint(
        tmp_path / "b.safetensors",
        baseline.build_model(bcfg),
        "baseline",
        bcfg,
        split="maml",
        seed=0,
    )


def test_model_report_for_saved_baseline_and_maml_models(tmp_path) -> None:
    """Round trip through `reference_impl.checkpoints`; every signal that applies gets a verdict."""
    torch.manual_seed(0)
    path = saved_baseline(tmp_path)
    model, cfg = checkpoints.load_model(path)
    data = {"train_data": image_classes(12, 0), "val_data": image_classes(8, 1)}
    sizes = {"calibration_tasks": 10, "shot_episodes": 3, "n_query": 5}
    test_data = image_classes(10, 2)
    report = health.model_report(
        "baseline", model, cfg, test_data=test_data, episodes=4, **data, **sizes
    )
    lines = report.splitlines()
    assert len(lines) == 6 + len(SIGNALS) and lines[-1].startswith("summary:")
    status = statuses(report)
    assert status["baseline margin"] == "n/a" and status["inner loop"] == "n/a"
    assert all(status[s] in {"OK", "WARN", "FAIL"} for s in ("task shift", "calibration"))
    # The gap row scores the loaded model on the same fixed episodes as an independent evaluation.
    predict = baseline.make_predict(model, cfg)
    scores = [
        evaluate_predictor(predict, fixed_episodes(d, 5, 1, 5, 4, 0)).accuracy
        for d in (data["train_data"], test_data)
    ]
    gap = next(line for line in lines if line.startswith("meta-overfitting gap"))
    assert f"(train {scores[0]:.3f}, test {scores[1]:.3f})" in gap
    mcfg = maml.MAMLConfig(backbone="conv4", conv_channels=8, test_inner_steps=2)
    maml_report = health.model_report(
        "maml", maml.build_model(mcfg), mcfg, test_data=test_data, episodes=3, **data, **sizes
    )
    status = statuses(maml_report)
    for signal in ("inner loop", "adaptation distance", "per-layer change", "feature similarity"):
        assert status[signal] in {"OK", "WARN", "FAIL"}, signal


def test_main_reports_bad_input_in_one_line_without_traceback(tmp_path, capsys) -> None:
    assert health.main([str(tmp_path / "missing.safetensors")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("benchmarks.health: error: ") and "Traceback" not in err
    assert len(err.splitlines()) == 1
    path = saved_baseline(tmp_path)
    out = tmp_path / "report.txt"
    args = [
        str(path),
        "--episodes",
        "1",
        "--data-root",
        str(tmp_path / "nowhere"),
        "--out",
        str(out),
    ]
    assert health.main(args) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1 and not out.exists()


def test_cli_scores_the_published_cells_episodes_and_writes_report_and_command(
    tmp_path, monkeypatch, capsys
) -> None:
    """The command line's wiring: episodes, seed and header from the result file beside the
    checkpoint; `--out` holds the command, a blank line and the report (the report itself is
    `model_report`, tested above, replaced here by a recorder)."""
    from benchmarks import common, train

    bcfg = baseline.BaselineConfig(backbone="conv4", conv_channels=8, num_classes=12)
    path = checkpoints.save_checkpoint(
        tmp_path / "checkpoints" / "b.safetensors", baseline.build_model(bcfg), "baseline", bcfg,
        split="maml", seed=0,
    )  # fmt: skip
    cell = {"n_way": 5, "k_shot": 1, "episodes": 7, "eval_seed": 3, "accuracy": 0.5, "ci95": 0.1}
    (tmp_path / "b.json").write_text(json.dumps(cell))
    monkeypatch.setattr(train, "load_part", lambda args, part, dtype: image_classes(6, 0))
    seen = {}

    def recorder(method, model, cfg, **kwargs):
        seen.update(kwargs, method=method)
        return "REPORT"

    monkeypatch.setattr(health, "model_report", recorder)
    out = tmp_path / "report.txt"
    argv = [str(path), "--out", str(out), "--quiet"]
    assert health.main(argv) == 0
    assert seen["method"] == "baseline" and (seen["episodes"], seen["eval_seed"]) == (7, 3)
    assert seen["header"][0].startswith("published cell: accuracy 0.5000 ± 0.1000 on these 7")
    command = common.command_line("benchmarks.health", argv)
    assert out.read_text() == f"$ {command}\n\nREPORT\n"
    assert capsys.readouterr().out == "REPORT\n"
