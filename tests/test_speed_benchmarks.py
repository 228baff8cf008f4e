"""The speed benchmarks' provenance helpers, the TF32 check, and the speed page's renderer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from benchmarks import common, speed, tf32_check

REPO = Path(__file__).resolve().parents[1]


def load_renderer() -> dict:
    namespace: dict = {"__name__": "results_speed"}
    exec((REPO / "docs" / "snippets" / "results_speed.py").read_text(), namespace)
    return namespace


@pytest.mark.parametrize(
    ("before", "after", "shared"),
    [(0.2, 1.0, False), (1.4, 1.5, False), (1.6, 0.9, True), (0.5, 3.0, True)],
)
def test_contention_note_reads_the_load_beyond_the_benchmarks_own_process(
    before: float, after: float, shared: bool
) -> None:
    note = common.contention_note(before, after)
    assert ("other processes shared the cores" in note) is shared
    assert ("otherwise idle" in note) is not shared


def test_cuda_precision_reports_and_follows_the_tf32_switches() -> None:
    before = torch.backends.cudnn.allow_tf32
    try:
        for value in (True, False):
            torch.backends.cudnn.allow_tf32 = value
            assert common.cuda_precision()["cudnn_allow_tf32"] is value
    finally:
        torch.backends.cudnn.allow_tf32 = before


def test_tf32_check_on_cpu_is_float32_rounding_and_the_switch_is_a_no_op(tmp_path: Path) -> None:
    # On a CPU no convolution uses TF32, so both halves must agree to the digit, and every
    # variant's error against the float64 loop is float32 rounding: far below 1e-3 here.
    out = tmp_path / "check.log"
    tf32_check.main(["--device", "cpu", "--meta-batch-size", "2", "--out", str(out)])
    rows = out.read_text().splitlines()
    assert len(rows) == 4
    assert [r.split(" ", 1)[1] for r in rows[:2]] == [r.split(" ", 1)[1] for r in rows[2:]]
    errors = [float(part.split("=")[1]) for r in rows for part in r.split()[2:]]
    assert len(errors) == 12
    assert all(0 < e < 1e-3 for e in errors)
    assert not list(tmp_path.glob("*.tmp"))


def test_tf32_check_without_a_gpu_says_so_instead_of_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as exit_info:
        tf32_check.main(["--device", "cuda"])
    assert exit_info.value.code == 2
    assert "needs a GPU" in capsys.readouterr().err


def test_speed_report_renders_every_committed_file_with_its_device() -> None:
    render = load_renderer()
    files = render["speed_files"](REPO)
    assert files, "no committed speed results"
    text = render["render"](REPO)
    for name, data in files:
        assert f"### `{name}`" in text
        gpu = data.get("machine", {}).get("gpu")
        if gpu:
            assert f"GPU: {gpu}" in text
    if (REPO / "benchmarks/results/maml_tf32_cuda.log").exists():
        assert "cudnn_allow_tf32=False" in text
    for name, report in render["report_files"](REPO):
        assert f"### `{name}`" in text
        for row in report["summary"]:
            assert f"| {row['workload']} | {row['variant']} | {row['median_ms']:.1f} |" in text
    cuda = json.loads((REPO / "benchmarks/results/protonet_speed_cuda.json").read_text())
    for episode, row in cuda["episodes"].items():
        assert f"| {episode} | fast | {row['median_ms']['fast']:.1f} |" in text


def test_tf32_check_rejects_an_empty_meta_batch_with_a_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        tf32_check.main(["--device", "cpu", "--meta-batch-size", "0"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--meta-batch-size must be at least 1, got 0" in err and "Traceback" not in err


@pytest.fixture
def one_thread() -> object:
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_speed_report_times_maml_and_protonet_in_one_process_and_renders_them(
    tmp_path: Path, one_thread: object
) -> None:
    out = tmp_path / "benchmarks" / "results" / "speed_report.json"
    argv = ["--threads", "1", "--maml-rounds", "1", "--maml-meta-batch-size", "2"]
    argv += ["--protonet-rounds", "2", "--episodes", "5w5s15q", "--no-memory", "--out", str(out)]
    assert speed.main(argv) == 0
    report = json.loads(out.read_text())
    assert not list(out.parent.glob("*.tmp"))
    assert report["command"] == "python -m benchmarks.speed " + " ".join(argv)
    assert (
        report["machine"]["torch_threads"] == 1
        and report["maml"]["setting"]["meta_batch_size"] == 2
    )

    # The three MAML variants compute the same meta-gradient: exact to float32 rounding of the
    # same operations, fast up to reordered sums; and float32 alone is far from float64 noise.
    maml = {(r["variant"], r["order"]): r for r in report["maml"]["results"]}
    assert set(maml) == {(v, o) for v in speed.MAML_VARIANTS for o in ("second", "first")}
    for order in ("second", "first"):
        assert maml["loop", order]["max_rel_grad_diff_to_loop"] == 0.0
        assert maml["exact", order]["max_rel_grad_diff_to_loop"] < 1e-5
        assert maml["fast", order]["max_rel_grad_diff_to_loop"] < 1e-4
        assert 0 < maml["loop", order]["max_rel_grad_err_vs_float64"] < 1e-4

    # The summary is the two sections, in milliseconds, with ratios to the plain baseline.
    rows = {(r["workload"], r["variant"]): r for r in report["summary"]}
    assert len(rows) == 6 + 3
    for (variant, order), r in maml.items():
        row = rows[f"MAML 5w1s, meta-batch 2, {order} order", variant]
        assert row["median_ms"] == pytest.approx(1e3 * r["median_s"], abs=0.06)
        assert row["ratio_to_plain"] == r["ratio_to_loop"]
    episode = report["protonet"]["episodes"]["5w5s15q"]
    assert episode["rounds"] == {"plain": 2, "exact": 2, "fast": 2}
    assert episode["ratio_to_plain"]["plain"] == 1.0
    for variant in speed.PROTONET_VARIANTS:
        assert rows["ProtoNet 5w5s15q episode", variant]["median_ms"] == pytest.approx(
            episode["median_ms"][variant], abs=0.06
        )
        # Two rounds: the median of the per-round ratios is their mean, and the slowest round is
        # 2 * median - fastest, so the ratio is bounded by the extreme times of both variants.
        lo, med = episode["min_ms"][variant], episode["median_ms"][variant]
        plain_lo, plain_med = episode["min_ms"]["plain"], episode["median_ms"]["plain"]
        bounds = (lo / (2 * plain_med - plain_lo), (2 * med - lo) / plain_lo)
        assert bounds[0] - 1e-9 <= episode["ratio_to_plain"][variant] <= bounds[1] + 1e-9

    text = load_renderer()["render"](tmp_path)
    assert text.startswith("## One-process comparison")
    assert "### `speed_report.json`" in text and "made by `python -m benchmarks.speed" in text
    for r in report["summary"]:
        assert f"| {r['workload']} | {r['variant']} | {r['median_ms']:.1f} |" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--maml-rounds", "0"], "--maml-rounds: must be >= 1, got 0"),
        (["--maml-meta-batch-size", "-3"], "--maml-meta-batch-size: must be >= 1, got -3"),
        (["--device", "cuda"], "--device cuda needs a GPU"),
    ],
)
def test_speed_report_refuses_bad_input_with_a_message_and_writes_nothing(
    argv: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert speed.main([*argv, "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())
