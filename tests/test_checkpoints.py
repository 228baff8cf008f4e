"""Tests of `reference_impl.checkpoints`: the tensors + description unit (interop with the plain
`safetensors` reader, refusal of tampered or damaged files, atomic writes and orphaned
temporaries), the committed checkpoints and their migration, and save -> load_predictor round
trips (a test double added to the method table with `methods.register`, and the real
`protonet`)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import re
import signal
import struct
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import safetensors
import safetensors.torch
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


# ---------------------------------------------------------------- the tensors + description unit
def every_dtype() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    dtypes = [torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64,
              torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool]  # fmt: skip
    tensors = {str(d).split(".")[1]: (torch.randn(3, 4, generator=g) * 100).to(d) for d in dtypes}
    tensors["scalar"] = torch.tensor(3.25, dtype=torch.float64)
    tensors["empty"] = torch.zeros(0, 5)
    tensors["strided"] = torch.arange(12.0).view(3, 4).T  # non-contiguous input
    return tensors


def test_save_tensors_round_trip_every_dtype_bitwise(tmp_path: Path) -> None:
    tensors = every_dtype()
    path = ck.save_tensors(tmp_path / "all.safetensors", tensors, {"step": 3, "nested": [1, 2]})
    loaded, description = ck.load_tensors(path)
    assert description == {"step": 3, "nested": [1, 2]}
    assert loaded.keys() == tensors.keys()
    for name, tensor in tensors.items():
        assert loaded[name].dtype == tensor.dtype and loaded[name].shape == tensor.shape
        assert torch.equal(loaded[name], tensor), name
    assert [p.name for p in tmp_path.iterdir()] == ["all.safetensors"]  # one file, no temporaries


def test_files_written_here_load_in_the_plain_safetensors_reader(tmp_path: Path) -> None:
    """Interop: any safetensors reader gets the same tensors and finds the description."""
    tensors = every_dtype()
    path = ck.save_tensors(tmp_path / "t.safetensors", tensors, {"who": "us"})
    plain = safetensors.torch.load_file(path)
    assert plain.keys() == tensors.keys()
    for name, tensor in tensors.items():
        assert plain[name].dtype == tensor.dtype and torch.equal(plain[name], tensor), name
    with safetensors.safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    assert json.loads(metadata["description"]) == {"who": "us"}
    assert metadata["sha256"] == ck.content_sha256(plain, metadata["description"])


def test_content_sha256_matches_an_independent_hash_of_names_dtypes_shapes_and_bytes() -> None:
    """The digest, recomputed from its documented definition with struct-packed bytes."""
    tensors = {"w": torch.tensor([1.5, -2.0]), "n": torch.tensor([7], dtype=torch.int64)}
    expected = hashlib.sha256(f"{ck.INTEGRITY}\n{{}}\n".encode())
    expected.update(b'["n", "torch.int64", [1]]\n' + struct.pack("<q", 7))
    expected.update(b'["w", "torch.float32", [2]]\n' + struct.pack("<2f", 1.5, -2.0))
    assert ck.content_sha256(tensors, "{}") == expected.hexdigest()


def edit_header(path: Path, old: bytes, new: bytes) -> None:
    """Replace bytes inside the JSON header (same length, so every offset stays valid)."""
    blob = path.read_bytes()
    size = struct.unpack("<Q", blob[:8])[0]
    header = blob[8 : 8 + size]
    assert len(old) == len(new) and header.count(old) == 1, (old, header)
    path.write_bytes(blob[:8] + header.replace(old, new) + blob[8 + size :])


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("dtype", "SHA-256 check failed"),  # F32 -> I32: same size, reinterpreted values
        ("step", "SHA-256 check failed"),  # "step": 3 -> 9 in a resume state
        ("flip", "SHA-256 check failed"),
        ("truncate", "safetensors structure check failed"),
        ("append", "safetensors structure check failed"),
        ("metadata", "metadata check failed"),
    ],
)
def test_load_tensors_refuses_tampering_naming_file_and_check(
    tmp_path: Path, how: str, message: str
) -> None:
    path = tmp_path / "resume.safetensors"
    ck.save_tensors(path, {"w": torch.ones(4), "b": torch.zeros(2)}, {"step": 3, "done": False})
    blob = bytearray(path.read_bytes())
    if how == "dtype":
        edit_header(path, b'"dtype":"F32","shape":[4]', b'"dtype":"I32","shape":[4]')
        assert safetensors.torch.load_file(path)["w"].dtype == torch.int32  # loads, wrongly
    elif how == "step":
        edit_header(path, b'\\"step\\": 3', b'\\"step\\": 9')
        with safetensors.safe_open(str(path), framework="pt") as f:
            assert json.loads(f.metadata()["description"])["step"] == 9
    elif how == "flip":
        blob[-3] ^= 0x10
        path.write_bytes(bytes(blob))
    elif how == "truncate":
        path.write_bytes(bytes(blob[:-1]))
    elif how == "append":
        path.write_bytes(bytes(blob) + b"\0" * 8)
    else:  # an unverified extra metadata entry
        edit_header(path, b'"integrity"', b'"integrit_"')
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*" + re.escape(message)):
        ck.load_tensors(path)


def test_load_tensors_refuses_pickles_and_old_files_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, path)  # a zip of pickles: never parsed as anything but bytes
    with pytest.raises(ValueError, match=r"model\.pt: safetensors structure check failed"):
        ck.load_tensors(path)
    old = tmp_path / "old.safetensors"
    old.write_bytes(safetensors.torch.save({"w": torch.ones(2)}, {"json": "{}", "sha256": "0"}))
    with pytest.raises(ValueError, match=r"metadata check failed.*benchmarks\.migrate_checkpoints"):
        ck.load_tensors(old)
    with pytest.raises(FileNotFoundError):
        ck.load_tensors(tmp_path / "missing.safetensors")


def test_save_tensors_rejects_bad_descriptions_and_shared_memory_writing_nothing(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValueError, match="description is not JSON-serialisable"):
        ck.save_tensors(tmp_path / "a.safetensors", {}, {"x": object()})
    with pytest.raises(ValueError, match="description is not JSON-serialisable"):
        ck.save_tensors(tmp_path / "a.safetensors", {}, {"x": float("nan")})
    shared = torch.ones(3)
    with pytest.raises(ValueError, match="cannot store these tensors"):
        ck.save_tensors(tmp_path / "a.safetensors", {"a": shared, "b": shared}, {})
    assert list(tmp_path.iterdir()) == []


def test_a_failed_overwrite_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = ck.save_tensors(tmp_path / "best.safetensors", {"w": torch.zeros(2)}, {"seed": 0})
    old = path.read_bytes()

    def fsync_fails(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", fsync_fails)
    with pytest.raises(OSError, match="disk full"):
        ck.save_tensors(path, {"w": torch.ones(2)}, {"seed": 1})
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["best.safetensors"]
    assert path.read_bytes() == old and ck.load_tensors(path)[1] == {"seed": 0}


KILLED_WRITER = """
import os, sys, time
from pathlib import Path
import torch
from reference_impl import checkpoints
def stall(fd):  # the temporary is complete on disk but not renamed: announce it and hang
    Path(sys.argv[2]).write_text("ready")
    time.sleep(60)
