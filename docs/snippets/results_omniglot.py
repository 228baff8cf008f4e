"""Render the Omniglot reproduction tables from benchmarks/results/omniglot/*.json (Markdown)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import claims
import figures
from matplotlib.lines import Line2D

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
        if split == "maml" and method == "protonet":
            row = [batch_norm_cell(results.get((method, s, split))) for s in SETTINGS]
            lines.append(
                f"| {label} (ours, running-average batch norm) | " + " | ".join(row) + " |"
            )
        if split == "maml" and method in PAPERS:
            _, paper = PAPERS[method]
            name = f"{label} (paper" + (
                ", running-average batch norm)" if method == "protonet" else ")"
            )
            lines.append(f"| {name} | " + " | ".join(paper[s] for s in SETTINGS) + " |")
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


def interval(r: dict) -> claims.Interval:
    """A result's headline accuracy and 95% half-width, in percent."""
    return claims.Interval(100 * r["accuracy"], 100 * r["ci95"])


def against(estimate: claims.Interval, value: float) -> str:
    """Where a fixed value (a target, a figure printed without an interval) stands relative to
    an estimate's 95% interval: `met` (interval above it), `missed` (below it), or
    `indistinguishable at this sample size` (the value lies inside the interval)."""
    if estimate.low > value:
        return "met"
    if estimate.high < value:
        return "missed"
    return "indistinguishable at this sample size"


def verdict(difference: claims.Interval, ahead: str, behind: str) -> str:
    """Reading of an interval of a difference: `ahead` if it lies above zero, `behind` if below,
    otherwise indistinguishable at this sample size."""
    if difference.low > 0:
        return ahead
    if difference.high < 0:
        return behind
    return "indistinguishable at this sample size"


def target_status(results: dict) -> str:
    """Every target cell on the maml split: target, ours, whether the 95% interval lies above the
    target (met), below it (missed) or around it (indistinguishable at this sample size), and
    the training updates and seconds per update behind it."""
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
                ours = f"{100 * r['accuracy']:.2f} ± {100 * r['ci95']:.2f}"
                status = against(interval(r), target)
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


# ---------------------------------------------------------------------------------------------
# What the numbers mean: paper gaps, paired margins over the transfer baseline, the summary

PAPER_VALUES = {
    "maml": {
        "5w1s": (98.7, 0.4), "5w5s": (99.9, 0.1), "20w1s": (95.8, 0.3), "20w5s": (98.9, 0.2)
    },
    "protonet": {"5w1s": (98.8, None), "5w5s": (99.7, None), "20w1s": (96.0, None),
                 "20w5s": (98.9, None)},
}  # fmt: skip
"""`PAPERS` as numbers, in percent: (figure, 95% half-width or None where none is printed)."""
BASELINE = "baseline"
COMPARED = ("maml", "fomaml", "protonet", "fast_weights")
"""Methods set against the transfer baseline on the same episodes."""


def per_episode(r: dict) -> list[float] | None:
    """Accuracy of every test episode evaluated (episode order), or None where the result file
    does not keep them (`per_episode_correct` out of `queries_per_episode`)."""
    correct, queries = r.get("per_episode_correct"), r.get("queries_per_episode")
    if not correct or not queries:
        return None
    return [c / queries for c in correct]


PAIRING_FIELDS = ("split", "split_part", "setting", "n_way", "k_shot", "n_query", "eval_seed")
"""Fields two result files must share for their episodes to be the same (with the same seed,
`fixed_episodes` draws nested sets: the first n episodes of a longer evaluation are the
n-episode set)."""


def pair(a: dict, b: dict) -> tuple[claims.Interval, int] | str:
    """`a - b` on the same test episodes, in points: mean and paired 95% half-width over the
    common prefix of the two headline episode sets; or the reason they cannot be paired."""
    for name in PAIRING_FIELDS:
        if a.get(name, "test" if name == "split_part" else None) != b.get(
            name, "test" if name == "split_part" else None
        ):
            return f"not paired: {name} differs ({a.get(name)!r} and {b.get(name)!r})"
    first, second = per_episode(a), per_episode(b)
    if first is None or second is None:
        return "per-episode accuracies not in the result files yet"
    if a.get("queries_per_episode") != b.get("queries_per_episode"):
        return "not paired: queries per episode differ"
    n = min(a["episodes"], b["episodes"], len(first), len(second))
    d = claims.paired(first[:n], second[:n])
    return claims.Interval(100 * d.mean, 100 * d.ci95), n


