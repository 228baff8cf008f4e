"""Speed of one Prototypical Networks training update: plain fp32 PyTorch vs the reference code.

One update = embed support and query images with the Conv-4 of §3.1 (28x28 inputs), prototypes,
squared-Euclidean logits, cross-entropy, backward, Adam step. Episodes: 5w5s15q, 20w5s5q and
60w5s5q (the paper's training episodes). Implementations, all in this process:

* `plain`: fp32 PyTorch written below the way the paper reads (conv, BN, ReLU, pool; the authors'
  code also embeds support and query as one batch);
* `exact`: `reference_impl.protonet` with `fast=False` (the default, used by the tests);
* `fast`: `reference_impl.protonet` with `fast=True`;
* candidates for the fast path, timed so the choice is documented: `channels_last` alone,
  pool-before-ReLU alone, bf16 autocast, and (with `--compile`) `torch.compile`.

The variants run interleaved, round after round, so load from other processes falls on all of
them alike; the JSON stores per-variant medians and the median of per-round ratios to `plain`.
Memory is the size of the tensors autograd saves for backward in one update, counted exactly
(independent of the allocator and of other processes).

With `--device cuda` the same variants run on the GPU (bf16 autocast on CUDA, synchronised
timings, and also peak memory from `torch.cuda.max_memory_allocated`).

Usage: `python -m benchmarks.bench_protonet [--rounds 15] [--threads N] [--compile] [--device cuda] [--out PATH]`
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from benchmarks.common import (
    contention_note,
    cpu_flags,
    cpu_model,
    cuda_precision,
    provenance,
)
from reference_impl import protonet
from reference_impl.files import atomic_write_json

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results" / "protonet_speed.json"
EPISODES = {"5w5s15q": (5, 5, 15), "20w5s5q": (20, 5, 5), "60w5s5q": (60, 5, 5)}
TARGET_RATIO = 0.4
"""Issue 5's target for `fast / plain`."""
SLOW_CANDIDATE_ROUNDS = 3
"""Rounds for candidates that are an order of magnitude slower (bf16 on CPUs without bf16 units)."""

FAST_PATH = "ProtoNetConfig(fast=True): max-pool before ReLU, channels_last convolutions, fp32"
"""What `fast` means in the result file."""

MEMORY_NOTE = "saved_for_backward_mib: tensors autograd keeps for backward in one update"

Step = Callable[[], None]


# --8<-- [start:plain]
def plain_step(n_way: int, k_shot: int, n_query: int, images: Tensor) -> Step:
    """A direct fp32 ProtoNet update, written without the reference module."""

    def block(c_in: int, c_out: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, padding=1),
            nn.BatchNorm2d(c_out, track_running_stats=False),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )

    encoder = nn.Sequential(block(1, 64), block(64, 64), block(64, 64), block(64, 64), nn.Flatten())
    encoder = encoder.to(images.device)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=1e-3)
    target = torch.arange(n_way, device=images.device).repeat_interleave(n_query)

    def step() -> None:
        z = encoder(images)
        protos = z[: n_way * k_shot].view(n_way, k_shot, -1).mean(dim=1)
        queries = z[n_way * k_shot :]
        dists = ((queries[:, None, :] - protos[None, :, :]) ** 2).sum(dim=-1)
        loss = F.cross_entropy(-dists, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


# --8<-- [end:plain]


def reference_step(
    cfg: protonet.ProtoNetConfig,
    images: Tensor,
    *,
    model_cfg: protonet.ProtoNetConfig | None = None,
    bf16: bool = False,
    compile_model: bool = False,
) -> Step:
    """One `protonet.train_step` on a fixed episode.

    Args:
        cfg: Config of the step (`fast` selects the channels_last layout in `embed`).
        images: Support then query images, `(N*K + N*Q, 1, 28, 28)`.
        model_cfg: Config the network is built from (`fast`: pool before ReLU); default `cfg`.
        bf16: Run the step under bf16 autocast.
        compile_model: Wrap the network in `torch.compile`.
    """
    n, k, q = cfg.n_way, cfg.k_shot, cfg.n_query
    model = protonet.build_model(model_cfg or cfg).to(images.device)
    if compile_model:
        model = cast(nn.Module, torch.compile(model))
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.outer_lr)
    labels = torch.arange(n, device=images.device)
    batch = (
        images[None, : n * k],
        labels.repeat_interleave(k)[None],
        images[None, n * k :],
        labels.repeat_interleave(q)[None],
    )

    def step() -> None:
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bf16):
            protonet.train_step(model, optimizer, batch, cfg)

    return step


