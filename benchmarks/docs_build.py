"""Time the strict docs build, page by page, and report the slowest pages.

    python -m benchmarks.docs_build [--out benchmarks/results/docs_build.json] [--top 10]

Runs `mkdocs build --strict` into a temporary folder with `MLG_PAGE_TIMES` set, so the site's
hook (`docs/hooks.py`) records the wall and CPU seconds of each page's conversion, which is where
markdown-exec runs the executed blocks. Writes the total, every page's times and the host to the
result file, and prints the slowest pages, so whoever adds a page sees its cost against the
budgets (about 1 s of CPU per page, the whole build within 90 s on the 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    ArgumentParser,
    HarnessError,
    check_output_file,
    int_at_least,
    machine_info,
    path_arg,
    run_cli,
)
from reference_impl.files import atomic_write_json

ROOT = Path(__file__).resolve().parents[1]
PAGE_BUDGET_CPU_S = 1.0
"""Executed code per page, in CPU seconds (the issue's "about 1 s")."""
BUILD_BUDGET_S = 90.0
"""Whole strict build, wall seconds on the 2-core machine."""


def build_parser() -> argparse.ArgumentParser:
    """Command-line flags."""
    parser = ArgumentParser(prog="python -m benchmarks.docs_build", description=__doc__)
    parser.add_argument("--out", type=path_arg, default=ROOT / "benchmarks/results/docs_build.json")
    parser.add_argument("--top", type=int_at_least(1), default=10, help="slowest pages to print")
    return parser


def run(argv: list[str]) -> dict[str, Any]:
    """Build once, collect the per-page times, write and print the report."""
    args = build_parser().parse_args(argv)
    check_output_file(
        args.out, writer="benchmarks.docs_build"
    )  # before the build, which takes minutes
    with tempfile.TemporaryDirectory() as tmp:
        times_file = Path(tmp) / "times.json"
        env = {**os.environ, "MLG_PAGE_TIMES": str(times_file), "NO_MKDOCS_2_WARNING": "1"}
        env.setdefault("OMP_NUM_THREADS", "1")
        command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", tmp + "/site"]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        total = time.perf_counter() - start
        if done.returncode != 0:
            raise HarnessError("strict build failed; run `make docs` to see why")
        pages = json.loads(times_file.read_text(encoding="utf-8"))
    ranked = sorted(pages.items(), key=lambda kv: kv[1]["cpu_s"], reverse=True)
    report = {
        "build_wall_s": round(total, 2),
        "build_budget_s": BUILD_BUDGET_S,
        "page_budget_cpu_s": PAGE_BUDGET_CPU_S,
        "pages": {page: {k: round(v, 3) for k, v in t.items()} for page, t in ranked},
        "over_budget": [page for page, t in ranked if t["cpu_s"] > PAGE_BUDGET_CPU_S],
        "load_average": os.getloadavg(),
        "machine": machine_info(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
    }
    atomic_write_json(args.out, report)
    print(f"strict build: {total:.1f} s (budget {BUILD_BUDGET_S:.0f} s), {len(pages)} pages")
    for page, t in ranked[: args.top]:
        flag = "  over budget" if t["cpu_s"] > PAGE_BUDGET_CPU_S else ""
        print(f"{t['cpu_s']:7.2f} s CPU {t['wall_s']:7.2f} s wall  {page}{flag}")
    return report


def main(argv: list[str] | None = None) -> int:
    """Entry point: `python -m benchmarks.docs_build`."""
    return run_cli("benchmarks.docs_build", run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