def margin(
    results: dict, method: str, setting: str, split: str
) -> tuple[claims.Interval, int] | str:
    """`method` minus the transfer baseline in one cell (see `pair`), or why there is none."""
    r, base = results.get((method, setting, split)), results.get((BASELINE, setting, split))
    if r is None or base is None:
        return "not run yet"
    return pair(r, base)


def unpaired(results: dict, method: str, setting: str, split: str) -> claims.Interval | None:
    """`method` minus the baseline from the two headline intervals as if independent (wider than
    the paired interval when the episodes are shared); None where a cell is missing."""
    r, base = results.get((method, setting, split)), results.get((BASELINE, setting, split))
    return None if r is None or base is None else claims.difference(interval(r), interval(base))


def comparison(
    results: dict, method: str, setting: str, split: str
) -> tuple[claims.Interval, str] | None:
    """The best available interval of `method` minus the baseline and how it was computed."""
    paired = margin(results, method, setting, split)
    if not isinstance(paired, str):
        return paired[0], f"paired over {paired[1]} episodes"
    loose = unpaired(results, method, setting, split)
    return None if loose is None else (loose, "unpaired, no per-episode data")


def margins_table(results: dict, split: str) -> str:
    """Each method minus the transfer baseline on the same test episodes, per setting."""
    lines = ["| Method − transfer baseline | " + " | ".join(SETTINGS) + " |",
             "|---|" + "---|" * len(SETTINGS)]  # fmt: skip
    for method in COMPARED:
        cells = []
        for setting in SETTINGS:
            m = margin(results, method, setting, split)
            if isinstance(m, str):
                cells.append(m if m == "not run yet" else f"*{m}*")
                continue
            d, n = m
            reading = verdict(d, "ahead", "behind")
            cells.append(f"{d.mean:+.2f} ± {d.ci95:.2f} ({n}; {reading})")
        lines.append(f"| {METHODS[method]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def margins_figure(results: dict, split: str) -> str:
    """The paired margins as a figure (points and 95% intervals; zero is the baseline), or a
    sentence saying why there is none yet."""
    series, rows = [], []
    for method in COMPARED:
        xs, ys, cis = [], [], []
        for i, setting in enumerate(SETTINGS):
            m = margin(results, method, setting, split)
            if not isinstance(m, str):
                xs.append(i), ys.append(m[0].mean), cis.append(m[0].ci95)
                rows.append(
                    [METHODS[method], setting, f"{m[0].mean:+.2f}", f"{m[0].ci95:.2f}", m[1]]
                )
        if xs:
            series.append(figures.Series(METHODS[method], xs, ys, ci=cis))
    if not series:
        return (
            f"*No paired margins on the `{split}` split yet: the result files do not keep "
            "per-episode accuracies.*"
        )
    fig = figures.intervals(
        list(SETTINGS), series, y_label="accuracy minus transfer baseline (points)",
        reference=0.0, reference_label="transfer baseline", size=(6.4, 3.2),
    )  # fmt: skip
    return figures.render(
        fig,
        alt=f"Accuracy of each method minus the transfer baseline on the same test episodes of "
        f"the {split} split, per setting, with paired 95% intervals; points above the zero line "
        "beat the baseline.",
        caption=f"{split} split: each method minus the transfer baseline on the same episodes "
        "(paired 95% intervals). An interval that crosses zero is a tie at this sample size.",
        numbers=figures.table(["Method", "Setting", "Margin (points)", "± 95%", "Episodes"], rows),
        name=f"omniglot-margins-{split}",
    )


def batch_norm_cell(r: dict | None) -> str:
    """A ProtoNet cell evaluated the authors' way (running-average batch norm), from the result
    file's `running_bn` block: accuracy ± CI, or `not measured yet`."""
    block = (r or {}).get("running_bn")
    if r is None:
        return "not run yet"
    if not block:
        return "not measured yet"
    return f"{100 * block['accuracy']:.2f} ± {100 * block['ci95']:.2f}"


def batch_norm_effect(r: dict | None) -> str:
    """The measured effect of evaluating a ProtoNet cell the authors' way (running averages,
    `model.eval()`) instead of with each episode's statistics, from the result file's
    `running_bn` block; `not measured yet` where the file has none."""
    block = (r or {}).get("running_bn")
    if not block or "difference" not in block:
        return "not measured yet"
    d = block["difference"]
    return (
        f"{100 * block['accuracy']:.2f} ± {100 * block['ci95']:.2f} with running averages, "
        f"{100 * d['accuracy']:+.2f} ± {100 * d['ci95']:.2f} points against episode statistics "
        f"(paired, {d['episodes']} episodes)"
    )


def paper_gaps(results: dict) -> str:
    """Every maml-split cell with a paper figure: ours minus the paper's figure with a 95%
    interval (the two intervals combined where the paper prints one), and what it says; the
    ProtoNet rows name the batch-norm difference with its measured size."""
    lines = [
        "| Cell | Ours | Paper | Ours − paper | Reading | Batch norm at test (ours / paper) |",
        "|---|---|---|---|---|---|",
    ]
    for method, cells in PAPER_VALUES.items():
        for setting, (value, half) in cells.items():
            r = results.get((method, setting, "maml"))
            paper = f"{value:.1f}" + (f" ± {half:.1f}" if half is not None else "")
            if method == "maml":
                bn = "episode statistics / episode statistics (the authors' code)"
            else:
                bn = f"episode statistics / running averages: {batch_norm_effect(r)}"
            if r is None:
                lines.append(
                    f"| {METHODS[method]} {setting} | not run yet | {paper} | – | – | {bn} |"
                )
                continue
            ours = interval(r)
            gap = claims.difference(ours, claims.Interval(value, half or 0.0))
            reading = verdict(gap, "above the paper", "below the paper")
            lines.append(
                f"| {METHODS[method]} {setting} | {ours.mean:.2f} ± {ours.ci95:.2f} | {paper} "
                f"| {gap.mean:+.2f} ± {gap.ci95:.2f} | {reading} | {bn} |"
            )
    return "\n".join(lines)


def summary(results: dict) -> str:
    """The page's findings as Markdown bullets, each computed from the result files and checked
    (`claims`) before it is printed."""
    bullets = []
    settings = [
        s for s in SETTINGS if ("maml", s, "maml") in results and (BASELINE, s, "maml") in results
    ]
    if settings:
        found = {s: comparison(results, "maml", s, "maml") for s in settings}
        for s, (d, how) in found.items():
            claims.check(d.low <= 0, "at this compute the transfer baseline ties or beats MAML on "
                         "every maml-split cell", f"MAML − baseline {s}: {d} ({how})")  # fmt: skip
        shares = [results[("maml", s, "maml")].get("train_steps", 0) / PAPER_UPDATES["maml"]
                  for s in settings]  # fmt: skip
        claims.check(max(shares) < 0.1, "MAML trained for a few percent of the paper's updates",
                     str(shares))  # fmt: skip
        behind = [s for s, (d, _) in found.items() if d.high < 0]
        ties = [s for s in settings if s not in behind]
        bullets.append(
            f"**At this compute the transfer baseline ties or beats MAML on every `maml`-split "
            f"cell**: MAML is behind it in {', '.join(behind) or 'none'} and indistinguishable "
            f"from it in {', '.join(ties) or 'none'} (MAML − baseline, points: {cell_list(found)})."
            " MAML trained for a few percent of the paper's updates (below), so this says what "
            "this budget buys, not what MAML can reach."
        )
    settings = [
        s
        for s in SETTINGS
        if ("protonet", s, "maml") in results and (BASELINE, s, "maml") in results
    ]
    if settings:
        found = {s: comparison(results, "protonet", s, "maml") for s in settings}
        for s, (d, how) in found.items():
            claims.check(d.high >= 0, "ProtoNets are never behind the transfer baseline on the "
                         "maml split", f"ProtoNets − baseline {s}: {d} ({how})")  # fmt: skip
        ahead = [s for s, (d, _) in found.items() if d.low > 0]
        ties = [s for s in settings if s not in ahead]
        bullets.append(
            f"**ProtoNets are never behind the transfer baseline on the `maml` split**: ahead in "
            f"{', '.join(ahead) or 'none'}, indistinguishable in {', '.join(ties) or 'none'} "
            f"(ProtoNets − baseline, points: {cell_list(found)}). The two differ in more than episodic "
            "training (distance, optimiser, training length), so the margin is not the effect "
            "of episodes alone."
        )
    gaps = []
    for method, cells in PAPER_VALUES.items():
        for setting, (value, half) in cells.items():
            r = results.get((method, setting, "maml"))
            if r is not None:
                gap = claims.difference(interval(r), claims.Interval(value, half or 0.0))
                gaps.append((method, setting, gap, verdict(gap, "above", "below")))
    if gaps:
        for method in PAPER_VALUES:
            rows = [g for g in gaps if g[0] == method]
            if not rows:
                continue
            text = "; ".join(
                f"{s} {gap.mean:+.2f} ± {gap.ci95:.2f} ({reading})" for _, s, gap, reading in rows
            )
            note = ""
            if method == "protonet":
                note = " " + batch_norm_summary(results, [s for _, s, _, _ in rows])
            bullets.append(
                f"**{METHODS[method]} against its paper** (ours − paper, points): {text}.{note}"
            )
    return "\n".join(f"- {b}" for b in bullets) if bullets else "No result files yet."


def cell_list(found: dict[str, tuple[claims.Interval, str]]) -> str:
    """`5w1s -0.13 ± 0.19 (paired over 600 episodes); ...` for the summary's bullets."""
    return "; ".join(f"{s} {d.mean:+.2f} ± {d.ci95:.2f} ({how})" for s, (d, how) in found.items())


def batch_norm_summary(results: dict, settings: list[str]) -> str:
    """The summary's sentence on the ProtoNet batch-norm difference: measured where a cell's
    result file has a `running_bn` block, `not measured yet` for the others."""
    measured, missing = [], []
    for setting in settings:
        block = (results.get(("protonet", setting, "maml")) or {}).get("running_bn")
        if block and "difference" in block:
            d = block["difference"]
            measured.append(f"{setting} {100 * d['accuracy']:+.2f} ± {100 * d['ci95']:.2f}")
        else:
            missing.append(setting)
    text = (
        "Our ProtoNet cells normalise with each episode's statistics, the paper's evaluation with "
        "running averages (`model.eval()`). Evaluated that way, ours change by "
    )
    if measured:
        text += f"{'; '.join(measured)} points (paired, same episodes)"
        text += (
            f", and the effect is not measured yet for {', '.join(missing)}." if missing else "."
        )
    else:
        text = text.replace("Evaluated that way, ours change by ", "The effect of that on ours is ")
        text += "not measured yet."
    return text


def cells_figure(results: dict) -> str:
    """Ours (both splits) against the papers' figures, one panel per setting, the transfer
    baseline beside them: point and 95% interval."""
    fig, axes = figures.canvas((7.6, 5.6), ncols=2, nrows=2)
    with figures.style():
        sources = [("ours, maml split", "maml"), ("ours, lake split", "lake"), ("paper", None)]
        width, rows = 0.24, []
        labels = [METHODS[m] if m != "fast_weights" else "Fast weights" for m in METHODS]
        for ax, setting in zip(axes.flat, SETTINGS, strict=True):
            for i, (label, split) in enumerate(sources):
                xs, ys, cis = [], [], []
                for j, method in enumerate(METHODS):
                    if split is None:
                        value = PAPER_VALUES.get(method, {}).get(setting)
                        if value is None:
                            continue
                        y, ci = value[0], value[1] or 0.0
                    else:
                        r = results.get((method, setting, split))
                        if r is None:
                            continue
                        y, ci = interval(r).mean, interval(r).ci95
                    xs.append(j + (i - 1) * width), ys.append(y), cis.append(ci)
                    rows.append(
                        [setting, METHODS[method], label, f"{y:.2f}", f"{ci:.2f}" if ci else "–"]
                    )
                ax.errorbar(xs, ys, yerr=cis, color=figures.color(i), marker=figures.marker(i),
                            ls="none", capsize=3, elinewidth=1.2, label=label)  # fmt: skip
            ax.set_xticks(
                range(len(labels)), [lab.replace(" ", "\n", 1) for lab in labels], fontsize=7
            )
            ax.grid(False, axis="x")
            ax.set_title(setting)
            ax.set_ylabel("test accuracy (%)")
        axes.flat[0].legend(
            loc="lower left",
            bbox_to_anchor=(0.0, 1.12),
            ncol=3,
            fontsize=8,
            frameon=False,
            labelcolor=figures.FOREGROUND,
        )
    return figures.render(
        fig,
        alt="Four panels, one per setting (5w1s, 5w5s, 20w1s, 20w5s): test accuracy of every "
        "method on the maml and lake splits with 95% intervals, beside the MAML and ProtoNets "
        "papers' figures; the transfer baseline is the last column of each panel.",
        caption="Ours on both splits against the papers (MAML: Finn et al. 2017, Table 1, ± a 95% "
        "CI; ProtoNets: Snell et al. 2017, Table 1, no interval printed). The papers' splits differ "
        "from ours, and their ProtoNet row uses running-average batch norm at test.",
        numbers=figures.table(["Setting", "Method", "Source", "Accuracy (%)", "± 95%"], rows),
        name="omniglot-cells",
    )


def validation_figure(results: dict) -> str:
    """Validation accuracy against training updates of every published model, one panel per
    method, read from the checkpoint descriptions."""
    groups = [("maml", "fomaml"), ("protonet",), ("fast_weights",), ("baseline",)]
    fig, axes = figures.canvas((7.6, 5.6), ncols=2, nrows=2)
    with figures.style():
        rows = []
        for ax, group in zip(axes.flat, groups, strict=True):
            for (method, setting, split), r in sorted(results.items()):
                if method not in group or r.get("trained_setting", setting) != setting:
                    continue
                history = r.get("train_validation") or []
                if not history:
                    continue
                colour = SETTINGS.index(setting) + (4 if method == "fomaml" else 0)
                xs = [v["step"] for v in history]
                ys = [100 * v["accuracy"] for v in history]
                ax.plot(xs, ys, color=figures.color(colour), marker=figures.marker(colour),
                        ls="-" if split == "maml" else "--", lw=1.4)  # fmt: skip
                rows += [[METHODS[method], setting, split, v["step"],
                          f"{100 * v['accuracy']:.2f} ± {100 * v['ci95']:.2f}", v["episodes"]]
                         for v in history]  # fmt: skip
            ax.set_title(" and ".join(METHODS[m] for m in group), fontsize=9)
            ax.set_xlabel("training updates")
            ax.set_ylabel("validation accuracy (%)")
        keys = [(f"{s}", i) for i, s in enumerate(SETTINGS)] + [("FOMAML 5w1s", 4)]
        handles = [Line2D([], [], color=figures.color(i), marker=figures.marker(i), label=label)
                   for label, i in keys]  # fmt: skip
        handles += [Line2D([], [], color=figures.FOREGROUND, ls=ls, label=f"{split} split")
                    for split, ls in (("maml", "-"), ("lake", "--"))]  # fmt: skip
        axes.flat[0].legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.12), ncol=4, frameon=False,
                            labelcolor=figures.FOREGROUND,
                            fontsize=8)  # fmt: skip
    return figures.render(
        fig,
        alt="Validation accuracy against training updates for every published model, one panel "
        "per method; solid lines are the maml split, dashed lines the lake split, one colour per "
        "setting.",
        caption="Validation accuracy during training, in the setting each model trained for "
        "(fixed validation episodes, read from the checkpoint descriptions). A curve still rising "
        "at its last point would gain from more updates; a single point is a run that validated "
        "only when it stopped.",
        numbers=figures.table(
            ["Method", "Setting", "Split", "Update", "Accuracy (%) ± 95%", "Episodes"], rows
        ),
        name="omniglot-validation",
    )


