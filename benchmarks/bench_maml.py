"""Speed and memory of one MAML meta-gradient on Omniglot-sized tasks: plain loop vs reference.

One step = inner step(s) on every task's support set, query loss, meta-gradient into `.grad`
(the optimizer update is excluded: it is the same for all). Setting (issue 4): Conv-4 with 64
filters and strided convolutions, 28x28 inputs, 5-way 1-shot, 15 queries per class, meta-batch
32, one inner step at alpha 0.4, second and first order. Inputs are the reference module's
synthetic 28x28 images: the cost does not depend on pixel values. Variants, all in this process:

* `loop`: a plain per-task loop written below (`functional_call`, `autograd.grad` with
  `create_graph`, one backward per task), the way most PyTorch MAML code reads;
* `exact`: `meta_backward` with `path="exact"` (the tests' reference);
* `fast`: `meta_backward` with `path="fast"` and its default `fuse_query` (per device);
* candidates, timed so the choice is documented: the fast path with fused (grouped) and with
  per-task query passes, `loop` with one backward for all tasks, `loop` with channels_last tensors, `loop` under
  bf16 autocast, and `torch.func.vmap` over tasks.

The headline variants run at meta-batch 32; the candidates in a second run at a smaller
meta-batch (`--candidate-meta-batch-size`, with their own `loop` reference), since bf16 autocast
and channels_last take minutes per step at 32 on a CPU without bf16 units.
Variants run interleaved, round after round, so load from other processes falls on all alike;
the JSON keeps each variant's median seconds and the median of per-round ratios to `loop`, the
relative meta-gradient difference to `loop`, and the peak memory of one step, measured in a
fresh subprocess (CPU: growth of the peak resident set; CUDA: `max_memory_allocated`).

Usage: `python -m benchmarks.bench_maml [--rounds 12] [--device cpu|cuda] [--out PATH]`
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from benchmarks.common import (
    contention_note,
    cpu_flags,
    cpu_model,
    cuda_precision,
    provenance,
)
from reference_impl.files import atomic_write_json
from reference_impl.maml import (
    MAMLConfig,
    build_model,
    default_sampler,
    meta_backward,
    omniglot_config,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results" / "maml_speed.json"
TARGETS = {"fast": 0.5, "exact": 1.0}
"""Issue 4's targets for time relative to `loop`."""
CANDIDATE_ROUNDS = 2
"""Timed rounds of the candidate run (some candidates take minutes per step on this CPU)."""

Batch = tuple[Tensor, Tensor, Tensor, Tensor]


# --8<-- [start:plain-loop]
def loop_step(
    model: nn.Module, batch: Batch, cfg: MAMLConfig, single_backward: bool = False
) -> None:
    """Textbook MAML meta-gradient: a Python loop over tasks, written without the reference code."""
    params: dict[str, Tensor] = dict(model.named_parameters())
    total = torch.zeros(())
    for sx, sy, qx, qy in zip(*batch, strict=True):
        loss = F.cross_entropy(functional_call(model, params, (sx,)), sy)
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=not cfg.first_order)
        adapted = {n: p - cfg.inner_lr * g for (n, p), g in zip(params.items(), grads, strict=True)}
        query_loss = F.cross_entropy(functional_call(model, adapted, (qx,)), qy) / len(batch[0])
        if single_backward:
            total = total + query_loss
        else:
            query_loss.backward()
    if single_backward:
        total.backward()


# --8<-- [end:plain-loop]


def vmap_step(model: nn.Module, batch: Batch, cfg: MAMLConfig) -> None:
    """`torch.func.vmap` over tasks of (inner `torch.func.grad`, query loss); outer `.backward()`."""
    params: dict[str, Tensor] = dict(model.named_parameters())

    def task(sx: Tensor, sy: Tensor, qx: Tensor, qy: Tensor) -> Tensor:
        def support_loss(p: dict[str, Tensor]) -> Tensor:
            return F.cross_entropy(functional_call(model, p, (sx,)), sy)

        grads = torch.func.grad(support_loss)(params)
        if cfg.first_order:
            grads = {n: g.detach() for n, g in grads.items()}
        adapted = {n: p - cfg.inner_lr * grads[n] for n, p in params.items()}
        return F.cross_entropy(functional_call(model, adapted, (qx,)), qy)

    torch.func.vmap(task)(*batch).mean().backward()


