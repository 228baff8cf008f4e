"""Render the sinusoid reproduction (benchmarks/results/sinusoid.json) beside the MAML paper's
Table 2, with the checks behind the page's sentences."""

from __future__ import annotations

import json
from pathlib import Path

import claims
import figures

PAPER = {"maml": (0.67, 0.38, 0.35), "pretrained": (2.41, 2.23, 2.19)}
"""Finn et al. (2017), arXiv:1703.03400v3, Appendix C.1, Table 2: 5-shot sinusoid MSE after 1, 5
and 10 gradient steps (no interval printed); REFERENCES.md §1.1."""
LABELS = {"maml": "MAML", "pretrained": "pretrained on all tasks"}
STEPS = (1, 5, 10)
"""The table's columns: gradient steps on the 5 support points."""


def load(root: Path | None = None) -> dict | None:
    """The committed result file, or None where it does not exist yet."""
    here = root or Path.cwd()
    path = here / "benchmarks" / "results" / "sinusoid.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def interval(result: dict, name: str, step: int) -> claims.Interval:
    """Mean test MSE of model `name` after `step` steps, with its 95% half-width over tasks."""
    return claims.Interval(result[name]["mse"][step], result[name]["ci95"][step])


def against_paper(estimate: claims.Interval, value: float) -> str:
    """Where our interval lies relative to the paper's figure (a lower MSE is better)."""
    if estimate.high < value:
        return "lower than the paper's"
    if estimate.low > value:
        return "higher than the paper's"
    return "indistinguishable from the paper's at this sample size"


def table(result: dict) -> str:
    """Markdown table: ours (mean ± 95% half-width over test tasks) beside the paper's row."""
    lines = [
        "| Method | " + " | ".join(f"{s} step{'s' if s > 1 else ''}" for s in STEPS) + " |",
        "|---|" + "---|" * len(STEPS),
    ]
    for name, label in LABELS.items():
        ours = [interval(result, name, s) for s in STEPS]
        lines.append(
            f"| {label} (ours, step size {result[name]['inner_lr']:g}) | "
            + " | ".join(f"{i.mean:.2f} ± {i.ci95:.2f}" for i in ours)
            + " |"
        )
        lines.append(f"| {label} (paper) | " + " | ".join(f"{v:.2f}" for v in PAPER[name]) + " |")
    return "\n".join(lines)


def readings(result: dict) -> str:
    """The page's conclusions, each checked: MAML against the pretrained model on the same test
    tasks (paired), and each of our cells against the paper's figure."""
    items = []
    for step in STEPS:
        maml, pretrained = (result[n]["per_task"][str(step)] for n in ("maml", "pretrained"))
        d = claims.paired(pretrained, maml)
        claims.above(d, 0, f"MAML's 5-shot MSE after {step} steps is below the pretrained model's")
        items.append(f"{step} step{'s' if step > 1 else ''}: {d.mean:.2f} ± {d.ci95:.2f}")
    mse = result["maml"]["mse"]
    claims.check(mse[0] - mse[1] > mse[1] - mse[-1], "the first gradient step does most of MAML's work",
                 f"{mse[0]:.3f} -> {mse[1]:.3f} -> {mse[-1]:.3f}")  # fmt: skip
    pretrained = result["pretrained"]["mse"]
    claims.check(all(p > 3 * m for p, m in zip(pretrained[1:], mse[1:], strict=True)),
                 "the pretrained model's error stays above three times MAML's at every step")  # fmt: skip
    text = [
        "- **MAML beats the model pretrained on all tasks at every column** of the table, on the "
        f"same {result['test']['tasks']} test tasks (pretrained minus MAML, paired 95% "
        f"interval: {'; '.join(items)})."
    ]
    for name, label in LABELS.items():
        cells = [
            f"{s} step{'s' if s > 1 else ''} {against_paper(interval(result, name, s), v)}"
            for s, v in zip(STEPS, PAPER[name], strict=True)
        ]
        text.append(f"- **{label[0].upper()}{label[1:]} against the paper**: {'; '.join(cells)}.")
    return "\n".join(text)


