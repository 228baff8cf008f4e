"""A corpus of bad inputs: every one gives one clear line (or the documented `ValueError`).

The cases live in `tests/bad_inputs.py` (a table). Each command-line case runs the entry point's
`main(argv)` in this process with stderr captured and checks that it

* returns the expected non-zero status (argparse's own `SystemExit` counts as a return),
* prints exactly one line on stderr, containing the case's fragment and no "Traceback",
* leaves nothing under `benchmarks/results/` changed (its files' bytes hashed before and after),
* leaves no temporary file behind in the case's folder, and changes nothing in it (no file
  overwritten, no new file or folder left).

Library cases check the exception type and a fragment of its message. The run-folder tests at
the end (lock, finished run, crash messages) need more than one command each.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from bad_inputs import ALGORITHM_MODULES, BIG, CLI, LIB, PATCHES, SETUPS, TINY, Cli, Lib

from benchmarks import common, train

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def tree_digest(root: Path) -> str:
    """SHA-256 over every entry's relative path under `root` and each file's bytes."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        if path.is_symlink():
            digest.update(os.readlink(path).encode())
        elif path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A finished tiny run (synthetic data): its folder and its model checkpoint."""
    root = tmp_path_factory.mktemp("bad-inputs")
    run = root / "run"
    flags = [*TINY, "--episodes", "2", "--val-every", "0", "--out", str(run)]
    threads = torch.get_num_threads()
    try:
        assert train.main(flags) == 0
    finally:
        torch.set_num_threads(threads)
    return {"run": run, "model": run / "model.safetensors"}


def unwritable(tmp: Path) -> Path:
    """A folder this process cannot create files in (root ignores `chmod`, so `/sys` there)."""
    if os.geteuid() == 0:
        return Path("/sys")
    folder = tmp / "readonly"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    return folder


def fill(text: str, places: dict[str, str]) -> str:
    for key, value in places.items():
        text = text.replace("{" + key + "}", value)
    return text


def call_main(module: str, argv: list[str]) -> int:
    """`module.main(argv)`, with argparse's `SystemExit` turned into its status."""
    threads = torch.get_num_threads()
    try:
        return int(importlib.import_module(module).main(argv))
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1
    finally:
        torch.set_num_threads(threads)


def leftovers(folder: Path) -> list[str]:
    """Temporary files of interrupted atomic writes (`.<name>.<...>`) anywhere under `folder`."""
    return sorted(str(p) for p in folder.rglob(".*") if p.is_file())


