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
checkpoint (one file) is published beside it (`benchmarks/results/omniglot/checkpoints/`), so
every published number can be re-evaluated with `reference_impl.checkpoints.load_predictor`; the
result's `checkpoint_sha256` is the content SHA-256 recorded in that file. A checkpoint whose
harness label does not match the model it holds (a ProtoNet labelled `maml`) is refused, so it
cannot replace another method's result; so is a symbolic link.

Besides the headline, a result file keeps what paired comparisons need:

* `per_episode_correct`: correct queries of every test episode, in episode order (the longest
  count evaluated), out of `queries_per_episode` (N * 15); two result files on the same split
  part, setting and `eval_seed` were scored on the same episodes, so their lists pair up.
* `batch_norm`: how batch norm normalised at test time. `"episode"` (the default, and MAML's
  code): each episode's own statistics, support and query together. `"running"`: running
  averages, as the ProtoNets authors' evaluation does with `model.eval()`. Our ProtoNet trains
  without running averages (`track_running_stats=False`), so they are estimated after training:
  the final weights embed `--bn-batches` training episodes of the checkpoint's own training
  shape (seeded by `--eval-seed`) and each batch norm keeps the cumulative average of their batch
  statistics (PyTorch's `momentum=None`), then normalises every test batch with it.
  `--batch-norm both` keeps `"episode"` as the headline and adds a `running_bn` block (accuracy,
  CI, `evaluations`, `per_episode_correct`, the calibration used, and `difference`: running minus
  episode on the same episodes, mean and 95% CI of the paired per-episode difference).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from benchmarks import common
from benchmarks.common import HarnessError
from reference_impl import files


def read_checkpoint_metadata(path: Path) -> dict[str, Any]:
    """Method, config, split, seed and the harness's `extra` of a checkpoint.

    Raises:
        HarnessError: If the checkpoint is missing or was not written by `benchmarks.train`.
    """
    from reference_impl import checkpoints

    common.check_model_checkpoint(path)
    try:
        loaded = checkpoints.load_checkpoint(path)
    except (OSError, ValueError) as err:
        raise HarnessError(f"cannot read checkpoint {path}: {err}") from err
    meta = dict(loaded.metadata)
    extra = meta.get("extra") or {}
    if not isinstance(extra, dict) or "harness_method" not in extra or "setting" not in extra:
        raise HarnessError(f"{path} was not written by benchmarks.train (no harness metadata)")
    check_method(path, meta)
    try:
        common.parse_setting(str(extra["setting"]))
    except HarnessError as err:
        raise HarnessError(f"{path}: recorded training setting: {err}") from err
    if meta["split"] not in common.SPLITS:
        raise HarnessError(
            f"{path}: recorded split {meta['split']!r}; expected one of {', '.join(common.SPLITS)}"
        )
    return meta


def check_method(path: Path, meta: dict[str, Any]) -> None:
    """Refuse a checkpoint whose harness method does not match the model it holds.

    The result file and the published checkpoint are named after `extra["harness_method"]`, so
    a ProtoNet labelled `maml` would overwrite the MAML result. The label must name a known
    harness method whose module is the checkpoint's `method` and whose fixed config fields
    (e.g. `first_order=True` for `fomaml`) the stored config has.

    Raises:
        HarnessError: On a mismatch, naming the file, the label and the recorded method.
    """
    from reference_impl import methods

    label, recorded = meta["extra"]["harness_method"], meta.get("method")
    if label not in methods.METHODS:
        raise HarnessError(
            f"{path}: harness method {label!r} is unknown; expected one of {', '.join(methods.METHODS)}"
        )
    method = methods.METHODS[label]
    if method.algorithm != recorded:
        raise HarnessError(
            f"{path}: labelled {label!r} but holds a {recorded!r} model; refusing to evaluate it "
            f"as {label} (its result would replace the {label} result)"
        )
    config = meta.get("config") or {}
    wrong = {k: config.get(k) for k, v in method.fixed.items() if config.get(k) != v}
    if wrong:
        raise HarnessError(
            f"{path}: labelled {label!r} but its config has {wrong}; {label} means {dict(method.fixed)}"
        )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    parser = common.ArgumentParser(
        prog="python -m benchmarks.evaluate",
        description="Evaluate a checkpoint on the Omniglot test characters and write its result JSON.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "checkpoint", type=common.path_arg, help="model.safetensors written by benchmarks.train"
    )
    parser.add_argument(
        "--episodes",
        type=common.int_at_least(1),
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
    parser.add_argument(
        "--eval-seed", type=common.seed, default=0, help="seed of the fixed test episodes"
    )
    parser.add_argument(
        "--batch-norm",
        choices=("episode", "running", "both"),
        default="episode",
        help="test-time batch norm: each episode's statistics, running averages estimated on "
        "training episodes (the ProtoNets authors' model.eval(); protonet only), or both "
        "(headline: episode)",
    )
    parser.add_argument(
        "--bn-batches",
        type=common.int_at_least(1),
        default=100,
        help="training episodes whose batch statistics make the running averages",
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument(
        "--threads", type=common.int_at_least(1), default=None, help="torch intra-op threads"
    )
    parser.add_argument(
        "--data-root",
        type=common.path_arg,
        default=None,
        help="Omniglot folder (as for benchmarks.train)",
    )
    parser.add_argument(
        "--download", action="store_true", help="fetch Omniglot first if it is missing"
    )
    parser.add_argument(
        "--out",
        type=common.path_arg,
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
    if args.out is not None:
        common.check_output_file(args.out, inputs=(args.checkpoint,), writer="benchmarks.evaluate")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise HarnessError("--device cuda requested but torch.cuda.is_available() is False")
    meta = read_checkpoint_metadata(args.checkpoint)
    meta_sha256 = checkpoint_sha256(args.checkpoint)
    extra = meta["extra"]
    method_name, trained, split = extra["harness_method"], extra["setting"], meta["split"]
    method = common.load_method(method_name)
    setting = args.setting or trained
    n_way, k_shot = common.parse_setting(setting)
    counts = args.episodes or [method.test_episodes]
    if min(counts) < 1:
        raise HarnessError(f"--episodes must be positive, got {counts}")
    if args.batch_norm != "episode" and method.algorithm != "protonet":
        raise HarnessError(
            f"--batch-norm {args.batch_norm} applies to protonet (the ProtoNets authors' "
            f"model.eval()); {method_name} normalises with each batch's statistics, as its code does"
        )
    publish_to = None
    if not args.no_publish and args.out is None:
        # named after the setting it was trained for: a reused model is published once
        publish_to = common.CHECKPOINTS_DIR / f"{method_name}_{trained}_{split}.safetensors"
        check_publishable(args.checkpoint, publish_to)  # before the long evaluation
    data_kind = extra.get("data", "omniglot")
    published = args.out is None or args.out.resolve().is_relative_to(common.RESULTS_DIR.resolve())
    if data_kind != "omniglot" and published:
        raise HarnessError(
            f"checkpoint trained on {data_kind!r} data: pass an --out outside "
            f"{common.relative(common.RESULTS_DIR)}/ (results are Omniglot only)"
        )
    data_args = argparse.Namespace(
        data=data_kind, data_root=args.data_root, split=split, download=args.download
    )
    if setting != trained:
        common.transferable_setting(method_name, trained, setting)
    out = args.out or common.OMNIGLOT_RESULTS / f"{method_name}_{setting}_{split}.json"
    common.check_output_file(out)
    check_same_cell(out, {"method": method_name, "setting": setting, "split": split})

    from reference_impl import checkpoints

    try:  # before the data: a description whose config does not rebuild the model fails now
        predict = checkpoints.load_predictor(args.checkpoint, device=args.device)
    except ValueError as err:
        raise HarnessError(f"cannot rebuild the model of {args.checkpoint}: {err}") from err
    data = load_part(data_args, args.split_part, torch.float32)
    device = torch.device(args.device)

    def on_device(
        support_x: torch.Tensor, support_y: torch.Tensor, query_x: torch.Tensor
    ) -> torch.Tensor:
        return predict(support_x.to(device), support_y.to(device), query_x.to(device))

    episodes = common.fixed_episodes(
        data, n_way, k_shot, common.TEST_QUERIES, max(counts), args.eval_seed
    )
    start = time.perf_counter()
    running: dict[str, Any] | None = None
    if args.batch_norm != "running":
        progress = common.EvalProgress(max(counts), enabled=not args.quiet)
        evaluations, correct = score(on_device, episodes, counts, progress.update)
        progress.close()
        report(f"{method_name} {setting} {split} {args.split_part}", evaluations)
    eval_seconds = time.perf_counter() - start
    if args.batch_norm != "episode":
        calibration = {"part": "train", "batches": args.bn_batches, "seed": args.eval_seed}
        train_part = load_part(data_args, "train", torch.float32)
        running_predict = running_bn_predictor(args.checkpoint, train_part, calibration, device)
        running_evals, running_correct = score(running_predict, episodes, counts)
        report(f"{method_name} {setting} {split} {args.split_part} running BN", running_evals)
        if args.batch_norm == "running":
            evaluations, correct = running_evals, running_correct
        else:
            running = {
                **running_evals[0], "evaluations": running_evals,
                "per_episode_correct": running_correct, "calibration": calibration,
                "difference": paired_difference(
                    running_correct[: counts[0]], correct[: counts[0]], n_way * common.TEST_QUERIES
                ),
                "eval_seconds": time.perf_counter() - start - eval_seconds,
            }  # fmt: skip
        if args.batch_norm == "running":
            eval_seconds = time.perf_counter() - start

    checkpoint_ref = common.relative(args.checkpoint)
    if publish_to is not None:
        checkpoint_ref = publish_checkpoint(args.checkpoint, publish_to)
    head = evaluations[0]
    result: dict[str, Any] = {
        "method": method_name, "setting": setting, "trained_setting": trained,
        "split": split, "split_part": args.split_part,
        "n_way": n_way, "k_shot": k_shot, "n_query": common.TEST_QUERIES,
        "accuracy": head["accuracy"], "ci95": head["ci95"], "episodes": head["episodes"],
        "evaluations": evaluations, "eval_seed": args.eval_seed, "seed": meta.get("seed"),
        "train_steps": extra.get("steps"), "train_seconds": extra.get("train_seconds"),
        "train_world_size": extra.get("world_size", 1), "stopped_by": extra.get("stopped_by"),
        "selected": extra.get("selected"), "validation": (extra.get("validation") or [])[-1:],
        "eval_seconds": eval_seconds, "checkpoint": checkpoint_ref,
        "checkpoint_sha256": meta_sha256,
        "machine": common.machine_info(args.device), "train_machine": extra.get("machine"),
        "torch": torch.__version__, "git_commit": files.git_commit(),
        "train_git_commit": extra.get("git_commit"),
        "commands": {
            "train": extra.get("train_commands") or [extra.get("train_command")],
            "evaluate": common.command_line("benchmarks.evaluate", argv),
        },
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "batch_norm": args.batch_norm if args.batch_norm != "both" else "episode",
        "queries_per_episode": n_way * common.TEST_QUERIES,
        "per_episode_correct": correct,
    }  # fmt: skip
    if running is not None:
        result["running_bn"] = running
    elif args.batch_norm == "running":
        result["bn_calibration"] = calibration
    files.atomic_write(out, result_text(result).encode())
    print(f"wrote {common.relative(out)}")
    return result


def score(
    predict: Any, episodes: Any, counts: list[int], on_episode: Any = None
) -> tuple[list[dict[str, float]], list[int]]:
    """`common.evaluate_prefixes`, with the correct-query count of every episode scored.

    Returns:
        One `{"episodes", "accuracy", "ci95"}` per count, in the order given, and the number of
        correct queries of every episode evaluated (the longest count), in order.

    Raises:
        HarnessError: If an episode cannot be scored (`evaluate_predictor`'s checks).
    """
    try:  # e.g. non-finite logits of a diverged or damaged model
        evaluations, per_episode = common.evaluate_prefixes(predict, episodes, counts, on_episode)
    except ValueError as err:
        raise HarnessError(f"cannot score the checkpoint: {err}") from err
    queries = episodes[0].query_y.shape[0]
    return evaluations, [round(a * queries) for a in per_episode]  # exact: a = hits / queries


def paired_difference(first: list[int], second: list[int], queries: int) -> dict[str, float]:
    """Mean and 95% CI of `first - second` per episode (correct-query counts out of `queries`)."""
    from reference_impl import evaluation

    diffs = [(a - b) / queries for a, b in zip(first, second, strict=True)]
    return {
        "accuracy": math.fsum(diffs) / len(diffs),
        "ci95": evaluation.confidence_interval95(diffs),
        "episodes": len(diffs),
    }


def report(label: str, evaluations: list[dict[str, float]]) -> None:
    """Print one line per episode count."""
    for e in evaluations:
        print(
            f"{label}: {100 * e['accuracy']:.2f}% ± {100 * e['ci95']:.2f} ({e['episodes']} episodes)"
        )


def with_running_batch_norm(model: nn.Module, batches: Any, embed: Any) -> nn.Module:
    """A copy of `model` whose batch norms normalise with averages estimated on `batches`.

    Each batch norm built with `track_running_stats=False` gets running buffers and
    `momentum=None` (a cumulative average); the copy embeds every batch in training mode, which
    accumulates the mean and unbiased variance of each batch's statistics, and is returned in
    eval mode, where batch norm uses them. `model` itself is not changed.

    Args:
        model: The embedding network.
        batches: Input batches, each of shape `(B, *x_shape)`.
        embed: `embed(model, x)`, the method's own forward pass.

    Returns:
        The calibrated copy, in eval mode.
    """
    calibrated = copy.deepcopy(model)
    for module in calibrated.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not module.track_running_stats:
            param = next(module.parameters())
            module.track_running_stats, module.momentum = True, None
            module.register_buffer("running_mean", param.new_zeros(module.num_features))
            module.register_buffer("running_var", param.new_ones(module.num_features))
            module.register_buffer(
                "num_batches_tracked", torch.tensor(0, dtype=torch.long, device=param.device)
            )
    calibrated.train()
    with torch.no_grad():
        for x in batches:
            embed(calibrated, x)
    return calibrated.eval()


def running_bn_predictor(
    checkpoint: Path, train_part: torch.Tensor, calibration: dict[str, Any], device: torch.device
) -> Any:
    """The checkpoint's ProtoNet predictor with running-average batch norm (see the module doc).

    The calibration episodes have the shape the model was trained on (`n_way`, `k_shot`,
    `n_query` of its config) and go through the network as training batches do, support and
    query together.
    """
    from reference_impl import checkpoints, methods

    row = methods.get("protonet")
    embed = row.embed
    if embed is None:
        raise HarnessError("the protonet row of the method table has no embed function")
    model, cfg = checkpoints.load_model(checkpoint, device=device)
    episodes = common.fixed_episodes(
        train_part, cfg.n_way, cfg.k_shot, cfg.n_query, calibration["batches"], calibration["seed"]
    )
    calibration.update(n_way=cfg.n_way, k_shot=cfg.k_shot, n_query=cfg.n_query)
    batches = (torch.cat([e.support_x, e.query_x]).to(device) for e in episodes)
    calibrated = with_running_batch_norm(model, batches, lambda m, x: embed(m, x, cfg))
    predict = row.make_predict(calibrated, cfg)

    def on_device(
        support_x: torch.Tensor, support_y: torch.Tensor, query_x: torch.Tensor
    ) -> torch.Tensor:
        return predict(support_x.to(device), support_y.to(device), query_x.to(device))

    return on_device


def result_text(result: dict[str, Any]) -> str:
    """`result` as indented JSON with each per-episode list on one line."""
    lists: dict[str, str] = {}

    def compact(value: Any, path: str) -> Any:
        if isinstance(value, dict):
            return {k: compact(v, f"{path}.{k}") for k, v in value.items()}
        if path.endswith(".per_episode_correct"):
            lists[path] = json.dumps(value, separators=(",", ":"))
            return path
        return value

    text = json.dumps(compact(result, ""), indent=1)
    for path, line in lists.items():
        text = text.replace(json.dumps(path), line, 1)
    return text + "\n"


def checkpoint_sha256(path: Path) -> str:
    """The content SHA-256 recorded inside a checkpoint (`checkpoints.content_sha256`)."""
    import safetensors

    with safetensors.safe_open(str(path), framework="pt") as f:
        return str((f.metadata() or {}).get("sha256"))


def check_same_cell(out: Path, cell: dict[str, str]) -> None:
    """Refuse to replace anything but a result file of the same cell (a mistyped `--out` naming
    the committed MAML result while evaluating a ProtoNet, or naming the checkpoint itself).

    Raises:
        HarnessError: If `out` exists and is not a result of `cell` (method, setting, split).
    """
    if not out.exists():
        return
    try:
        old = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = None
    if not isinstance(old, dict) or not {"method", "setting", "split"} <= set(old):
        raise HarnessError(
            f"{out} exists and is not a result file of benchmarks.evaluate: choose another --out"
        )
    recorded = {key: old[key] for key in cell}
    if recorded != cell:
        raise HarnessError(
            f"{out} holds the result of {recorded}, not {cell}: choose another --out, or remove "
            "that file first"
        )


def check_publishable(source: Path, target: Path) -> None:
    """Refuse to publish from or onto a symbolic link, or anything but a regular file.

    Raises:
        HarnessError: Naming the offending path.
    """
    for path, role in ((source, "checkpoint"), (target, "published checkpoint")):
        if path.is_symlink():
            raise HarnessError(f"{role} {path} is a symbolic link; publish the file itself")
    if not source.is_file():
        raise HarnessError(f"checkpoint {source} is not a regular file")
    if target.exists() and not target.is_file():
        raise HarnessError(f"published checkpoint {target} exists and is not a regular file")


def publish_checkpoint(source: Path, target: Path) -> str:
    """Publish the checkpoint file `source` as `target`; return `target`'s repository path.

    Exactly one file is published: the checkpoint is one file holding weights and description,
    so nothing else beside it (a stray `model.v0.json`, a `model.secret`) is looked at. The
    checkpoint is read and verified (`load_checkpoint`), and what was verified is written to
    `target` through `checkpoints.save_tensors` (temporary file and rename), so the published
    file is complete and checks out, or the old one stays. Re-evaluating a checkpoint that is
    already published (`source` is `target`) writes nothing.

    Raises:
        HarnessError: If either path is a symbolic link or not a regular file, or the checkpoint
            fails its checks (nothing is written).
    """
    from reference_impl import checkpoints

    check_publishable(source, target)
    if source.resolve() == target.resolve():
        return common.relative(target)
    try:
        loaded = checkpoints.load_checkpoint(source)
        checkpoints.save_tensors(target, loaded.state_dict, loaded.metadata)
    except ValueError as err:
        raise HarnessError(f"cannot publish {source}: {err}") from err
    return common.relative(target)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; user errors print one line and return 2."""
    return common.run_cli("benchmarks.evaluate", run, argv)


if __name__ == "__main__":
    sys.exit(main())
