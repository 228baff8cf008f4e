"""Render the Omniglot reproduction tables from benchmarks/results/omniglot/*.json (Markdown)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from reference_impl import checkpoints
from reference_impl.methods import upgrade_fields


def repo_root() -> Path:
    """The folder holding mkdocs.yml, searched upwards from the working directory."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "mkdocs.yml").exists() and (folder / "benchmarks").is_dir():
            return folder
    raise FileNotFoundError("run the docs build from the repository (mkdocs.yml not found)")


SETTINGS = ("5w1s", "5w5s", "20w1s", "20w5s")
METHODS = {
    "maml": "MAML",
    "fomaml": "First-order MAML",
    "protonet": "ProtoNets",
    "fast_weights": "Fast weights (delta rule)",
    "baseline": "Transfer baseline",
}
PAPERS = {
    "maml": (
        'Finn et al. (2017), "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks", '
        "arXiv:1703.03400v3, Table 1 (± is a 95% CI over tasks)",
        {"5w1s": "98.7 ± 0.4", "5w5s": "99.9 ± 0.1", "20w1s": "95.8 ± 0.3", "20w5s": "98.9 ± 0.2"},
    ),
    "protonet": (
        'Snell et al. (2017), "Prototypical Networks for Few-shot Learning", arXiv:1703.05175v2, '
        "Table 1 (mean of 1000 test episodes, no ± printed)",
        {"5w1s": "98.8", "5w5s": "99.7", "20w1s": "96.0", "20w5s": "98.9"},
    ),
}
"""Verified paper figures (REFERENCES.md §1.1-1.2); the papers' splits differ from ours."""
TARGETS = {
    "maml": {"5w1s": 98.0, "5w5s": 99.5, "20w1s": 94.0, "20w5s": 98.0},
    "protonet": {"5w1s": 98.8, "5w5s": 99.6, "20w1s": 96.0, "20w5s": 98.9},
    "fast_weights": {"5w1s": 97.5, "5w5s": 99.0},
}
"""The project's targets on the maml split (issue 9), in percent."""


@functools.cache
def _description(checkpoint: Path) -> dict:
    """The description inside a checkpoint file (SHA-256 verified); empty if there is no file."""
    return checkpoints.load_tensors(checkpoint)[1] if checkpoint.is_file() else {}


def _load(path: Path, root: Path) -> dict:
    """One result file, with `train_config` and `train_validation` (the validation history) from
    the description inside its checkpoint."""
    data = json.loads(path.read_text(encoding="utf-8"))
    described = _description(root / data["checkpoint"]) if data.get("checkpoint") else {}
    if described:
        # under today's field names (checkpoints trained earlier store the old ones)
        data["train_config"] = upgrade_fields(
            described.get("config_class", ""), described.get("config") or {}
        )
        data["train_validation"] = described.get("extra", {}).get("validation")
    return data


def load_results(root: Path | None = None) -> dict[tuple[str, str, str], dict]:
    """Every published result file, keyed by (method, setting, split)."""
    root = root or repo_root()
    folder = root / "benchmarks" / "results" / "omniglot"
    results = {}
    for path in sorted(folder.glob("*.json")):
        data = _load(path, root)
        results[(data["method"], data["setting"], data["split"])] = data
    return results


def load_variants(root: Path | None = None) -> list[dict]:
    """Result files of other runs of a published cell (`variants/`), kept for comparison."""
    root = root or repo_root()
    folder = root / "benchmarks" / "results" / "omniglot" / "variants"
    return [_load(path, root) for path in sorted(folder.glob("*.json"))]


def training_tasks(config: dict | None) -> str:
    """What one training update saw, from the checkpoint's config: the episode shape and the
    tasks per update, or the batch for the (non-episodic) transfer baseline."""
    if not config:
        return "?"
    if "num_classes" in config:
        return f"batches of {config['batch_size']} over {config['num_classes']} classes"
    tasks = config.get("meta_batch_size", 1)
    text = (
        f"{config['n_way']}-way {config['k_shot']}-shot, {config['n_query']} queries per class, "
        f"{tasks} task{'s' if tasks != 1 else ''} per update"
    )
    if config.get("lr_halve_every"):
        text += f", rate halved every {config['lr_halve_every']}"
    return text


def minutes(seconds: float | None) -> str:
    """Training time for a table cell."""
    if seconds is None:
        return "?"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def seconds_per_update(r: dict) -> float | None:
    """Training wall time over training updates, or None where either is missing."""
    seconds, steps = r.get("train_seconds"), r.get("train_steps")
    return seconds / steps if seconds and steps else None


def cell(result: dict | None) -> str:
    """`98.12 ± 0.31` with training time, or `not run yet`."""
    if result is None:
        return "not run yet"
    text = f"{100 * result['accuracy']:.2f} ± {100 * result['ci95']:.2f}"
    reused = result.get("trained_setting", result["setting"])
    note = f", the {reused} model" if reused != result["setting"] else ""
    return f"{text} ({minutes(result.get('train_seconds'))}{note})"


