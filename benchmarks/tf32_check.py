"""How much of MAML's float32 meta-gradient error on a GPU comes from TF32 convolutions.

PyTorch lets cuDNN run float32 convolutions in TF32 (10-bit mantissa) unless
`torch.backends.cudnn.allow_tf32` is False. A second-order meta-gradient differentiates through
the inner update, which amplifies that rounding. This check computes the headline variants of
`benchmarks.bench_maml` (loop, exact, fast) on the same model and meta-batch with TF32 allowed and
forbidden, and prints each one's `max_rel_diff` against the loop's float64 meta-gradient.

Usage: `python -m benchmarks.tf32_check [--device cuda] [--out PATH]` (on a CPU the TF32 switch
changes nothing, so both rows agree; it is a GPU check). The committed
`benchmarks/results/maml_tf32_cuda.log` is its output on the H100 that ran `maml_speed_cuda.json`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import benchmarks.bench_maml as bench
from reference_impl.files import atomic_write


def lines(device: str) -> list[str]:
    """One line per (TF32 setting, order): each headline variant's error against float64."""
    bench.DEVICE = device
    out = []
    before = torch.backends.cudnn.allow_tf32
    try:
        for tf32 in (True, False):
            torch.backends.cudnn.allow_tf32 = tf32
            for first_order in (False, True):
                truth = bench.float64_reference(first_order)
                model, batch, cfg = bench.setup(first_order)
                fns = bench.variants(cfg, None)
                errors = {
                    name: bench.max_rel_diff(bench.grads_of(fns[name], model, batch), truth)
                    for name in bench.HEADLINE
                }
                out.append(
                    f"cudnn_allow_tf32={tf32} first_order={first_order} "
                    + " ".join(f"{name}={err:.2e}" for name, err in errors.items())
                )
                print(out[-1], flush=True)
    finally:
        torch.backends.cudnn.allow_tf32 = before
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda")
    parser.add_argument("--meta-batch-size", type=int, default=bench.META_BATCH_SIZE)
    parser.add_argument("--out", type=Path, help="also write the lines to this file")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.exit(
            2, "tf32_check: --device cuda needs a GPU (none is visible); try --device cpu\n"
        )
    if args.meta_batch_size < 1:
        parser.error(f"--meta-batch-size must be at least 1, got {args.meta_batch_size}")
    bench.META_BATCH_SIZE = args.meta_batch_size
    text = "\n".join(lines(args.device)) + "\n"
    if args.out:
        atomic_write(args.out, text.encode())


if __name__ == "__main__":
    main()
