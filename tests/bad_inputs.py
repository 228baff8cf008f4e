"""The table of bad inputs that `tests/test_bad_inputs.py` runs: command lines and library calls.

Each command-line case is a module, its arguments and a fragment of the one line it must print
on stderr. Arguments may name placeholders, filled in per case by the test:

* `{tmp}`: an empty folder of the case's own;
* `{file}`: `{tmp}/plain.txt`, a small text file; `{dir}`: `{tmp}/folder`, an empty folder;
* `{ro}`: a folder nobody may write into (`chmod 555`, or `/sys` when the tests run as root,
  who ignores permissions);
* `{model}`: a checkpoint of a tiny ProtoNet the harness trained on synthetic data (session
  fixture); `{run}`: a copy of that finished run folder (`{run}/resume.safetensors`,
  `{run}/model.safetensors`);
* `{big}`: 2**63, the smallest seed outside `0..2**63-1`;
* `{results}`: the repository's `benchmarks/results` (absolute).

`setup` names a function of `SETUPS` that prepares files in `{tmp}` first; `patch` names one of
`PATCHES` applied while the command runs (a full disk). Library cases are a call, the exception
type and a message fragment. Cases are keyed by a short id, the pytest id.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

BIG = str(2**63)


@dataclass(frozen=True)
class Cli:
    """A command line that must fail with one line on stderr, before any long work."""

    module: str
    """`benchmarks.train`, `reference_impl.omniglot`, ...; run in-process through its `main`."""
    argv: tuple[str, ...]
    """Arguments, with placeholders (module docstring)."""
    fragment: str
    """Text the stderr line must contain (case-sensitive; placeholders filled in)."""
    setup: str = ""
    """A key of `SETUPS`, run before the command with the case's folder."""
    patch: str = ""
    """A key of `PATCHES`, applied while the command runs."""
    code: int = 2
    """Expected exit status."""


TRAIN = ("--data", "synthetic", "--quiet", "--threads", "1")
TINY = (
    "protonet", "5w1s", *TRAIN, "--conv-channels", "4", "--n-way", "5", "--meta-batch-size", "2",
    "--val-episodes", "4",
)  # fmt: skip
"""A ProtoNet run small enough to train in well under a second."""


def _train(*argv: str, out: str = "{tmp}/run") -> tuple[str, ...]:
    return (*argv, "--out", out)


def _crafted_eval() -> tuple[str, ...]:
    return ("{tmp}/crafted.safetensors", "--episodes", "2", "--quiet", "--out", "{tmp}/r.json")


def _crafted_shift() -> tuple[str, ...]:
    return ("{tmp}/crafted.safetensors", "--episodes", "2", "--out", "{tmp}/s.json")


