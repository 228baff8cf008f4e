"""The speed report: the project's MAML step and ProtoNet update against plain PyTorch, one process.

Times, in this one process and on one device, the two training steps the reference code is
meant to make cheap, each against the plain PyTorch a reader would write from the paper:

* MAML: one meta-gradient (5-way 1-shot Omniglot-sized tasks, meta-batch 32, one inner step,
  second and first order): the per-task `loop` of `benchmarks.bench_maml` against
  `meta_backward` with `path="exact"` and `path="fast"`, with each variant's meta-gradient
  error against the float64 loop;
* ProtoNets: one update (embed, prototypes, loss, backward, Adam) on 5w5s15q, 20w5s5q and
  60w5s5q episodes: `plain` fp32 PyTorch of `benchmarks.bench_protonet` against
  `reference_impl.protonet` with `fast=False` (`exact`) and `fast=True`.

Within each workload the variants run interleaved, round after round, so load from other
processes falls on all alike; `ratio_to_plain` is the median of per-round ratios (below 1: the
reference code is faster). The candidate variants (bf16, channels_last, vmap, torch.compile)
stay in the two detailed benchmarks, which this report reuses rather than re-implements.
Result: `benchmarks/results/speed_report.json` (`speed_report_cuda.json` with `--device cuda`),
rendered by `docs/results/speed.md`.

Usage: `python -m benchmarks.speed [--device cpu|cuda] [--threads N] [--maml-rounds 12]
[--protonet-rounds 15] [--episodes 5w5s15q ...] [--no-memory] [--out PATH]`
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import torch

from benchmarks import bench_maml, bench_protonet, common
from reference_impl import files

RESULTS = common.REPO / "benchmarks" / "results"
MAML_VARIANTS = ("loop", "exact", "fast")
PROTONET_VARIANTS = ("plain", "exact", "fast")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = common.ArgumentParser(
        prog="python -m benchmarks.speed", description=__doc__.splitlines()[0]
    )
    positive = common.int_at_least(1)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=positive, help="torch threads (default: torch's choice)")
    parser.add_argument(
        "--maml-rounds", type=positive, default=12, help="timed MAML steps per variant"
    )
    parser.add_argument(
        "--maml-meta-batch-size",
        type=positive,
        default=bench_maml.META_BATCH_SIZE,
        help="tasks per step",
    )
    parser.add_argument(
        "--protonet-rounds", type=positive, default=15, help="timed ProtoNet updates per variant"
    )
    parser.add_argument(
        "--episodes",
        nargs="+",
        default=list(bench_protonet.EPISODES),
        choices=list(bench_protonet.EPISODES),
        help="ProtoNet episode shapes",
    )
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the memory figures (MAML: subprocesses)"
    )
    parser.add_argument(
        "--out", type=common.path_arg, help="result file (default under benchmarks/results)"
    )
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise common.HarnessError("--device cuda needs a GPU, and torch sees none here")
    if args.out is None:
        suffix = "_cuda" if args.device == "cuda" else ""
        args.out = RESULTS / f"speed_report{suffix}.json"
    common.check_output_file(args.out, writer="benchmarks.speed")
    return args


def time_maml(args: argparse.Namespace) -> list[dict[str, Any]]:
    """`bench_maml`'s headline rows (loop, exact, fast; second and first order)."""
    saved = bench_maml.DEVICE, bench_maml.META_BATCH_SIZE, bench_maml.peak_memory_mib
    bench_maml.DEVICE, bench_maml.META_BATCH_SIZE = args.device, args.maml_meta_batch_size
    if args.no_memory:
        bench_maml.peak_memory_mib = lambda *_: None  # type: ignore[assignment]
    try:
        return bench_maml.run(args.maml_rounds, None, candidates=False)
    finally:
        bench_maml.DEVICE, bench_maml.META_BATCH_SIZE, bench_maml.peak_memory_mib = saved


def time_protonet(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """`bench_protonet`'s plain, exact and fast updates on every requested episode shape."""
    episodes = {}
    for episode in args.episodes:
        row = bench_protonet.time_episode(
            episode, args.protonet_rounds, False, args.device, names=PROTONET_VARIANTS
        )
        if not args.no_memory:
            row["saved_for_backward_mib"] = bench_protonet.saved_for_backward_mib(
                episode, list(PROTONET_VARIANTS), args.device
            )
        episodes[episode] = row
    return episodes


def summary(
    maml_rows: list[dict[str, Any]], protonet: dict[str, dict[str, Any]], meta_batch: int
) -> list[dict[str, Any]]:
    """One row per (workload, variant): milliseconds per step and the ratio to plain PyTorch."""
    rows = []
    for r in maml_rows:
        rows.append(
            {
                "workload": f"MAML 5w1s, meta-batch {meta_batch}, {r['order']} order",
                "variant": r["variant"],
                "median_ms": round(1e3 * r["median_s"], 1),
                "ratio_to_plain": r["ratio_to_loop"],
            }
        )
    for episode, r in protonet.items():
        for variant in PROTONET_VARIANTS:
            rows.append(
                {
                    "workload": f"ProtoNet {episode} episode",
                    "variant": variant,
                    "median_ms": round(r["median_ms"][variant], 1),
                    "ratio_to_plain": round(r["ratio_to_plain"][variant], 3),
                }
            )
    return rows


def machine(device: str, load_before: tuple[float, ...]) -> dict[str, Any]:
    """`bench_protonet`'s machine record, with the device and the load averages around the run."""
    return {
        "device": device,
        "gpu": None,
        **bench_protonet.machine(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def run(argv: list[str]) -> dict[str, Any]:
    """Time both workloads, write the report atomically, print its summary; return the report."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before, started = os.getloadavg(), time.time()
    maml_rows = time_maml(args)
    protonet = time_protonet(args)
    report: dict[str, Any] = {
        "benchmark": "speed_report",
        "unit": "milliseconds per training step",
        **common.provenance("benchmarks.speed", argv),
        "machine": machine(args.device, load_before),
        "conditions": {
            "process": "one process; within a workload the variants ran interleaved, round by "
            "round; ratios are medians of per-round ratios",
            "wall_s": round(time.time() - started, 1),
            "contention": common.contention_note(load_before[0], os.getloadavg()[0]),
        },
        "summary": summary(maml_rows, protonet, args.maml_meta_batch_size),
        "maml": {
            "baseline": "loop",
            "setting": {
                "n_way": 5,
                "k_shot": 1,
                "n_query": 15,
                "meta_batch_size": args.maml_meta_batch_size,
                "inner_steps": 1,
                "inner_lr": 0.4,
                "rounds": args.maml_rounds,
            },
            "targets_ratio_to_loop": bench_maml.TARGETS,
            "results": maml_rows,
        },
        "protonet": {
            "baseline": "plain",
            "fast_path": bench_protonet.FAST_PATH,
            "target_fast_ratio": bench_protonet.TARGET_RATIO,
            "rounds": args.protonet_rounds,
            "episodes": protonet,
        },
    }
    files.atomic_write_json(args.out, report, indent=2)
    for row in report["summary"]:
        print(
            f"{row['workload']:<40} {row['variant']:<6} {row['median_ms']:>9.1f} ms "
            f"{row['ratio_to_plain']:.2f}x plain"
        )
    print(f"wrote {common.relative(args.out)}")
    return report


def main(argv: list[str] | None = None) -> int:
    return common.run_cli("benchmarks.speed", run, argv)


if __name__ == "__main__":
    sys.exit(main())
