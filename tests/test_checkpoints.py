"""Tests of `reference_impl.checkpoints`: the safetensors layout against the specification,
refusal of damaged files, and save -> load_predictor round trips (a test double added to the
method table with `methods.register`, and the real `protonet`)."""

from __future__ import annotations

import dataclasses
import json
import pickle
import re
import struct
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

from reference_impl import checkpoints as ck
from reference_impl import files, methods

# ---------------------------------------------------------------- a method module test double


@dataclass(frozen=True)
class TinyConfig:
    in_features: int = 6
    hidden: tuple[int, ...] = (5, 3)
    temperature: float = 2.0
    seed: int = 0
    train_steps: int = 0
    outer_lr: float = 1e-3


def build_model(cfg: TinyConfig) -> nn.Module:
    return nn.Sequential(
        nn.Linear(cfg.in_features, cfg.hidden[0]),
        nn.BatchNorm1d(cfg.hidden[0]),  # running-stat buffers: float and int64 entries
        nn.Tanh(),
        nn.Linear(cfg.hidden[0], cfg.hidden[1]),
    )


def make_predict(model: nn.Module, cfg: TinyConfig):  # type: ignore[no-untyped-def]
    def predict(
        support_x: torch.Tensor, support_y: torch.Tensor, query_x: torch.Tensor
    ) -> torch.Tensor:
        n_way = int(support_y.max()) + 1
        with torch.no_grad():
            support, query = model(support_x), model(query_x)
        onehot = nn.functional.one_hot(support_y, n_way).to(support)
        prototypes = onehot.T @ support / onehot.sum(0)[:, None]  # (N, D)
        return -(torch.cdist(query, prototypes) ** 2) / cfg.temperature

    return predict


def train_step(model: nn.Module, optimizer, batch, cfg: TinyConfig) -> dict[str, float]:  # type: ignore[no-untyped-def]
    raise NotImplementedError("checkpoint tests never train the double")


TINY = methods.Method(
    name="tiny",
    module=types.ModuleType("tiny"),
    config_class=TinyConfig,
    omniglot=lambda n_way, k_shot, classes: TinyConfig(),
    build_model=build_model,
    train_step=train_step,
    make_predict=make_predict,
    episodic=False,
)


@pytest.fixture
def tiny_method() -> Iterator[str]:
    methods.register(TINY)
    yield "tiny"
    methods.unregister("tiny")


def trained_tiny(cfg: TinyConfig) -> nn.Module:
    """A model whose weights and BatchNorm buffers differ from a fresh build."""
    torch.manual_seed(0)
    model = build_model(cfg)
    model.train()
    model(torch.randn(16, cfg.in_features))  # updates running statistics
    return model


def episode(
    x_shape: tuple[int, ...], seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(10, *x_shape, generator=g),
        torch.arange(5).repeat_interleave(2),
        torch.randn(15, *x_shape, generator=g),
    )


# ---------------------------------------------------------------- safetensors layout
def test_save_safetensors_layout_follows_the_specification(tmp_path: Path) -> None:
    """Parse the written bytes by hand: u64 LE header size, JSON header, little-endian data."""
    path = tmp_path / "w.safetensors"
    tensors = {
        "b": torch.tensor([1.5, -2.0], dtype=torch.float32),
        "a": torch.tensor([[7]], dtype=torch.int64),
    }
    digest = ck.save_safetensors(path, tensors, {"note": "hi"})
    blob = path.read_bytes()
    (size,) = struct.unpack("<Q", blob[:8])
    assert size % 8 == 0
    header = json.loads(blob[8 : 8 + size])
    assert header["__metadata__"] == {"note": "hi", "sha256": digest}
    assert header["a"] == {"dtype": "I64", "shape": [1, 1], "data_offsets": [0, 8]}
    assert header["b"] == {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}
    assert blob[8 + size :] == struct.pack("<q", 7) + struct.pack("<2f", 1.5, -2.0)


