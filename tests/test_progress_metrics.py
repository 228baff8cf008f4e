"""Long work is never silent and leaves a record: evaluation's progress line and training's
per-update metrics file (`metrics.jsonl`), which stays complete and duplicate-free across
`--stop-after`, SIGKILL and `--resume`.

Runs use `--data synthetic` and a 4-filter Conv-4, as in `test_harness.py`.
"""

from __future__ import annotations

import importlib
import io
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks import common, evaluate, train

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "protonet", "5w1s", "--data", "synthetic", "--conv-channels", "4", "--n-way", "5",
    "--meta-batch-size", "2", "--threads", "1", "--quiet", "--val-episodes", "4",
]  # fmt: skip


def records(run: Path) -> list[dict]:
    """The metrics file's lines, parsed (every line must be JSON)."""
    return [json.loads(line) for line in (run / train.METRICS_FILE).read_text().splitlines()]


def check_complete(lines: list[dict], total: int, val_every: int) -> None:
    """Every update 1..total once, in order, validation exactly where the run validated."""
    assert [r["update"] for r in lines] == list(range(1, total + 1))
    assert all(math.isfinite(r["loss"]) for r in lines)
    seconds = [r["seconds"] for r in lines]
    assert seconds == sorted(seconds) and seconds[0] > 0
    validated = [r["update"] for r in lines if "val_accuracy" in r]
    expected = sorted({*range(val_every, total + 1, val_every), total})
    assert validated == expected
    for r in lines:
        if "val_accuracy" in r:
            assert 0 <= r["val_accuracy"] <= 1 and r["val_ci95"] >= 0 and r["val_episodes"] == 4


def test_metrics_file_lists_every_update_once_across_stop_and_resume(tmp_path: Path) -> None:
    flags = [*TINY, "--episodes", "7", "--checkpoint-every", "2", "--val-every", "3"]
    assert train.main([*flags, "--out", str(tmp_path / "a")]) == 0
    assert train.main([*flags, "--out", str(tmp_path / "b"), "--stop-after", "3"]) == 0
    assert [r["update"] for r in records(tmp_path / "b")] == [1, 2, 3]
    assert train.main([*flags, "--out", str(tmp_path / "b"), "--resume"]) == 0
    straight, resumed = records(tmp_path / "a"), records(tmp_path / "b")
    check_complete(resumed, 7, 3)
    # the resumed run is the same computation: same losses, same validation accuracies
    for key in ("loss", "train_accuracy", "val_accuracy", "val_ci95"):
        assert [r.get(key) for r in resumed] == [r.get(key) for r in straight], key
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert [(v["step"], v["accuracy"]) for v in summary["validation"]] == [
        (r["update"], r["val_accuracy"]) for r in resumed if "val_accuracy" in r
    ]


@pytest.mark.slow
def test_metrics_file_survives_sigkill_and_resume_without_duplicates_or_gaps(
    tmp_path: Path,
) -> None:
    """Kill the run with SIGKILL while the file holds updates past the last checkpoint (and add
    a half-written line, as a kill inside `write` could leave); `--resume` drops both and the
    finished file equals an uninterrupted run's, update for update."""
    total, every, val_every = 100, 7, 25
    flags = [*TINY, "--episodes", str(total), "--val-every", str(val_every)]
    killed = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.train", *flags, "--checkpoint-every", str(every),
         "--out", str(killed)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    metrics = killed / train.METRICS_FILE
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and child.poll() is None:
            if metrics.exists():
                done = metrics.read_text().count("\n")
                if done > every and done % every != 0:  # lines past the last checkpoint
                    break
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
    finally:
        _, stderr = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, stderr.decode()
    before = records(killed)
    _, meta = common.read_tensor_file(killed / train.RESUME_FILE)
    checkpoint = meta["trainer"]["step"]
    assert len(before) > checkpoint, "the kill left lines past the checkpoint"
    with open(metrics, "a") as f:
        f.write('{"update": 99999, "loss": 0.')  # a line cut short
    assert train.main([*flags, "--checkpoint-every", str(every), "--out", str(killed),
                       "--resume"]) == 0  # fmt: skip
    resumed = records(killed)
    check_complete(resumed, total, val_every)
    assert resumed[:checkpoint] == before[:checkpoint], "lines the checkpoint covers are kept"

    straight = tmp_path / "straight"
    assert train.main([*flags, "--checkpoint-every", "1000", "--out", str(straight)]) == 0
    assert [r["loss"] for r in resumed] == [r["loss"] for r in records(straight)]
    assert [r.get("val_accuracy") for r in resumed] == [
        r.get("val_accuracy") for r in records(straight)
    ]


