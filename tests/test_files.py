"""`reference_impl.files`: all-or-nothing writes and the one meaning of `git_commit`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from reference_impl import files


def test_atomic_write_pair_is_all_or_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure while the second file is written leaves both old files intact and no temporary
    file behind; a success replaces both."""
    a, b = tmp_path / "a.bin", tmp_path / "sub" / "b.json"
    files.atomic_write(a, b"old a", (b, b"old b"))
    assert (a.read_bytes(), b.read_bytes()) == (b"old a", b"old b")
    calls = []
    real_fsync = os.fsync

    def fail_second(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:
            raise OSError("disk full")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fail_second)
    with pytest.raises(OSError, match="disk full"):
        files.atomic_write(a, b"new a", (b, b"new b"))
    monkeypatch.undo()
    assert (a.read_bytes(), b.read_bytes()) == (b"old a", b"old b")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.bin", "b.json", "sub"]
    files.atomic_write(a, b"new a", (b, b"new b"))
    assert (a.read_bytes(), b.read_bytes()) == (b"new a", b"new b")


def test_atomic_write_json_refuses_unserialisable_values_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    files.atomic_write_json(out, {"accuracy": 0.5, "rows": (1, 2)})
    assert out.read_text() == json.dumps({"accuracy": 0.5, "rows": [1, 2]}, indent=1) + "\n"
    with pytest.raises(TypeError):
        files.atomic_write_json(out, {"accuracy": object()})
    assert json.loads(out.read_text())["accuracy"] == 0.5 and len(list(tmp_path.iterdir())) == 1


def test_git_commit_is_head_with_dirty_suffix_when_tracked_files_differ() -> None:
    """One meaning everywhere: `git rev-parse HEAD`, plus `-dirty` exactly when
    `git status --porcelain --untracked-files=no` lists something."""
    here = Path(files.__file__).parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=here, capture_output=True, text=True, check=True
        ).stdout.strip()

    head = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    assert len(head) == 40
    assert files.git_commit() == (f"{head}-dirty" if dirty else head)


def test_git_commit_outside_a_checkout_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_git(*args: object, **kwargs: object) -> None:
        raise FileNotFoundError("git")

    monkeypatch.setattr(subprocess, "run", no_git)
    assert files.git_commit() == "unknown"