def variants(
    cfg: MAMLConfig, fast_fuse: bool | None
) -> dict[str, Callable[[nn.Module, Batch], None]]:
    """Name -> function filling `.grad` with one meta-gradient."""

    def channels_last_inputs(model: nn.Module, batch: Batch) -> None:
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        sx, sy, qx, qy = batch
        to_cl = [x.contiguous(memory_format=torch.channels_last) for x in (*sx, *qx)]
        t = sx.shape[0]
        loop_step(model, (to_cl[:t], sy, to_cl[t:], qy), cfg)  # type: ignore[arg-type]
        model.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]

    def autocast_bf16(model: nn.Module, batch: Batch) -> None:
        with torch.autocast(DEVICE, dtype=torch.bfloat16):
            loop_step(model, batch, cfg)

    def reference(path: str, fuse: bool | None) -> Callable[[nn.Module, Batch], None]:
        def step(model: nn.Module, batch: Batch) -> None:
            meta_backward(model, batch, replace(cfg, path=path, fuse_query=fuse))  # type: ignore[arg-type]

        return step

    return {
        "loop": lambda m, b: loop_step(m, b, cfg),
        "exact": reference("exact", False),
        "fast": reference("fast", fast_fuse),
        "fast_fused_query": reference("fast", True),
        "fast_loop_query": reference("fast", False),
        "loop_single_backward": lambda m, b: loop_step(m, b, cfg, single_backward=True),
        "loop_channels_last": channels_last_inputs,
        "loop_bf16_autocast": autocast_bf16,
        "vmap": lambda m, b: vmap_step(m, b, cfg),
    }


DEVICE = "cpu"
HEADLINE = ("loop", "exact", "fast")


META_BATCH_SIZE = 32


def setup(first_order: bool, seed: int = 0) -> tuple[nn.Module, Batch, MAMLConfig]:
    cfg = omniglot_config(
        5, 1, n_query=15, meta_batch_size=META_BATCH_SIZE, first_order=first_order
    )
    torch.manual_seed(seed)
    model = build_model(cfg).to(DEVICE)
    batch = tuple(x.to(DEVICE) for x in default_sampler(cfg)(torch.Generator().manual_seed(seed)))
    return model, batch, cfg  # type: ignore[return-value]


def sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def timed(fn: Callable[[nn.Module, Batch], None], model: nn.Module, batch: Batch) -> float:
    model.zero_grad(set_to_none=True)
    sync()
    start = time.perf_counter()
    fn(model, batch)
    sync()
    return time.perf_counter() - start


def grads_of(
    fn: Callable[[nn.Module, Batch], None], model: nn.Module, batch: Batch
) -> list[Tensor]:
    model.zero_grad(set_to_none=True)
    fn(model, batch)
    return [p.grad.detach().clone() for p in model.parameters()]  # type: ignore[union-attr]


def max_rel_diff(got: list[Tensor], reference: list[Tensor]) -> float:
    """Largest `max |g - r| / max |r|` over the parameter tensors."""
    return max(
        float((g - r).abs().max() / r.abs().max()) for g, r in zip(got, reference, strict=True)
    )


def float64_reference(first_order: bool) -> list[Tensor]:
    """The `loop` meta-gradient of the same model and batch computed in float64: the yardstick
    for every float32 variant's rounding error (`max_rel_grad_err_vs_float64`)."""
    model, batch, cfg = setup(first_order)
    batch64 = tuple(x.double() if x.is_floating_point() else x for x in batch)
    return grads_of(variants(cfg, None)["loop"], model.double(), batch64)  # type: ignore[arg-type]


def peak_memory_mib(name: str, first_order: bool, fast_fuse: bool | None) -> float:
    """Peak memory of one step of variant `name`, measured in a fresh subprocess."""
    code = (
        "import benchmarks.bench_maml as b, sys; "
        f"b.META_BATCH_SIZE = {META_BATCH_SIZE}; print(b.measure_memory({name!r}, {first_order}, {fast_fuse}, {DEVICE!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def _rss_kib(field: str) -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+)", status).group(1))  # type: ignore[union-attr]


def measure_memory(name: str, first_order: bool, fast_fuse: bool | None, device: str) -> float:
    """One warm-up step, then the peak growth (MiB) during a second step."""
    global DEVICE
    DEVICE = device
    model, batch, cfg = setup(first_order)
    fn = variants(cfg, fast_fuse)[name]
    timed(fn, model, batch)
    model.zero_grad(set_to_none=True)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        timed(fn, model, batch)
        return round((torch.cuda.max_memory_allocated() - base) / 2**20, 1)
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    base = _rss_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to the current RSS
    timed(fn, model, batch)
    return round((_rss_kib("VmHWM") - base) / 1024, 1)