CLI: dict[str, Cli] = {
    # --- benchmarks.train: arguments -------------------------------------------------------
    "train-unknown-method": Cli("benchmarks.train", _train("nosuch", "5w1s"), "unknown method 'nosuch'"),
    "train-unknown-setting": Cli("benchmarks.train", _train("protonet", "7w3s"), "unknown setting '7w3s'"),
    "train-unknown-flag": Cli("benchmarks.train", _train(*TINY, "--bogus", "1"), "unrecognized arguments: --bogus"),
    "train-bad-choice": Cli("benchmarks.train", _train(*TINY, "--dtype", "float16"), "invalid choice: 'float16'"),
    "train-threads-0": Cli("benchmarks.train", _train(*TINY, "--threads", "0"), "--threads: must be >= 1, got 0"),
    "train-threads-negative": Cli("benchmarks.train", _train(*TINY, "--threads", "-3"), "--threads: must be >= 1, got -3"),
    "train-threads-text": Cli("benchmarks.train", _train(*TINY, "--threads", "two"), "--threads: expected an integer, got 'two'"),
    "train-conv-channels-0": Cli("benchmarks.train", _train(*TINY, "--conv-channels", "0"), "conv_channels must be >= 1, got 0"),
    "train-maml-conv-channels-0": Cli("benchmarks.train", _train("maml", "5w1s", *TRAIN, "--conv-channels", "0"), "conv_channels must be >= 1, got 0"),
    "train-fast-weights-conv-channels-0": Cli("benchmarks.train", _train("fast_weights", "5w1s", *TRAIN, "--conv-channels", "0"), "conv_channels must be >= 1, got 0"),
    "train-baseline-conv-channels-0": Cli("benchmarks.train", _train("baseline", "5w1s", *TRAIN, "--conv-channels", "0"), "conv_channels must be >= 1, got 0"),
    "train-unknown-backbone": Cli("benchmarks.train", _train(*TINY, "--backbone", "resnet"), "backbone must be one of"),
    "train-protonet-mlp-on-images": Cli("benchmarks.train", _train(*TINY, "--backbone", "mlp"), "does not take Omniglot images (1, 28, 28)"),
    "train-maml-mlp-on-images": Cli("benchmarks.train", _train("maml", "5w1s", *TRAIN, "--backbone", "mlp"), "does not take Omniglot images (1, 28, 28)"),
    "train-protonet-3-channels": Cli("benchmarks.train", _train(*TINY, "--in-channels", "3"), "does not take Omniglot images (1, 28, 28)"),
    "train-image-size-0": Cli("benchmarks.train", _train(*TINY, "--image-size", "0"), "image_size must be >= 1, got 0"),
    "train-distributed-without-torchrun": Cli("benchmarks.train", _train(*TINY, "--distributed"), "--distributed needs torchrun"),
    "train-budget-nan": Cli("benchmarks.train", _train(*TINY, "--budget-minutes", "nan"), "--budget-minutes: must be a finite number >= 0, got 'nan'"),
    "train-budget-negative": Cli("benchmarks.train", _train(*TINY, "--budget-minutes", "-1"), "--budget-minutes: must be a finite number >= 0, got '-1'"),
    "train-stop-after-0": Cli("benchmarks.train", _train(*TINY, "--stop-after", "0"), "--stop-after: must be >= 1, got 0"),
    "train-stop-after-negative": Cli("benchmarks.train", _train(*TINY, "--stop-after", "-1"), "--stop-after: must be >= 1, got -1"),
    "train-episodes-0": Cli("benchmarks.train", _train(*TINY, "--episodes", "0"), "--episodes: must be >= 1, got 0"),
    "train-checkpoint-every-0": Cli("benchmarks.train", _train(*TINY, "--checkpoint-every", "0"), "--checkpoint-every: must be >= 1, got 0"),
    "train-val-every-negative": Cli("benchmarks.train", _train(*TINY, "--val-every", "-1"), "--val-every: must be >= 0, got -1"),
    "train-val-episodes-negative": Cli("benchmarks.train", _train(*TINY, "--val-episodes", "-1"), "--val-episodes: must be >= 0, got -1"),
    "train-fuse-query-word": Cli("benchmarks.train", _train("maml", "5w1s", *TRAIN, "--fuse-query", "maybe"), "--fuse-query: expected true, false or null, got 'maybe'"),
    "train-fuse-query-number": Cli("benchmarks.train", _train("maml", "5w1s", *TRAIN, "--fuse-query", "5"), "--fuse-query: expected true, false or null, got '5'"),
    "train-range-not-numbers": Cli("benchmarks.train", _train("maml", "5w1s", *TRAIN, "--x-range", '["a", "b"]'), "--x-range: expected a list of two numbers"),
    "train-range-reversed": Cli("benchmarks.train", _train("maml", "5w1s", *TRAIN, "--x-range", "[5, -5]"), "x_range high - low must be >= 0, got -10"),
    "train-range-one-number": Cli("benchmarks.train", _train("maml", "5w1s", *TRAIN, "--x-range", "[1]"), "--x-range: expected a list of two numbers"),
    "train-inner-lr-nan": Cli("benchmarks.train", _train("maml", "5w1s", *TRAIN, "--inner-lr", "nan"), "--inner-lr: expected a finite number, got 'nan'"),
    "train-outer-lr-inf": Cli("benchmarks.train", _train(*TINY, "--outer-lr", "inf"), "--outer-lr: expected a finite number, got 'inf'"),
    "train-int-field-float": Cli("benchmarks.train", _train(*TINY, "--k-shot", "1.5"), "--k-shot: expected an integer, got '1.5'"),
    "train-seed-2-63": Cli("benchmarks.train", _train(*TINY, "--seed", BIG), f"--seed: must be in 0..{2**63 - 1} (2**63 - 1), got {BIG}"),
    "train-seed-negative": Cli("benchmarks.train", _train(*TINY, "--seed", "-1"), f"--seed: must be in 0..{2**63 - 1} (2**63 - 1), got -1"),
    "train-huge-n-way": Cli("benchmarks.train", _train(*TINY, "--n-way", str(10**30)), "--n-way: must be < 2**63"),
    "train-n-way-beyond-classes": Cli("benchmarks.train", _train(*TINY, "--n-way", "5000"), "5000-way training episodes need 5000 classes; the training data has 64"),
    "train-hidden-sizes-true": Cli("benchmarks.train", _train("maml", "5w1s", *TRAIN, "--hidden-sizes", "true"), "--hidden-sizes: expected a list of integers"),
    "train-missing-data": Cli("benchmarks.train", ("protonet", "5w1s", "--quiet", "--data-root", "{tmp}/nowhere", "--out", "{tmp}/run"), "cannot load Omniglot"),
    "train-data-root-with-newline": Cli("benchmarks.train", ("protonet", "5w1s", "--quiet", "--data-root", "{tmp}/no\nwhere", "--out", "{tmp}/run"), "cannot load Omniglot"),
    "train-device-cuda-without-gpu": Cli("benchmarks.train", _train(*TINY, "--device", "cuda"), "--device cuda"),
    "train-out-empty": Cli("benchmarks.train", _train(*TINY, out=""), "--out: expected a path, got an empty string"),
    # --- benchmarks.train: the run folder ---------------------------------------------------
    "train-out-under-results": Cli("benchmarks.train", _train(*TINY, out="{results}/omniglot/no-run-here"), "lies under benchmarks/results/, the published results"),
    "train-out-is-a-file": Cli("benchmarks.train", _train(*TINY, out="{file}"), "is a file; expected a run folder"),
    "train-out-not-writable": Cli("benchmarks.train", _train(*TINY, out="{ro}/run"), "is not writable"),
    "train-resume-misspelt-out": Cli("benchmarks.train", _train(*TINY, "--resume", out="{tmp}/rnu"), "holds no resume state"),
    "train-resume-empty-folder": Cli("benchmarks.train", _train(*TINY, "--resume", out="{dir}"), "holds no resume state"),
    "train-existing-run-without-resume": Cli("benchmarks.train", _train(*TINY, out="{run}"), "pass --resume to continue it"),
    "train-model-as-resume-state": Cli("benchmarks.train", _train(*TINY, "--resume", out="{tmp}/swapped"), "is a model checkpoint, not a resume state", setup="model_as_resume"),
    "train-garbage-resume-state": Cli("benchmarks.train", _train(*TINY, "--resume", out="{tmp}/swapped"), "cannot read", setup="garbage_resume"),
    "train-resume-other-config": Cli("benchmarks.train", _train(*TINY, "--resume", "--outer-lr", "0.5", out="{run}"), "--resume with a different config"),
    "train-resume-step-negative": Cli("benchmarks.train", _train(*TINY, "--resume", out="{tmp}/edited"), "expected trainer.step is an integer >= 0", setup="resume_step_negative"),
    "train-resume-history-null": Cli("benchmarks.train", _train(*TINY, "--resume", out="{tmp}/edited"), "expected history holds validation and sessions lists", setup="resume_history_null"),
    "train-resume-seconds-text": Cli("benchmarks.train", _train(*TINY, "--resume", out="{tmp}/edited"), "expected train_seconds is a number >= 0", setup="resume_seconds_text"),
    "train-resume-done-text": Cli("benchmarks.train", _train(*TINY, "--resume", out="{tmp}/edited"), "expected done is true or false", setup="resume_done_text"),
    "train-folder-with-model-only": Cli("benchmarks.train", _train(*TINY, out="{tmp}/old"), "already holds model.safetensors", setup="model_only_run"),
    "train-locked-by-live-process": Cli("benchmarks.train", _train(*TINY, out="{tmp}/locked"), "is in use by PID", setup="live_lock"),
    "train-stray-world-size": Cli("benchmarks.train", _train(*TINY), "WORLD_SIZE=2 in the environment: --distributed needs torchrun", patch="world_size_2"),
    "train-world-size-text": Cli("benchmarks.train", _train(*TINY), "WORLD_SIZE='abc' is not an integer", patch="world_size_text"),
    "train-rank-outside-world": Cli("benchmarks.train", _train(*TINY), "RANK=5 must lie in 0..1 (WORLD_SIZE=2)", patch="rank_outside"),
    "train-disk-full": Cli("benchmarks.train", _train(*TINY), "No space left on device", patch="enospc", code=1),
    # --- benchmarks.evaluate ----------------------------------------------------------------
    "evaluate-missing-checkpoint": Cli("benchmarks.evaluate", ("{tmp}/nope.safetensors",), "not found"),
    "evaluate-checkpoint-is-a-folder": Cli("benchmarks.evaluate", ("{dir}",), "is a folder; expected a checkpoint file"),
    "evaluate-checkpoint-is-text": Cli("benchmarks.evaluate", ("{file}",), "cannot read checkpoint"),
    "evaluate-truncated-checkpoint": Cli("benchmarks.evaluate", ("{tmp}/cut.safetensors",), "cannot read checkpoint", setup="truncated_model"),
    "evaluate-resume-state-as-model": Cli("benchmarks.evaluate", ("{run}/resume.safetensors",), "is a resume state, not a model checkpoint"),
    "evaluate-threads-0": Cli("benchmarks.evaluate", ("{model}", "--threads", "0", "--out", "{tmp}/r.json"), "--threads: must be >= 1, got 0"),
    "evaluate-episodes-0": Cli("benchmarks.evaluate", ("{model}", "--episodes", "0", "--out", "{tmp}/r.json"), "--episodes: must be >= 1, got 0"),
    "evaluate-eval-seed-2-63": Cli("benchmarks.evaluate", ("{model}", "--eval-seed", BIG, "--out", "{tmp}/r.json"), f"--eval-seed: must be in 0..{2**63 - 1}"),
    "evaluate-unknown-setting": Cli("benchmarks.evaluate", ("{model}", "--setting", "7w1s", "--out", "{tmp}/r.json"), "unknown setting '7w1s'"),
    "evaluate-out-is-a-folder": Cli("benchmarks.evaluate", ("{model}", "--out", "{dir}"), "is a folder; expected a file"),
    "evaluate-out-not-writable": Cli("benchmarks.evaluate", ("{model}", "--out", "{ro}/r.json"), "is not writable"),
    "evaluate-out-under-a-file": Cli("benchmarks.evaluate", ("{model}", "--out", "{file}/r.json"), "is a file"),
    "evaluate-synthetic-without-out": Cli("benchmarks.evaluate", ("{model}",), "pass an --out outside benchmarks/results/"),
    "evaluate-unknown-flag": Cli("benchmarks.evaluate", ("{model}", "--bogus"), "unrecognized arguments: --bogus"),
    "evaluate-out-empty": Cli("benchmarks.evaluate", ("{model}", "--out", ""), "--out: expected a path, got an empty string"),
    "evaluate-out-another-cell": Cli("benchmarks.evaluate", ("{model}", "--episodes", "2", "--quiet", "--out", "{tmp}/cell.json"), "holds the result of {'method': 'maml'", setup="maml_result"),
    "evaluate-out-is-the-checkpoint": Cli("benchmarks.evaluate", ("{tmp}/copy.safetensors", "--episodes", "2", "--quiet", "--out", "{tmp}/copy.safetensors"), "--out {tmp}/copy.safetensors is the input", setup="model_copy"),
    "evaluate-out-is-another-file": Cli("benchmarks.evaluate", ("{model}", "--episodes", "2", "--quiet", "--out", "{file}"), "exists and is not a result file of benchmarks.evaluate"),
    "evaluate-synthetic-into-results": Cli("benchmarks.evaluate", ("{model}", "--episodes", "2", "--quiet", "--out", "{results}/omniglot/no-result-here.json"), "pass an --out outside benchmarks/results/"),
    "evaluate-path-with-newline": Cli("benchmarks.evaluate", ("{tmp}/two\nlines.safetensors",), "not found"),
    "evaluate-disk-full": Cli("benchmarks.evaluate", ("{model}", "--episodes", "2", "--quiet", "--out", "{tmp}/r.json"), "No space left on device", patch="enospc", code=1),
    # --- benchmarks.evaluate, task_shift, health: re-signed checkpoints with bad contents ----
    "evaluate-config-shape-mismatch": Cli("benchmarks.evaluate", _crafted_eval(), "16 problem(s), first: 0.0.weight is (4, 1, 3, 3), the model's (8, 1, 3, 3)", setup="crafted_config_shape_mismatch"),
    "evaluate-unknown-method": Cli("benchmarks.evaluate", _crafted_eval(), "holds a 'nosuch' model", setup="crafted_unknown_method"),
    "evaluate-unknown-harness-method": Cli("benchmarks.evaluate", _crafted_eval(), "harness method 'nosuch' is unknown", setup="crafted_unknown_harness_method"),
    "evaluate-missing-config-key": Cli("benchmarks.evaluate", _crafted_eval(), "description check failed: no config", setup="crafted_missing_config"),
    "evaluate-json-true-as-shape": Cli("benchmarks.evaluate", _crafted_eval(), "conv_channels: expected an integer, got true", setup="crafted_true_as_shape"),
    "evaluate-seed-string": Cli("benchmarks.evaluate", _crafted_eval(), "wrong type of seed", setup="crafted_seed_string"),
    "evaluate-unknown-split": Cli("benchmarks.evaluate", _crafted_eval(), "recorded split 'mine'", setup="crafted_unknown_split"),
    "evaluate-missing-tensor": Cli("benchmarks.evaluate", _crafted_eval(), "1 problem(s), first: missing", setup="crafted_missing_tensor"),
    "evaluate-extra-tensor": Cli("benchmarks.evaluate", _crafted_eval(), "1 problem(s), first: unexpected bogus", setup="crafted_extra_tensor"),
    "evaluate-nan-weights": Cli("benchmarks.evaluate", _crafted_eval(), "non-finite logits", setup="crafted_nan_weights"),
    "task-shift-config-shape-mismatch": Cli("benchmarks.task_shift", _crafted_shift(), "16 problem(s), first: 0.0.weight is (4, 1, 3, 3)", setup="crafted_config_shape_mismatch"),
    "task-shift-unknown-method": Cli("benchmarks.task_shift", _crafted_shift(), "holds a 'nosuch' model", setup="crafted_unknown_method"),
    "task-shift-missing-config-key": Cli("benchmarks.task_shift", _crafted_shift(), "description check failed: no config", setup="crafted_missing_config"),
    "task-shift-json-true-as-shape": Cli("benchmarks.task_shift", _crafted_shift(), "conv_channels: expected an integer, got true", setup="crafted_true_as_shape"),
    "task-shift-unknown-setting": Cli("benchmarks.task_shift", _crafted_shift(), "recorded training setting: unknown setting '9w9s'", setup="crafted_unknown_setting"),
    "task-shift-nan-weights": Cli("benchmarks.task_shift", _crafted_shift(), "non-finite logits", setup="crafted_nan_weights"),
    "health-config-shape-mismatch": Cli("benchmarks.health", ("{tmp}/crafted.safetensors", "--quiet"), "16 problem(s), first: 0.0.weight is (4, 1, 3, 3)", setup="crafted_config_shape_mismatch"),
    "health-nan-weights": Cli("benchmarks.health", ("{tmp}/crafted.safetensors", "--quiet", "--episodes", "2"), "the model returned non-finite logits", setup="crafted_nan_weights"),
    # --- benchmarks.task_shift --------------------------------------------------------------
    "task-shift-episodes-1": Cli("benchmarks.task_shift", ("{model}", "--episodes", "1", "--out", "{tmp}/s.json"), "--episodes: must be >= 2, got 1"),
    "task-shift-n-way-1": Cli("benchmarks.task_shift", ("{model}", "--n-way", "1", "--out", "{tmp}/s.json"), "--n-way: must be >= 2, got 1"),
    "task-shift-huge-n-way": Cli("benchmarks.task_shift", ("{model}", "--n-way", str(10**30), "--out", "{tmp}/s.json"), "--n-way: must be < 2**63"),
    "task-shift-seed-2-63": Cli("benchmarks.task_shift", ("{model}", "--seed", BIG, "--out", "{tmp}/s.json"), f"--seed: must be in 0..{2**63 - 1}"),
    "task-shift-threads-0": Cli("benchmarks.task_shift", ("{model}", "--threads", "0", "--out", "{tmp}/s.json"), "--threads: must be >= 1, got 0"),
    "task-shift-out-is-the-checkpoint": Cli("benchmarks.task_shift", ("{tmp}/copy.safetensors", "--out", "{tmp}/copy.safetensors"), "is the input", setup="model_copy"),
    "task-shift-out-is-a-folder": Cli("benchmarks.task_shift", ("{model}", "--out", "{dir}"), "is a folder; expected a file"),
    "task-shift-missing-checkpoint": Cli("benchmarks.task_shift", ("{tmp}/nope.safetensors", "--out", "{tmp}/s.json"), "not found"),
    "task-shift-checkpoint-is-a-folder": Cli("benchmarks.task_shift", ("{dir}", "--out", "{tmp}/s.json"), "is a folder; expected a checkpoint file"),
    # --- benchmarks.health ------------------------------------------------------------------
    "health-on-a-folder": Cli("benchmarks.health", ("{dir}",), "is a folder; expected a checkpoint file"),
    "health-missing-checkpoint": Cli("benchmarks.health", ("{tmp}/nope.safetensors",), "not found"),
    "health-episodes-1": Cli("benchmarks.health", ("{model}", "--episodes", "1"), "--episodes: must be >= 2, got 1"),
    "health-n-way-0": Cli("benchmarks.health", ("{model}", "--n-way", "0"), "--n-way: must be >= 2, got 0"),
    "health-k-shot-0": Cli("benchmarks.health", ("{model}", "--k-shot", "0"), "--k-shot: must be >= 1, got 0"),
    "health-eval-seed-2-63": Cli("benchmarks.health", ("{model}", "--eval-seed", BIG), f"--eval-seed: must be in 0..{2**63 - 1}"),
    "health-out-is-a-folder": Cli("benchmarks.health", ("{model}", "--out", "{dir}"), "is a folder; expected a file"),
    "health-unknown-part": Cli("benchmarks.health", ("{model}", "--part", "everything"), "invalid choice: 'everything'"),
    "health-unknown-split": Cli("benchmarks.health", ("{model}", "--split", "mine"), "invalid choice: 'mine'"),
    "health-baseline-is-a-folder": Cli("benchmarks.health", ("{model}", "--baseline", "{dir}"), "is a folder; expected a checkpoint file"),
    "health-out-is-the-checkpoint": Cli("benchmarks.health", ("{tmp}/copy.safetensors", "--quiet", "--out", "{tmp}/copy.safetensors"), "is the input", setup="model_copy"),
    "health-out-is-the-baseline": Cli("benchmarks.health", ("{model}", "--quiet", "--baseline", "{tmp}/copy.safetensors", "--out", "{tmp}/copy.safetensors"), "is the input", setup="model_copy"),
    "health-previous-of-another-method": Cli("benchmarks.health", ("{model}", "--quiet", "--previous", "{tmp}/crafted.safetensors"), "holds a 'maml' model", setup="maml_model"),
    "health-resume-state": Cli("benchmarks.health", ("{run}/resume.safetensors",), "is a resume state, not a model checkpoint"),
    # --- benchmarks.speed, benchmarks.sinusoid, benchmarks.docs_build -----------------------
    "speed-threads-0": Cli("benchmarks.speed", ("--threads", "0", "--out", "{tmp}/p.json"), "--threads: must be >= 1, got 0"),
    "speed-rounds-0": Cli("benchmarks.speed", ("--maml-rounds", "0", "--out", "{tmp}/p.json"), "--maml-rounds: must be >= 1, got 0"),
    "speed-out-is-a-committed-cell": Cli("benchmarks.speed", ("--out", "{results}/omniglot/maml_5w1s_maml.json"), "is a result of benchmarks.evaluate; benchmarks.speed would overwrite it"),
    "task-shift-out-is-the-speed-report": Cli("benchmarks.task_shift", ("{model}", "--out", "{results}/speed_report.json"), "is a result of benchmarks.speed; benchmarks.task_shift would overwrite it"),
    "sinusoid-out-is-a-committed-cell": Cli("benchmarks.sinusoid", ("--out", "{results}/omniglot/protonet_5w1s_maml.json", "--checkpoints", "{tmp}/m"), "is a result of benchmarks.evaluate"),
    "evaluate-out-is-the-task-shift-result": Cli("benchmarks.evaluate", ("{model}", "--out", "{results}/task_shift.json"), "is a result of benchmarks.task_shift"),
    "speed-meta-batch-too-large-to-allocate": Cli("benchmarks.speed", ("--maml-meta-batch-size", str(10**12), "--maml-rounds", "1", "--protonet-rounds", "1", "--out", "{tmp}/p.json"), "out of memory: ", code=1),
    "speed-out-is-a-folder": Cli("benchmarks.speed", ("--out", "{dir}"), "is a folder; expected a file"),
    "speed-out-not-writable": Cli("benchmarks.speed", ("--out", "{ro}/p.json"), "is not writable"),
    "speed-unknown-episode-shape": Cli("benchmarks.speed", ("--episodes", "1w1s", "--out", "{tmp}/p.json"), "invalid choice: '1w1s'"),
    "sinusoid-threads-0": Cli("benchmarks.sinusoid", ("--threads", "0", "--out", "{tmp}/n.json", "--checkpoints", "{tmp}/m"), "--threads: must be >= 1, got 0"),
    "sinusoid-inner-lr-nan": Cli("benchmarks.sinusoid", ("--inner-lr", "nan", "--out", "{tmp}/n.json", "--checkpoints", "{tmp}/m"), "--inner-lr: expected a finite number, got 'nan'"),
    "sinusoid-range-not-numbers": Cli("benchmarks.sinusoid", ("--amplitude-range", '["a", "b"]', "--out", "{tmp}/n.json", "--checkpoints", "{tmp}/m"), "--amplitude-range: expected a list of two numbers"),
    "sinusoid-hidden-sizes-true": Cli("benchmarks.sinusoid", ("--hidden-sizes", "true", "--out", "{tmp}/n.json", "--checkpoints", "{tmp}/m"), "--hidden-sizes: expected a list of integers"),
    "sinusoid-hidden-sizes-0": Cli("benchmarks.sinusoid", ("--hidden-sizes", "[0]", "--out", "{tmp}/n.json", "--checkpoints", "{tmp}/m"), "min(hidden_sizes) must be >= 1, got 0"),
    "sinusoid-baseline-lr-nan": Cli("benchmarks.sinusoid", ("--baseline-lrs", "nan", "--out", "{tmp}/n.json", "--checkpoints", "{tmp}/m"), "--baseline-lrs must be positive"),
    "sinusoid-hidden-sizes-huge": Cli("benchmarks.sinusoid", ("--hidden-sizes", f"[{10**12}]", "--out", "{tmp}/n.json", "--checkpoints", "{tmp}/m"), "cannot build the model or the tasks of this config"),
    "sinusoid-test-tasks-huge": Cli("benchmarks.sinusoid", ("--test-tasks", str(10**12), "--out", "{tmp}/n.json", "--checkpoints", "{tmp}/m"), "cannot build the model or the tasks of this config"),
    "sinusoid-out-is-a-folder": Cli("benchmarks.sinusoid", ("--out", "{dir}", "--checkpoints", "{tmp}/m"), "is a folder; expected a file"),
    "sinusoid-checkpoints-is-a-file": Cli("benchmarks.sinusoid", ("--out", "{tmp}/n.json", "--checkpoints", "{file}"), "exists and is not a folder"),
    "sinusoid-checkpoints-not-writable": Cli("benchmarks.sinusoid", ("--out", "{tmp}/n.json", "--checkpoints", "{ro}/m"), "is not writable"),
    "sinusoid-test-tasks-1": Cli("benchmarks.sinusoid", ("--test-tasks", "1", "--out", "{tmp}/n.json", "--checkpoints", "{tmp}/m"), "--test-tasks and --val-tasks must be >= 2"),
    "docs-build-top-0": Cli("benchmarks.docs_build", ("--top", "0", "--out", "{tmp}/d.json"), "--top: must be >= 1, got 0"),
    "docs-build-out-is-a-folder": Cli("benchmarks.docs_build", ("--out", "{dir}"), "is a folder; expected a file"),
    "docs-build-out-not-writable": Cli("benchmarks.docs_build", ("--out", "{ro}/d.json"), "is not writable"),
    # --- benchmarks.run_all ------------------------------------------------------------------
    "run-all-only-matches-nothing": Cli("benchmarks.run_all", ("--dry-run", "--only", "nosuch"), "--only 'nosuch' matches no Omniglot run"),
    "run-all-only-with-skip-omniglot": Cli("benchmarks.run_all", ("--dry-run", "--skip-omniglot", "--only", "maml"), "none (--skip-omniglot)"),
    "run-all-unknown-flag": Cli("benchmarks.run_all", ("--dry-run", "--bogus"), "unrecognized arguments: --bogus"),
    # --- benchmarks.migrate_checkpoints ----------------------------------------------------
    "migrate-record-is-a-folder": Cli("benchmarks.migrate_checkpoints", ("{tmp}/v1.safetensors", "--record", "{dir}"), "--record {dir} is a folder; expected a file", setup="v1_pair"),
    "migrate-record-is-the-description": Cli("benchmarks.migrate_checkpoints", ("{tmp}/v1.safetensors", "--record", "{tmp}/v1.json"), "--record {tmp}/v1.json is the input", setup="v1_pair"),
    "migrate-same-file-twice": Cli("benchmarks.migrate_checkpoints", ("{tmp}/v1.safetensors", "{tmp}/v1.safetensors"), "a file is named twice", setup="v1_pair"),
    "migrate-embedded-description-not-json": Cli("benchmarks.migrate_checkpoints", ("{tmp}/v1.safetensors",), "the embedded description is not JSON", setup="v1_pair_bad_embedded"),
    "migrate-a-folder": Cli("benchmarks.migrate_checkpoints", ("{dir}",), "is not a regular file"),
    "migrate-current-format": Cli("benchmarks.migrate_checkpoints", ("{model}",), "already in the current format"),
    # --- reference_impl.omniglot ------------------------------------------------------------
    "omniglot-unknown-command": Cli("reference_impl.omniglot", ("fetch",), "invalid choice: 'fetch'"),
    "omniglot-no-command": Cli("reference_impl.omniglot", (), "the following arguments are required: COMMAND"),
    "omniglot-splits-out-is-a-file": Cli("reference_impl.omniglot", ("splits", "--out", "{file}"), "is a file; expected a folder", code=1),
    "omniglot-splits-out-empty": Cli("reference_impl.omniglot", ("splits", "--out", ""), "expected a path, got an empty string"),
    "omniglot-download-root-is-a-file": Cli("reference_impl.omniglot", ("download", "--root", "{file}", "--quiet"), "is a file; expected a folder", code=1),
}  # fmt: skip
"""Command lines that must fail in one line: id -> case."""

