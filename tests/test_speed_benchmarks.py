"""The speed benchmarks' provenance helpers, the TF32 check, and the speed page's renderer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from benchmarks import common, tf32_check

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