def run(rounds: int, fast_fuse: bool | None, candidates: bool) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for first_order in (False, True):
        model, batch, cfg = setup(first_order)
        fns = {n: f for n, f in variants(cfg, fast_fuse).items() if candidates or n in HEADLINE}
        reference = grads_of(fns["loop"], model, batch)
        times: dict[str, list[float]] = {n: [] for n in fns}
        ratios: dict[str, list[float]] = {n: [] for n in fns}
        diffs: dict[str, float] = {}
        for name, fn in fns.items():
            got = grads_of(fn, model, batch)  # doubles as the warm-up step
            diffs[name] = max_rel_diff(got, reference)
        truth = None if candidates else float64_reference(first_order)
        errors = {
            name: max_rel_diff(grads_of(fn, model, batch), truth)
            for name, fn in fns.items()
            if truth is not None
        }
        for r in range(rounds):
            names = list(fns) if not candidates or r < CANDIDATE_ROUNDS else list(HEADLINE)
            this_round = {n: timed(fns[n], model, batch) for n in names}
            for n, s in this_round.items():
                times[n].append(s)
                ratios[n].append(s / this_round["loop"])
            print(
                f"{'second' if not first_order else 'first'} order round {r + 1}/{rounds}: "
                + ", ".join(f"{n} {s:.2f}s" for n, s in this_round.items()),
                file=sys.stderr,
            )
        for name in fns:
            rows.append(
                {
                    "variant": name,
                    "order": "first" if first_order else "second",
                    "median_s": round(statistics.median(times[name]), 4),
                    "ratio_to_loop": round(statistics.median(ratios[name]), 3),
                    "timed_steps": len(times[name]),
                    "max_rel_grad_diff_to_loop": float(f"{diffs[name]:.2e}"),
                    "max_rel_grad_err_vs_float64": (
                        float(f"{errors[name]:.2e}") if name in errors else None
                    ),
                    "peak_mem_mib": peak_memory_mib(name, first_order, fast_fuse),
                }
            )
    return rows


def main() -> None:
    global DEVICE, META_BATCH_SIZE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12, help="timed steps per headline variant")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument(
        "--fuse-query", choices=("auto", "on", "off"), default="auto", help="fast path's fuse_query"
    )
    parser.add_argument("--meta-batch-size", type=int, default=META_BATCH_SIZE)
    parser.add_argument(
        "--candidate-meta-batch-size",
        type=int,
        default=4,
        help="meta-batch of the candidate run (bf16 autocast takes minutes per step at 32 here)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    DEVICE, META_BATCH_SIZE = args.device, args.meta_batch_size
    load_before = os.getloadavg()
    fuse = {"auto": None, "on": True, "off": False}[args.fuse_query]
    rows = run(args.rounds, fuse, candidates=False)
    META_BATCH_SIZE = args.candidate_meta_batch_size
    candidate_rows = run(CANDIDATE_ROUNDS, fuse, candidates=True)
    META_BATCH_SIZE = args.meta_batch_size
    cpu, flags = cpu_model(), cpu_flags()
    result: dict[str, Any] = {
        **provenance("benchmarks.bench_maml", None),
        "setting": {
            "network": "Conv-4, 64 filters, stride-2 convolutions, BN with batch statistics",
            "n_way": 5,
            "k_shot": 1,
            "n_query": 15,
            "meta_batch_size": META_BATCH_SIZE,
            "inner_steps": 1,
            "inner_lr": 0.4,
            "dtype": "float32",
            "step": "meta-gradient into .grad (no optimizer)",
            "inputs": "synthetic 28x28 binary images (cost does not depend on pixel values)",
        },
        "fast_path": {
            "fuse_query": fuse,
            "fuse_query_resolved": fuse if fuse is not None else args.device != "cpu",
            "config": asdict(replace(omniglot_config(5, 1), path="fast", fuse_query=fuse)),
        },
        "targets_ratio_to_loop": TARGETS,
        "machine": {
            "device": args.device,
            "cpu": cpu,
            "logical_cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "avx512": "avx512f" in flags,
            "amx": "amx_bf16" in flags,
            "gpu": torch.cuda.get_device_name() if args.device == "cuda" else None,
            **(cuda_precision() if args.device == "cuda" else {}),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "contention": contention_note(load_before[0], os.getloadavg()[0]),
        "float_error": "max_rel_grad_err_vs_float64: max over parameter tensors of "
        "max|g - g64| / max|g64|, g64 being loop's meta-gradient in float64 on the same model "
        "and batch; the loop's own value is the rounding error float32 alone causes here.",
        "results": rows,
        "candidates": {
            "meta_batch_size": args.candidate_meta_batch_size,
            "rounds": CANDIDATE_ROUNDS,
            "results": candidate_rows,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out, result, indent=2)
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
