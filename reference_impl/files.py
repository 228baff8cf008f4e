"""Writing files that are never half-written, and naming the code that wrote them.

The one implementation behind checkpoints, the Omniglot cache and splits, and every result file
under `benchmarks/`:

* `atomic_write`: bytes through a synced temporary file and a rename, for one file or a set of
  files that belong together; `remove_orphans` deletes the temporaries of killed writers (each
  write does it first, and so does `checkpoints.load_tensors`);
* `atomic_write_json`: the same for indented JSON text;
* `git_commit`: the commit checked out, as every result file and checkpoint records it.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path
from typing import Any


def atomic_write(path: str | Path, data: bytes, *more: tuple[str | Path, bytes]) -> None:
    """Write each file through a synced temporary file beside it and a rename.

    With several files, every temporary file is complete on disk before the first rename, so a
    crash can only fall between renames, never leave a file half-written. Folders are created.
    Temporaries are named `.<name>.<pid>.<random>.tmp`; those that writers killed before their
    rename left behind are removed first (`remove_orphans`).

    Args:
        path: Destination of `data`.
        data: Bytes to write.
        *more: Further `(path, bytes)` pairs written with it.

    Raises:
        OSError: If a folder cannot be created or a file written (a full disk, a read-only
            folder); the error names the file, and no temporary is left behind.
    """
    files = [(Path(path), data), *((Path(p), d) for p, d in more)]
    temps: list[Path] = []
    try:
        for target, payload in files:
            target.parent.mkdir(parents=True, exist_ok=True)
            remove_orphans(target)
            tmp = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
            temps.append(tmp)
            with open(tmp, "xb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
        for tmp, (target, _) in zip(temps, files, strict=True):
            os.replace(tmp, target)
    except OSError as err:
        if err.errno is not None and err.filename is None:  # a full disk: name the file
            raise OSError(err.errno, err.strerror, str(target)) from err
        raise
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)


def remove_orphans(path: str | Path) -> list[Path]:
    """Delete the temporaries of `path` that writers killed before their rename left behind.

    A temporary `.<name>.<pid>.<random>.tmp` is an orphan when no process with that id runs on
    this machine; a running writer's temporary is left alone, and so is anything that cannot be
    deleted (a read-only folder).

    Args:
        path: The file whose temporaries to look for.

    Returns:
        The temporaries removed.
    """
    target = Path(path)
    prefix = f".{target.name}."
    try:
        candidates = [p for p in target.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return []
    removed = []
    for candidate in candidates:
        parts = candidate.name[len(prefix) :].split(".")
        if len(parts) != 3 or parts[2] != "tmp" or not parts[0].isdigit():
            continue
        pid = int(parts[0])
        if pid == os.getpid() or _process_exists(pid):
            continue
        try:
            candidate.unlink()
        except OSError:
            continue
        removed.append(candidate)
    return removed


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process (or an id the OS cannot hold): leave its files
    return True


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