def figure(result: dict) -> str:
    """Test MSE against gradient steps for both models with 95% bands and the paper's points;
    beside it the training loss per 1000 updates."""
    steps = result["test"]["steps"]
    fig, (left, right) = figures.canvas((7.6, 3.3), ncols=2)
    with figures.style():
        rows = []
        for i, name in enumerate(LABELS):
            mse, ci = result[name]["mse"], result[name]["ci95"]
            low = [m - c for m, c in zip(mse, ci, strict=True)]
            high = [m + c for m, c in zip(mse, ci, strict=True)]
            left.plot(steps, mse, color=figures.color(i), marker=figures.marker(i), lw=1.6, ms=4,
                      label=f"{LABELS[name]} (ours)")  # fmt: skip
            left.fill_between(steps, low, high, color=figures.color(i), alpha=0.18, lw=0)
            left.plot(STEPS, PAPER[name], color=figures.color(i), marker="*", ms=11, ls="none",
                      markeredgecolor=figures.FOREGROUND, markeredgewidth=0.6,
                      label=f"{LABELS[name]} (paper)")  # fmt: skip
            rows += [
                [LABELS[name], s, f"{m:.3f}", f"{c:.3f}"]
                for s, m, c in zip(steps, mse, ci, strict=True)
            ]
            history = result[name]["train_loss_per_1000"]
            right.plot([1000 * (k + 1) for k in range(len(history))], history, color=figures.color(i),
                       lw=1.4, label=LABELS[name])  # fmt: skip
        left.set_xlabel("gradient steps on the 5 support points")
        left.set_ylabel("test MSE")
        left.set_ylim(0, 1.45 * max(max(result[n]["mse"]) for n in LABELS))
        left.legend(fontsize=7, frameon=False, labelcolor=figures.FOREGROUND, loc="upper center",
                    ncol=2)  # fmt: skip
        right.set_xlabel("training updates (thousands)")
        right.xaxis.set_major_formatter(lambda value, _: f"{value / 1000:g}")
        right.set_ylabel("training loss (mean per 1000)")
        right.set_ylim(bottom=0)
        right.legend(fontsize=7.5, frameon=False, labelcolor=figures.FOREGROUND)
    return figures.render(
        fig,
        alt="Left: 5-shot test MSE against the number of gradient steps, for MAML and the model "
        "pretrained on all tasks, with 95% bands over test tasks and the paper's Table 2 values as "
        "stars. Right: each model's training loss against training updates.",
        caption=f"Left: mean query MSE over {result['test']['tasks']} test tasks after each "
        "gradient step on the same 5 support points (bands: 95% intervals over tasks; stars: "
        "Finn et al. 2017, Table 2). Right: training loss, the query loss after one inner step "
        "for MAML, the fit to all tasks' points for the pretrained model.",
        numbers=figures.table(["Model", "Steps", "Test MSE", "± 95%"], rows),
        name="sinusoid-mse",
    )


def training(result: dict) -> str:
    """What ran: updates, time, machine, commit and the command."""
    machine, commit = result.get("machine", {}), str(result.get("git_commit", "?"))
    parts = [
        f"{LABELS[n]}: {result[n]['updates']:,} updates in {result[n]['train_seconds'] / 60:.0f} "
        "min"
        for n in LABELS
    ]
    lrs = ", ".join(f"{lr:g}: {v:.3f}" for lr, v in
                    ((float(k), v) for k, v in result["pretrained"]["validation_by_lr"].items()))  # fmt: skip
    return (
        f"{'; '.join(parts)}, on {machine.get('cpu', '?')} with {machine.get('torch_threads', '?')} "
        f"torch thread(s), torch {machine.get('torch', '?')}, from commit `{commit[:12]}`"
        f"{' with uncommitted changes' if commit.endswith('-dirty') else ''}. "
        f"Command: `{result.get('command')}`. The "
        f"pretrained model's step size was chosen on {result['validation_tasks']} validation "
        f"tasks (mean validation MSE over the table's columns, by step size: {lrs})."
    )
