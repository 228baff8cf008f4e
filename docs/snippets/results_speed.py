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


def hvp_table(data: dict) -> str:
    """Rows of `benchmarks.hvp`: width, parameters, CPU time of each product / one gradient."""
    names = ("double_backward", "forward_over_reverse", "explicit_hessian")
    lines = [
        "| Width | Parameters | "
        + " | ".join(f"{n} / gradient" for n in names)
        + " | Gradient ms |",
        "|---|---|---|---|---|---|",
    ]
    for row in data["rows"]:
        ratios = row["ratio_to_gradient"]
        cells = " | ".join(f"{ratios[n]:.2f}" if n in ratios else "–" for n in names)
        lines.append(
            f"| {row['width']} | {row['parameters']} | {cells} | {row['gradient_cpu_ms']:.3f} |"
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
        elif data.get("benchmark") == "hvp_speed" and isinstance(data.get("rows"), list):
            parts.append(hvp_table(data))
        else:
            parts.append("Unrecognised layout; keys: " + ", ".join(f"`{k}`" for k in data))
        conditions = data.get("conditions", {})
        note = data.get("contention") or conditions.get("note") or conditions.get("contention")
        if note:
            parts.append(f"\n*Conditions*: {note}")
        parts.append("")
    parts.append(tf32_section(root))
    return "\n".join(parts)


VARIANTS = ("exact", "fast")
"""The reference implementation's two paths, each timed against plain PyTorch."""
TICKS = (0.02, 0.05, 0.1, 0.2, 0.5, 0.8, 0.9, 1.0, 1.1, 1.2, 1.5, 2.0, 5.0)
"""Tick values of the log axis (only those inside the data's range are drawn)."""
COARSE_TICKS = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
"""Tick values where the ratios span more than a factor of three."""


def speed_ratios(root: Path | None = None) -> dict[str, dict[tuple[str, str], float]]:
    """`{device label: {(workload, variant): time ratio to plain PyTorch}}` from the detailed
    benchmark files (`maml_speed*.json`: ratio to the per-task loop; `protonet_speed*.json`:
    ratio to plain fp32 PyTorch), exact and fast paths only."""
    out: dict[str, dict[tuple[str, str], float]] = {}
    for _, data in speed_files(root):
        label = "GPU" if data.get("machine", {}).get("gpu") else "CPU"
        ratios = out.setdefault(label, {})
        if isinstance(data.get("results"), list):
            for row in data["results"]:
                if row["variant"] in VARIANTS:
                    workload = f"MAML 5w1s, {row['order']} order"
                    ratios[workload, row["variant"]] = row["ratio_to_loop"]
        elif isinstance(data.get("episodes"), dict):
            for episode, r in data["episodes"].items():
                for variant in VARIANTS:
                    ratios[f"ProtoNet {episode}", variant] = r["ratio_to_plain"][variant]
    return out


def speed_figure(root: Path | None = None) -> str:
    """Time ratio of the exact and fast paths to plain PyTorch for every workload, CPU and GPU
    side by side (log scale; below 1 is faster), and the checks behind the page's sentences."""
    import claims
    import figures

    ratios = speed_ratios(root)
    if not ratios:
        return "No speed result files yet (`make bench` writes them): not run yet."
    gpu = ratios.get("GPU", {})
    maml_fast = [v for (w, var), v in gpu.items() if w.startswith("MAML") and var == "fast"]
    proto = [v for (w, _), v in gpu.items() if w.startswith("ProtoNet")]
    if maml_fast and proto:
        claims.check(max(maml_fast) < 0.5, "on the GPU, batching the MAML tasks (fast) is where "
                     "the time goes away", str(maml_fast))  # fmt: skip
        claims.check(min(proto) > 1, "on the GPU both reference ProtoNet variants sit above "
                     "plain PyTorch", str(proto))  # fmt: skip
    for _, data in speed_files(root):
        if data.get("machine", {}).get("gpu") and isinstance(data.get("episodes"), dict):
            ms = [
                r["median_ms"][v] for r in data["episodes"].values() for v in ("plain", *VARIANTS)
            ]
            claims.check(max(ms) < 10, "on the GPU a ProtoNet update takes a few milliseconds in "
                         "every variant", str(ms))  # fmt: skip
            gain = [
                r["median_ms"]["fast"] / r["median_ms"]["exact"] for r in data["episodes"].values()
            ]
            claims.check(min(gain) > 0.95, "on the GPU the fast path's layout changes buy nothing",
                         str(gain))  # fmt: skip
    devices = sorted(ratios)
    fig, axes = figures.canvas((7.6, 3.6), ncols=len(devices), squeeze=False)
    with figures.style():
        rows = []
        for ax, device in zip(axes.flat, devices, strict=True):
            workloads = sorted({w for w, _ in ratios[device]})
            for i, variant in enumerate(VARIANTS):
                xs = [
                    j + (i - 0.5) * 0.3
                    for j, w in enumerate(workloads)
                    if (w, variant) in ratios[device]
                ]
                ys = [
                    ratios[device][w, variant] for w in workloads if (w, variant) in ratios[device]
                ]
                ax.plot(xs, ys, color=figures.color(i), marker=figures.marker(i), ls="none",
                        label=f"reference, {variant} path")  # fmt: skip
                rows += [[device, w, variant, f"{ratios[device][w, variant]:.3f}"]
                         for w in workloads if (w, variant) in ratios[device]]  # fmt: skip
            ax.axhline(1.0, color=figures.FOREGROUND, lw=1, ls=":", label="plain PyTorch")
            ax.set_yscale("log")
            values = [ratios[device][key] for key in ratios[device]] + [1.0]
            choice = TICKS if max(values) / min(values) < 3 else COARSE_TICKS
            ticks = [t for t in choice if min(values) / 1.15 <= t <= max(values) * 1.15]
            ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
            ax.minorticks_off()
            ax.set_xticks(range(len(workloads)), [w.replace(", ", "\n").replace(" ", "\n", 1)
                                                  for w in workloads], fontsize=7)  # fmt: skip
            ax.grid(False, axis="x")
            ax.set_title(device)
            ax.set_ylabel("time ÷ plain PyTorch (log)")
        axes.flat[0].legend(
            loc="lower left", fontsize=8, frameon=False, labelcolor=figures.FOREGROUND
        )
    return figures.render(
        fig,
        alt="Time per training step of the reference implementation's exact and fast paths "
        "divided by plain PyTorch, for MAML and ProtoNet workloads, on the CPU and on the GPU; "
        "on the CPU every ratio is near 1, on the GPU the MAML fast path is far below 1 and the "
        "ProtoNet paths are above 1.",
        caption="Speed ratios from the detailed benchmark files (median of per-round ratios, "
        "variants interleaved). Below the dotted line the reference code is faster than plain "
        "PyTorch; the MAML rows compare with a per-task autograd loop.",
        numbers=figures.table(["Device", "Workload", "Variant", "Time ratio"], rows),
        name="speed-ratios",
    )
