"""Data-layer timings from `benchmarks/results/episodes.json` (written by `bench_episodes`)."""

import json
from pathlib import Path

import reference_impl

result_file = Path(reference_impl.__file__).parents[1] / "benchmarks" / "results" / "episodes.json"
result = json.loads(result_file.read_text(encoding="utf-8"))
rows = [
    (f"first load: decode and resize {result['images']:,} PNGs, write the cache", "first_load_s"),
    ("cached load: list the files, read and verify the cache", "cached_load_s"),
    ("`load_omniglot` maml train from the cache (4400 classes, float)", "load_omniglot_train_s"),
    ("1000 episodes 20-way 5-shot 15-query, one `sample_episode` each", "episodes_1000_s"),
    ("the same as 63 `sample_batch` calls of 16", "episodes_1000_batched_s"),
    ("600 `fixed_episodes`, built and gathered", "fixed_episodes_600_s"),
]
print("| measurement | wall (s) | CPU (s) |")
print("|---|---|---|")
for label, key in rows:
    print(f"| {label} | {result[key]:.2f} | {result['cpu_s'][key]:.2f} |")
print(f"\nConditions: {result['note']}; torch {result['machine']['torch']}.")
