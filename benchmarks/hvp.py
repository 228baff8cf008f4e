"""What a Hessian-vector product costs relative to a gradient, and what the explicit Hessian costs.

Times, in one process on the CPU, the functions the glossary page on Hessian-vector products
shows (`docs/snippets/glossary_hessian-vector-products_hvp.py`, loaded from that file so the page
and this benchmark time the same code) on the loss of a two-hidden-layer tanh network of growing
width:

* `gradient`: one forward and one backward pass, the unit;
* `double_backward`: Hessian-vector product, reverse over reverse (`create_graph=True`);
* `forward_over_reverse`: Hessian-vector product by `torch.func.jvp` of `torch.func.grad`;
* `explicit_hessian`: the full `P x P` Hessian row by row (`torch.autograd.functional.hessian`,
  one double-backward product per row), then one product with it
  (only up to `--hessian-max-width`: its cost grows with the parameter count).

Each round times every variant once, interleaved, with CPU time of this process
(`time.process_time`, one torch thread), so load from other processes slows all variants alike
and descheduling does not count; a variant's ratio is the median over rounds of its time divided
by the same round's gradient time. The file records ratios, not seconds as headline numbers: the
page asserts only that the products stay within a small constant multiple of a gradient while the
explicit Hessian's ratio grows with the parameter count. Result:
`benchmarks/results/hvp_speed.json`, read by `docs/glossary/hessian-vector-products.md`.

Usage: `python -m benchmarks.hvp [--widths 8 16 ...] [--hessian-max-width 32] [--rounds 15]
[--batch 256] [--inputs 8] [--out PATH]`
"""

from __future__ import annotations

import argparse
import os
import runpy
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from benchmarks import common
from reference_impl import files

SNIPPET = common.REPO / "docs" / "snippets" / "glossary_hessian-vector-products_hvp.py"
OUT = common.RESULTS_DIR / "hvp_speed.json"
VARIANTS = ("gradient", "double_backward", "forward_over_reverse", "explicit_hessian")
MIN_BLOCK_S = 0.02
"""Each timed block repeats a call until the gradient's block takes at least this much CPU time."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.hvp", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--widths", type=int, nargs="+", default=[8, 16, 32, 64, 128, 256, 512],
        help="hidden units per layer, one workload each",
    )  # fmt: skip
    parser.add_argument(
        "--hessian-max-width", type=int, default=32, help="largest width timed with the Hessian"
    )
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds per width")
    parser.add_argument("--batch", type=int, default=256, help="examples in the loss")
    parser.add_argument("--inputs", type=int, default=8, help="input features")
    parser.add_argument("--out", type=Path, default=OUT, help="result file")
    args = parser.parse_args(argv)
    for flag in ("rounds", "batch", "inputs", "hessian_max_width"):
        if getattr(args, flag) < 1:
            raise common.HarnessError(f"--{flag.replace('_', '-')} must be at least 1")
    if min(args.widths) < 1:
        raise common.HarnessError(f"--widths must be positive, got {args.widths}")
    return args


def cpu_seconds(call: Callable[[], Any], repeats: int) -> float:
    """CPU time of this process per call, over `repeats` calls."""
    start = time.process_time()
    for _ in range(repeats):
        call()
    return (time.process_time() - start) / repeats


def time_width(snippet: dict[str, Any], width: int, args: argparse.Namespace) -> dict[str, Any]:
    """Median per-round ratio to the gradient of every variant, at one width."""
    loss, theta = snippet["mlp_task"](
        width, args.inputs, args.batch, torch.Generator().manual_seed(0), torch.float32
    )
    v = torch.randn(theta.shape, generator=torch.Generator().manual_seed(1))
    calls: dict[str, Callable[[], Any]] = {
        "gradient": lambda: snippet["gradient"](loss, theta),
        "double_backward": lambda: snippet["hvp_double_backward"](loss, theta, v),
        "forward_over_reverse": lambda: snippet["hvp_forward_over_reverse"](loss, theta, v),
    }
    if width <= args.hessian_max_width:
        calls["explicit_hessian"] = lambda: snippet["hessian_explicit"](loss, theta) @ v
    for call in calls.values():  # warm up: first calls build caches and plans
        call()
        call()
    per_gradient = cpu_seconds(calls["gradient"], 3)
    repeats = max(1, round(MIN_BLOCK_S / max(per_gradient, 1e-6)))
    ratios: dict[str, list[float]] = {name: [] for name in calls}
    gradient_s: list[float] = []
    for _ in range(args.rounds):
        seconds = {
            name: cpu_seconds(call, 1 if name == "explicit_hessian" else repeats)
            for name, call in calls.items()
        }
        gradient_s.append(seconds["gradient"])
        for name in calls:
            ratios[name].append(seconds[name] / seconds["gradient"])
    reference = snippet["hvp_double_backward"](loss, theta, v)
    other = snippet["hvp_forward_over_reverse"](loss, theta, v)
    return {
        "width": width,
        "parameters": theta.numel(),
        "ratio_to_gradient": {name: round(statistics.median(r), 3) for name, r in ratios.items()},
        "gradient_cpu_ms": round(1e3 * statistics.median(gradient_s), 3),
        "repeats_per_block": repeats,
        "modes_max_rel_diff": float((reference - other).norm() / reference.norm()),
    }


def run(argv: list[str]) -> dict[str, Any]:
    """Time every width, write the result file atomically, print a summary; return the report."""
    args = parse_args(argv)
    torch.set_num_threads(1)
    snippet = runpy.run_path(str(SNIPPET), run_name="glossary_hvp")
    load_before, started = os.getloadavg(), time.time()
    rows = [time_width(snippet, width, args) for width in args.widths]
    report: dict[str, Any] = {
        "benchmark": "hvp_speed",
        "unit": "CPU time of one call divided by the CPU time of one gradient, same process",
        **common.provenance("benchmarks.hvp", argv),
        "machine": {
            **common.machine_info("cpu", "float32"),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "conditions": {
            "process": "one process, one torch thread; variants interleaved round by round; "
            "ratios are medians of per-round ratios of process CPU time",
            "network": "two tanh hidden layers of `width` units, squared error, fixed batch",
            "batch": args.batch,
            "inputs": args.inputs,
            "rounds": args.rounds,
            "wall_s": round(time.time() - started, 1),
            "contention": common.contention_note(load_before[0], os.getloadavg()[0]),
        },
        "rows": rows,
    }
    files.atomic_write_json(args.out, report, indent=2)
    for row in rows:
        ratios = "  ".join(f"{k} {v:.2f}x" for k, v in row["ratio_to_gradient"].items())
        print(f"width {row['width']:>4} ({row['parameters']:>7} parameters): {ratios}")
    print(f"wrote {common.relative(args.out)}")
    return report


def main(argv: list[str] | None = None) -> int:
    return common.run_cli("benchmarks.hvp", run, argv)


if __name__ == "__main__":
    sys.exit(main())
