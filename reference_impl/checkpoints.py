r"""Checkpoints any method can write and any reader can turn back into a predictor, without pickle.

A checkpoint is one [safetensors](https://huggingface.co/docs/safetensors) file, written and read
with the `safetensors` package: the model's `state_dict()` as tensors, and in the file's
`__metadata__` its description as JSON text (method name, config class and fields, split, seed,
the code's git commit, the torch version and the caller's `extra` dictionary) with a SHA-256 that
covers both. Weights and description are one unit: one file, written to a temporary file that is
renamed into place, so a reader sees the old checkpoint or the new one, never a mixture.

The SHA-256 covers everything that decides what is loaded: every tensor's name, dtype, shape and
bytes (and so the header's offsets, which select the bytes) and the whole description. Loading
recomputes it from what was read, so a header edited from `F32` to `I32`, a flipped tensor byte
or an edited field (`"step": 3` -> `9` in a resume state) is refused; the `safetensors` reader
refuses a truncated or padded file. Each refusal is a `ValueError` naming the file and the check.
Loading never unpickles anything.

`save_tensors` / `load_tensors` are that unit for any tensors and JSON description (the training
harness's resume state and the Omniglot thumbnail cache use them); `save_checkpoint` /
`load_checkpoint` add the checkpoint description. Files are written with
`reference_impl.files.atomic_write`, whose temporaries (`.<name>.<pid>.<random>.tmp`) a process
killed while writing leaves behind; the next write or load of the same file removes them.

`load_predictor(path)` rebuilds the model through the method table
(`reference_impl.methods`): the stored method name selects a row, whose config class,
`build_model(cfg)` and `make_predict(model, cfg)` do the rest. Only modules in the table are
ever used, so a checkpoint cannot name arbitrary code to run.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
from pathlib import Path
from typing import Any, NamedTuple

import safetensors
import safetensors.torch
import torch
from torch import Tensor, nn

from reference_impl import files, methods
from reference_impl.evaluation import Predict

FORMAT = "meta-learning-glossary/checkpoint-v2"
"""Value of the description's `format` field; readers refuse other values."""
INTEGRITY = "meta-learning-glossary/sha256-v1"
"""Value of `__metadata__["integrity"]`: what the recorded SHA-256 covers (see `content_sha256`)."""
_METADATA_KEYS = {"description", "integrity", "sha256"}


# --8<-- [start:safetensors]
def _tensor_bytes(tensor: Tensor) -> bytes:
    flat = tensor.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8)  # native order
    return ctypes.string_at(flat.data_ptr(), flat.numel()) if flat.numel() else b""


def content_sha256(tensors: dict[str, Tensor], description: str) -> str:
    """The SHA-256 `save_tensors` records: over the description and every tensor's identity.

    The digest reads, in this order: the `INTEGRITY` tag, the description text, then for each
    tensor in name order a JSON line `[name, dtype, shape]` followed by its bytes. It depends on
    what a reader gets (names, dtypes, shapes, values, description), not on the file's layout.

    Args:
        tensors: Name -> tensor.
        description: The description's JSON text, as stored.

    Returns:
        Hex digest.
    """
    digest = hashlib.sha256(f"{INTEGRITY}\n{description}\n".encode())
    for name in sorted(tensors):
        tensor = tensors[name]
        line = json.dumps([name, str(tensor.dtype), list(tensor.shape)])
        digest.update(line.encode() + b"\n")
        digest.update(_tensor_bytes(tensor))
    return digest.hexdigest()


