# Read the cost and accuracy cells of the comparison table from the benchmark result files.
# A cell whose file does not exist (yet) says so; no number on this page is typed by hand.
import json
from pathlib import Path

import figures

RESULTS = Path("benchmarks/results")
MISSING = "not measured yet"
METHODS = {
    "maml": "MAML",
    "protonet": "ProtoNets",
    "fast_weights": "Fast weights",
    "baseline": "Transfer baseline",
}


def load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def omniglot(method: str, setting: str) -> dict | None:
    """The result file of one method and setting; the `maml` split if several splits exist."""
    files = sorted(RESULTS.glob(f"omniglot/{method}_{setting}_*.json"))
    files.sort(key=lambda p: not p.stem.endswith("_maml"))
    return load(files[0]) if files else None


def accuracy_cell(method: str, setting: str) -> str:
    r = omniglot(method, setting)
    if r is None:
        return MISSING
    return f"{100 * r['accuracy']:.1f} ± {100 * r['ci95']:.1f} ({r['split']} split)"


def train_time_cell(method: str, setting: str) -> str:
    r = omniglot(method, setting)
    if r is None or r.get("train_seconds") is None:
        return MISSING
    return f"{r['train_seconds'] / 3600:.1f} h, {r['train_steps']} updates"


def episode_time_cell(method: str, setting: str) -> str:
    r = omniglot(method, setting)
    if r is None or not r.get("eval_seconds"):
        return MISSING
    return f"{1000 * r['eval_seconds'] / r['episodes']:.0f} ms"


def update_cell(method: str) -> str:
    """Cost of one training update and its memory, from the one-process speed report.

    `benchmarks.speed` times MAML and ProtoNets in the same process, so the two cells were
    measured under the same conditions.
    """
    report = load(RESULTS / "speed_report.json") or {}
    if method == "maml":
        r = report.get("maml", {})
        rows = r.get("results", [])
        row = next((x for x in rows if x["variant"] == "fast" and x["order"] == "second"), None)
        if row is None:
            return MISSING
        mem = row.get("peak_mem_mib")
        mem_text = f", peak +{mem:.0f} MiB" if mem is not None else ""
        tasks = r["setting"]["meta_batch_size"]
        return f"{row['median_s']:.2f} s per meta-batch of {tasks} 5w1s tasks{mem_text}"
    if method == "protonet":
        row = report.get("protonet", {}).get("episodes", {}).get("60w5s5q")
        if row is None:
            return MISSING
        # The ProtoNet timing records what autograd keeps for the backward pass, not the
        # process's peak growth, so the label says which.
        mem = row.get("saved_for_backward_mib", {}).get("fast")
        mem_text = f", {mem:.0f} MiB saved for backward" if mem is not None else ""
        ms = row["median_ms"]["fast"]
        time_text = f"{ms / 1000:.1f} s" if ms >= 1000 else f"{ms:.0f} ms"
        return f"{time_text} per 60w5s5q episode{mem_text}"
    return MISSING


def safe(cell, *args: str) -> str:
    """A cell, or a pointer to the file when its layout is not the one this page knows."""
    try:
        return cell(*args)
    except (KeyError, TypeError, AttributeError, ValueError, ZeroDivisionError):
        return "see the result file (layout not recognised)"


def table() -> str:
    head = "| | " + " | ".join(METHODS.values()) + " |"
    rule = "|---" * (len(METHODS) + 1) + "|"
    rows = [
        ("Omniglot 5w1s accuracy (%)", lambda m: accuracy_cell(m, "5w1s")),
        ("Omniglot 5w5s accuracy (%)", lambda m: accuracy_cell(m, "5w5s")),
        ("Training time, 5w1s", lambda m: train_time_cell(m, "5w1s")),
        ("Adaptation + prediction per 5w1s test episode", lambda m: episode_time_cell(m, "5w1s")),
        ("One training update (CPU speed benchmark)", update_cell),
    ]
    lines = [head, rule]
    lines += [
        f"| {name} | " + " | ".join(safe(cell, m) for m in METHODS) + " |" for name, cell in rows
    ]
    return "\n".join(lines)


SETTINGS = ("5w1s", "5w5s", "20w1s", "20w5s")


def figure() -> str:
    """Accuracy with its 95% CI per method and setting (`maml` split), read from the result files."""
    series, rows = [], []
    for method, name in METHODS.items():
        found = [(i, omniglot(method, s)) for i, s in enumerate(SETTINGS)]
        found = [(i, r) for i, r in found if r is not None and r.get("split") == "maml"]
        if not found:
            continue
        series.append(
            figures.Series(
                name,
                [i for i, _ in found],
                [r["accuracy"] for _, r in found],
                ci=[r["ci95"] for _, r in found],
            )
        )
        cells = dict(found)
        rows.append(
            [name]
            + [
                f"{cells[i]['accuracy']:.1%} ± {cells[i]['ci95']:.1%}, "
                f"{cells[i]['train_seconds'] / 3600:.1f} h"
                if i in cells
                else MISSING
                for i in range(len(SETTINGS))
            ]
        )
    if not series:
        return "(No Omniglot result files on the `maml` split yet: no figure.)"
    fig = figures.intervals(
        [s.replace("w", "-way ").replace("s", "-shot") for s in SETTINGS],
        series,
        y_label="Omniglot query accuracy",
        size=(6.4, 3.6),
        legend_loc="above",
    )
    return figures.render(
        fig,
        alt="Omniglot test accuracy with 95% confidence intervals of MAML, ProtoNets, fast "
        "weights and the transfer baseline in each N-way K-shot setting of the maml split.",
        caption="Read from benchmarks/results/omniglot/*_maml.json while the site builds: the "
        "published runs, each trained for its own wall-clock budget on the CPU recorded in its "
        "file (the numbers give the training hours). Compare each method's point with the "
        "transfer baseline's in the same setting.",
        numbers=figures.table(["method", *SETTINGS], rows),
    )


print(figure())
print()
print(table())