def versus(a: dict, b: dict) -> tuple[claims.Interval, str]:
    """`a - b` in points: paired on the same episodes where both files keep them, otherwise from
    the two headline intervals as if independent (wider when the episodes are shared)."""
    paired = pair(a, b)
    if not isinstance(paired, str):
        return paired[0], f"paired, {paired[1]} episodes"
    return claims.difference(interval(a), interval(b)), "unpaired"


def variant_readings(variants: list[dict], results: dict) -> str:
    """Each other run against its published cell: the difference with its 95% interval, what it
    says, and the two update counts; checks the sentences the page states about them."""
    items = []
    for v in variants:
        published = results.get((v["method"], v["setting"], v["split"]))
        if published is None:
            continue
        d, how = versus(v, published)
        reading = verdict(d, "above the published run", "below the published run")
        items.append(
            f"- {run_label(v)}, differing in {config_difference(v, published)}: "
            f"{d.mean:+.2f} ± {d.ci95:.2f} points against the published run ({how}; {reading}), "
            f"{v.get('train_steps', '?')} updates against {published.get('train_steps', '?')}."
        )
        config = v.get("train_config") or {}
        same_config = config == (published.get("train_config") or {})
        if same_config and v.get("train_world_size", 1) < published.get("train_world_size", 1):
            claims.check(
                published["train_steps"] > 1.5 * v["train_steps"],
                "two torchrun processes reached far more updates than the one-core run",
                f"{published['train_steps']} against {v['train_steps']}",
            )
        if v["method"] == "maml" and config.get("n_query") == config.get("k_shot"):
            one_core = [w for w in variants if w is not v and w["setting"] == v["setting"]
                        and w["split"] == v["split"] and w.get("train_world_size", 1) == 1
                        and w.get("train_config") == published.get("train_config")]  # fmt: skip
            for w in one_core:
                claims.check(
                    v["train_steps"] > w["train_steps"] and d.high < 0,
                    "on one core the authors' query count reached more updates than the "
                    "15-query run and scored below the published cell",
                    f"{v['train_steps']} against {w['train_steps']} updates; {d}",
                )
    return "\n".join(items) or "No other runs are kept."


