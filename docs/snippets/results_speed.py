"""Render the speed report (Markdown): the one-process comparison from
benchmarks/results/speed_report*.json, then the detailed *_speed*.json files."""

from __future__ import annotations

import json
from pathlib import Path


def repo_root() -> Path:
    """The folder holding mkdocs.yml, searched upwards from the working directory."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "mkdocs.yml").exists() and (folder / "benchmarks").is_dir():
            return folder
    raise FileNotFoundError("run the docs build from the repository (mkdocs.yml not found)")


def result_files(pattern: str, root: Path | None = None) -> list[tuple[str, dict]]:
    """(file name, content) of every `benchmarks/results/` JSON matching `pattern`, by name."""
    folder = (root or repo_root()) / "benchmarks" / "results"
    return [
        (path.name, json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(folder.glob(pattern))
    ]


def speed_files(root: Path | None = None) -> list[tuple[str, dict]]:
    """(file name, content) of every detailed speed result, sorted by name."""
    return result_files("*_speed*.json", root)


def device_label(data: dict) -> str:
    """`NVIDIA H100 ...` for GPU runs, else `<CPU>, <n> threads`."""
    machine = data.get("machine", {})
    if machine.get("gpu"):
        return f"GPU: {machine['gpu']}"
    threads = machine.get("torch_threads", "?")
    return f"CPU: {machine.get('cpu', '?')}, {threads} thread{'' if threads == 1 else 's'}"


def maml_table(data: dict) -> str:
    """Rows of `bench_maml`: variant, order, median seconds, ratio to the plain loop."""
    lines = [
        "| Variant | Order | Median s / step | × plain loop | Max rel. grad diff "
        "| Max rel. error vs float64 | Peak MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in data["results"]:
        err = row.get("max_rel_grad_err_vs_float64")
        lines.append(
            f"| {row['variant']} | {row['order']} | {row['median_s']:.3f} | "
            f"{row['ratio_to_loop']:.2f} | {row['max_rel_grad_diff_to_loop']:.1e} | "
            f"{'–' if err is None else f'{err:.1e}'} | {row.get('peak_mem_mib', '–')} |"
        )
    return "\n".join(lines)


def protonet_table(data: dict) -> str:
    """Rows of `bench_protonet`: episode shape, variant, median ms, ratio to plain PyTorch."""
    lines = ["| Episode | Variant | Median ms / update | × plain |", "|---|---|---|---|"]
    for episode, r in data["episodes"].items():
        for variant, ms in r["median_ms"].items():
            lines.append(
                f"| {episode} | {variant} | {ms:.1f} | {r['ratio_to_plain'][variant]:.2f} |"
            )
    return "\n".join(lines)


def report_files(root: Path | None = None) -> list[tuple[str, dict]]:
    """(file name, content) of every one-process report of `benchmarks.speed`, sorted by name."""
    return result_files("speed_report*.json", root)


def report_table(data: dict) -> str:
    """Summary rows of `benchmarks.speed`: workload, variant, median ms, ratio to plain PyTorch."""
    lines = [
        "| Workload | Variant | Median ms / step | × plain PyTorch |",
        "|---|---|---|---|",
    ]
    for row in data["summary"]:
        lines.append(
            f"| {row['workload']} | {row['variant']} | {row['median_ms']:.1f} | "
            f"{row['ratio_to_plain']:.2f} |"
        )
    return "\n".join(lines)


def report_section(root: Path | None = None) -> str:
    """Every one-process report with its device, command, commit and conditions."""
    parts = []
    for name, data in report_files(root):
        machine, conditions = data.get("machine", {}), data.get("conditions", {})
        parts += [
            f"### `{name}`\n",
            f"{device_label(data)}; torch {machine.get('torch', '?')}; "
            f"{conditions.get('wall_s', 0) / 60:.0f} min in one process; "
            f"commit `{str(data.get('git_commit', '?'))[:12]}`; made by `{data.get('command')}`.\n",
            report_table(data),
            f"\n*Conditions*: {conditions.get('contention', '?')}\n",
        ]
    return "\n".join(parts)


def tf32_section(root: Path | None = None) -> str:
    """The committed output of `benchmarks.tf32_check`, or an empty string when absent."""
    path = (root or repo_root()) / "benchmarks" / "results" / "maml_tf32_cuda.log"
    if not path.exists():
        return ""
    return (
        "### `maml_tf32_cuda.log`\n\nMAML meta-gradient error against float64 on the GPU, with "
        "cuDNN's TF32 convolutions allowed (PyTorch's default) and forbidden "
        "(`python -m benchmarks.tf32_check --device cuda`):\n\n```text\n"
        + path.read_text(encoding="utf-8").strip()
        + "\n```\n"
    )


def render(root: Path | None = None) -> str:
    """The whole report: one section per result file, or a note that none exists."""
    files, headline = speed_files(root), report_section(root)
    if not files and not headline:
        return "No speed result files yet (`make bench` writes them): not run yet."
    parts = []
    if headline:
        parts += ["## One-process comparison\n", headline, "## Detailed benchmarks\n"]
    for name, data in files:
        parts.append(
            f"### `{name}`\n\n{device_label(data)}; torch {data.get('machine', {}).get('torch', '?')}.\n"
        )
        if "results" in data and isinstance(data["results"], list):
            parts.append(maml_table(data))
        elif "episodes" in data and isinstance(data["episodes"], dict):
            parts.append(protonet_table(data))
        else:
            parts.append("Unrecognised layout; keys: " + ", ".join(f"`{k}`" for k in data))
        note = data.get("contention") or data.get("conditions", {}).get("note")
        if note:
            parts.append(f"\n*Conditions*: {note}")
        parts.append("")
    parts.append(tf32_section(root))
    return "\n".join(parts)