def split_table(results: dict, split: str) -> str:
    """Markdown table: one row per method (plus the papers' rows on the maml split)."""
    lines = [
        "| Method | " + " | ".join(SETTINGS) + " |",
        "|---|" + "---|" * len(SETTINGS),
    ]
    for method, label in METHODS.items():
        row = [cell(results.get((method, s, split))) for s in SETTINGS]
        lines.append(f"| {label} (ours) | " + " | ".join(row) + " |")
        if split == "maml" and method in PAPERS:
            _, figures = PAPERS[method]
            lines.append(f"| {label} (paper) | " + " | ".join(figures[s] for s in SETTINGS) + " |")
        if split == "maml" and method in TARGETS:
            targets = TARGETS[method]
            row = [f"≥ {targets[s]:.1f}" if s in targets else "–" for s in SETTINGS]
            lines.append(f"| {label} (target) | " + " | ".join(row) + " |")
    return "\n".join(lines)


def score(r: dict) -> str:
    """`98.12 ± 0.31 (600)`: accuracy, CI and episodes of a result or one of its evaluations."""
    return f"{100 * r['accuracy']:.2f} ± {100 * r['ci95']:.2f} ({r['episodes']})"


def run_label(r: dict) -> str:
    """`ProtoNets 20w1s maml (trained for 5w1s)`: a result's cell, naming a reused model."""
    reused = r.get("trained_setting", r["setting"])
    trained = f" (trained for {reused})" if reused != r["setting"] else ""
    return f"{METHODS.get(r['method'], r['method'])} {r['setting']} {r['split']}{trained}"


