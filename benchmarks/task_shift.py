"""Task shift on Omniglot: do unseen alphabets look shifted to a trained model?

    python -m benchmarks.task_shift CHECKPOINT [CHECKPOINT ...] [--episodes 500] [--out FILE]

For each checkpoint written by `benchmarks.train`, this fits the task-shift reference of
`reference_impl.signals` exactly as the health report does (prototypes of up to 400 training
classes, calibration on 200 tasks of the split's *validation* characters) and then scores two
sets of fresh 5-way 1-shot tasks: more validation tasks (in-domain by construction: about 5%
flagged) and test tasks. It also measures the accuracy on both sets, so the score can be read
beside what it is meant to predict.

The two splits differ in what "test" means:

* `maml`: test characters come from the same 50 alphabets as training (new characters of
  familiar scripts), so test tasks should look like validation tasks;
* `lake`: validation holds out characters of the training alphabets, while test is the 20
  `images_evaluation` alphabets, never seen in training: a real, if mild, domain shift.

Results go to `benchmarks/results/task_shift.json` (one row per checkpoint and part), which the
deployment-signals page renders.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch

from benchmarks import common
from benchmarks.common import HarnessError
from reference_impl import files

OUT = common.RESULTS_DIR / "task_shift.json"
"""Default result file."""


def shift_rows(
    checkpoint: Path, *, episodes: int, n_way: int, k_shot: int, seed: int
) -> list[dict[str, Any]]:
    """Score `episodes` validation and test tasks of a checkpoint's own split.

    Raises:
        HarnessError: If the checkpoint is unreadable or its method has no feature extractor.
    """
    from benchmarks.evaluate import read_checkpoint_metadata
    from benchmarks.train import load_part
    from reference_impl import checkpoints, evaluation, signals

    meta = read_checkpoint_metadata(checkpoint)
    method, split = meta["method"], meta["split"]
    try:
        model, cfg = checkpoints.load_model(checkpoint)
    except ValueError as err:
        raise HarnessError(f"cannot rebuild the model of {checkpoint}: {err}") from err
    features = common.load_method(method).embed
    if features is None:
        raise HarnessError(f"{checkpoint}: method {method!r} has no feature extractor to score")

    def embed(x: torch.Tensor) -> torch.Tensor:
        return features(model, x, cfg)

    predict = checkpoints.load_predictor(checkpoint)
    data_args = argparse.Namespace(
        data=meta["extra"].get("data", "omniglot"), data_root=None, split=split
    )
    parts = {part: load_part(data_args, part, torch.float32) for part in ("train", "val", "test")}
    pick = torch.randperm(parts["train"].shape[0], generator=torch.Generator().manual_seed(seed))
    try:  # more ways or shots than the split's classes and drawings hold
        reference = signals.fit_task_shift(
            embed, parts["train"][pick[:400]], parts["val"], n_way=n_way, k_shot=k_shot, seed=seed
        )
    except ValueError as err:
        raise HarnessError(
            f"{checkpoint}: cannot score {n_way}-way {k_shot}-shot tasks: {err}"
        ) from err
    rows = []
    for part in ("val", "test"):
        # seed + 1: fresh validation tasks, not the 200 that calibrated the reference
        tasks = list(
            evaluation.fixed_episodes(
                parts[part], n_way, k_shot, common.TEST_QUERIES, episodes, seed + 1
            )
        )
        try:  # e.g. non-finite logits or embeddings of a diverged or damaged model
            shift = signals.task_shift(reference, embed, tasks)
            scored = evaluation.evaluate_predictor(predict, tasks)
        except ValueError as err:
            raise HarnessError(f"{checkpoint}: cannot score the {part} tasks: {err}") from err
        rows.append(
            {
                "checkpoint": common.relative(checkpoint),
                "method": method,
                "split": split,
                "part": part,
                "classes": int(parts[part].shape[0]),
                "episodes": episodes,
                "mean_z": shift.mean_z,
                "share_flagged": shift.share_flagged,
                "accuracy": scored.accuracy,
                "ci95": scored.ci95,
            }
        )
        print(
            f"{method} {split} {part:<4}: flagged {shift.share_flagged:6.1%}, mean z "
            f"{shift.mean_z:+.2f}, accuracy {100 * scored.accuracy:.2f}% ± {100 * scored.ci95:.2f}"
        )
    return rows


def run(argv: list[str]) -> dict[str, Any]:
    """Score every checkpoint on the command line and write the result file."""
    parser = common.ArgumentParser(
        prog="python -m benchmarks.task_shift", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "checkpoints", type=common.path_arg, nargs="+", help="model.safetensors files"
    )
    parser.add_argument(
        "--episodes", type=common.int_at_least(2), default=500, help="tasks scored per part"
    )
    parser.add_argument("--n-way", type=common.int_at_least(2), default=5)
    parser.add_argument("--k-shot", type=common.int_at_least(1), default=1)
    parser.add_argument("--seed", type=common.seed, default=0)
    parser.add_argument(
        "--threads", type=common.int_at_least(1), default=None, help="torch intra-op threads"
    )
    parser.add_argument("--out", type=common.path_arg, default=OUT, help="result JSON")
    args = parser.parse_args(argv)
    common.check_output_file(args.out, inputs=args.checkpoints, writer="benchmarks.task_shift")
    if args.k_shot + common.TEST_QUERIES > 20:  # Omniglot has 20 drawings per character
        raise HarnessError(
            f"--k-shot {args.k_shot} plus {common.TEST_QUERIES} queries exceeds the 20 drawings "
            "of an Omniglot character"
        )
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    from benchmarks.evaluate import read_checkpoint_metadata

    for path in args.checkpoints:  # every checkpoint readable before the first is scored
        read_checkpoint_metadata(path)
    rows = [
        row
        for path in args.checkpoints
        for row in shift_rows(
            path, episodes=args.episodes, n_way=args.n_way, k_shot=args.k_shot, seed=args.seed
        )
    ]
    result = {
        "n_way": args.n_way, "k_shot": args.k_shot, "rows": rows,
        "machine": common.machine_info(), **common.provenance("benchmarks.task_shift", argv),
    }  # fmt: skip
    files.atomic_write_json(args.out, result)
    print(f"wrote {common.relative(args.out)}")
    return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; user errors print one line and return 2."""
    return common.run_cli("benchmarks.task_shift", run, argv)


if __name__ == "__main__":
    sys.exit(main())