def test_load_safetensors_reads_a_hand_built_file_with_unaligned_tensors(tmp_path: Path) -> None:
    """A file written from the specification alone: a 3-byte tensor leaves the F32 unaligned."""
    header = {
        "mask": {"dtype": "BOOL", "shape": [3], "data_offsets": [0, 3]},
        "w": {"dtype": "F32", "shape": [2, 1], "data_offsets": [3, 11]},
        "__metadata__": {"who": "spec"},
    }
    text = json.dumps(header).encode()
    path = tmp_path / "hand.safetensors"
    path.write_bytes(
        struct.pack("<Q", len(text)) + text + bytes([1, 0, 1]) + struct.pack("<2f", 0.25, 3.0)
    )
    tensors, metadata = ck.load_safetensors(path)
    assert metadata == {"who": "spec"}
    assert torch.equal(tensors["mask"], torch.tensor([True, False, True]))
    assert torch.equal(tensors["w"], torch.tensor([[0.25], [3.0]]))


def test_safetensors_round_trip_every_dtype_bitwise(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(0)
    tensors = {
        code.lower(): (torch.randn(3, 4, generator=g) * 100).to(dtype)
        for code, dtype in ck.DTYPES.items()
    }
    tensors["scalar"] = torch.tensor(3.25, dtype=torch.float64)
    tensors["empty"] = torch.zeros(0, 5)
    tensors["strided"] = torch.arange(12.0).view(3, 4).T  # non-contiguous input
    path = tmp_path / "all.safetensors"
    ck.save_safetensors(path, tensors)
    loaded, _ = ck.load_safetensors(path)
    assert loaded.keys() == tensors.keys()
    for name, tensor in tensors.items():
        assert loaded[name].dtype == tensor.dtype and loaded[name].shape == tensor.shape
        assert torch.equal(loaded[name], tensor), name


def damaged(path: Path, how: str) -> None:
    blob = bytearray(path.read_bytes())
    size = struct.unpack("<Q", blob[:8])[0]
    if how == "truncate":
        blob = blob[:-1]
    elif how == "flip":
        blob[-3] ^= 0x10
    elif how == "append":
        blob += b"\0\0\0\0"
    elif how == "huge-header":
        blob[:8] = struct.pack("<Q", len(blob))
    elif how == "not-json":
        blob[8] = ord("x")
    elif how == "gap":  # same bytes, offsets shifted by 4: a hole before "a"
        header = json.loads(blob[8 : 8 + size])
        header["a"]["data_offsets"] = [4, 12]
        header["b"]["data_offsets"] = [12, 20]
        text = json.dumps(header).encode()
        blob = bytearray(struct.pack("<Q", len(text)) + text + bytes(4) + blob[8 + size : -4])
    path.write_bytes(bytes(blob))


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("truncate", "tensors cover 16 bytes but the data section has 15; the file is truncated"),
        ("append", "tensors cover 16 bytes but the data section has 20"),
        ("flip", "SHA-256 of the tensor bytes does not match"),
        ("huge-header", "header length"),
        ("not-json", "header is not valid JSON"),
        ("gap", "tensor 'a' starts at byte 4; expected 0"),
    ],
)
def test_load_safetensors_refuses_damaged_files(tmp_path: Path, how: str, message: str) -> None:
    path = tmp_path / "w.safetensors"
    ck.save_safetensors(
        path, {"a": torch.ones(2, dtype=torch.float32), "b": torch.ones(2, dtype=torch.float32)}
    )
    damaged(path, how)
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*" + re.escape(message)):
        ck.load_safetensors(path)