def details_table(results: dict) -> str:
    """One row per result file: both episode counts, the training tasks, steps, time, machine,
    commit."""
    if not results:
        return "No result files yet: every cell above reads *not run yet*."
    lines = [
        "| Run | Test accuracy (episodes) | Training tasks | Updates | Training time | Machine "
        "| Commit |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, r in sorted(results.items()):
        scores = "; ".join(score(e) for e in r["evaluations"])
        machine = r.get("train_machine") or r.get("machine") or {}
        threads = machine.get("torch_threads", "?")
        where = machine.get("gpu") or (
            f"{machine.get('cpu', '?')}, {threads} thread{'' if threads == 1 else 's'}"
        )
        world = r.get("train_world_size", 1)
        if world and world > 1:
            where += f", {world} processes"
        commit = str(r.get("train_git_commit") or r.get("git_commit") or "?")[:10]
        lines.append(
            f"| {run_label(r)} | {scores} | {training_tasks(r.get('train_config'))} "
            f"| {r.get('train_steps', '?')} | {minutes(r.get('train_seconds'))} | {where} "
            f"| `{commit}` |"
        )
    return "\n".join(lines)


def validation_table(results: dict, variants: list[dict] | tuple = ()) -> str:
    """One row per trained model (a model reused for another setting appears once), then one
    per other run: its validation accuracy at each logged update, in the setting it trained for."""
    rows, counts = [], set()
    runs = [(r, "") for _, r in sorted(results.items())] + [(v, ", *other run*") for v in variants]
    for r, mark in runs:
        if r.get("trained_setting", r["setting"]) != r["setting"]:
            continue
        history = r.get("train_validation") or []
        counts |= {v["episodes"] for v in history}
        points = ", ".join(f"{100 * v['accuracy']:.2f} ({v['step']})" for v in history)
        rows.append(f"| {run_label(r)}{mark} | {points or 'not recorded'} |")
    episodes = " or ".join(str(n) for n in sorted(counts)) or "?"
    header = f"| Model | Validation accuracy, % (after updates; {episodes} episodes each) |"
    return "\n".join([header, "|---|---|", *rows])


def commands(results: dict | list[dict]) -> str:
    """The exact commands behind each result (a dict from `load_results` or a list from
    `load_variants`), as a Markdown list of code spans."""
    if not results:
        return "Commands appear here with the first result file."
    runs = [r for _, r in sorted(results.items())] if isinstance(results, dict) else results
    items = []
    for r in runs:
        cmds = [c for c in r["commands"]["train"] if c] + [r["commands"]["evaluate"]]
        name = f"{r['method']} {r['setting']} {r['split']}"
        items.append(f"- **{name}**: " + "; ".join(f"`{c}`" for c in cmds))
    return "\n".join(items)


def target_status(results: dict) -> str:
    """Every target cell on the maml split: target, ours, met or missed (by how much), and the
    training updates and seconds per update behind it."""
    lines = [
        "| Method | Setting | Target | Ours | Status | Training updates | s / update |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, targets in TARGETS.items():
        for setting, target in targets.items():
            r = results.get((method, setting, "maml"))
            if r is None:
                ours, status, steps, pace = "not run yet", "open", "–", "–"
            else:
                accuracy = 100 * r["accuracy"]
                ours = f"{accuracy:.2f} ± {100 * r['ci95']:.2f}"
                if accuracy >= target:
                    status = "met"
                elif round(accuracy, 2) >= target:
                    status = f"met to 2 decimals ({accuracy:.3f})"
                else:
                    status = f"missed by {target - accuracy:.2f}"
                reused = r.get("trained_setting", setting)
                steps = str(r.get("train_steps", "?"))
                if reused != setting:
                    steps += f" (the {reused} model)"
                seconds = seconds_per_update(r)
                pace = "?" if seconds is None else f"{seconds:.1f}"
            lines.append(
                f"| {METHODS[method]} | {setting} | ≥ {target:.1f} | {ours} | {status} | {steps} "
                f"| {pace} |"
            )
    return "\n".join(lines)


PAPER_UPDATES = {"maml": 60_000}
"""Meta-updates of the paper's Omniglot runs (Finn et al. 2017, Appendix A.1)."""


def paper_schedule(results: dict, method: str = "maml") -> str:
    """Each maml-split cell of `method` against the paper's training length: updates reached,
    the share of the paper's count, the pace, and the paper's count at that pace."""
    total = PAPER_UPDATES[method]
    lines = [
        f"| Cell | Updates here | Share of the paper's {total:,} | s / update here "
        f"| {total:,} updates at this pace |",
        "|---|---|---|---|---|",
    ]
    for setting in SETTINGS:
        r = results.get((method, setting, "maml"))
        pace = None if r is None else seconds_per_update(r)
        if r is None or pace is None:
            continue
        lines.append(
            f"| {run_label(r)} | {r['train_steps']} | {r['train_steps'] / total:.1%} "
            f"| {pace:.1f} | {total * pace / 3600:.0f} h |"
        )
    return "\n".join(lines)


def gpu_schedule(root: Path | None = None, total: int = PAPER_UPDATES["maml"]) -> str:
    """The paper's MAML schedule at the GPU pace of the committed speed benchmark, whose timed
    step is one 5-way 1-shot training meta-gradient (`benchmarks/results/maml_speed_cuda.json`)."""
    path = (root or repo_root()) / "benchmarks" / "results" / "maml_speed_cuda.json"
    if not path.is_file():
        return "No GPU speed file is committed."
    data = json.loads(path.read_text(encoding="utf-8"))
    setting = data["setting"]
    pace = {
        r["variant"]: r["median_s"] for r in data["results"] if r["order"] == "second"
    }  # seconds per meta-gradient
    shape = (
        setting["n_way"],
        setting["k_shot"],
        setting["meta_batch_size"],
        setting["inner_steps"],
    )
    if shape != (5, 1, 32, 1) or not {"exact", "fast"} <= set(pace):
        return "The committed GPU speed file does not time the 5-way 1-shot training step."
    return (
        f"For scale on a GPU: on an {data['machine']['gpu']}, the speed benchmark timed the "
        f"training meta-gradient of the MAML 5w1s cell (5-way 1-shot, meta-batch 32, one "
        f"second-order inner step) at "
        f"{pace['fast']:.3f} s with the fast path and {pace['exact']:.3f} s with the exact path, "
        f"so the paper's {total:,} updates would take {total * pace['fast'] / 60:.0f} min and "
        f"{total * pace['exact'] / 3600:.1f} h of meta-gradients there (task sampling and the "
        f"optimiser step not counted; see the TF32 note on the Speed page)."
    )


def config_difference(variant: dict, published: dict) -> str:
    """How a variant's training differs from the published run's: the fields of the two
    checkpoints' training configs that differ, then the number of processes that shared each
    meta-batch (the algorithm is the same; more processes reach more updates in a budget)."""
    config, theirs = variant.get("train_config"), published.get("train_config")
    if not config or not theirs:
        return "?"
    fields = [
        f"`{name}` {config.get(name)!r} (published: {theirs.get(name)!r})"
        for name in sorted(set(config) | set(theirs))
        if config.get(name) != theirs.get(name)
    ]
    ours, published_world = variant.get("train_world_size", 1), published.get("train_world_size", 1)
    if ours != published_world:
        fields.append(f"processes {ours} (published: {published_world})")
    return "; ".join(fields) or "none (another training length or seed)"


def variants_table(variants: list[dict], results: dict) -> str:
    """One row per variant: its accuracy beside the published cell's, the training-config fields
    that differ, and its training updates and time."""
    if not variants:
        return "No other runs are kept."
    lines = [
        "| Cell | This run | Published | Differs in | Updates (published) | Training time |",
        "|---|---|---|---|---|---|",
    ]
    for v in variants:
        published = results.get((v["method"], v["setting"], v["split"]))
        steps = f"{v.get('train_steps', '?')}"
        if published is None:
            theirs = "not run yet"
        else:
            theirs = score(published)
            steps += f" ({published.get('train_steps', '?')})"
        differs = config_difference(v, published or {})
        lines.append(
            f"| {run_label(v)} | {score(v)} | {theirs} | {differs} | {steps} "
            f"| {minutes(v.get('train_seconds'))} |"
        )
    return "\n".join(lines)
