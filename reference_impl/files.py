"""Writing files that are never half-written, and naming the code that wrote them.

The one implementation behind checkpoints, the Omniglot cache and splits, and every result file
under `benchmarks/`:

* `atomic_write`: bytes through a synced temporary file and a rename, for one file or a set of
  files that belong together (a checkpoint's weights and description);
* `atomic_write_json`: the same for indented JSON text;
* `git_commit`: the commit checked out, as every result file and checkpoint records it.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any


def atomic_write(path: str | Path, data: bytes, *more: tuple[str | Path, bytes]) -> None:
    """Write each file through a synced temporary file beside it and a rename.

    With several files, every temporary file is complete on disk before the first rename, so a
    crash can only fall between renames, never leave a file half-written. Folders are created.

    Args:
        path: Destination of `data`.
        data: Bytes to write.
        *more: Further `(path, bytes)` pairs written with it.
    """
    files = [(Path(path), data), *((Path(p), d) for p, d in more)]
    temps: list[str] = []
    try:
        for target, payload in files:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = tempfile.NamedTemporaryFile(
                dir=target.parent, prefix=f".{target.name}.", delete=False
            )
            temps.append(tmp.name)
            with tmp:
                tmp.write(payload)
                tmp.flush()
                os.fsync(tmp.fileno())
        for tmp_name, (target, _) in zip(temps, files, strict=True):
            os.replace(tmp_name, target)
    finally:
        for tmp_name in temps:
            Path(tmp_name).unlink(missing_ok=True)


def atomic_write_json(path: str | Path, value: Any, indent: int = 1) -> None:
    """`value` as indented JSON text plus a newline, written with `atomic_write`.

    Raises:
        TypeError: If `value` is not JSON-serialisable (nothing is written).
    """
    atomic_write(path, (json.dumps(value, indent=indent) + "\n").encode())


def git_commit() -> str:
    """The commit checked out where this package lives, `-dirty` appended if tracked files differ.

    Recorded as `git_commit` in checkpoints and result files; readers wanting the commit alone
    use `removesuffix("-dirty")`.

    Returns:
        40 hex digits, optionally followed by `-dirty`; `"unknown"` outside a git checkout.
    """

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=Path(__file__).resolve().parent, capture_output=True,
            text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if len(commit) != 40:
        return "unknown"
    return f"{commit}-dirty" if dirty else commit