def variants(episode: str, with_compile: bool) -> dict[str, Callable[[Tensor], Step]]:
    """Name -> builder of a step function for one episode shape."""
    n, k, q = EPISODES[episode]
    exact = protonet.ProtoNetConfig(n_way=n, k_shot=k, n_query=q)
    fast = replace(exact, fast=True)
    builders: dict[str, Callable[[Tensor], Step]] = {
        "plain": lambda x: plain_step(n, k, q, x),
        "exact": lambda x: reference_step(exact, x),
        "fast": lambda x: reference_step(fast, x),
        "pool_before_relu_only": lambda x: reference_step(exact, x, model_cfg=fast),
        "channels_last_only": lambda x: reference_step(
            exact, x.contiguous(memory_format=torch.channels_last)
        ),
        "bf16_autocast": lambda x: reference_step(exact, x, bf16=True),
    }
    if with_compile:
        builders["torch_compile"] = lambda x: reference_step(exact, x, compile_model=True)
    return builders


def timed(step: Step) -> float:
    """Seconds of one call of `step`, the GPU's queue included."""
    sync = torch.cuda.synchronize if torch.cuda.is_initialized() else (lambda: None)
    sync()
    start = time.perf_counter()
    step()
    sync()
    return time.perf_counter() - start


def episode_images(episode: str, device: str) -> Tensor:
    """Fixed random support-then-query images of one episode shape."""
    n, k, q = EPISODES[episode]
    images = torch.rand(n * (k + q), 1, 28, 28, generator=torch.Generator().manual_seed(0))
    return images.to(device)