def lake_readings(results: dict) -> str:
    """The numbers behind the page's sentences on MAML's lake-split 20-way cells, checked."""
    drops = {}
    for method in ("maml", "protonet", BASELINE):
        for setting in SETTINGS:
            on_maml, on_lake = (
                results.get((method, setting, "maml")),
                results.get((method, setting, "lake")),
            )
            if on_maml and on_lake:
                drops[method, setting] = claims.difference(interval(on_maml), interval(on_lake))
    for setting in ("20w1s", "20w5s"):
        a, b = results.get(("maml", setting, "maml")), results.get(("maml", setting, "lake"))
        if a and b:
            claims.check(b["train_steps"] < a["train_steps"], "MAML's 20-way cells trained for "
                         "fewer updates on the lake split", f"{setting}: {b['train_steps']} against "
                         f"{a['train_steps']}")  # fmt: skip
    lines = []
    cell = results.get(("maml", "20w1s", "lake"))
    if cell and ("maml", "20w1s") in drops:
        drop = drops["maml", "20w1s"]
        for (method, setting), other in drops.items():
            if (method, setting) != ("maml", "20w1s"):
                claims.above(claims.difference(drop, other), 0, "MAML 20w1s drops most between "
                             f"the two splits (against {method} {setting})")  # fmt: skip
        history = cell.get("train_validation") or []
        last, previous = history[-1], history[-2]
        val = claims.Interval(100 * last["accuracy"], 100 * last["ci95"])
        before = claims.Interval(100 * previous["accuracy"], 100 * previous["ci95"])
        claims.above(claims.difference(val, interval(cell)), 0, "its final validation accuracy is "
                     "above its test accuracy on the unseen alphabets")  # fmt: skip
        claims.below(
            claims.difference(val, before), 0, "it had fallen since the previous validation"
        )
        others = ", ".join(f"{METHODS[m]} {s} {d.mean:.2f} ± {d.ci95:.2f}" for (m, s), d in drops.items()
                           if s == "20w1s" and m != "maml")  # fmt: skip
        lines.append(
            f"MAML 20w1s loses {drop.mean:.2f} ± {drop.ci95:.2f} points from the `maml` to the "
            f"`lake` split ({others}); on the `lake` split its final validation accuracy is "
            f"{val.mean:.2f} ± {val.ci95:.2f} after {last['step']} updates, "
            f"at update {previous['step']} it was {before.mean:.2f} ± {before.ci95:.2f}, and "
            f"its test accuracy is {interval(cell).mean:.2f} ± {interval(cell).ci95:.2f}."
        )
    return " ".join(lines)