def test_load_safetensors_refuses_pickles_and_bad_entries(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, path)  # a zip of pickles: never parsed as anything but bytes
    with pytest.raises(ValueError, match="header length"):
        ck.load_safetensors(path)
    for entry, message in [
        ({"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}, "dtype 'F128'"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}, "spans 4 bytes; F32 [2] needs 8"),
        ({"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}, "shape [-1]"),
        ({"dtype": "F32", "shape": [1]}, "exactly dtype, shape and data_offsets"),
    ]:
        text = json.dumps({"x": entry}).encode()
        path.write_bytes(struct.pack("<Q", len(text)) + text + bytes(16))
        with pytest.raises(ValueError, match=re.escape(message)):
            ck.load_safetensors(path)


def test_save_safetensors_rejects_unsupported_dtype_and_metadata(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"dtype torch\.complex64"):
        ck.save_safetensors(
            tmp_path / "c.safetensors", {"z": torch.zeros(2, dtype=torch.complex64)}
        )
    with pytest.raises(ValueError, match="metadata 'step' is int; expected str"):
        ck.save_safetensors(tmp_path / "m.safetensors", {}, {"step": 3})  # type: ignore[dict-item]
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- checkpoints
def test_checkpoint_round_trip_gives_identical_predictions(
    tmp_path: Path, tiny_method: str
) -> None:
    cfg = TinyConfig(hidden=(7, 4))
    model = trained_tiny(cfg).eval()
    path = ck.save_checkpoint(
        tmp_path / "tiny.safetensors",
        model,
        tiny_method,
        cfg,
        split="maml",
        seed=3,
        extra={"steps": 10},
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "tiny.json",
        "tiny.safetensors",
    ]  # no temp files
    predict = ck.load_predictor(path)
    support_x, support_y, query_x = episode((6,))
    assert torch.equal(
        predict(support_x, support_y, query_x),
        make_predict(model, cfg)(support_x, support_y, query_x),
    )
    loaded, loaded_cfg = ck.load_model(path)
    assert loaded_cfg == cfg and isinstance(loaded_cfg.hidden, tuple)
    assert not loaded.training
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name


def test_checkpoint_sidecar_records_provenance(tmp_path: Path, tiny_method: str) -> None:
    cfg = TinyConfig()
    path = ck.save_checkpoint(
        tmp_path / "t.safetensors", build_model(cfg), tiny_method, cfg, split="lake", seed=5
    )
    meta = json.loads((tmp_path / "t.json").read_text())
    assert meta["method"] == "tiny" and meta["config_class"] == "TinyConfig"
    assert meta["config"] == {
        "in_features": 6, "hidden": [5, 3], "temperature": 2.0, "seed": 0, "train_steps": 0,
        "outer_lr": 1e-3,
    }  # fmt: skip
    assert (meta["split"], meta["seed"], meta["extra"]) == ("lake", 5, {})
    assert meta["git_commit"] == files.git_commit()  # the one helper; tests/test_files.py
    assert meta["torch_version"] == torch.__version__ and meta["format"] == ck.FORMAT
    assert ck.load_checkpoint(path).metadata == meta


def test_overwriting_a_checkpoint_fails_whole_and_keeps_the_old_pair(
    tmp_path: Path, tiny_method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Weights and description are both on disk before either is renamed: a failure while
    writing them (here the second file's fsync) leaves the previous pair loadable."""
    import os

    cfg = TinyConfig()
    torch.manual_seed(0)
    path = ck.save_checkpoint(
        tmp_path / "best.safetensors", build_model(cfg), tiny_method, cfg, split="maml", seed=0
    )
    old = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    calls: list[int] = []
    real_fsync = os.fsync

    def fsync_fails_second_time(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:
            raise OSError("disk full")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_fails_second_time)
    with pytest.raises(OSError, match="disk full"):
        ck.save_checkpoint(path, build_model(cfg), tiny_method, cfg, split="maml", seed=1)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == old  # no temporaries either
    assert ck.load_checkpoint(path).metadata["seed"] == 0


def test_load_checkpoint_never_unpickles(
    tmp_path: Path, tiny_method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = TinyConfig()
    path = ck.save_checkpoint(
        tmp_path / "t.safetensors", build_model(cfg), tiny_method, cfg, split="maml", seed=0
    )

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("unpickling attempted")

    for target, name in [
        (pickle, "load"),
        (pickle, "loads"),
        (pickle, "Unpickler"),
        (torch, "load"),
    ]:
        monkeypatch.setattr(target, name, forbidden)
    ck.load_predictor(path)


@pytest.mark.parametrize("edit", ["config", "sha", "format", "weights"])
def test_load_checkpoint_refuses_tampering(tmp_path: Path, tiny_method: str, edit: str) -> None:
    cfg = TinyConfig()
    path = ck.save_checkpoint(
        tmp_path / "t.safetensors", build_model(cfg), tiny_method, cfg, split="maml", seed=0
    )
    side = tmp_path / "t.json"
    meta = json.loads(side.read_text())
    if edit == "config":
        meta["config"]["temperature"] = 9.0
        message = "description differs from the copy inside"
    elif edit == "sha":
        meta["weights_sha256"] = "0" * 64
        message = "weights_sha256 does not match"
    elif edit == "format":
        meta["format"] = "something-else"
        message = "format 'something-else'; expected"
    else:
        damaged(path, "flip")
        message = "SHA-256 of the tensor bytes does not match"
    side.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=re.escape(message)):
        ck.load_predictor(path)


def test_load_checkpoint_missing_sidecar_names_it(tmp_path: Path, tiny_method: str) -> None:
    cfg = TinyConfig()
    path = ck.save_checkpoint(
        tmp_path / "t.safetensors", build_model(cfg), tiny_method, cfg, split="maml", seed=0
    )
    (tmp_path / "t.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"t\.json"):
        ck.load_checkpoint(path)


def test_save_checkpoint_rejects_bad_arguments_and_writes_nothing(
    tmp_path: Path, tiny_method: str
) -> None:
    cfg, model = TinyConfig(), build_model(TinyConfig())
    with pytest.raises(ValueError, match=r"unknown method 'tinyy'; expected one of maml, "):
        ck.save_checkpoint(tmp_path / "a.safetensors", model, "tinyy", cfg, split="maml", seed=0)
    with pytest.raises(ValueError, match="cfg must be a TinyConfig for method 'tiny', got dict"):
        ck.save_checkpoint(tmp_path / "a.safetensors", model, tiny_method, {}, split="maml", seed=0)
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        ck.save_checkpoint(
            tmp_path / "a.safetensors",
            model,
            tiny_method,
            cfg,
            split="maml",
            seed=0,
            extra={"x": object()},
        )
    with pytest.raises(ValueError, match=r"cannot end in \.json"):
        ck.save_checkpoint(tmp_path / "a.json", model, tiny_method, cfg, split="maml", seed=0)
    assert list(tmp_path.iterdir()) == []


def test_load_model_refuses_unregistered_method_and_misfit_weights(
    tmp_path: Path, tiny_method: str
) -> None:
    cfg = TinyConfig()
    path = ck.save_checkpoint(
        tmp_path / "t.safetensors", build_model(cfg), tiny_method, cfg, split="maml", seed=0
    )
    side = tmp_path / "t.json"
    meta = json.loads(side.read_text())
    methods.unregister(tiny_method)
    try:
        with pytest.raises(ValueError, match="method 'tiny' is not in the method table"):
            ck.load_predictor(path)
    finally:
        methods.register(TINY)
    ck.save_safetensors(
        path,
        {"0.weight": torch.zeros(1)},
        {
            "description": json.dumps(
                {k: v for k, v in meta.items() if k != "weights_sha256"}, sort_keys=True
            )
        },
    )
    meta["weights_sha256"] = ck.load_safetensors(path)[1]["sha256"]
    side.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"weights do not fit tiny\.build_model\(cfg\)"):
        ck.load_predictor(path)


def test_register_guards_existing_names() -> None:
    with pytest.raises(ValueError, match=re.escape("method 'maml' is already in the table")):
        methods.register(dataclasses.replace(TINY, name="maml"))
    methods.register(methods.METHODS["maml"])  # the same row again: accepted
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        methods.unregister("nope")
    with pytest.raises(ValueError, match="checkpoints store 'tiny', which must be a row"):
        methods.register(dataclasses.replace(TINY, name="tiny_variant"))
    assert "tiny_variant" not in methods.METHODS


def test_protonet_checkpoint_round_trip_identical_predictions(tmp_path: Path) -> None:
    """The real method: a small Conv-4 on Omniglot-shaped inputs, saved and rebuilt by name."""
    from reference_impl import protonet

    cfg = protonet.ProtoNetConfig(conv_channels=8)
    torch.manual_seed(1)
    model = protonet.build_model(cfg)
    path = ck.save_checkpoint(
        tmp_path / "protonet.safetensors", model, "protonet", cfg, split="maml", seed=1
    )
    support_x, support_y, query_x = episode((1, 28, 28), seed=2)
    expected = protonet.make_predict(model, cfg)(support_x, support_y, query_x)
    logits = ck.load_predictor(path)(support_x, support_y, query_x)
    assert logits.shape == (15, 5)
    assert torch.equal(logits, expected)
