"""Evaluate a trained checkpoint on the test characters and write its result file.

    python -m benchmarks.evaluate CHECKPOINT [--episodes N [N ...]] [--split-part test]

The checkpoint is a `model.safetensors` written by `benchmarks.train` (through
`reference_impl.checkpoints`); its metadata names the method, setting, split and seed. Test
episodes come from `reference_impl.evaluation.fixed_episodes` on the split's test characters (with
the four rotations, as in both papers), 15 queries per class, seeded by `--eval-seed`, so every
method is scored on the same episodes. The default episode count is the paper's: 600 for MAML
(its code), 1000 for the others (ProtoNets); several counts (`--episodes 600 1000`) are all
reported, the first being the headline.

The result goes to `benchmarks/results/omniglot/<method>_<setting>_<split>.json` and the
checkpoint is copied beside it (`benchmarks/results/omniglot/checkpoints/`), so every published
number can be re-evaluated with `reference_impl.checkpoints.load_predictor`.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks import common
from benchmarks.common import HarnessError
from reference_impl import files


def read_checkpoint_metadata(path: Path) -> dict[str, Any]:
    """Method, config, split, seed and the harness's `extra` of a checkpoint.

    Raises:
        HarnessError: If the checkpoint is missing or was not written by `benchmarks.train`.
    """
    from reference_impl import checkpoints

    if not path.exists():
        raise HarnessError(f"checkpoint {path} not found")
    try:
        loaded = checkpoints.load_checkpoint(path)
    except (OSError, ValueError) as err:
        raise HarnessError(f"cannot read checkpoint {path}: {err}") from err
    meta = dict(loaded.metadata)
    extra = meta.get("extra") or {}
    if "harness_method" not in extra or "setting" not in extra:
        raise HarnessError(f"{path} was not written by benchmarks.train (no harness metadata)")
    return meta


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.evaluate",
        description="Evaluate a checkpoint on the Omniglot test characters and write its result JSON.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "checkpoint", type=Path, help="model.safetensors written by benchmarks.train"
    )
    parser.add_argument(
        "--episodes",
        type=int,
        nargs="+",
        default=None,
        help="test episode counts (default: 600 for MAML, 1000 otherwise); the first is the headline",
    )
    parser.add_argument(
        "--split-part", choices=("test", "val"), default="test", help="characters to evaluate on"
    )
    parser.add_argument(
        "--setting",
        default=None,
        help="test setting (default: the trained one); another is allowed only where training "
        "for it is the same protocol, e.g. a ProtoNet trained for 5w1s tested as 20w1s",
    )
    parser.add_argument("--eval-seed", type=int, default=0, help="seed of the fixed test episodes")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument(
        "--data-root", type=Path, default=None, help="Omniglot folder (as for benchmarks.train)"
    )
    parser.add_argument(
        "--download", action="store_true", help="fetch Omniglot first if it is missing"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="result JSON path (default benchmarks/results/omniglot/<method>_<setting>_<split>.json)",
    )
    parser.add_argument(
        "--no-publish", action="store_true", help="do not copy the checkpoint beside the result"
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress line (episodes, running accuracy, ETA)"
    )
    return parser


def run(argv: list[str]) -> dict[str, Any]:
    """Evaluate as the command line says and return the result written."""
    from benchmarks.train import load_part

    args = build_parser().parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise HarnessError("--device cuda requested but torch.cuda.is_available() is False")
    meta = read_checkpoint_metadata(args.checkpoint)
    extra = meta["extra"]
    method_name, trained, split = extra["harness_method"], extra["setting"], meta["split"]
    method = common.load_method(method_name)
    setting = args.setting or trained
    n_way, k_shot = common.parse_setting(setting)
    counts = args.episodes or [method.test_episodes]
    if min(counts) < 1:
        raise HarnessError(f"--episodes must be positive, got {counts}")
    data_kind = extra.get("data", "omniglot")
    if data_kind != "omniglot" and args.out is None:
        raise HarnessError(
            f"checkpoint trained on {data_kind!r} data: pass --out (results are Omniglot only)"
        )
    data_args = argparse.Namespace(
        data=data_kind, data_root=args.data_root, split=split, download=args.download
    )
    if setting != trained:
        common.transferable_setting(method_name, trained, setting)
    data = load_part(data_args, args.split_part, torch.float32)

    from reference_impl import checkpoints

    predict = checkpoints.load_predictor(args.checkpoint, device=args.device)
    device = torch.device(args.device)

    def on_device(
        support_x: torch.Tensor, support_y: torch.Tensor, query_x: torch.Tensor
    ) -> torch.Tensor:
        return predict(support_x.to(device), support_y.to(device), query_x.to(device))

    episodes = common.fixed_episodes(
        data, n_way, k_shot, common.TEST_QUERIES, max(counts), args.eval_seed
    )
    start = time.perf_counter()
    progress = common.EvalProgress(max(counts), enabled=not args.quiet)
    evaluations = common.evaluate_prefixes(on_device, episodes, counts, progress.update)
    progress.close()
    for e in evaluations:
        print(
            f"{method_name} {setting} {split} {args.split_part}: "
            f"{100 * e['accuracy']:.2f}% ± {100 * e['ci95']:.2f} ({e['episodes']} episodes)"
        )
    eval_seconds = time.perf_counter() - start

    name = f"{method_name}_{setting}_{split}"
    out = args.out if args.out is not None else common.OMNIGLOT_RESULTS / f"{name}.json"
    checkpoint_ref = common.relative(args.checkpoint)
    if not args.no_publish and args.out is None:
        # named after the setting it was trained for: a reused model is published once
        checkpoint_ref = publish_checkpoint(
            args.checkpoint, common.CHECKPOINTS_DIR / f"{method_name}_{trained}_{split}.safetensors"
        )
    head = evaluations[0]
    result = {
        "method": method_name, "setting": setting, "trained_setting": trained,
        "split": split, "split_part": args.split_part,
        "n_way": n_way, "k_shot": k_shot, "n_query": common.TEST_QUERIES,
        "accuracy": head["accuracy"], "ci95": head["ci95"], "episodes": head["episodes"],
        "evaluations": evaluations, "eval_seed": args.eval_seed, "seed": meta.get("seed"),
        "train_steps": extra.get("steps"), "train_seconds": extra.get("train_seconds"),
        "train_world_size": extra.get("world_size", 1), "stopped_by": extra.get("stopped_by"),
        "selected": extra.get("selected"), "validation": (extra.get("validation") or [])[-1:],
        "eval_seconds": eval_seconds, "checkpoint": checkpoint_ref,
        "machine": common.machine_info(args.device), "train_machine": extra.get("machine"),
        "torch": torch.__version__, "git_commit": files.git_commit(),
        "train_git_commit": extra.get("git_commit"),
        "commands": {
            "train": extra.get("train_commands") or [extra.get("train_command")],
            "evaluate": common.command_line("benchmarks.evaluate", argv),
        },
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }  # fmt: skip
    files.atomic_write_json(out, result)
    print(f"wrote {common.relative(out)}")
    return result


def publish_checkpoint(source: Path, target: Path) -> str:
    """Copy a checkpoint and its sidecar files (same stem) to `target`; return its repo path.

    Re-evaluating a checkpoint that is already published (`source` is `target`) copies nothing.
    Each file goes through `reference_impl.files.atomic_write`, so an interrupted copy never
    leaves a half-written checkpoint where a result points.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.resolve() == target.resolve():
        return common.relative(target)
    for file in source.parent.glob(f"{source.stem}.*"):
        if file.is_file():
            files.atomic_write(target.with_suffix(file.suffix), file.read_bytes())
    return common.relative(target)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; user errors print one line and return 2."""
    return common.run_cli("benchmarks.evaluate", run, argv)


if __name__ == "__main__":
    sys.exit(main())
