"""`make bench`: regenerate every committed benchmark result that fits on this machine, in sequence.

1. Speed: the one-process report `benchmarks.speed`, then `benchmarks.bench_maml`, `benchmarks.bench_protonet`, `benchmarks.bench_episodes`
   (those that exist), each writing its JSON under `benchmarks/results/`.
2. Omniglot: for every committed `benchmarks/results/omniglot/*.json` (the published cells; the
   other runs kept for comparison in `variants/` are not replayed), replay its training command
   with the recorded number of updates in place of the wall-clock budget (so the rerun is
   deterministic rather than dependent on machine speed), then evaluate the new checkpoint with
   the recorded episode counts, which rewrites the result file and its checkpoint. Runs go to
   `benchmarks/runs/bench_<name>/` with `--resume`, so an interrupted `make bench` continues. Results trained
   on a GPU or with several processes are skipped where this machine cannot run them.

`--plan` runs the full reproduction plan instead (`PLAN`: every method, setting and split with
the issue's budgets and `PLAN_FLAGS`; many hours on a 2-core CPU). `--dry-run` prints the
commands only: `--plan --dry-run --skip-speed` lists the plan without running anything.

Usage: `python -m benchmarks.run_all [--dry-run] [--plan] [--only SUBSTRING] [--skip-speed]
[--skip-omniglot]`
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import torch

from benchmarks import common

SPEED_MODULES = ("speed", "bench_maml", "bench_protonet", "bench_episodes", "hvp")
"""Speed benchmarks run first, when their files exist."""

BUDGET_MINUTES = {"protonet": 30, "maml": 120, "fomaml": 120, "fast_weights": 60, "baseline": 30}
"""Training budget per run (issue 9)."""

PLAN_FLAGS: dict[str, list[str]] = {"protonet": ["--lr-halve-every", "400"]}
"""Training flags of the plan beyond each setting's protocol (docs/results/omniglot.md, Protocol:
a 30-minute ProtoNet run never reaches the paper's first learning-rate cut at 2000 episodes)."""

PLAN: list[tuple[str, str, str]] = [
    (method, setting, split)
    for split in common.SPLITS
    for method in ("protonet", "baseline", "maml", "fast_weights")
    for setting in common.SETTINGS
    if not (method == "fast_weights" and setting.startswith("20w"))
]
"""Every run of the reproduction plan: (method, setting, split)."""


def python_command(command: str) -> list[str]:
    """A recorded `python -m ...` command as an argv for this interpreter."""
    argv = shlex.split(command)
    if argv[:2] == ["torchrun", "--nproc-per-node"]:
        return [sys.executable, "-m", "torch.distributed.run", *argv[1:]]
    if argv and argv[0] == "python":
        argv[0] = sys.executable
    return argv


def _without(argv: list[str], flag: str, takes_value: bool) -> list[str]:
    out, skip = [], False
    for token in argv:
        if skip:
            skip = False
            continue
        if token == flag:
            skip = takes_value
            continue
        if token.startswith(flag + "="):
            continue
        out.append(token)
    return out


def replay_commands(result: dict, run_dir: Path) -> tuple[list[str], list[str]] | None:
    """Train and evaluate argvs that regenerate `result`, or None if this machine cannot."""
    train_machine = result.get("train_machine") or {}
    if train_machine.get("device") == "cuda" and not torch.cuda.is_available():
        return None
    commands = [c for c in result["commands"]["train"] if c]
    if not commands:
        return None
    argv = python_command(commands[0])
    for flag, takes_value in (
        ("--resume", False),
        ("--stop-after", True),
        ("--budget-minutes", True),
        ("--episodes", True),
        ("--out", True),
    ):
        argv = _without(argv, flag, takes_value)
    argv += ["--episodes", str(result["train_steps"]), "--out", str(run_dir), "--resume"]
    counts = [str(e["episodes"]) for e in result["evaluations"]]
    evaluate = [
        sys.executable, "-m", "benchmarks.evaluate", str(run_dir / "model.safetensors"),
        "--episodes", *counts, "--eval-seed", str(result.get("eval_seed", 0)),
    ]  # fmt: skip
    if result.get("trained_setting", result["setting"]) != result["setting"]:
        evaluate += ["--setting", result["setting"]]
    return argv, evaluate


def trained_name(result: dict) -> str:
    """`<method>_<setting it was trained for>_<split>`: results that share a model share a run."""
    trained = result.get("trained_setting", result["setting"])
    return f"{result['method']}_{trained}_{result['split']}"