os.fsync = stall
checkpoints.save_tensors(sys.argv[1], {"w": torch.ones(1000)}, {"step": 1})
"""


def test_orphaned_temporaries_of_a_killed_writer_are_removed_by_the_next_write_and_load(
    tmp_path: Path,
) -> None:
    """A writer killed (SIGKILL) between writing and renaming leaves its temporary; the next
    load removes it, the next write too, while a live process's temporary is left alone."""
    path = tmp_path / "model.safetensors"
    ck.save_tensors(path, {"w": torch.zeros(2)}, {"step": 0})
    orphans = []
    for _ in range(2):
        ready = tmp_path / "ready"
        ready.unlink(missing_ok=True)
        child = subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITER, str(path), str(ready)],
            cwd=Path(__file__).resolve().parents[1],
        )
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        (orphan,) = (p for p in tmp_path.glob(".model.safetensors.*.tmp") if p not in orphans)
        assert orphan.name.startswith(f".model.safetensors.{child.pid}.")
        orphans.append(orphan)
    live = tmp_path / f".model.safetensors.{os.getppid()}.abcd1234.tmp"  # a running process
    live.write_bytes(b"partial")
    assert ck.load_tensors(path)[1] == {"step": 0}  # the old file is intact
    assert not orphans[0].exists() and not orphans[1].exists() and live.exists()
    stray = tmp_path / ".model.safetensors.999999999.abcd1234.tmp"  # no such process
    stray.write_bytes(b"partial")
    ck.save_tensors(path, {"w": torch.ones(2)}, {"step": 1})
    assert not stray.exists() and live.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["model.safetensors", live.name, "ready"]
    )