@pytest.mark.parametrize("case_id", sorted(CLI))
def test_command_line_fails_in_one_line(
    case_id: str,
    fixtures: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case: Cli = CLI[case_id]
    (tmp_path / "plain.txt").write_text("not a checkpoint\n")
    (tmp_path / "folder").mkdir()
    run_copy = tmp_path / "runcopy"
    if "{run}" in " ".join(case.argv):
        shutil.copytree(fixtures["run"], run_copy)
    places = {
        "tmp": str(tmp_path), "file": str(tmp_path / "plain.txt"), "dir": str(tmp_path / "folder"),
        "model": str(fixtures["model"]), "run": str(run_copy), "big": BIG, "results": str(RESULTS),
    }  # fmt: skip
    if "{ro}" in " ".join(case.argv):
        places["ro"] = str(unwritable(tmp_path))
    held: dict[str, Any] = dict(fixtures)
    if case.setup:
        SETUPS[case.setup](tmp_path, held)
    argv = [fill(a, places) for a in case.argv]
    before, mine = tree_digest(RESULTS), tree_digest(tmp_path)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    try:
        with monkeypatch.context() as patched:
            if case.patch:
                PATCHES[case.patch](patched)
            capsys.readouterr()
            code = call_main(case.module, argv)
            err = capsys.readouterr().err
            after = tree_digest(tmp_path)  # before the test releases a lock it holds there
    finally:
        if "_held_lock" in held:
            held["_held_lock"].release()
    lines = err.strip().splitlines()
    assert code == case.code, f"exit status {code}, expected {case.code}; stderr: {err!r}"
    assert "Traceback" not in err, err
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {err!r}"
    fragment = fill(case.fragment, places)
    assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    assert tree_digest(RESULTS) == before, "benchmarks/results/ changed"
    assert not leftovers(tmp_path), leftovers(tmp_path)
    assert after == mine, "the case's own files changed (or new ones were left)"


@pytest.mark.parametrize("case_id", sorted(LIB))
def test_library_call_raises_documented_error(case_id: str, fixtures: dict[str, Path]) -> None:
    case: Lib = LIB[case_id]
    with pytest.raises(case.error) as raised:
        case.call(fixtures)
    assert raised.type is case.error or issubclass(raised.type, case.error)
    assert case.fragment in str(raised.value), f"{case.fragment!r} not in {str(raised.value)!r}"


def test_corpus_has_at_least_sixty_cases() -> None:
    assert len(CLI) + len(LIB) + len(ALGORITHM_MODULES) >= 60


@pytest.mark.parametrize("name", ALGORITHM_MODULES)
def test_algorithm_module_refuses_arguments(name: str) -> None:
    """`python -m reference_impl.<name>` runs `main(<Algo>Config())`; arguments are refused."""
    done = subprocess.run(
        [sys.executable, "-m", f"reference_impl.{name}", "--train-steps", "5"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "takes no arguments" in lines[0] and f"reference_impl.{name}" in lines[0], lines[0]
    assert done.stdout == ""


# ---------------------------------------------------------------------------------------------
# The run folder: lock, finished runs, resume


def run_train(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = call_main("benchmarks.train", argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_resume_of_a_finished_run_reports_done_and_writes_nothing(
    fixtures: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    shutil.copytree(fixtures["run"], run)
    stamps = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in run.iterdir()}
    argv = [*TINY, "--episodes", "2", "--val-every", "0", "--out", str(run), "--resume"]
    code, _, err = run_train(argv, capsys)
    assert code == 0, err
    assert "already finished" in err and "2/2 updates" in err, err
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in run.iterdir()} == stamps


def test_resume_of_a_budget_stopped_run_reports_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run stopped by its budget is finished: resuming it adds no update and rewrites nothing."""
    run = tmp_path / "run"
    argv = [*TINY, "--episodes", "50", "--val-every", "0", "--budget-minutes", "1e-9"]
    code, _, err = run_train([*argv, "--out", str(run)], capsys)
    assert code == 0, err
    _, meta = common.read_tensor_file(run / train.RESUME_FILE)
    assert meta["stopped_by"] == "budget" and meta["trainer"]["step"] == 1
    model = (run / train.MODEL_FILE).read_bytes()
    code, _, err = run_train([*argv, "--out", str(run), "--resume"], capsys)
    assert code == 0 and "already finished" in err and "budget" in err, err
    assert (run / train.MODEL_FILE).read_bytes() == model
    _, meta = common.read_tensor_file(run / train.RESUME_FILE)
    assert meta["trainer"]["step"] == 1


def test_second_training_on_a_locked_folder_names_the_holder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    holder = train.RunLock(run, command="python -m benchmarks.train first")
    holder.acquire()
    try:
        code, _, err = run_train([*TINY, "--episodes", "1", "--out", str(run)], capsys)
    finally:
        holder.release()
    assert code == 2, err
    line = err.strip()
    assert len(line.splitlines()) == 1
    assert f"is in use by PID {os.getpid()}" in line and "started" in line, line
    assert sorted(p.name for p in run.iterdir()) == []


def test_stale_lock_of_a_dead_process_is_taken_over_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = {"pid": int(dead.stdout), "started": "2026-01-01T00:00:00Z", "command": "killed run"}
    (run / train.LOCK_FILE).write_text(json.dumps(stale))
    code, _, err = run_train([*TINY, "--episodes", "1", "--out", str(run)], capsys)
    assert code == 0, err
    assert f"taking over the stale lock of PID {stale['pid']}" in err, err
    assert (run / train.MODEL_FILE).is_file() and not (run / train.LOCK_FILE).exists()


def test_two_concurrent_trainings_on_one_folder_one_wins(tmp_path: Path) -> None:
    """Two processes started together on one `--out`: exactly one trains; the other fails in
    one line, naming the holder, or (when it takes the lock only after the first finished)
    naming the run the first left there."""
    run = tmp_path / "run"
    argv = [sys.executable, "-m", "benchmarks.train", *TINY, "--episodes", "20", "--out", str(run)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
        for _ in range(2)
    ]  # fmt: skip
    outcomes = [(p.wait(timeout=300), p.communicate()[1]) for p in procs]
    codes = sorted(code for code, _ in outcomes)
    assert codes == [0, 2], outcomes
    loser = next(err for code, err in outcomes if code == 2)
    assert len(loser.strip().splitlines()) == 1, loser
    assert "is in use by PID" in loser or "exists: pass --resume to continue it" in loser, loser
    assert (run / train.MODEL_FILE).is_file()


@pytest.mark.parametrize(("fail_at", "every", "expected"), [
    (1, 100, "no resume state was written"),
    (3, 1, "resume state in {run} holds the weights after update 2"),
])  # fmt: skip
def test_training_failure_message_names_the_state_that_exists(
    fail_at: int,
    every: int,
    expected: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A non-finite loss at update `fail_at`: the message promises only a state that was saved."""
    import dataclasses

    from reference_impl import methods

    row = methods.get("protonet")
    calls = []

    def failing(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == fail_at:
            raise ValueError("non-finite training loss (nan); the weights were not updated")
        return row.train_step(*args)

    monkeypatch.setitem(methods.METHODS, "protonet", dataclasses.replace(row, train_step=failing))
    run = tmp_path / "run"
    argv = [*TINY, "--episodes", "5", "--checkpoint-every", str(every), "--out", str(run)]
    code, _, err = run_train(argv, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"training stopped at update {fail_at}" in err, err
    assert expected.format(run=run) in err, err


def test_maml_non_finite_step_names_no_negative_step() -> None:
    """`train_step` does not know its step: its message names none (no "meta-step -1 ... -2")."""
    from reference_impl import maml

    cfg = maml.MAMLConfig(meta_batch_size=2, k_shot=2, n_query=2)
    torch.manual_seed(0)
    model = maml.build_model(cfg)
    sx, sy, qx, qy = maml.sample_sinusoid_batch(cfg, torch.Generator().manual_seed(0))
    optimizer = torch.optim.Adam(model.parameters())
    with pytest.raises(maml.NonFiniteLossError) as raised:
        maml.train_step(model, optimizer, (sx, sy * float("nan"), qx, qy), cfg)
    assert "-1" not in str(raised.value) and "-2" not in str(raised.value), raised.value
    assert "non-finite meta-loss" in str(raised.value)
    with pytest.raises(maml.NonFiniteLossError, match="meta-step 0:"):
        maml.train(model, cfg, torch.Generator(), lambda g: (sx, sy * float("nan"), qx, qy))


def test_a_training_session_removes_temporaries_of_killed_writers(
    fixtures: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Temporaries a `kill -9` left (dead writer's PID in the name) go when the folder is next
    locked, even by a `--resume` that only reports the run finished; a live writer's stay."""
    run = tmp_path / "run"
    shutil.copytree(fixtures["run"], run)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    orphans = [run / f".{name}.{int(dead.stdout)}.0badf00d.tmp" for name in
               (train.BEST_FILE, train.MODEL_FILE, train.RESUME_FILE)]  # fmt: skip
    live = run / f".{train.BEST_FILE}.{os.getpid()}.0badf00d.tmp"
    for path in [*orphans, live]:
        path.write_bytes(b"\0" * 1024)
    argv = [*TINY, "--episodes", "2", "--val-every", "0", "--out", str(run), "--resume"]
    code, _, err = run_train(argv, capsys)
    assert code == 0 and "already finished" in err, err
    assert not any(p.exists() for p in orphans) and live.exists()


@pytest.mark.parametrize(
    "damage", [b'not json\n{"update": "x"}\n{"update": true}\n', b"\xff\xfe\x00\n"]
)
def test_resume_over_a_damaged_metrics_log_keeps_the_good_records(
    damage: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Lines that are not records with an integer `update` (text, a non-integer update, bytes
    that are not UTF-8) are dropped on resume; the log then holds updates 1..N once each."""
    run = tmp_path / "run"
    argv = [*TINY, "--episodes", "3", "--val-every", "0", "--checkpoint-every", "1", "--out",
            str(run)]  # fmt: skip
    code, _, err = run_train([*argv, "--stop-after", "1"], capsys)
    assert code == 0, err
    with open(run / train.METRICS_FILE, "ab") as log:
        log.write(damage)
    code, _, err = run_train([*argv, "--resume"], capsys)
    assert code == 0, err
    lines = (run / train.METRICS_FILE).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["update"] for line in lines] == [1, 2, 3]


def test_a_run_that_finished_while_this_one_started_is_not_taken_over(
    fixtures: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The folder is checked again under the lock: a run that another process finished between
    this one's first check and its lock is refused (not reported "already finished", exit 0)."""
    run = tmp_path / "run"
    acquire = train.RunLock.acquire

    def finish_first(lock: train.RunLock) -> str | None:
        shutil.copytree(fixtures["run"], run, dirs_exist_ok=True)  # the other run, done
        return acquire(lock)

    monkeypatch.setattr(train.RunLock, "acquire", finish_first)
    before = tree_digest(fixtures["run"])
    code, _, err = run_train([*TINY, "--episodes", "2", "--out", str(run)], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "exists: pass --resume to continue it" in err, err
    assert tree_digest(run) == before