ALGORITHM_MODULES = ("maml", "protonet", "fast_weights", "baseline")
"""`python -m reference_impl.<name>` takes no arguments: each must refuse one in one line."""


# ---------------------------------------------------------------------------------------------
# Setups and patches


def _model_as_resume(tmp: Path, fixtures: dict[str, Path]) -> None:
    (tmp / "swapped").mkdir()
    shutil.copyfile(fixtures["model"], tmp / "swapped" / "resume.safetensors")


def _garbage_resume(tmp: Path, fixtures: dict[str, Path]) -> None:
    (tmp / "swapped").mkdir()
    (tmp / "swapped" / "resume.safetensors").write_bytes(b"\x00garbage" * 100)


def _truncated_model(tmp: Path, fixtures: dict[str, Path]) -> None:
    data = fixtures["model"].read_bytes()
    (tmp / "cut.safetensors").write_bytes(data[: len(data) // 2])


def _model_only_run(tmp: Path, fixtures: dict[str, Path]) -> None:
    (tmp / "old").mkdir()
    shutil.copyfile(fixtures["model"], tmp / "old" / "model.safetensors")


def _live_lock(tmp: Path, fixtures: dict[str, Path]) -> None:
    """A run folder locked by a live process: this test process holds the lock's flock."""
    from benchmarks import train

    (tmp / "locked").mkdir()
    lock = train.RunLock(tmp / "locked", command="python -m benchmarks.train (another run)")
    lock.acquire()
    fixtures["_held_lock"] = lock  # type: ignore[assignment]  # released by the test


def _crafted(edit: Callable[[dict[str, Any], dict[str, torch.Tensor]], Any]) -> Callable[[Path, dict[str, Path]], None]:  # fmt: skip
    """A setup writing `{tmp}/crafted.safetensors`: the tiny model, its description and weights
    edited by `edit`, saved with a valid SHA-256 (a file another tool wrote, not a damaged one)."""

    def setup(tmp: Path, fixtures: dict[str, Path]) -> None:
        from reference_impl import checkpoints

        loaded = checkpoints.load_checkpoint(fixtures["model"])
        description, state = json.loads(json.dumps(loaded.metadata)), dict(loaded.state_dict)
        edit(description, state)
        checkpoints.save_tensors(tmp / "crafted.safetensors", state, description)

    return setup


def _nan_weights(description: dict[str, Any], state: dict[str, torch.Tensor]) -> None:
    for name, tensor in list(state.items()):
        if tensor.is_floating_point():
            state[name] = torch.full_like(tensor, float("nan"))


CRAFTED: dict[str, Callable[[dict[str, Any], dict[str, torch.Tensor]], Any]] = {
    "config_shape_mismatch": lambda d, s: d["config"].update(conv_channels=8),
    "unknown_method": lambda d, s: d.update(method="nosuch"),
    "unknown_harness_method": lambda d, s: d["extra"].update(harness_method="nosuch"),
    "missing_config": lambda d, s: d.pop("config"),
    "true_as_shape": lambda d, s: d["config"].update(conv_channels=True),
    "seed_string": lambda d, s: d.update(seed="zero"),
    "unknown_split": lambda d, s: d.update(split="mine"),
    "unknown_setting": lambda d, s: d["extra"].update(setting="9w9s"),
    "missing_tensor": lambda d, s: s.pop(sorted(s)[0]),
    "extra_tensor": lambda d, s: s.update(bogus=torch.zeros(1)),
    "nan_weights": _nan_weights,
}
"""Edits of a valid checkpoint's description or weights (re-signed): `crafted_<key>` setups."""


def _maml_result(tmp: Path, fixtures: dict[str, Path]) -> None:
    (tmp / "cell.json").write_text(
        json.dumps({"method": "maml", "setting": "5w1s", "split": "maml"})
    )


def _model_copy(tmp: Path, fixtures: dict[str, Path]) -> None:
    shutil.copyfile(fixtures["model"], tmp / "copy.safetensors")


def _v1_pair(embedded: str | None = None) -> Callable[[Path, dict[str, Path]], None]:
    """A setup writing `{tmp}/v1.safetensors` and `{tmp}/v1.json` as the v1 writer did (data
    SHA-256 and a description copy in `__metadata__`); `embedded` replaces that copy's text."""

    def setup(tmp: Path, fixtures: dict[str, Path]) -> None:
        import hashlib
        import struct

        import safetensors.torch

        tensors = {"w": torch.arange(6, dtype=torch.float32)}
        description = {"format": "meta-learning-glossary/checkpoint-v1", "method": "protonet"}
        text = json.dumps(description, sort_keys=True) if embedded is None else embedded
        blob = safetensors.torch.save(tensors, {"description": text, "sha256": ""})
        size = struct.unpack("<Q", blob[:8])[0]
        data_sha = hashlib.sha256(blob[8 + size :]).hexdigest()
        blob = safetensors.torch.save(tensors, {"description": text, "sha256": data_sha})
        (tmp / "v1.safetensors").write_bytes(blob)
        side = {**description, "weights_sha256": data_sha}
        (tmp / "v1.json").write_text(json.dumps(side))

    return setup


def _crafted_resume(edit: Callable[[dict[str, Any]], Any]) -> Callable[[Path, dict[str, Path]], None]:  # fmt: skip
    """A setup copying the finished run to `{tmp}/edited` with its resume state's metadata
    edited by `edit` and re-signed (written by `write_tensor_file`, so the SHA-256 holds)."""

    def setup(tmp: Path, fixtures: dict[str, Path]) -> None:
        from benchmarks import common

        shutil.copytree(fixtures["run"], tmp / "edited")
        path = tmp / "edited" / "resume.safetensors"
        tensors, meta = common.read_tensor_file(path)
        edit(meta)
        common.write_tensor_file(path, tensors, meta)

    return setup


def _maml_model(tmp: Path, fixtures: dict[str, Path]) -> None:
    """`{tmp}/crafted.safetensors`: an untrained 4-channel Omniglot MAML, saved as the harness does."""
    from reference_impl import checkpoints, methods

    row = methods.get("maml")
    cfg = dataclasses.replace(row.omniglot(5, 1, 20), conv_channels=4)
    extra = {"harness_method": "maml", "setting": "5w1s", "data": "synthetic"}
    checkpoints.save_checkpoint(tmp / "crafted.safetensors", row.build_model(cfg), "maml", cfg,
                                split="maml", seed=0, extra=extra)  # fmt: skip


SETUPS: dict[str, Callable[[Path, dict[str, Path]], None]] = {
    "maml_model": _maml_model,
    "resume_step_negative": _crafted_resume(lambda m: m["trainer"].update(step=-5)),
    "resume_history_null": _crafted_resume(lambda m: m.update(history=None)),
    "resume_seconds_text": _crafted_resume(lambda m: m.update(train_seconds="x")),
    "resume_done_text": _crafted_resume(lambda m: m.update(done="yes")),
    "v1_pair": _v1_pair(),
    "v1_pair_bad_embedded": _v1_pair(embedded="{not json"),
    "maml_result": _maml_result,
    "model_copy": _model_copy,
    **{f"crafted_{key}": _crafted(edit) for key, edit in CRAFTED.items()},
    "model_as_resume": _model_as_resume,
    "garbage_resume": _garbage_resume,
    "truncated_model": _truncated_model,
    "model_only_run": _model_only_run,
    "live_lock": _live_lock,
}


def _enospc(monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk: every fsync (atomic writes, the metrics log) fails with ENOSPC."""

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)


def _environment(**variables: str) -> Callable[[pytest.MonkeyPatch], None]:
    """A patch setting environment variables (a stray `WORLD_SIZE`, say) for the command."""

    def patch(monkeypatch: pytest.MonkeyPatch) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    return patch


PATCHES: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "enospc": _enospc,
    "world_size_2": _environment(WORLD_SIZE="2"),
    "world_size_text": _environment(WORLD_SIZE="abc"),
    "rank_outside": _environment(
        WORLD_SIZE="2", RANK="5", MASTER_ADDR="127.0.0.1", MASTER_PORT="29555"
    ),
}


# ---------------------------------------------------------------------------------------------
# Library calls


@dataclass(frozen=True)
class Lib:
    """A library call that must raise `error` with `fragment` in its message."""

    call: Callable[[dict[str, Path]], Any]
    """Called with the fixtures (`{"model": Path, "run": Path}`)."""
    error: type[BaseException]
    fragment: str


def _episode(n_way: int = 5, k_shot: int = 1, n_query: int = 2, shape: tuple[int, ...] = (1, 28, 28), dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, ...]:  # fmt: skip
    generator = torch.Generator().manual_seed(0)
    sx = torch.rand(n_way * k_shot, *shape, generator=generator, dtype=dtype)
    qx = torch.rand(n_way * n_query, *shape, generator=generator, dtype=dtype)
    sy = torch.arange(n_way).repeat_interleave(k_shot)
    qy = torch.arange(n_way).repeat_interleave(n_query)
    return sx, sy, qx, qy


def _evaluate_episode(sx: Any, sy: Any, qx: Any, qy: Any, logits: torch.Tensor) -> Any:
    from reference_impl import evaluation

    return evaluation.evaluate_predictor(lambda s, y, q: logits, [(sx, sy, qx, qy)])


def _evaluation() -> Any:
    from reference_impl import evaluation

    return evaluation


def _nan_logits() -> Any:
    sx, sy, qx, qy = _episode()
    logits = torch.full((qy.shape[0], 5), float("nan"))
    return _evaluate_episode(sx, sy, qx, qy, logits)


def _inf_logits() -> Any:
    sx, sy, qx, qy = _episode()
    logits = torch.zeros(qy.shape[0], 5)
    logits[0, 0] = float("inf")
    return _evaluate_episode(sx, sy, qx, qy, logits)


def _empty_query() -> Any:
    sx, sy, _, _ = _episode()
    return _evaluate_episode(sx, sy, sx[:0], sy[:0], torch.zeros(0, 5))


def _query_label_outside() -> Any:
    sx, sy, qx, qy = _episode()
    qy = qy.clone()
    qy[-1] = 5
    return _evaluate_episode(sx, sy, qx, qy, torch.zeros(qy.shape[0], 5))


def _query_label_negative() -> Any:
    sx, sy, qx, qy = _episode()
    qy = qy.clone()
    qy[0] = -1
    return _evaluate_episode(sx, sy, qx, qy, torch.zeros(qy.shape[0], 5))


def _float_query_labels() -> Any:
    sx, sy, qx, qy = _episode()
    return _evaluate_episode(sx, sy, qx, qy.float(), torch.zeros(qy.shape[0], 5))


def _wrong_logit_shape() -> Any:
    sx, sy, qx, qy = _episode()
    return _evaluate_episode(sx, sy, qx, qy, torch.zeros(qy.shape[0], 4))


def _no_episodes() -> Any:
    from reference_impl import evaluation

    return evaluation.evaluate_predictor(lambda s, y, q: q, [])


def _one_episode_unwrapped() -> Any:
    from reference_impl import evaluation

    return evaluation.evaluate_predictor(lambda s, y, q: q, _episode())


def _small(module: str) -> tuple[Any, Any]:
    """A small Omniglot-shaped model of an algorithm file and its config (4 channels)."""
    from reference_impl import methods

    row = methods.get(module)
    cfg = dataclasses.replace(row.omniglot(5, 1, 20), conv_channels=4)
    torch.manual_seed(0)
    return row.build_model(cfg).eval(), cfg


def _predict(module: str, *episode: torch.Tensor) -> Any:
    from reference_impl import methods

    model, cfg = _small(module)
    return methods.get(module).make_predict(model, cfg)(*episode)


def _maml_empty_support() -> Any:
    sx, sy, qx, _ = _episode()
    return _predict("maml", sx[:0], sy[:0], qx)


def _maml_adapt(steps: int | None = None, labels: torch.Tensor | None = None) -> Any:
    from reference_impl import maml

    model, cfg = _small("maml")
    sx, sy, _, _ = _episode()
    params = {n: p.detach() for n, p in model.named_parameters()}
    return maml.adapt(model, params, sx, sy if labels is None else labels, cfg, steps=steps)


def _maml_adapt_label_9() -> Any:
    return _maml_adapt(labels=torch.tensor([0, 1, 2, 3, 9]))


def _dtype(module: str) -> Any:
    sx, sy, qx, _ = _episode(dtype=torch.float64)
    return _predict(module, sx, sy, qx)


def _channels(module: str) -> Any:
    sx, sy, qx, _ = _episode(shape=(3, 28, 28))
    return _predict(module, sx, sy, qx)


def _float_labels(module: str) -> Any:
    sx, sy, qx, _ = _episode()
    return _predict(module, sx, sy.float(), qx)


def _device(module: str) -> Any:
    sx, sy, qx, _ = _episode()
    return _predict(module, sx.to("meta"), sy, qx.to("meta"))


def _baseline_float_class_labels() -> Any:
    from reference_impl import baseline

    model, cfg = _small("baseline")
    optimizer = torch.optim.Adam(model.parameters())
    x = torch.rand(4, 1, 28, 28)
    return baseline.train_step(
        model.train(), optimizer, (x, torch.tensor([0.0, 1.0, 2.0, 3.0])), cfg
    )


def _config(module: str, **fields: Any) -> Any:
    from reference_impl import methods

    return methods.get(module).config_class(**fields)


def _config_from_json(module: str, **fields: Any) -> Any:
    from reference_impl import methods

    row = methods.get(module)
    stored = {**methods.config_to_json(row.omniglot(5, 1, 20)), **fields}
    return methods.config_from_json(row.config_class, json.loads(json.dumps(stored)))


def _load_predictor_cuda(path: Path) -> Any:
    """`device="cuda"` on a CPU build; on a GPU machine, a CUDA device index that is not there."""
    from reference_impl import checkpoints

    missing = f"cuda:{torch.cuda.device_count()}" if torch.cuda.is_available() else "cuda"
    return checkpoints.load_predictor(path, device=missing)


def _in_tmp(call: Callable[[Path], Any]) -> Any:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        return call(Path(folder))


def _load_crafted(fixtures: dict[str, Path], key: str, loader: str = "load_predictor") -> Any:
    from reference_impl import checkpoints

    def call(tmp: Path) -> Any:
        _crafted(CRAFTED[key])(tmp, fixtures)
        return getattr(checkpoints, loader)(tmp / "crafted.safetensors")

    return _in_tmp(call)


def _non_utf8_header(fixtures: dict[str, Path]) -> Any:
    """A header whose description holds bytes that are not UTF-8 (a corrupt download)."""
    import struct

    from reference_impl import checkpoints

    def call(tmp: Path) -> Any:
        data = fixtures["model"].read_bytes()
        size = struct.unpack("<Q", data[:8])[0]
        header = data[8 : 8 + size].replace(b'"protonet', b'"\xff\xfeotonet', 1)
        path = tmp / "bytes.safetensors"
        path.write_bytes(struct.pack("<Q", len(header)) + header + data[8 + size :])
        return checkpoints.load_checkpoint(path)

    return _in_tmp(call)


def _fixed_episodes(seed: int) -> Any:
    from reference_impl import evaluation

    return evaluation.fixed_episodes(torch.zeros(5, 6, 1, 4, 4), 5, 1, 2, 3, seed)


def _thumbnail_cache(kind: str) -> Any:
    """`load_thumbnails` of a tiny generated Omniglot with a cache folder it cannot write."""
    from omniglot_fixture import make_omniglot

    from reference_impl import omniglot

    def call(tmp: Path) -> Any:
        root = make_omniglot(tmp / "omniglot")
        if kind == "file":
            cache = tmp / "cache.txt"
            cache.write_text("not a folder")
        else:
            cache = (Path("/sys") if os.geteuid() == 0 else tmp / "ro") / "cache"
            if os.geteuid() != 0:
                cache.parent.mkdir()
                cache.parent.chmod(0o555)
        return omniglot.load_thumbnails(root, cache_dir=cache)

    return _in_tmp(call)


LIB: dict[str, Lib] = {
    "load-predictor-config-shape-mismatch": Lib(lambda f: _load_crafted(f, "config_shape_mismatch"), ValueError, "16 problem(s), first: 0.0.weight is (4, 1, 3, 3), the model's (8, 1, 3, 3)"),
    "load-predictor-missing-tensor": Lib(lambda f: _load_crafted(f, "missing_tensor"), ValueError, "1 problem(s), first: missing"),
    "load-predictor-unknown-method": Lib(lambda f: _load_crafted(f, "unknown_method"), ValueError, "method 'nosuch' is not in the method table"),
    "load-checkpoint-seed-string": Lib(lambda f: _load_crafted(f, "seed_string", "load_checkpoint"), ValueError, "wrong type of seed"),
    "load-checkpoint-missing-config": Lib(lambda f: _load_crafted(f, "missing_config", "load_checkpoint"), ValueError, "description check failed: no config"),
    "load-checkpoint-non-utf8-header": Lib(lambda f: _non_utf8_header(f), ValueError, "bytes.safetensors: safetensors structure check failed"),
    "fixed-episodes-seed-2-63": Lib(lambda f: _fixed_episodes(2**63), ValueError, f"seed must be in 0..2**63-1, got {2**63}"),
    "fixed-episodes-seed-negative": Lib(lambda f: _fixed_episodes(-1), ValueError, "seed must be in 0..2**63-1, got -1"),
    "thumbnail-cache-dir-is-a-file": Lib(lambda f: _thumbnail_cache("file"), ValueError, "cannot write the thumbnail cache"),
    "thumbnail-cache-dir-not-writable": Lib(lambda f: _thumbnail_cache("readonly"), ValueError, "cannot write the thumbnail cache"),
    "evaluate-nan-logits": Lib(lambda f: _nan_logits(), ValueError, "non-finite logits"),
    "evaluate-inf-logits": Lib(lambda f: _inf_logits(), ValueError, "non-finite logits"),
    "evaluate-empty-query-set": Lib(lambda f: _empty_query(), ValueError, "empty query set"),
    "evaluate-query-label-5-in-5-way": Lib(lambda f: _query_label_outside(), ValueError, "query labels must lie in 0..4, got 0..5"),
    "evaluate-query-label-negative": Lib(lambda f: _query_label_negative(), ValueError, "query labels must lie in 0..4, got -1..4"),
    "evaluate-float-query-labels": Lib(lambda f: _float_query_labels(), ValueError, "int64 query labels"),
    "evaluate-wrong-logit-shape": Lib(lambda f: _wrong_logit_shape(), ValueError, "expected (10, 5) (N*Q, N)"),
    "evaluate-logits-not-a-tensor": Lib(lambda f: _evaluate_episode(*_episode(), [[0.0] * 5] * 10), ValueError, "predict must return a logits tensor, got list"),  # type: ignore[arg-type]
    "evaluate-episode-of-three": Lib(lambda f: _evaluation().evaluate_predictor(lambda s, y, q: q, [_episode()[:3]]), ValueError, "each episode must be (support_x, support_y, query_x, query_y), got 3 items"),
    "evaluate-support-labels-not-covering": Lib(lambda f: _evaluate_episode(_episode()[0], torch.zeros(5, dtype=torch.long), *_episode()[2:], torch.zeros(10, 5)), ValueError, "N = largest support label + 1"),
    "evaluate-no-episodes": Lib(lambda f: _no_episodes(), ValueError, "no episodes to evaluate"),
    "evaluate-unwrapped-episode": Lib(lambda f: _one_episode_unwrapped(), ValueError, "wrap it in a list"),
    "maml-predict-empty-support": Lib(lambda f: _maml_empty_support(), ValueError, "K >= 1"),
    "maml-adapt-steps-negative": Lib(lambda f: _maml_adapt(steps=-1), ValueError, "steps must be >= 0, got -1"),
    "maml-adapt-label-9-in-5-way": Lib(lambda f: _maml_adapt_label_9(), ValueError, "labels must lie in 0..4, got 0..9"),
    "maml-predict-float64": Lib(lambda f: _dtype("maml"), ValueError, "torch.float32 inputs on cpu"),
    "protonet-predict-float64": Lib(lambda f: _dtype("protonet"), ValueError, "torch.float32 inputs on cpu"),
    "fast-weights-predict-float64": Lib(lambda f: _dtype("fast_weights"), ValueError, "torch.float32 inputs on cpu"),
    "baseline-predict-float64": Lib(lambda f: _dtype("baseline"), ValueError, "torch.float32 inputs on cpu"),
    "maml-predict-3-channels": Lib(lambda f: _channels("maml"), ValueError, "(N*K, 1, H, W)"),
    "protonet-predict-3-channels": Lib(lambda f: _channels("protonet"), ValueError, "(N*K, 1, 28, 28)"),
    "fast-weights-predict-3-channels": Lib(lambda f: _channels("fast_weights"), ValueError, "(N*K, 1, 28, 28)"),
    "baseline-predict-3-channels": Lib(lambda f: _channels("baseline"), ValueError, "(N*K, 1, 28, 28)"),
    "maml-predict-other-device": Lib(lambda f: _device("maml"), ValueError, "torch.float32 inputs on cpu"),
    "protonet-predict-other-device": Lib(lambda f: _device("protonet"), ValueError, "torch.float32 inputs on cpu"),
    "baseline-predict-float-labels": Lib(lambda f: _float_labels("baseline"), ValueError, "int64 support_y"),
    "maml-predict-float-labels": Lib(lambda f: _float_labels("maml"), ValueError, "int64 labels"),
    "baseline-train-step-float-labels": Lib(lambda f: _baseline_float_class_labels(), ValueError, "int64 labels y (B,)"),
    "maml-config-conv-channels-0": Lib(lambda f: _config("maml", conv_channels=0), ValueError, "conv_channels must be >= 1, got 0"),
    "maml-config-inner-lr-nan": Lib(lambda f: _config("maml", inner_lr=float("nan")), ValueError, "inner_lr must be >= 0, got nan"),
    "maml-config-x-range-reversed": Lib(lambda f: _config("maml", x_range=(5.0, -5.0)), ValueError, "x_range high - low must be >= 0, got -10.0"),
    "maml-config-amplitude-range-nan": Lib(lambda f: _config("maml", amplitude_range=(float("nan"), 5.0)), ValueError, "amplitude_range high - low must be >= 0, got nan"),
    "maml-config-hidden-sizes-0": Lib(lambda f: _config("maml", hidden_sizes=(40, 0)), ValueError, "min(hidden_sizes) must be >= 1, got 0"),
    "protonet-config-image-size-0": Lib(lambda f: _config("protonet", image_size=0), ValueError, "image_size must be >= 1, got 0"),
    "protonet-config-conv-channels-0": Lib(lambda f: _config("protonet", conv_channels=0), ValueError, "conv_channels must be >= 1, got 0"),
    "fast-weights-config-conv-channels-0": Lib(lambda f: _config("fast_weights", conv_channels=0), ValueError, "conv_channels must be >= 1, got 0"),
    "baseline-config-conv-channels-0": Lib(lambda f: _config("baseline", conv_channels=0), ValueError, "conv_channels must be >= 1, got 0"),
    "config-json-true-as-shape": Lib(lambda f: _config_from_json("maml", hidden_sizes=True), ValueError, "hidden_sizes: expected a list of integers, got true"),
    "config-json-string-as-number": Lib(lambda f: _config_from_json("protonet", outer_lr="fast"), ValueError, 'outer_lr: expected a finite number, got "fast"'),
    "config-json-unknown-field": Lib(lambda f: _config_from_json("protonet", depth=9), ValueError, "ProtoNetConfig has no fields ['depth']"),
    "load-predictor-cuda-on-cpu-build": Lib(lambda f: _load_predictor_cuda(f["model"]), ValueError, "is not available"),
    "config-json-huge-int": Lib(lambda f: _config_from_json("protonet", n_way=10**30), ValueError, "n_way: must be < 2**63"),
}  # fmt: skip
"""Library calls that must raise: id -> case."""
