r"""Checkpoints any method can write and any reader can turn back into a predictor, without pickle.

A checkpoint is two files written atomically (temporary file, then rename):

* `<name>.safetensors`: the model's `state_dict()` in the
  [safetensors](https://huggingface.co/docs/safetensors) layout (an 8-byte little-endian header
  length, a JSON header with each tensor's `dtype`, `shape` and `data_offsets` plus
  `__metadata__`, then the raw little-endian bytes). This module reads and writes it with the
  standard library and `torch`; `__metadata__` holds the SHA-256 of the tensor bytes and a copy of
  the description below.
* `<name>.json`: the description: method name, config class and fields, split, seed, the code's
  git commit, the torch version, the weights' SHA-256 and the caller's `extra` dictionary.

Loading never unpickles anything. A file whose offsets do not tile its data section (truncated or
padded), whose bytes do not match the recorded SHA-256, or whose two descriptions disagree is
refused with a `ValueError` naming the file and the check.

`load_predictor(path)` rebuilds the model through the method table
(`reference_impl.methods`): the stored method name selects a row, whose config class,
`build_model(cfg)` and `make_predict(model, cfg)` do the rest. Only modules in the table are
ever used, so a checkpoint cannot name arbitrary code to run.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from reference_impl import files, methods
from reference_impl.evaluation import Predict

FORMAT = "meta-learning-glossary/checkpoint-v1"
"""Value of the `format` field; readers refuse other values."""

# --8<-- [start:safetensors]
DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}  # fmt: skip
"""safetensors dtype codes this module reads and writes."""
_CODES = {dtype: code for code, dtype in DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024  # the safetensors reference reader's limit


def _tensor_bytes(tensor: Tensor) -> bytes:
    raw = tensor.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8)  # native order
    return ctypes.string_at(raw.data_ptr(), raw.numel()) if raw.numel() else b""


def save_safetensors(
    path: str | Path, tensors: dict[str, Tensor], metadata: dict[str, str] | None = None
) -> str:
    """Write tensors in the safetensors layout, atomically.

    Tensors are stored in name order; the header is padded with spaces to a multiple of 8 bytes.
    The SHA-256 of the data section is added to the metadata as `sha256`.

    Args:
        path: Destination file.
        tensors: Name -> tensor (any device; stored from CPU copies).
        metadata: String -> string pairs for `__metadata__`.

    Returns:
        The hex SHA-256 of the data section.

    Raises:
        ValueError: If a dtype has no safetensors code, a metadata value is not a string, or the
            machine is big-endian.
    """
    file_bytes, digest = _safetensors_bytes(tensors, metadata)
    files.atomic_write(path, file_bytes)
    return digest


def _safetensors_bytes(
    tensors: dict[str, Tensor], metadata: dict[str, str] | None
) -> tuple[bytes, str]:
    """The file `save_safetensors` writes, and the SHA-256 of its data section."""
    if sys.byteorder != "little":
        raise ValueError("safetensors stores little-endian bytes; this machine is big-endian")
    header: dict[str, Any] = {}
    chunks, offset = [], 0
    for name in sorted(tensors):
        tensor = tensors[name]
        if tensor.dtype not in _CODES:
            raise ValueError(
                f"tensor {name!r} has dtype {tensor.dtype}; expected one of {sorted(DTYPES)}"
            )
        data = _tensor_bytes(tensor)
        header[name] = {
            "dtype": _CODES[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    body = b"".join(chunks)
    digest = hashlib.sha256(body).hexdigest()
    meta = dict(metadata or {})
    for key, value in meta.items():
        if not isinstance(value, str):
            raise ValueError(f"metadata {key!r} is {type(value).__name__}; expected str")
    header["__metadata__"] = {**meta, "sha256": digest}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + body, digest


def load_safetensors(path: str | Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Read a safetensors file, checking its structure and, if recorded, its SHA-256.

    Args:
        path: The file.

    Returns:
        Name -> tensor (CPU) and the `__metadata__` strings.

    Raises:
        ValueError: If the header length, JSON, a dtype, a shape or the offsets are invalid, the
            offsets do not tile the data section exactly (truncated or padded file), or the data
            does not match the metadata's `sha256`; the message names `path`.
    """
    blob = bytearray(Path(path).read_bytes())
    if len(blob) < 8:
        raise ValueError(f"{path}: {len(blob)} bytes; expected at least the 8-byte header length")
    size = int.from_bytes(blob[:8], "little")
    if size > min(len(blob) - 8, _MAX_HEADER):
        raise ValueError(f"{path}: header length {size} exceeds the {len(blob) - 8} bytes after it")
    try:
        header = json.loads(blob[8 : 8 + size])
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: header is not valid JSON ({err})") from err
    if not isinstance(header, dict):
        raise ValueError(f"{path}: header is {type(header).__name__}; expected a JSON object")
    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError(f"{path}: __metadata__ must map strings to strings")
    start, data_len = 8 + size, len(blob) - 8 - size
    spans = []
    for name, entry in header.items():
        spans.append((_check_entry(path, name, entry), name))
    position = 0
    for (begin, end), name in sorted(spans):
        if begin != position:
            raise ValueError(
                f"{path}: tensor {name!r} starts at byte {begin}; expected {position} (gap or overlap)"
            )
        position = end
    if position != data_len:
        raise ValueError(
            f"{path}: tensors cover {position} bytes but the data section has {data_len}; the file is truncated or padded"
        )
    if (
        "sha256" in metadata
        and hashlib.sha256(memoryview(blob)[start:]).hexdigest() != metadata["sha256"]
    ):
        raise ValueError(
            f"{path}: SHA-256 of the tensor bytes does not match the recorded one; the file was modified"
        )
    tensors = {}
    for (begin, end), name in spans:
        dtype, shape = DTYPES[header[name]["dtype"]], header[name]["shape"]
        if end == begin:
            tensors[name] = torch.empty(shape, dtype=dtype)
        else:  # clone: own, aligned memory instead of a view into the file's buffer
            count = (end - begin) // dtype.itemsize
            flat = torch.frombuffer(blob, dtype=dtype, count=count, offset=start + begin)
            tensors[name] = flat.reshape(shape).clone()
    return tensors, metadata


