"""Render benchmarks/results/protonet_speed*.json as Markdown: cost of one training update
(the CPU file, then the GPU file where one is committed)."""

import json
from pathlib import Path

main_variants = ("plain", "exact", "fast")


def fmt(ms: float) -> str:
    """Milliseconds with one decimal below 100 ms."""
    return f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"


def report(speed: dict) -> None:
    """Tables and machine line of one benchmark file."""
    machine, conditions = speed["machine"], speed["conditions"]
    rows = [
        "| Episode | Images / update | plain ms | exact ms (× plain) | fast ms (× plain) | Saved for backward, MiB (plain / exact / fast) |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in speed["episodes"].items():
        ms, ratio = r["median_ms"], r["ratio_to_plain"]
        memory = r.get("saved_for_backward_mib", {})
        peak = " / ".join(f"{memory[v]:.0f}" if v in memory else "–" for v in main_variants)
        rows.append(
            f"| {name} | {r['images_per_update']} | {fmt(ms['plain'])} | "
            f"{fmt(ms['exact'])} ({ratio['exact']:.2f}) | {fmt(ms['fast'])} ({ratio['fast']:.2f}) | {peak} |"
        )
    print("\n".join(rows))

    candidates = [
        v for v in next(iter(speed["episodes"].values()))["median_ms"] if v not in main_variants
    ]
    print("\nCandidates for the fast path, median time × plain (per-round ratios, same process):\n")
    print("| Episode | " + " | ".join(f"`{c}`" for c in candidates) + " |")
    print("|---|" + "---|" * len(candidates))
    for name, r in speed["episodes"].items():
        cells = [
            f"{r['ratio_to_plain'][c]:.2f}" if c in r["ratio_to_plain"] else "–" for c in candidates
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")

    worst = max(r["ratio_to_plain"]["fast"] for r in speed["episodes"].values())
    verdict = "met" if speed["target_met"] else "not met"
    load = conditions["load_average_1min_before_after"]
    device = f"GPU {machine['gpu']}, " if speed.get("device") == "cuda" else ""
    print(
        f"\nMachine: {device}{machine['cpu']} ({machine['cpu_capability']}, AMX: {'yes' if machine['amx'] else 'no'}), "
        f"{machine['torch_threads']} torch thread(s), torch {machine['torch']}; "
        f"{conditions['rounds']} interleaved rounds, 1-min load average {load[0]:.1f} before and "
        f"{load[1]:.1f} after. Target fast ≤ {speed['target_fast_ratio']} × plain: **{verdict}** "
        f"(worst episode {worst:.2f})."
    )


for file in ("protonet_speed.json", "protonet_speed_cuda.json"):
    path = Path("benchmarks/results") / file
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        where = f"GPU: {data['machine']['gpu']}" if data.get("device") == "cuda" else "CPU"
        print(f"\n**`{file}`** ({where})\n")
        report(data)


# The sentences under these tables, checked against the files.
import claims  # noqa: E402

cpu = json.loads(Path("benchmarks/results/protonet_speed.json").read_text(encoding="utf-8"))
fast = [r["ratio_to_plain"]["fast"] for r in cpu["episodes"].values()]
exact = [r["ratio_to_plain"]["exact"] for r in cpu["episodes"].values()]
claims.check(
    all(abs(e - 1) < 0.15 for e in exact),
    "on the CPU the exact path costs about what plain costs",
    str(exact),
)
claims.check(
    all(0.8 < f < 1 for f in fast),
    "on the CPU the fast path saves a few percent to a fifth at most",
    str(fast),
)
for r in cpu["episodes"].values():
    claims.check(
        r["ratio_to_plain"]["bf16_autocast"] > 2,
        "bf16 autocast is several times slower on this CPU",
    )
    claims.check(r["ratio_to_plain"]["torch_compile"] > 1, "torch.compile was slower per update")
    memory = r["saved_for_backward_mib"]
    claims.check(
        max(memory.values()) < 1.05 * min(memory.values()),
        "memory is the same on all three paths",
        str(memory),
    )
print(
    f"\nOn the CPU the fast path takes {min(fast):.2f} to {max(fast):.2f} × plain's time per update, "
    f"the exact path {min(exact):.2f} to {max(exact):.2f} ×."
)
gpu_path = Path("benchmarks/results/protonet_speed_cuda.json")
if gpu_path.exists():
    gpu = json.loads(gpu_path.read_text(encoding="utf-8"))
    for r in gpu["episodes"].values():
        claims.check(
            max(r["median_ms"][v] for v in main_variants) < 10,
            "on the H100 an update takes a few milliseconds whatever the variant",
        )
        claims.check(
            min(r["ratio_to_plain"][v] for v in ("exact", "fast")) > 1,
            "on the H100 both reference paths sit above plain",
        )