def test_new_run_in_an_old_folder_starts_a_new_metrics_file(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / train.METRICS_FILE).write_text('{"update": 1, "loss": 9.0, "seconds": 1.0}\n' * 5)
    assert train.main([*TINY, "--episodes", "2", "--val-every", "0", "--out", str(run)]) == 0
    lines = records(run)
    assert [r["update"] for r in lines] == [1, 2] and lines[0]["loss"] != 9.0
    assert "val_accuracy" in lines[-1] and "val_accuracy" not in lines[0]


def test_metrics_format_is_documented_where_readers_look() -> None:
    doc = train.__doc__ or ""
    contributing = (REPO / "CONTRIBUTING.md").read_text()
    for key in ("update", "loss", "seconds", "train_accuracy", "val_accuracy", "val_ci95"):
        assert f"`{key}`" in doc, key
    assert "metrics.jsonl" in doc and "metrics.jsonl" in contributing


# ---------------------------------------------------------------- evaluation progress
class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_eval_progress_shows_episodes_running_accuracy_and_eta() -> None:
    progress = common.EvalProgress(600, stream=_Stream(False))
    progress.t0 -= 20.0  # 20 s elapsed
    progress.accuracy = 0.9512
    line = progress.line(200)
    assert "200/600 episodes" in line and "accuracy 95.12%" in line
    assert "10.0 episodes/s" in line and "ETA 40s" in line


def test_training_eta_is_the_budget_left_when_the_budget_ends_the_run_first() -> None:
    # 100 updates in 20 s: 19900 more would take 66 min, but 60 - 20 s of budget remain
    budgeted = common.Progress(20000, stream=_Stream(False), budget_s=60.0)
    budgeted.t0 -= 20.0
    assert budgeted.line(100).endswith("ETA 40s (budget)")
    # without a budget, or with one that outlasts the updates, the ETA counts updates
    unbudgeted = common.Progress(20000, stream=_Stream(False))
    unbudgeted.t0 -= 20.0
    assert unbudgeted.line(100).endswith("ETA 1h06m20s")
    generous = common.Progress(200, stream=_Stream(False), budget_s=3600.0)
    generous.t0 -= 20.0
    assert generous.line(100).endswith("ETA 20s")


def test_eval_progress_is_rate_limited_in_logs_and_redrawn_on_a_terminal() -> None:
    log = _Stream(False)
    progress = common.EvalProgress(1000, stream=log, log_every=3600)
    for done in range(1, 1001):
        progress.update(done, 0.5)
    lines = log.getvalue().splitlines()
    assert len(lines) == 2, "the first line at once, then none until the last"
    assert lines[0].startswith("[") and "1/1000 episodes" in lines[0]
    assert "1000/1000 episodes" in lines[1]
    terminal = _Stream(True)
    progress = common.EvalProgress(3, stream=terminal)
    for done in (1, 2, 3):
        progress.update(done, 1.0, force=True)
    progress.close()
    assert terminal.getvalue().count("\r\033[K") == 3 and terminal.getvalue().endswith("\n")


def test_evaluate_reports_progress_on_stderr_and_quiet_silences_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert train.main([*TINY, "--episodes", "2", "--val-every", "0", "--out", str(run)]) == 0
    capsys.readouterr()
    out = tmp_path / "result.json"
    assert evaluate.main([str(run / train.MODEL_FILE), "--episodes", "8", "--out", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    result = json.loads(out.read_text())
    assert err[0].startswith("[") and "1/8 episodes" in err[0]
    assert err[-1].startswith("[") and "8/8 episodes" in err[-1]
    assert f"accuracy {100 * result['accuracy']:.2f}%" in err[-1]  # the running mean ends there
    assert evaluate.main([str(run / train.MODEL_FILE), "--episodes", "8", "--out", str(out),
                          "--quiet"]) == 0  # fmt: skip
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------- the algorithm files' main
@pytest.mark.parametrize("name", ["maml", "protonet", "fast_weights", "baseline"])
def test_algorithm_main_prints_a_progress_line_when_due(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the interval at 0 s every step is due: one stderr line per step, in order, with a
    finite loss; with a long interval a short run prints none (executed doc blocks stay quiet)."""
    from dataclasses import replace

    from test_standalone import SMALLEST

    module = importlib.import_module(f"reference_impl.{name}")
    cfg = eval(SMALLEST[name], {"m": module, "replace": replace})
    total = cfg.train_steps
    assert module._PROGRESS_SECONDS >= 1.0
    monkeypatch.setattr(module, "_PROGRESS_SECONDS", 3600.0)
    module.main(cfg)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(module, "_PROGRESS_SECONDS", 0.0)
    module.main(cfg)
    lines = capsys.readouterr().err.splitlines()
    pattern = re.compile(rf"{name}: (\d+)/{total} steps, loss (\S+), \d+ s, about \d+ s left")
    matches = [pattern.fullmatch(line) for line in lines]
    assert all(matches), lines
    assert [int(m.group(1)) for m in matches] == list(range(1, total + 1))
    assert all(math.isfinite(float(m.group(2))) for m in matches)