def _check_entry(path: str | Path, name: str, entry: Any) -> tuple[int, int]:
    """Validate one header entry and return its `(begin, end)` offsets."""
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise ValueError(f"{path}: entry {name!r} must have exactly dtype, shape and data_offsets")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in DTYPES:
        raise ValueError(
            f"{path}: tensor {name!r} has dtype {dtype!r}; expected one of {sorted(DTYPES)}"
        )
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ValueError(f"{path}: tensor {name!r} has shape {shape!r}; expected non-negative ints")
    if not (
        isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)
    ):
        raise ValueError(
            f"{path}: tensor {name!r} has data_offsets {offsets!r}; expected [begin, end]"
        )
    begin, end = offsets
    expected = math.prod(shape) * DTYPES[dtype].itemsize
    if begin < 0 or end - begin != expected:
        raise ValueError(
            f"{path}: tensor {name!r} spans {end - begin} bytes; {dtype} {shape} needs {expected}"
        )
    return begin, end


# --8<-- [end:safetensors]


# --8<-- [start:checkpoint]
class Checkpoint(NamedTuple):
    """The contents of a checkpoint."""

    state_dict: dict[str, Tensor]
    """The model's weights and buffers, on CPU."""
    metadata: dict[str, Any]
    """The description: `format`, `method`, `config_class`, `config`, `split`, `seed`,
    `git_commit`, `torch_version`, `weights_sha256`, `extra`."""


