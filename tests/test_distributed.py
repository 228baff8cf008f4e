"""Distributed meta-training equals single-process training on the same tasks (float64, MAML).

Two CPU processes join a gloo group on 127.0.0.1; each takes half of every meta-batch of 5 tasks
(shards of 3 and 2, so the shard weighting is exercised) and the meta-gradient is all-reduced
(`benchmarks.distributed.AllReduceOptimizer`). After each of 3 meta-updates the reduced
meta-gradient, and after the last the parameters, must equal those of one process that sees the
whole meta-batch. Only the order of floating-point sums differs, so float64 agrees to ~1e-15.
"""

from __future__ import annotations

import itertools
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from benchmarks import common, distributed, train

STEPS = 3
META_BATCH = 5


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tiny_maml_trainer(info: distributed.DistInfo) -> train.Trainer:
    """MAML 5-way 1-shot, Conv-4 with 4 filters, 2 inner steps, float64, synthetic characters."""
    cfg_class = common.load_method("maml").config_class
    fields = common.omniglot_fields("maml", 5, 1, num_train_classes=12)
    fields.update(
        conv_channels=4, meta_batch_size=META_BATCH, inner_steps=2, n_query=2, train_steps=STEPS
    )
    data = train.synthetic_characters(12, seed=5, dtype=torch.float64)
    return train.Trainer("maml", cfg_class(**fields), data, seed=0, dtype=torch.float64, info=info)


def run_steps(trainer: train.Trainer) -> dict[str, torch.Tensor]:
    """Take `STEPS` updates; return the initial parameters, each step's meta-gradient and the
    final parameters."""
    out = {f"init.{name}": p.detach().clone() for name, p in trainer.model.named_parameters()}
    for step in range(STEPS):
        trainer.train_step()
        for name, p in trainer.model.named_parameters():
            assert p.grad is not None
            out[f"grad.{step}.{name}"] = p.grad.detach().clone()
    for name, p in trainer.model.named_parameters():
        out[f"param.{name}"] = p.detach().clone()
    return out


CLI_FLAGS = [
    "maml", "5w1s", "--data", "synthetic", "--dtype", "float64", "--conv-channels", "4",
    "--meta-batch-size", str(META_BATCH), "--n-query", "2", "--episodes", str(STEPS),
    "--val-every", "0", "--val-episodes", "2", "--threads", "1", "--quiet",
]  # fmt: skip


def worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    """One rank, in the environment `torchrun` would give it: join the gloo group, train 3
    steps on its shards and save what it saw; then run the training command line."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
        WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank), GLOO_SOCKET_IFNAME="lo",
    )  # fmt: skip
    torch.set_num_threads(1)
    info = distributed.init_distributed("cpu")
    try:
        result = run_steps(tiny_maml_trainer(info))
        common.write_tensor_file(Path(out_dir) / f"rank{rank}.safetensors", result, {})
        assert train.main([*CLI_FLAGS, "--out", str(Path(out_dir) / "dist")]) == 0
    finally:
        distributed.shutdown_distributed()


def test_shard_bounds_cover_every_task_once() -> None:
    """Shards are contiguous, differ in size by at most one and cover 0..T-1 exactly once."""
    for total in range(2, 12):
        for world in range(1, total + 1):
            bounds = [distributed.shard_bounds(total, r, world) for r in range(world)]
            assert bounds[0][0] == 0 and bounds[-1][1] == total
            assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
            sizes = [stop - start for start, stop in bounds]
            assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1
    with pytest.raises(ValueError, match="meta_batch_size >= 4"):
        distributed.shard_bounds(3, 0, 4)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder with what 2 gloo ranks on 127.0.0.1 wrote (one spawn for the whole file)."""
    out = tmp_path_factory.mktemp("ranks")
    mp.spawn(worker, args=(2, free_port(), str(out)), nprocs=2, join=True)
    return out


@pytest.mark.slow
def test_two_gloo_processes_match_single_process_maml(two_ranks: Path) -> None:
    """Meta-gradients of 3 steps and the final parameters agree with one process to rtol 1e-10."""
    torch.set_num_threads(1)
    expected = run_steps(tiny_maml_trainer(distributed.DistInfo()))
    for rank in range(2):
        got, _ = common.read_tensor_file(two_ranks / f"rank{rank}.safetensors")
        assert got.keys() == expected.keys()
        for name, value in expected.items():
            assert got[name].dtype == torch.float64
            torch.testing.assert_close(got[name], value, rtol=1e-10, atol=1e-13, msg=name)
    # the meta-gradient is not trivially zero, and the parameters moved
    assert any(float(v.abs().max()) > 1e-6 for k, v in expected.items() if k.startswith("grad."))
    moved = [
        expected[k] - expected["init." + k[len("param.") :]] for k in expected if k[:6] == "param."
    ]
    assert max(float(d.abs().max()) for d in moved) > 1e-6


@pytest.mark.slow
def test_two_process_training_command_matches_single_process(
    two_ranks: Path, tmp_path: Path
) -> None:
    """`benchmarks.train` under a 2-rank gloo group (as `torchrun` starts it) ends with the
    single-process weights and records the `torchrun` command."""
    assert train.main([*CLI_FLAGS, "--out", str(tmp_path / "single")]) == 0
    dist_state, dist_meta = common.read_tensor_file(two_ranks / "dist" / train.RESUME_FILE)
    single_state, _ = common.read_tensor_file(tmp_path / "single" / train.RESUME_FILE)
    assert dist_meta["world_size"] == 2
    assert dist_meta["command"].startswith("torchrun --nproc-per-node 2 -m benchmarks.train maml")
    model_keys = [k for k in single_state if k.startswith("model.")]
    assert model_keys
    for key in model_keys:
        torch.testing.assert_close(
            dist_state[key], single_state[key], rtol=1e-10, atol=1e-13, msg=key
        )
