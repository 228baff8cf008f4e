"""Rewrite checkpoint-v1 files (weights + `.json` pair) as one checkpoint-v2 file, tensors unchanged.

    python -m benchmarks.migrate_checkpoints PATH [PATH ...] [--record RECORD.json]

Before `reference_impl.checkpoints` used the `safetensors` package, a checkpoint was two files,
`<name>.safetensors` (its `__metadata__` holding the SHA-256 of the data section and a copy of the
description) and the `<name>.json` description beside it, and a resume state or other tensor file
kept its JSON under `__metadata__["json"]`. This command reads each such file with the plain
`safetensors` reader, applies every check the old reader made (the data section's SHA-256; for a
checkpoint, the `.json` and the embedded copy agree), writes the new single file with
`checkpoints.save_tensors` (the description unchanged but for `format`, plus a `migrated_from`
entry recording the old data SHA-256), re-reads it through `checkpoints.load_tensors`, and
only then removes the `.json`. It refuses to replace anything unless every tensor read back is
bit-identical (same names, dtypes, shapes and bytes) to the old file's.

`--record` writes a JSON list of what was done (old and new file SHA-256 per path), so the
migration of committed files is documented next to them. The migration of
`benchmarks/results/omniglot/` was run once with this command; its record is
`benchmarks/results/omniglot/checkpoints/migration-v2.json`.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import safetensors
import torch
from torch import Tensor

from benchmarks import common
from benchmarks.common import HarnessError
from reference_impl import checkpoints, files

OLD_FORMAT = "meta-learning-glossary/checkpoint-v1"
"""The `format` of a two-file checkpoint."""


def read_v1(path: Path) -> tuple[dict[str, Tensor], dict[str, Any], str]:
    """Tensors, description and data SHA-256 of a v1 file, checked as the old reader did.

    Raises:
        HarnessError: If the file is not a v1 file or fails one of the old reader's checks.
    """
    blob = path.read_bytes()
    try:
        with safetensors.safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
            tensors = {name: f.get_tensor(name).clone() for name in f.keys()}
    except safetensors.SafetensorError as err:
        raise HarnessError(f"{path}: not a readable safetensors file ({err})") from err
    if metadata.get("integrity") == checkpoints.INTEGRITY:
        raise HarnessError(f"{path}: already in the current format")
    header_len = int.from_bytes(blob[:8], "little")
    data_sha = hashlib.sha256(blob[8 + header_len :]).hexdigest()
    if metadata.get("sha256") != data_sha:
        raise HarnessError(f"{path}: SHA-256 of the tensor bytes does not match the recorded one")
    if "description" in metadata:  # a checkpoint: the description pair
        side = path.with_suffix(".json")
        try:
            described = json.loads(side.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise HarnessError(f"{side}: cannot read the v1 description ({err})") from err
        embedded = _json_object(path, metadata["description"], "the embedded description")
        if not isinstance(described, dict) or described.get("format") != OLD_FORMAT:
            raise HarnessError(f"{side}: format is not {OLD_FORMAT!r}")
        if described.get("weights_sha256") != data_sha:
            raise HarnessError(f"{side}: weights_sha256 does not match {path}")
        if embedded != {k: v for k, v in described.items() if k != "weights_sha256"}:
            raise HarnessError(f"{side}: description differs from the copy inside {path}")
        return tensors, embedded, data_sha
    if "json" in metadata:  # a resume state or other tensor file
        return tensors, _json_object(path, metadata["json"], "the embedded JSON"), data_sha
    raise HarnessError(f"{path}: no v1 description (__metadata__ has {sorted(metadata)})")


def _json_object(path: Path, text: str, what: str) -> dict[str, Any]:
    """`text` parsed as a JSON object, else a `HarnessError` naming `path` and `what`."""
    try:
        value = json.loads(text)
    except ValueError as err:
        raise HarnessError(f"{path}: {what} is not JSON ({err})") from err
    if not isinstance(value, dict):
        raise HarnessError(f"{path}: {what} is not a JSON object")
    return value


def identical(first: dict[str, Tensor], second: dict[str, Tensor]) -> bool:
    """Same names, dtypes, shapes and bytes."""
    return first.keys() == second.keys() and all(
        a.dtype == second[name].dtype
        and a.shape == second[name].shape
        and checkpoints.content_sha256({name: a}, "")
        == checkpoints.content_sha256({name: second[name]}, "")
        for name, a in first.items()
    )


def migrate(path: Path) -> dict[str, Any]:
    """Rewrite one v1 file in place as v2 and return the record of it.

    Raises:
        HarnessError: If the old file fails a check or the new file would not hold bit-identical
            tensors (nothing is changed then).
    """
    old_bytes = path.read_bytes()
    tensors, description, data_sha = read_v1(path)
    is_checkpoint = description.get("format") == OLD_FORMAT
    new_description = dict(description)
    if is_checkpoint:
        new_description["format"] = checkpoints.FORMAT
    new_description["migrated_from"] = {"format": "v1", "data_sha256": data_sha}
    staging = path.with_name(f".{path.name}.migrating")
    checkpoints.save_tensors(staging, tensors, new_description)
    try:
        back, back_description = checkpoints.load_tensors(staging)
        if not identical(tensors, back) or back_description != new_description:
            raise HarnessError(f"{path}: the rewritten file does not read back identically")
        staging.replace(path)
    finally:
        staging.unlink(missing_ok=True)
    side = path.with_suffix(".json")
    if is_checkpoint:
        side.unlink()
    return {
        "path": common.relative(path),
        "old_sha256": hashlib.sha256(old_bytes).hexdigest(),
        "old_data_sha256": data_sha,
        "removed": common.relative(side) if is_checkpoint else None,
        "new_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "tensors": len(tensors),
    }


def run(argv: list[str]) -> list[dict[str, Any]]:
    """Migrate every path given; return the records."""
    parser = common.ArgumentParser(prog="python -m benchmarks.migrate_checkpoints")
    parser.add_argument("paths", type=common.path_arg, nargs="+", help="v1 .safetensors files")
    parser.add_argument("--record", type=common.path_arg, default=None, help="JSON record to write")
    args = parser.parse_args(argv)
    if args.record is not None:  # before any file is changed
        common.check_output_file(
            args.record,
            "--record",
            inputs=[*args.paths, *(p.with_suffix(".json") for p in args.paths)],
        )
    if len({path.resolve() for path in args.paths}) < len(args.paths):
        raise HarnessError("a file is named twice; name each file once")
    for path in args.paths:
        if path.is_symlink() or not path.is_file():
            raise HarnessError(f"{path} is not a regular file")
    for path in args.paths:  # every file checked before the first is changed
        read_v1(path)
    records = [migrate(path) for path in args.paths]
    for record in records:
        print(f"migrated {record['path']} ({record['tensors']} tensors, bit-identical)")
    if args.record is not None:
        files.atomic_write_json(args.record, {"torch": torch.__version__, "files": records})
    return records


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; user errors print one line and return 2."""
    return common.run_cli("benchmarks.migrate_checkpoints", run, argv)


if __name__ == "__main__":
    sys.exit(main())