def sidecar_path(path: str | Path) -> Path:
    """The JSON description next to a weights file: `<name>.json` for `<name>.safetensors`."""
    return Path(path).with_suffix(".json")


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    method: str,
    cfg: Any,
    *,
    split: str,
    seed: int,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write `model.state_dict()` and its description as a checkpoint (two files, atomically).

    Args:
        path: Weights file, conventionally `<name>.safetensors`; the description goes to
            `<name>.json`.
        model: The network returned by the method's `build_model(cfg)`.
        method: A name in the method table (`reference_impl.methods.METHODS`); the harness
            stores the algorithm's (`Method.algorithm`: `"maml"` for FOMAML too).
        cfg: The method's config dataclass instance.
        split: Data split the model was trained on (e.g. `"maml"`).
        seed: Training seed.
        extra: JSON-serialisable additions (e.g. the training setting or metrics).

    Returns:
        The path of the weights file.

    Raises:
        ValueError: If `method` is not in the table, `cfg` is not its config class, the path
            ends in `.json`, or the description is not JSON-serialisable.
    """
    weights = Path(path)
    config_class = methods.get(method).config_class
    if not isinstance(cfg, config_class):
        raise ValueError(
            f"cfg must be a {config_class.__name__} for method {method!r}, got {type(cfg).__name__}"
        )
    if weights.suffix == ".json":
        raise ValueError(f"{weights}: the weights file cannot end in .json (the description does)")
    metadata = {
        "format": FORMAT, "method": method, "config_class": type(cfg).__name__,
        "config": methods.config_to_json(cfg), "split": split, "seed": seed,
        "git_commit": files.git_commit(), "torch_version": torch.__version__, "extra": extra or {},
    }  # fmt: skip
    try:
        description = json.dumps(metadata, sort_keys=True)
    except TypeError as err:
        raise ValueError(f"checkpoint description is not JSON-serialisable: {err}") from err
    state = {name: t.detach().to("cpu") for name, t in model.state_dict().items()}
    file_bytes, digest = _safetensors_bytes(state, {"description": description})
    sidecar = json.dumps({**metadata, "weights_sha256": digest}, indent=1, sort_keys=True) + "\n"
    files.atomic_write(weights, file_bytes, (sidecar_path(weights), sidecar.encode()))  # a pair
    return weights


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and verify a checkpoint written by `save_checkpoint`.

    Args:
        path: The weights file; its `<name>.json` description must sit next to it.

    Returns:
        Weights (CPU) and description.

    Raises:
        FileNotFoundError: If either file is missing.
        ValueError: If the weights file is malformed, truncated or modified, the description is
            not valid JSON, its `format` is unknown, or it disagrees with the copy inside the
            weights file (SHA-256 or any field).
    """
    state, inner = load_safetensors(path)
    side = sidecar_path(path)
    try:
        metadata = json.loads(side.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{side}: not valid JSON ({err})") from err
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ValueError(
            f"{side}: format {metadata.get('format') if isinstance(metadata, dict) else None!r}; expected {FORMAT!r}"
        )
    if metadata.get("weights_sha256") != inner.get("sha256"):
        raise ValueError(f"{side}: weights_sha256 does not match the SHA-256 recorded in {path}")
    embedded = json.loads(inner.get("description", "null"))
    if embedded != {k: v for k, v in metadata.items() if k != "weights_sha256"}:
        raise ValueError(
            f"{side}: description differs from the copy inside {path}; one of them was edited"
        )
    return Checkpoint(state, metadata)


def _rebuild(path: str | Path, device: str | torch.device) -> tuple[methods.Method, nn.Module, Any]:
    """Table row, model (eval mode, on `device`, stored weights) and config of a checkpoint."""
    state, metadata = load_checkpoint(path)
    method, class_name = metadata["method"], metadata["config_class"]
    if method not in methods.METHODS:
        raise ValueError(
            f"{path}: method {method!r} is not in the method table; it has {sorted(methods.METHODS)}"
        )
    row = methods.METHODS[method]
    if row.config_class.__name__ != class_name:
        raise ValueError(
            f"{path}: config class {class_name!r}; method {method!r} uses "
            f"{row.config_class.__name__!r}"
        )
    cfg = methods.config_from_json(row.config_class, metadata["config"])
    model = row.build_model(cfg)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{path}: weights do not fit {method}.build_model(cfg): {err}") from err
    return row, model.to(device).eval(), cfg


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, Any]:
    """Rebuild a checkpoint's model (in eval mode, on `device`) and config.

    Args:
        path: The weights file.
        device: Where the model goes.

    Returns:
        The model with the stored weights and the config instance.

    Raises:
        ValueError: As `load_checkpoint`, or if the method is not in the method table, the
            stored config class is not its, or the weights do not fit the rebuilt model.
    """
    _, model, cfg = _rebuild(path, device)
    return model, cfg


def load_predictor(path: str | Path, device: str | torch.device = "cpu") -> Predict:
    """Turn any saved checkpoint into the shared `predict(support_x, support_y, query_x)` callable.

    Args:
        path: The weights file.
        device: Where the model runs; inputs must be on the same device.

    Returns:
        The method's predictor for one episode, returning logits of shape `(N*Q, N)`.

    Raises:
        ValueError: As `load_model`.
    """
    row, model, cfg = _rebuild(path, device)
    return row.make_predict(model, cfg)


# --8<-- [end:checkpoint]