# ---------------------------------------------------------------- committed checkpoints
REPO = Path(__file__).resolve().parents[1]
COMMITTED = sorted((REPO / "benchmarks" / "results").rglob("*.safetensors"))


def v1_data_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """The SHA-256 the v1 reader checked: tensor bytes in name order, nothing between them."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(ck._tensor_bytes(tensors[name]))
    return digest.hexdigest()


def test_every_committed_checkpoint_loads_identically_in_both_readers() -> None:
    """Each committed checkpoint loads through `load_checkpoint` and the plain `safetensors`
    reader with identical tensors, and they are bit-identical to the v1 files they were
    migrated from: their bytes hash to the data SHA-256 the v1 reader verified, recorded in the
    description and in the migration record."""
    records = sorted((REPO / "benchmarks" / "results").rglob("migration-v2.json"))
    migrated = {r["path"]: r for f in records for r in json.loads(f.read_text())["files"]}
    assert len(COMMITTED) >= 22
    for path in COMMITTED:
        loaded = ck.load_checkpoint(path)
        plain = safetensors.torch.load_file(path)
        assert plain.keys() == loaded.state_dict.keys()
        for name, tensor in plain.items():
            assert tensor.dtype == loaded.state_dict[name].dtype
            assert torch.equal(tensor, loaded.state_dict[name]), (path, name)
        relative = path.relative_to(REPO).as_posix()
        if relative in migrated:
            old = loaded.metadata["migrated_from"]["data_sha256"]
            assert old == migrated[relative]["old_data_sha256"] == v1_data_sha256(plain)
        assert not path.with_suffix(".json").exists(), "a checkpoint is one file"
    assert set(migrated) <= {p.relative_to(REPO).as_posix() for p in COMMITTED}


def write_v1_pair(path: Path, tensors: dict[str, torch.Tensor], description: dict) -> str:
    """A checkpoint as the v1 writer made it: weights with the data SHA-256 and a copy of the
    description in `__metadata__`, and the `.json` description beside them."""
    text = json.dumps(description, sort_keys=True)
    blob = safetensors.torch.save(tensors, {"description": text, "sha256": ""})
    size = struct.unpack("<Q", blob[:8])[0]
    data_sha = hashlib.sha256(blob[8 + size :]).hexdigest()
    path.write_bytes(safetensors.torch.save(tensors, {"description": text, "sha256": data_sha}))
    side = {**description, "weights_sha256": data_sha}
    path.with_suffix(".json").write_text(json.dumps(side, indent=1, sort_keys=True))
    return data_sha


def test_migrate_checkpoints_rewrites_a_v1_pair_as_one_bit_identical_file(
    tmp_path: Path, tiny_method: str
) -> None:
    from benchmarks import migrate_checkpoints

    cfg = TinyConfig()
    model = trained_tiny(cfg)
    description = {
        "format": migrate_checkpoints.OLD_FORMAT, "method": tiny_method,
        "config_class": "TinyConfig", "config": {"in_features": 6, "hidden": [5, 3],
        "temperature": 2.0}, "split": "maml", "seed": 4, "git_commit": "abc",
        "torch_version": "x", "extra": {"steps": 7},
    }  # fmt: skip
    path = tmp_path / "m.safetensors"
    data_sha = write_v1_pair(path, model.state_dict(), description)
    resume = tmp_path / "resume.safetensors"
    resume.write_bytes(safetensors.torch.save({"w": torch.ones(2)}, {"json": '{"step": 3}'}))
    blob = resume.read_bytes()  # the v1 resume layout: the data SHA-256 beside the JSON
    size = struct.unpack("<Q", blob[:8])[0]
    sha = hashlib.sha256(blob[8 + size :]).hexdigest()
    resume.write_bytes(
        safetensors.torch.save({"w": torch.ones(2)}, {"json": '{"step": 3}', "sha256": sha})
    )
    tampered = tmp_path / "t.safetensors"
    write_v1_pair(tampered, model.state_dict(), description)
    side = json.loads(tampered.with_suffix(".json").read_text())
    tampered.with_suffix(".json").write_text(json.dumps({**side, "seed": 5}))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert migrate_checkpoints.main([str(path), str(tampered)]) == 2  # checked before any change
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before

    record = tmp_path / "record.json"
    assert migrate_checkpoints.main([str(path), str(resume), "--record", str(record)]) == 0
    loaded = ck.load_checkpoint(path)
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict[name], tensor), name
    assert loaded.metadata == {
        **description, "format": ck.FORMAT,
        "migrated_from": {"format": "v1", "data_sha256": data_sha},
    }  # fmt: skip
    assert not path.with_suffix(".json").exists()
    assert ck.load_tensors(resume)[1]["step"] == 3
    files = json.loads(record.read_text())["files"]
    assert [f["tensors"] for f in files] == [len(model.state_dict()), 1]
    assert ck.load_predictor(path)  # rebuilt through the registry
    assert migrate_checkpoints.main([str(path)]) == 2  # already migrated: refused, unchanged


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
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.safetensors"]  # one file, no temporaries
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


def test_checkpoint_description_records_provenance(tmp_path: Path, tiny_method: str) -> None:
    cfg = TinyConfig()
    path = ck.save_checkpoint(
        tmp_path / "t.safetensors", build_model(cfg), tiny_method, cfg, split="lake", seed=5
    )
    meta = ck.load_checkpoint(path).metadata
    assert meta["method"] == "tiny" and meta["config_class"] == "TinyConfig"
    assert meta["config"] == {
        "in_features": 6, "hidden": [5, 3], "temperature": 2.0, "seed": 0, "train_steps": 0,
        "outer_lr": 1e-3,
    }  # fmt: skip
    assert (meta["split"], meta["seed"], meta["extra"]) == ("lake", 5, {})
    assert meta["git_commit"] == files.git_commit()  # the one helper; tests/test_files.py
    assert meta["torch_version"] == torch.__version__ and meta["format"] == ck.FORMAT
    assert [p.name for p in tmp_path.iterdir()] == ["t.safetensors"]  # weights + description


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


@pytest.mark.parametrize("edit", ["config", "method", "format", "weights"])
def test_load_checkpoint_refuses_tampering(tmp_path: Path, tiny_method: str, edit: str) -> None:
    cfg = TinyConfig()
    path = ck.save_checkpoint(
        tmp_path / "t.safetensors", build_model(cfg), tiny_method, cfg, split="maml", seed=0
    )
    if edit == "config":
        edit_header(path, b'\\"temperature\\": 2.0', b'\\"temperature\\": 9.0')
        message = "SHA-256 check failed"
    elif edit == "method":
        edit_header(path, b'\\"method\\": \\"tiny\\"', b'\\"method\\": \\"maml\\"')
        message = "SHA-256 check failed"
    elif edit == "format":  # a consistent file with another format: rewritten, not edited
        state, description = ck.load_tensors(path)
        ck.save_tensors(path, state, {**description, "format": "something-else"})
        message = "format check failed: 'something-else'; expected"
    else:
        blob = bytearray(path.read_bytes())
        blob[-3] ^= 0x10
        path.write_bytes(bytes(blob))
        message = "SHA-256 check failed"
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*" + re.escape(message)):
        ck.load_predictor(path)


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
    assert list(tmp_path.iterdir()) == []


def test_load_model_refuses_unregistered_method_and_misfit_weights(
    tmp_path: Path, tiny_method: str
) -> None:
    cfg = TinyConfig()
    path = ck.save_checkpoint(
        tmp_path / "t.safetensors", build_model(cfg), tiny_method, cfg, split="maml", seed=0
    )
    methods.unregister(tiny_method)
    try:
        with pytest.raises(ValueError, match="method 'tiny' is not in the method table"):
            ck.load_predictor(path)
    finally:
        methods.register(TINY)
    _, description = ck.load_tensors(path)
    ck.save_tensors(path, {"0.weight": torch.zeros(1)}, description)
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