def reused_setting(method: str, setting: str, split: str) -> str | None:
    """An earlier setting of `PLAN` whose model this run can reuse (identical training), if any."""
    for earlier_method, earlier, earlier_split in PLAN:
        if (earlier_method, earlier, earlier_split) == (method, setting, split):
            return None
        if (earlier_method, earlier_split) != (method, split):
            continue
        try:
            common.transferable_setting(method, earlier, setting)
        except common.HarnessError:
            continue
        return earlier
    return None


def plan_commands(
    method: str, setting: str, split: str, run_dir: Path, trained: str | None = None
) -> tuple[list[str], list[str]]:
    """Train and evaluate argvs of one run of `PLAN` (training for `trained`, default `setting`;
    a finished run in `run_dir` is resumed as done, so a reused model is trained once)."""
    trained = trained or setting
    train = [
        sys.executable, "-m", "benchmarks.train", method, trained, "--split", split,
        "--budget-minutes", str(BUDGET_MINUTES[method]), *PLAN_FLAGS.get(method, []),
        "--out", str(run_dir), "--resume",
    ]  # fmt: skip
    headline = common.load_method(method).test_episodes  # the paper's count first
    counts = [str(headline), *(c for c in ("600", "1000") if c != str(headline))]
    evaluate = [
        sys.executable, "-m", "benchmarks.evaluate", str(run_dir / "model.safetensors"),
        "--episodes", *counts,
    ]  # fmt: skip
    if trained != setting:
        evaluate += ["--setting", setting]
    return train, evaluate


def run(argv: list[str], dry_run: bool) -> None:
    """Print an argv and, unless `dry_run`, run it (failures stop `make bench`)."""
    print("+ " + shlex.join(argv), flush=True)
    if not dry_run:
        subprocess.run(argv, cwd=common.REPO, check=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `make bench`: a failed step or a bad argument prints one line, returns 1/2."""
    try:
        return _main(argv)
    except subprocess.CalledProcessError as err:  # the step printed its own error above
        print(f"benchmarks.run_all: error: {shlex.join(err.cmd)} exited {err.returncode}",
              file=sys.stderr)  # fmt: skip
        return 1
    except common.HarnessError as err:
        print(f"benchmarks.run_all: error: {err}", file=sys.stderr)
        return 2


def _main(argv: list[str] | None) -> int:
    parser = common.ArgumentParser(prog="python -m benchmarks.run_all",
                                   description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    parser.add_argument(
        "--plan", action="store_true", help="run the full reproduction plan (hours; see --dry-run)"
    )
    parser.add_argument("--only", default=None, help="only runs whose name contains this")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-omniglot", action="store_true")
    args = parser.parse_args(argv)
    jobs = [] if args.skip_omniglot else omniglot_jobs(args.plan)
    if args.only is not None and not any(args.only in name for name, _ in jobs):
        raise common.HarnessError(
            f"--only {args.only!r} matches no Omniglot run; the runs are "
            f"{', '.join(name for name, _ in jobs) or 'none (--skip-omniglot)'}"
        )
    if not args.skip_speed:
        for name in SPEED_MODULES:
            if (common.REPO / "benchmarks" / f"{name}.py").exists():
                run([sys.executable, "-m", f"benchmarks.{name}"], args.dry_run)
    for name, commands in jobs:
        if args.only and args.only not in name:
            continue
        if commands is None:
            print(f"skip {name}: trained on a device this machine does not have", flush=True)
            continue
        for command in commands:
            run(command, args.dry_run)
    return 0


def omniglot_jobs(plan: bool) -> list[tuple[str, tuple[list[str], list[str]] | None]]:
    """Name and (train, evaluate) commands of every Omniglot run, `None` where this machine
    cannot run it; read before anything runs, so a damaged result file stops nothing midway.

    Raises:
        HarnessError: If a committed result file cannot be read.
    """
    jobs: list[tuple[str, tuple[list[str], list[str]] | None]] = []
    if plan:
        for method, setting, split in PLAN:
            trained = reused_setting(method, setting, split) or setting
            run_dir = common.RUNS_DIR / f"bench_{method}_{trained}_{split}"
            jobs.append(
                (
                    f"{method}_{setting}_{split}",
                    plan_commands(method, setting, split, run_dir, trained),
                )
            )
    else:
        for path in sorted(common.OMNIGLOT_RESULTS.glob("*.json")):
            try:
                result = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:  # a result file edited by hand, or damaged
                raise common.HarnessError(f"cannot read {common.relative(path)}: {err}") from err
            run_dir = common.RUNS_DIR / f"bench_{trained_name(result)}"
            jobs.append((path.stem, replay_commands(result, run_dir)))
    return jobs


if __name__ == "__main__":
    sys.exit(main())
