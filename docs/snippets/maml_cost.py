# Render benchmarks/results/maml_speed*.json (written by benchmarks/bench_maml.py) as tables.
import json
from pathlib import Path

LABELS = {
    "loop": "plain per-task loop",
    "exact": "reference, exact path",
    "fast": "reference, fast path",
}
HEADER = (
    "| Variant | Order | Median step (s) | × loop | Peak memory (MiB) "
    "| Max rel. grad. diff. to loop | Max rel. error vs float64 |"
)


def table(rows: list[dict], indent: str = "") -> None:
    print(indent + HEADER)
    print(indent + "|---|---|---|---|---|---|---|")
    for row in rows:
        name = LABELS.get(row["variant"], f"`{row['variant']}`")
        err = row.get("max_rel_grad_err_vs_float64")
        print(
            f"{indent}| {name} | {row['order']} | {row['median_s']:.3f} | {row['ratio_to_loop']:.2f} "
            f"| {row['peak_mem_mib']:.0f} | {row['max_rel_grad_diff_to_loop']:.1e} "
            f"| {'–' if err is None else f'{err:.1e}'} |"
        )


for file in ("maml_speed.json", "maml_speed_cuda.json"):
    result = json.loads((Path("benchmarks/results") / file).read_text())
    machine, candidates = result["machine"], result["candidates"]
    where = machine["gpu"] or f"{machine['cpu']}, {machine['logical_cpus']} logical CPUs"
    print(
        f"**{where}**, {machine['torch_threads']} torch threads, torch {machine['torch']}, "
        f"load average {machine['load_average_before'][0]:.1f} at start; meta-batch "
        f"{result['setting']['meta_batch_size']}, {result['results'][0]['timed_steps']} timed steps:\n"
    )
    table(result["results"])
    errors = {
        (row["variant"], row["order"]): row.get("max_rel_grad_err_vs_float64")
        for row in result["results"]
    }
    loop, fast = errors.get(("loop", "second")), errors.get(("fast", "second"))
    if loop is not None and fast is not None:
        print(
            f"\nSecond order, against float64: float32 rounding alone puts the loop {loop:.1e} "
            f"away; the fast path is {fast:.1e} away ({fast / loop:.1f} times the loop's error)."
        )
    else:
        print(
            "\n(This file predates the float64 column; `python -m benchmarks.bench_maml` fills it.)"
        )
    print(
        f'\n??? note "Candidates for the fast path on this device (meta-batch '
        f'{candidates["meta_batch_size"]}, median of {candidates["rounds"]} steps)"\n'
    )
    table(candidates["results"], indent="    ")
    print()