def time_episode(
    episode: str,
    rounds: int,
    with_compile: bool,
    device: str = "cpu",
    names: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Interleaved timings of every variant (or of `names` only) on one episode shape."""
    n, k, q = EPISODES[episode]
    images = episode_images(episode, device)
    steps, warmup = {}, {}
    for name, build in variants(episode, with_compile).items():
        if names is not None and name not in names:
            continue
        torch.manual_seed(0)
        step = build(images)
        warmup[name] = timed(step) + timed(step)  # first updates allocate Adam state, compile
        steps[name] = step
        print(f"  {episode} {name}: warm-up {warmup[name]:.1f} s", file=sys.stderr, flush=True)
    times: dict[str, list[float]] = {name: [] for name in steps}
    for r in range(rounds):
        for name, step in steps.items():
            if name == "bf16_autocast" and device == "cpu" and r >= SLOW_CANDIDATE_ROUNDS:
                continue
            times[name].append(timed(step))
        print(f"  {episode} round {r + 1}/{rounds}", file=sys.stderr, flush=True)
    ratios = {
        name: statistics.median(t / p for t, p in zip(ts, times["plain"], strict=False))
        for name, ts in times.items()
    }
    return {
        "n_way": n,
        "k_shot": k,
        "n_query": q,
        "images_per_update": n * (k + q),
        "median_ms": {name: 1e3 * statistics.median(ts) for name, ts in times.items()},
        "min_ms": {name: 1e3 * min(ts) for name, ts in times.items()},
        "ratio_to_plain": ratios,
        "rounds": {name: len(ts) for name, ts in times.items()},
        "warmup_s": warmup,
    }


def saved_for_backward_mib(episode: str, names: list[str], device: str = "cpu") -> dict[str, float]:
    """MiB of tensors autograd keeps for the backward pass of one update, per variant.

    Counted with `torch.autograd.graph.saved_tensors_hooks`, each storage once, so the figure is
    exact and independent of the allocator and of other processes. Activations dominate a
    Conv-4 update's memory; weights, gradients and Adam state add about 0.5 MiB.
    """
    images = episode_images(episode, device)
    result = {}
    for name in names:
        step = variants(episode, with_compile=False)[name](images)
        storages: dict[int, int] = {}

        def pack(t: Tensor, storages: dict[int, int] = storages) -> Tensor:
            storage = t.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            step()
        result[name] = sum(storages.values()) / 2**20
    return result


def cuda_peak_memory(episode: str, names: list[str]) -> dict[str, float]:
    """Peak CUDA memory (MiB) of three updates of each variant, model and Adam state included."""
    result = {}
    for name in names:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        step = variants(episode, with_compile=False)[name](episode_images(episode, "cuda"))
        for _ in range(3):
            step()
        torch.cuda.synchronize()
        result[name] = torch.cuda.max_memory_allocated() / 2**20
        del step
    return result


def machine() -> dict[str, object]:
    flags, model = cpu_flags(), cpu_model()
    info: dict[str, object] = {
        "cpu": model,
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "avx512": "avx512f" in flags,
        "amx": bool(flags & {"amx_tile", "amx_bf16"}),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if torch.cuda.is_initialized():
        info["gpu"] = torch.cuda.get_device_name()
        info.update(cuda_precision())
    return info


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds", type=int, default=15, help="interleaved rounds per episode shape"
    )
    parser.add_argument("--episodes", nargs="+", default=list(EPISODES), choices=list(EPISODES))
    parser.add_argument(
        "--compile", action="store_true", help="also time torch.compile (slow warm-up)"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurements")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="add the memory figures to an existing --out file without re-timing",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_only:
        report = json.loads(args.out.read_text())
        for episode, r in report["episodes"].items():
            r.pop("peak_memory_mib", None)
            r["saved_for_backward_mib"] = saved_for_backward_mib(
                episode, ["plain", "exact", "fast"], args.device
            )
        report["conditions"]["memory"] = MEMORY_NOTE + " (added later with --memory-only)"
        atomic_write_json(args.out, report, indent=2)
        return report
    load_before = os.getloadavg()
    started = time.time()
    results: dict[str, dict[str, Any]] = {}
    for episode in args.episodes:
        results[episode] = time_episode(episode, args.rounds, args.compile, args.device)
        if not args.no_memory:
            names = ["plain", "exact", "fast"]
            results[episode]["saved_for_backward_mib"] = saved_for_backward_mib(
                episode, names, args.device
            )
            if args.device == "cuda":
                results[episode]["peak_cuda_memory_mib"] = cuda_peak_memory(episode, names)
    fast_ratios = [r["ratio_to_plain"]["fast"] for r in results.values()]
    report = {
        "benchmark": "protonet_training_update",
        **provenance("benchmarks.bench_protonet", argv),
        "unit": "milliseconds per update (one episode)",
        "device": args.device,
        "machine": machine(),
        "conditions": {
            "rounds": args.rounds,
            "load_average_1min_before_after": [load_before[0], os.getloadavg()[0]],
            "wall_s": time.time() - started,
            "note": "variants interleaved in one process; medians. "
            + contention_note(load_before[0], os.getloadavg()[0]),
            "memory": MEMORY_NOTE,
        },
        "fast_path": FAST_PATH,
        "target_fast_ratio": TARGET_RATIO,
        "target_met": all(r <= TARGET_RATIO for r in fast_ratios),
        "episodes": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out, report, indent=2)
    for episode, r in results.items():
        ms, ratio = r["median_ms"], r["ratio_to_plain"]
        print(
            f"{episode}: "
            + ", ".join(f"{name} {ms[name]:.0f} ms ({ratio[name]:.2f}x)" for name in ms)
        )
    return report


if __name__ == "__main__":
    main()
