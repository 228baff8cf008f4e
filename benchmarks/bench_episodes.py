"""Speed of the data layer: Omniglot load (cold and cached) and episode sampling.

Measures, on the real data at `reference_impl.omniglot.default_root()`:

* `first_load_s`: `load_thumbnails` into an empty temporary cache folder (decode and resize all
  32,460 PNGs, write the cache);
* `cached_load_s`: `load_thumbnails` again (list and stat the files, read and check the cache);
* `load_omniglot_train_s`: `load_omniglot(split="maml", part="train")` from the cache (adds the
  rotations and the float conversion: 4400 classes x 20 x 28 x 28);
* `episodes_1000_s`: 1000 Omniglot 20-way 5-shot 15-query episodes from that tensor, one
  `sample_episode` call each (issue target: under 1 s), and the same number as meta-batches of 16
  with `sample_batch`;
* `fixed_episodes_600_s`: building 600 evaluation episodes and gathering all of them.

Every timing is the median wall time of `--repeats` runs (the cold load runs `--cold-repeats`
times, each into a fresh cache folder), with the median process CPU time under `cpu_s`: other
processes inflate wall time far more than CPU time. Results go to
`benchmarks/results/episodes.json`.

Usage: `python -m benchmarks.bench_episodes [--repeats 5] [--threads 1] [--data-root PATH] [--out PATH]`
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import machine_info, provenance
from reference_impl import omniglot
from reference_impl.episodes import sample_batch, sample_episode
from reference_impl.evaluation import fixed_episodes
from reference_impl.files import atomic_write_json

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results" / "episodes.json"
EPISODE_SHAPE = (20, 5, 15)
"""N, K, Q of the timed episodes."""
NUM_EPISODES = 1000
META_BATCH = 16
TARGET_EPISODES_S = 1.0


CPU_TIMES: dict[str, float] = {}
"""Median process CPU time per measurement: less sensitive than wall time to other processes."""


def median_time(
    fn: Callable[[], object], repeats: int, name: str = ""
) -> tuple[float, list[float]]:
    """Median wall time of `fn` over `repeats` calls, and all the times (CPU time to `CPU_TIMES`)."""
    times, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    if name:
        CPU_TIMES[name] = statistics.median(cpu)
    return statistics.median(times), times


def run(data_root: Path, repeats: int, cold_repeats: int) -> dict[str, Any]:
    """Take every measurement and return the JSON-ready result."""
    results: dict[str, Any] = {}
    cold = []
    for i in range(cold_repeats):
        with tempfile.TemporaryDirectory() as cache:
            start, start_cpu = time.perf_counter(), time.process_time()
            omniglot.load_thumbnails(data_root, cache_dir=cache)
            cold.append(time.perf_counter() - start)
            CPU_TIMES["first_load_s"] = time.process_time() - start_cpu
            print(f"first load {i + 1}/{cold_repeats}: {cold[-1]:.2f} s", flush=True)
            if i == cold_repeats - 1:
                results["cached_load_s"], results["cached_load_all_s"] = median_time(
                    lambda: omniglot.load_thumbnails(data_root, cache_dir=cache),
                    repeats,
                    "cached_load_s",
                )
                results["load_omniglot_train_s"], _ = median_time(
                    lambda: omniglot.load_omniglot(data_root, cache_dir=cache),
                    repeats,
                    "load_omniglot_train_s",
                )
                data = omniglot.load_omniglot(data_root, cache_dir=cache)
    results["first_load_s"], results["first_load_all_s"] = statistics.median(cold), cold
    results["images"] = 32_460
    results["train_tensor_shape"] = list(data.shape)
    n_way, k_shot, n_query = EPISODE_SHAPE

    def one_by_one() -> None:
        generator = torch.Generator().manual_seed(0)
        for _ in range(NUM_EPISODES):
            sample_episode(data, n_way, k_shot, n_query, generator)

    def batched() -> None:
        generator = torch.Generator().manual_seed(0)
        for _ in range(-(-NUM_EPISODES // META_BATCH)):
            sample_batch(data, n_way, k_shot, n_query, META_BATCH, generator)

    def evaluation_set() -> None:
        for episode in fixed_episodes(data, n_way, k_shot, n_query, 600, seed=0):
            assert episode.query_x.shape[0] == n_way * n_query

    results["episodes_1000_s"], results["episodes_1000_all_s"] = median_time(
        one_by_one, repeats, "episodes_1000_s"
    )
    results["episodes_1000_batched_s"], _ = median_time(batched, repeats, "episodes_1000_batched_s")
    results["fixed_episodes_600_s"], _ = median_time(
        evaluation_set, repeats, "fixed_episodes_600_s"
    )
    results["episode"] = {"n_way": n_way, "k_shot": k_shot, "n_query": n_query}
    results["meta_batch_size"] = META_BATCH
    results["target_episodes_1000_s"] = TARGET_EPISODES_S
    results["meets_target"] = results["episodes_1000_s"] < TARGET_EPISODES_S
    results["cpu_s"] = dict(CPU_TIMES)
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse flags, run the measurements, print a summary and write the JSON file."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_episodes", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--data-root", type=Path, default=omniglot.default_root(), help="Omniglot root"
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed runs per measurement (median reported)"
    )
    parser.add_argument(
        "--cold-repeats", type=int, default=1, help="cold loads (each decodes all PNGs)"
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="result file")
    parser.add_argument(
        "--note", default="", help="free text stored with the result (e.g. load conditions)"
    )
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    result = {
        **provenance("benchmarks.bench_episodes", argv),
        "machine": machine_info(),
        "note": args.note,
        **run(args.data_root, args.repeats, args.cold_repeats),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out, result)
    for key in (
        "first_load_s",
        "cached_load_s",
        "load_omniglot_train_s",
        "episodes_1000_s",
        "episodes_1000_batched_s",
        "fixed_episodes_600_s",
    ):
        print(f"{key:>26}: {result[key]:.3f} wall, {result['cpu_s'][key]:.3f} CPU")
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