def save_tensors(path: str | Path, tensors: dict[str, Tensor], description: dict[str, Any]) -> Path:
    """Write tensors and a JSON description as one safetensors file, atomically.

    Args:
        path: Destination file.
        tensors: Name -> tensor (any device; stored from contiguous CPU copies).
        description: JSON-serialisable dictionary, stored in `__metadata__["description"]`.

    Returns:
        The path written.

    Raises:
        ValueError: If the description is not JSON-serialisable, a tensor's dtype has no
            safetensors code, or two tensors share memory.
    """
    try:
        text = json.dumps(description, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: description is not JSON-serialisable: {err}") from err
    state = {name: t.detach().to("cpu").contiguous() for name, t in tensors.items()}
    metadata = {"description": text, "integrity": INTEGRITY, "sha256": content_sha256(state, text)}
    try:
        payload = safetensors.torch.save(state, metadata)
    except (RuntimeError, TypeError, ValueError, safetensors.SafetensorError) as err:
        raise ValueError(f"{path}: cannot store these tensors as safetensors: {err}") from err
    files.atomic_write(path, payload)
    return Path(path)


def load_tensors(path: str | Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Read a file written by `save_tensors` and verify it.

    Args:
        path: The file.

    Returns:
        Name -> tensor (CPU), and the description.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the file is not valid safetensors (truncated, padded or malformed), its
            metadata is not this module's, or the SHA-256 of what was read does not match the
            recorded one; the message names `path` and the check that failed.
    """
    files.remove_orphans(path)
    try:
        with safetensors.safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
            tensors = {name: f.get_tensor(name).clone() for name in f.keys()}
    except safetensors.SafetensorError as err:
        raise ValueError(
            f"{path}: safetensors structure check failed (truncated, padded or malformed): {err}"
        ) from err
    if metadata.get("integrity") != INTEGRITY or set(metadata) != _METADATA_KEYS:
        old = "json" in metadata or "description" in metadata
        hint = " (written by an older version: run python -m benchmarks.migrate_checkpoints)"
        raise ValueError(
            f"{path}: metadata check failed: keys {sorted(metadata)} and integrity "
            f"{metadata.get('integrity')!r}; expected {sorted(_METADATA_KEYS)} and {INTEGRITY!r}"
            + (hint if old else "")
        )
    text = metadata["description"]
    if content_sha256(tensors, text) != metadata["sha256"]:
        raise ValueError(
            f"{path}: SHA-256 check failed: the tensors (names, dtypes, shapes, bytes) or the "
            "description differ from what was written; the file was modified or damaged"
        )
    description = json.loads(text)
    if not isinstance(description, dict):
        raise ValueError(f"{path}: description check failed: expected a JSON object")
    return tensors, description


# --8<-- [end:safetensors]


# --8<-- [start:checkpoint]
class Checkpoint(NamedTuple):
    """The contents of a checkpoint."""

    state_dict: dict[str, Tensor]
    """The model's weights and buffers, on CPU."""
    metadata: dict[str, Any]
    """The description: `format`, `method`, `config_class`, `config`, `split`, `seed`,
    `git_commit`, `torch_version`, `extra`."""


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
    """Write `model.state_dict()` and its description as one checkpoint file, atomically.

    Args:
        path: The file, conventionally `<name>.safetensors`.
        model: The network returned by the method's `build_model(cfg)`.
        method: A name in the method table (`reference_impl.methods.METHODS`); the harness
            stores the algorithm's (`Method.algorithm`: `"maml"` for FOMAML too).
        cfg: The method's config dataclass instance.
        split: Data split the model was trained on (e.g. `"maml"`).
        seed: Training seed.
        extra: JSON-serialisable additions (e.g. the training setting or metrics).

    Returns:
        The path of the file.

    Raises:
        ValueError: If `method` is not in the table, `cfg` is not its config class, or the
            description is not JSON-serialisable (nothing is written).
    """
    config_class = methods.get(method).config_class
    if not isinstance(cfg, config_class):
        raise ValueError(
            f"cfg must be a {config_class.__name__} for method {method!r}, got {type(cfg).__name__}"
        )
    description = {
        "format": FORMAT, "method": method, "config_class": type(cfg).__name__,
        "config": methods.config_to_json(cfg), "split": split, "seed": seed,
        "git_commit": files.git_commit(), "torch_version": torch.__version__, "extra": extra or {},
    }  # fmt: skip
    return save_tensors(path, model.state_dict(), description)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and verify a checkpoint written by `save_checkpoint`.

    Args:
        path: The checkpoint file.

    Returns:
        Weights (CPU) and description.

    Raises:
        FileNotFoundError: If the file is missing.
        ValueError: As `load_tensors` (malformed, truncated or modified file), or if the
            description's `format` is not `FORMAT` or it lacks a field a loader uses (or
            holds one of the wrong JSON type).
    """
    state, description = load_tensors(path)
    if description.get("format") != FORMAT:
        raise ValueError(
            f"{path}: format check failed: {description.get('format')!r}; expected {FORMAT!r}"
        )
    missing = sorted(
        {"method", "config_class", "config", "split", "seed", "extra"} - set(description)
    )
    if missing:
        raise ValueError(f"{path}: description check failed: no {', '.join(missing)}")
    types = {"method": str, "config_class": str, "config": dict, "split": str, "extra": dict}
    wrong = [k for k, kind in types.items() if not isinstance(description[k], kind)]
    seed = description["seed"]
    if not isinstance(seed, int) or isinstance(seed, bool):
        wrong.append("seed")
    if wrong:
        raise ValueError(
            f"{path}: description check failed: wrong type of {', '.join(wrong)} (method, "
            "config_class and split are strings, config and extra objects, seed an integer)"
        )
    return Checkpoint(state, description)


def _rebuild(path: str | Path, device: str | torch.device) -> tuple[methods.Method, nn.Module, Any]:
    """Table row, model (eval mode, on `device`, stored weights) and config of a checkpoint."""
    try:  # before reading: a device this build or machine lacks is a one-line ValueError
        torch.empty(0, device=device)
    except (AssertionError, RuntimeError) as err:  # no CUDA build / no such device
        raise ValueError(f"device {str(device)!r} is not available here: {err}") from err
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
    expected = model.state_dict()
    problems = [f"missing {k}" for k in expected if k not in state]
    problems += [f"unexpected {k}" for k in state if k not in expected]
    problems += [
        f"{k} is {tuple(state[k].shape)}, the model's {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if problems:  # one line, not torch's one line per tensor
        raise ValueError(
            f"{path}: weights do not fit {method}.build_model(cfg) of the stored config: "
            f"{len(problems)} problem(s), first: {problems[0]}"
        )
    model.load_state_dict(state, strict=True)
    return row, model.to(device).eval(), cfg


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, Any]:
    """Rebuild a checkpoint's model (in eval mode, on `device`) and config.

    Args:
        path: The weights file.
        device: Where the model goes.

    Returns:
        The model with the stored weights and the config instance.

    Raises:
        ValueError: As `load_checkpoint`, or if `device` is not available, the method is not in
            the method table, the stored config class is not its, or the weights do not fit
            the rebuilt model.
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
