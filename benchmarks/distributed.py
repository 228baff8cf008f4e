"""Data-parallel meta-training over tasks with `torch.distributed` (gloo on CPU, NCCL on GPU).

Every rank draws the same full meta-batch of `T` tasks from an identically seeded generator and
keeps its own contiguous shard of it (`shard_bounds`). Each rank's loss is the mean over its
shard, so the meta-gradient of the whole batch is the shard gradients weighted by shard size,
`sum_r (T_r / T) g_r`; `AllReduceOptimizer` forms that sum with one `all_reduce` just before the
wrapped optimizer's `step`, so every rank applies the same update and the parameters stay equal
without ever being broadcast. Because the algorithm files' `train_step(model, optimizer, batch,
cfg)` call `optimizer.step()` themselves, the wrapper slots in without changing them.

Launch (2 processes on one machine; `--nnodes`/`--rdzv-endpoint` for several machines):

    torchrun --nproc-per-node 2 -m benchmarks.train maml 5w1s --distributed

Batch normalisation is per task in every method that supports this mode, so sharding tasks
changes nothing but the order of floating-point sums (exact in float64 up to rounding; see
`tests/test_distributed.py`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor


@dataclasses.dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the process group."""

    rank: int = 0
    """Global rank."""
    world_size: int = 1
    """Number of processes."""
    local_rank: int = 0
    """Rank on this machine (selects the GPU)."""

    @property
    def active(self) -> bool:
        """True when there is more than one process."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, which validates, prints and writes files."""
        return self.rank == 0


def env_world_size() -> int:
    """`WORLD_SIZE` set by `torchrun` (1 when absent)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
"""The environment `torchrun` sets for each process, which `init_distributed` reads."""


def environment_problem() -> str | None:
    """What makes the `RANK`/`WORLD_SIZE`/`LOCAL_RANK` environment unusable, or `None`."""
    values = {}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        text = os.environ.get(name)
        if text is not None:
            try:
                values[name] = int(text)
            except ValueError:
                return f"{name}={text!r} is not an integer"
    world, rank = values.get("WORLD_SIZE", 1), values.get("RANK", 0)
    if world < 1:
        return f"WORLD_SIZE={world} must be >= 1"
    if not 0 <= rank < world:
        return f"RANK={rank} must lie in 0..{world - 1} (WORLD_SIZE={world})"
    return None


def launched_by_torchrun() -> bool:
    """Whether the environment names a process group (every `TORCHRUN_VARIABLES` is set)."""
    return all(os.environ.get(name) for name in TORCHRUN_VARIABLES)


def init_distributed(device: str) -> DistInfo:
    """Join the process group that `torchrun` describes in the environment.

    Args:
        device: `"cpu"` (gloo) or `"cuda"` (NCCL; selects GPU `LOCAL_RANK`).

    Returns:
        This process's `DistInfo`.
    """
    info = DistInfo(
        rank=int(os.environ.get("RANK", "0")),
        world_size=env_world_size(),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )
    if not dist.is_initialized():
        backend = "nccl" if device == "cuda" else "gloo"
        if device == "cuda":
            torch.cuda.set_device(info.local_rank)
        dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size)
    return info


def shutdown_distributed() -> None:
    """Leave the process group if this process joined one."""
    if dist.is_initialized():
        dist.destroy_process_group()


def shard_bounds(total: int, rank: int, world_size: int) -> tuple[int, int]:
    """The contiguous slice `[start, stop)` of `total` tasks that `rank` owns.

    Shard sizes differ by at most one and cover `0..total-1` exactly once.

    Raises:
        ValueError: If there are fewer tasks than ranks, or `rank` is out of range.
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
    if total < world_size:
        raise ValueError(
            f"meta-batch of {total} tasks cannot be split over {world_size} processes; "
            f"expected meta_batch_size >= {world_size}"
        )
    base, extra = divmod(total, world_size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def shard_batch(batch: tuple[Tensor, ...], info: DistInfo) -> tuple[tuple[Tensor, ...], float]:
    """This rank's shard of a meta-batch (leading `T`), and its weight `T_r / T`."""
    total = batch[0].shape[0]
    start, stop = shard_bounds(total, info.rank, info.world_size)
    return tuple(x[start:stop] for x in batch), (stop - start) / total


class AllReduceOptimizer:
    """Wrap an optimizer so that `step()` first replaces every gradient by the weighted sum over ranks.

    Set `weight` to this rank's share `T_r / T` of the meta-batch before each step. All gradients
    are flattened into one buffer (one collective per step); a parameter without a gradient on
    this rank contributes zeros. Everything else (`zero_grad`, `param_groups`, `state_dict`, ...)
    is the wrapped optimizer's.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, info: DistInfo) -> None:
        self.optimizer = optimizer
        self.info = info
        self.weight = 1.0 / info.world_size

    def __getattr__(self, name: str) -> Any:
        return getattr(self.optimizer, name)

    def all_reduce_grads(self) -> None:
        """Replace each `p.grad` by `sum_r weight_r * p.grad_r` over all ranks."""
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        grads = [
            p.grad.reshape(-1) if p.grad is not None else p.new_zeros(p.numel()) for p in params
        ]
        flat = torch.cat(grads) * self.weight  # (total parameters,)
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        offset = 0
        for p in params:
            chunk = flat[offset : offset + p.numel()].view_as(p)
            offset += p.numel()
            if p.grad is None:
                p.grad = chunk.clone()
            else:
                p.grad.copy_(chunk)

    def step(self, closure: Any = None) -> Any:
        """All-reduce the gradients, then take the wrapped optimizer's step."""
        if closure is not None:
            raise ValueError("AllReduceOptimizer does not support closures")
        self.all_reduce_grads()
        return self.optimizer.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        """The wrapped optimizer's `zero_grad`."""
        self.optimizer.zero_grad(set_to_none=set_to_none)


def _collective_device() -> torch.device:
    """Where small collective tensors live: CUDA under NCCL, CPU under gloo."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_stats(stats: Mapping[str, float], weight: float, info: DistInfo) -> dict[str, float]:
    """Weighted sum over ranks of per-shard statistics (loss, accuracy) with weights `T_r / T`."""
    if not info.active:
        return dict(stats)
    keys = sorted(stats)
    values = torch.tensor(
        [float(stats[k]) * weight for k in keys], dtype=torch.float64, device=_collective_device()
    )
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return dict(zip(keys, values.tolist(), strict=True))


def any_rank(flag: bool, info: DistInfo) -> bool:
    """True on every rank if `flag` is true on any rank (keeps stop decisions in lockstep)."""
    if not info.active:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], dtype=torch.float64, device=_collective_device())
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def broadcast_flag(flag: bool, info: DistInfo) -> bool:
    """Rank 0's value of `flag` on every rank."""
    if not info.active:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], dtype=torch.float64, device=_collective_device())
    dist.broadcast(value, src=0)
    return bool(value.item() > 0)


def barrier(info: DistInfo) -> None:
    """Wait for every rank (no-op in one process)."""
    if info.active:
        dist.barrier()