def schedule_readings(results: dict) -> str:
    """Checks the page's sentence on the share of the paper's schedule a 2-hour 20-way run
    reaches, and prints the largest share."""
    shares = {s: results[("maml", s, "maml")]["train_steps"] / PAPER_UPDATES["maml"]
              for s in ("20w1s", "20w5s") if ("maml", s, "maml") in results}  # fmt: skip
    if not shares:
        return ""
    claims.check(max(shares.values()) < 0.03, "a 2-hour 20-way run sees at most a couple of "
                 "percent of the paper's schedule", str(shares))  # fmt: skip
    paces = [seconds_per_update(results[("maml", s, "maml")]) for s in shares]
    claims.check(all(p is not None and 1 <= p < 100 for p in paces), "a 20-way meta-update costs "
                 "seconds to tens of seconds on one CPU thread", str(paces))  # fmt: skip
    return f"(The 20-way MAML runs reached at most {max(shares.values()):.1%} of it.)"


def health_reports(root: Path | None = None) -> str:
    """Every committed health report (`benchmarks/results/health_report_*.txt`, written by
    `python -m reference_impl.signals`) as a text block, or a note that none is committed."""
    folder = (root or repo_root()) / "benchmarks" / "results"
    reports = sorted(folder.glob("health_report_*.txt"))
    if not reports:
        return "No health report is committed yet."
    return "\n\n".join(
        f"`{path.name}`:\n\n```text\n{path.read_text(encoding='utf-8').rstrip()}\n```"
        for path in reports
    )
