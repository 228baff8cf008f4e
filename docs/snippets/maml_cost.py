# Render benchmarks/results/maml_speed*.json (written by benchmarks/bench_maml.py) as tables, and
# check the sentences the MAML page draws from them.
import json
import re
from pathlib import Path

import claims

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


files = {}
for file in ("maml_speed.json", "maml_speed_cuda.json"):
    files[file] = result = json.loads((Path("benchmarks/results") / file).read_text())
    machine, candidates, setting = result["machine"], result["candidates"], result["setting"]
    where = machine["gpu"] or f"{machine['cpu']}, {machine['logical_cpus']} logical CPUs"
    print(
        f"**{where}**, {machine['torch_threads']} torch threads, torch {machine['torch']}, "
        f"load average {machine['load_average_before'][0]:.1f} at start; "
        f"{setting['network']}, {setting['n_way']}-way {setting['k_shot']}-shot, "
        f"{setting['n_query']} queries per class, meta-batch {setting['meta_batch_size']}, "
        f"{setting['inner_steps']} inner step; {result['results'][0]['timed_steps']} timed steps:\n"
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


def rows(file: str, part: str = "results") -> dict[tuple[str, str], dict]:
    data = files[file]
    return {
        (r["variant"], r["order"]): r
        for r in (data[part] if part == "results" else data[part]["results"])
    }


# The sentences under these tables, checked against the files.
cpu, cpu_candidates = rows("maml_speed.json"), rows("maml_speed.json", "candidates")
gpu = rows("maml_speed_cuda.json")
second = [
    r["ratio_to_loop"] for (v, o), r in cpu_candidates.items() if o == "second" and v != "loop"
]
claims.check(
    min(second) > 0.85, "on this CPU no second-order candidate beats the loop by much", str(second)
)
fast2 = cpu["fast", "second"]
claims.check(abs(fast2["ratio_to_loop"] - 1) < 0.1 and fast2["peak_mem_mib"] > 2 * cpu["loop", "second"]["peak_mem_mib"],
             "on the CPU the fast path is within a few percent of the loop and holds several times its memory")  # fmt: skip
for variant in ("fast_fused_query", "loop_channels_last", "vmap"):
    claims.check(
        cpu_candidates[variant, "second"]["ratio_to_loop"] > 1.05,
        f"in second order {variant} is slower",
    )
claims.check(min(r["ratio_to_loop"] for (v, o), r in cpu_candidates.items() if o == "first") < 0.9,
             "in first order some candidates beat the loop of their small meta-batch")  # fmt: skip
claims.check(all(abs(cpu[v, "first"]["ratio_to_loop"] - 1) < 0.1 for v in ("exact", "fast")),
             "at the full meta-batch the first-order paths stay within a few percent of the loop")  # fmt: skip
for order in ("first", "second"):
    bf16 = cpu_candidates["loop_bf16_autocast", order]
    claims.check(bf16["ratio_to_loop"] > 5 and bf16["max_rel_grad_diff_to_loop"] > 0.1,
                 "bf16 autocast is several times slower on this CPU, with gradients far off")  # fmt: skip
claims.check(fast2["max_rel_grad_err_vs_float64"] > cpu["loop", "second"]["max_rel_grad_err_vs_float64"],
             "the fast path lands further from float64 than the loop")  # fmt: skip
claims.check(
    gpu["fast", "second"]["ratio_to_loop"] < 0.1,
    "on the GPU batching the tasks makes a step more than ten times faster",
)
claims.check(gpu["fast", "second"]["peak_mem_mib"] > 10 * gpu["loop", "second"]["peak_mem_mib"],
             "on the GPU the fast path holds tens of times the loop's memory")  # fmt: skip
for key, row in gpu.items():
    claims.check(row["max_rel_grad_err_vs_float64"] > 10 * cpu[key]["max_rel_grad_err_vs_float64"],
                 "every float32 meta-gradient on the GPU lands much further from float64 than on the CPU")  # fmt: skip
furthest = max(gpu, key=lambda key: gpu[key]["max_rel_grad_err_vs_float64"])
claims.check(
    furthest[0] == "fast", "on the GPU the fast path lands furthest from float64", str(furthest)
)
log = (Path("benchmarks/results") / "maml_tf32_cuda.log").read_text()
fast_error = {
    m.group(1): float(m.group(2))
    for m in re.finditer(r"allow_tf32=(\w+) first_order=False .*fast=([\d.e+-]+)", log)
}
claims.check(
    fast_error["True"] / fast_error["False"] > 30,
    "forbidding TF32 cut the second-order fast path's error by about two orders of magnitude",
    str(fast_error),
)
print(
    f"On the GPU, forbidding TF32 took the second-order fast path's error from "
    f"{fast_error['True']:.1e} to {fast_error['False']:.1e} "
    f"({fast_error['True'] / fast_error['False']:.0f} times smaller; `benchmarks/results/maml_tf32_cuda.log`)."
)
