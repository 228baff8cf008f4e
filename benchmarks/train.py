"""Train any reference method on Omniglot in one of the papers' settings, resumably.

    python -m benchmarks.train METHOD SETTING [--split maml|lake] [--seed S] [--episodes E]
        [--budget-minutes M] [--out DIR] [--resume] [--device cpu|cuda] [--<config-field> VALUE ...]

METHOD is `maml`, `fomaml`, `protonet`, `fast_weights` or `baseline`; SETTING is `5w1s`, `5w5s`,
`20w1s` or `20w5s` (the methods are the rows of `reference_impl.methods.METHODS`). The config
starts from the setting's protocol (the algorithm file's `omniglot_config`), then any `--<field>`
flag; the flags are generated from the config dataclass (`--help` after a method name lists them).

The harness owns the loop and calls the method's `build_model` and `train_step`, so it can stop
anywhere and continue bit for bit: every `--checkpoint-every` updates it writes
`<out>/resume.safetensors` (weights, Adam state and every RNG state as tensors; step, config,
elapsed time and history as JSON metadata) with an atomic rename. `--resume` continues from it;
the final weights equal those of an uninterrupted run with the same seed
(`tests/test_harness.py` kills a run with SIGKILL to check). At the end (or when the wall-clock
budget is spent) it writes `<out>/model.safetensors` through `reference_impl.checkpoints`, plus
`best.safetensors` at the best validation accuracy.

With `--distributed` (or under `torchrun`, which sets `WORLD_SIZE`) the meta-batch of tasks is
split across processes and the meta-gradient all-reduced (`benchmarks.distributed`).

Every update also appends one line to `<out>/metrics.jsonl` (JSON Lines, UTF-8, one object per
update, in update order):

    {"update": 500, "loss": 0.4127, "seconds": 611.2, "train_accuracy": 0.88,
     "val_accuracy": 0.9712, "val_ci95": 0.0041, "val_episodes": 200}

* `update` (int): updates done, 1, 2, ... with no gaps and no repeats, across resumed sessions;
* `loss` (float): the update's training loss over the whole meta-batch (or class batch);
* `seconds` (float): wall-clock seconds of training after this update, summed over sessions
  (the clock `--budget-minutes` counts; it includes the time of earlier validations);
* `train_accuracy` (float, optional): the training batch's query accuracy, where the method
  reports one;
* `val_accuracy`, `val_ci95`, `val_episodes` (optional): present only on updates where the model
  was validated (every `--val-every` updates and after the last one): mean accuracy over the
  fixed validation episodes and its 95% confidence half-width.

Each line is written with one `write` on a file opened for appending, then flushed and
fsynced before the next resume checkpoint, so a checkpoint never covers an update whose line is
missing. `--resume` first rewrites the file (temporary file and rename) keeping exactly the lines
of the updates the checkpoint holds, dropping later or half-written lines of the killed session,
so after any interruption the file lists every update once.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import random
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from benchmarks import common, distributed
from benchmarks.common import HarnessError
from benchmarks.distributed import DistInfo
from reference_impl import episodes, evaluation, files, methods

RESUME_FILE = "resume.safetensors"
"""Resume state inside the run folder."""
MODEL_FILE = "model.safetensors"
"""Final weights inside the run folder (`reference_impl.checkpoints` format)."""
BEST_FILE = "best.safetensors"
"""Weights at the best validation accuracy."""
METRICS_FILE = "metrics.jsonl"
"""Per-update record inside the run folder (format in the module docstring)."""
SUMMARY_FILE = "summary.json"
"""What `run` returned, written at the end of each session."""
LOCK_FILE = "run.lock"
"""Held (`flock`) by the training that uses the folder; records its PID, host, start, command."""
RESUME_FIELDS = ("method", "setting", "split", "seed", "dtype", "data", "config", "trainer",
                 "history", "train_seconds", "done")  # fmt: skip
"""Metadata every resume state holds."""
DTYPES = {"float32": torch.float32, "float64": torch.float64}
HARNESS_FIELDS = {"seed"}
"""Config fields set by harness flags rather than generated ones."""


# ---------------------------------------------------------------------------------------------
# Data


def synthetic_characters(num_classes: int, seed: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """Omniglot-shaped stand-in data: `(classes, 20, 1, 28, 28)` binary images, seeded.

    Each class is a smooth random blob pattern thresholded to strokes; each of its 20 drawings
    flips 5% of the pixels. Used by tests and smoke runs (`--data synthetic`), never for results.
    """
    generator = torch.Generator().manual_seed(seed)
    low = torch.rand(num_classes, 1, 7, 7, generator=generator)
    template = (
        F.interpolate(low, size=28, mode="bilinear", align_corners=False) > 0.62
    )  # (C,1,28,28)
    flips = torch.rand(num_classes, 20, 1, 28, 28, generator=generator) < 0.05
    return (template[:, None] ^ flips).to(dtype)  # (C, 20, 1, 28, 28)


def load_part(args: argparse.Namespace, part: str, dtype: torch.dtype) -> Tensor:
    """The `part` (`train`, `val` or `test`) of the chosen split as `(classes, 20, 1, 28, 28)`.

    Raises:
        HarnessError: If the Omniglot files are missing or unreadable.
    """
    if args.data == "synthetic":
        counts = {"train": 64, "val": 24, "test": 32}
        return synthetic_characters(
            counts[part], seed={"train": 1, "val": 2, "test": 3}[part], dtype=dtype
        )
    from reference_impl import omniglot

    found = omniglot.resolve_root(args.data_root)
    try:
        if getattr(args, "download", False):
            omniglot.download_omniglot(found.path)
        return omniglot.load_omniglot(found.path, split=args.split, part=part, dtype=dtype)
    except ConnectionError as err:
        raise HarnessError(
            f"cannot download Omniglot: {err}. {omniglot.fetch_advice(found.path, offline=True)}"
        ) from err
    except (FileNotFoundError, ValueError) as err:
        missing = isinstance(err, FileNotFoundError) and not getattr(args, "download", False)
        raise HarnessError(
            f"cannot load Omniglot ({args.split} split, {part}) from {found.path} "
            f"(rule: {found.rule}): {err}" + (" Or rerun with --download." if missing else "")
        ) from err


# ---------------------------------------------------------------------------------------------
# The trainer


def _rng_tensors(generator: torch.Generator) -> dict[str, Tensor]:
    tensors = {"rng.generator": generator.get_state(), "rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = state
    return tensors


def _python_random_state() -> list[Any]:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


class Trainer:
    """One method, one config, one task source: builds the model and takes resumable steps.

    Args:
        method_name: A name in the method table (`reference_impl.methods`).
        cfg: The method's config.
        train_data: Training classes, shape `(C, 20, 1, 28, 28)` (CPU).
        seed: Seeds the initialisation (`torch.manual_seed`) and the task generator.
        device: Where the model lives; batches are moved there.
        dtype: Model and data dtype.
        info: Process-group position (`DistInfo()` for one process).
    """

    def __init__(
        self,
        method_name: str,
        cfg: Any,
        train_data: Tensor,
        *,
        seed: int,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
        info: DistInfo | None = None,
    ) -> None:
        self.method_name = method_name
        self.method = common.load_method(method_name)
        self.cfg = cfg
        self.train_data = train_data
        self.seed = seed
        self.device = torch.device(device)
        self.dtype = dtype
        self.info = info or DistInfo()
        if self.info.active and not self.method.episodic:
            raise HarnessError(
                "--distributed splits a meta-batch of tasks across processes; the baseline trains "
                "on class batches whose batch-norm statistics span the batch: train it in one process"
            )
        if self.method.episodic:  # before building: a huge N must not allocate its head first
            n_way, shots = int(cfg.n_way), int(cfg.k_shot) + int(cfg.n_query)
            if n_way > train_data.shape[0]:
                raise HarnessError(
                    f"{n_way}-way training episodes need {n_way} classes; the training "
                    f"data has {train_data.shape[0]}"
                )
            if shots > train_data.shape[1]:
                raise HarnessError(
                    f"k_shot + n_query = {shots} exceeds the {train_data.shape[1]} examples per "
                    "class"
                )
        torch.manual_seed(seed)
        random.seed(seed)
        self.model: nn.Module = self.method.build_model(cfg).to(device=self.device, dtype=dtype)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.outer_lr)
        self.step_optimizer: Any = (
            distributed.AllReduceOptimizer(self.optimizer, self.info)
            if self.info.active
            else self.optimizer
        )
        self.generator = torch.Generator().manual_seed(seed)
        self.step = 0
        self.total_steps = int(cfg.train_steps)
        if self.method.episodic:
            self.n_way = int(cfg.n_way)
            self.k_shot = int(cfg.k_shot)
            self.n_query = int(cfg.n_query)
            self.meta_batch_size = int(cfg.meta_batch_size)
            if self.info.active:
                distributed.shard_bounds(self.meta_batch_size, self.info.rank, self.info.world_size)
        else:
            self.flat = train_data.reshape(-1, *train_data.shape[2:])  # (C*E, 1, 28, 28)
            self.labels = torch.arange(train_data.shape[0]).repeat_interleave(train_data.shape[1])

    @property
    def episodes_per_step(self) -> int:
        """Episodes (or, for the baseline, examples) consumed by one update."""
        return self.meta_batch_size if self.method.episodic else int(self.cfg.batch_size)

    def sample(self) -> tuple[Tensor, ...]:
        """The next training batch, drawn from the task generator (the full meta-batch)."""
        if self.method.episodic:
            return episodes.sample_batch(
                self.train_data,
                self.n_way,
                self.k_shot,
                self.n_query,
                self.meta_batch_size,
                self.generator,
            )
        idx = torch.randint(
            self.flat.shape[0], (int(self.cfg.batch_size),), generator=self.generator
        )
        return self.flat[idx], self.labels[idx]

    def check_inputs(self) -> None:
        """Run the model once on a 2-way 1-shot episode of the training data, in eval mode and
        without touching the task generator, so a config whose model cannot take these inputs
        (an MLP on images, 3 input channels for 1) is refused before training starts.

        Raises:
            HarnessError: Naming the input shape and the method's own message.
        """
        if self.train_data.shape[0] < 2 or self.train_data.shape[1] < 2:
            return  # too small for a probe episode; the first update will tell
        x = self.train_data[:2, :2]  # (2 classes, 2 drawings, *x_shape)
        support_x, query_x = x[:, 0], x[:, 1]  # (2, *x_shape) each
        labels = torch.arange(2)
        was_training = self.model.training
        self.model.eval()
        try:
            self.predictor()(support_x, labels, query_x)
        except (ValueError, RuntimeError, IndexError) as err:
            raise HarnessError(
                f"the {self.method_name} model of this config does not take Omniglot images "
                f"{tuple(self.train_data.shape[2:])}: {' '.join(str(err).split())}"
            ) from err
        finally:
            self.model.train(was_training)

    def _to_device(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        return tuple(
            x.to(self.device, self.dtype) if x.is_floating_point() else x.to(self.device)
            for x in batch
        )

    def train_step(self) -> dict[str, float]:
        """One update (learning-rate schedule, batch, sharding, the method's `train_step`).

        Returns:
            `loss` (and `accuracy` where the method reports it) over the whole meta-batch.
        """
        if self.method.learning_rate is not None:
            lr = float(self.method.learning_rate(self.cfg, self.step))
            for group in self.optimizer.param_groups:
                group["lr"] = lr
        batch = self.sample()
        weight = 1.0
        if self.info.active:
            batch, weight = distributed.shard_batch(batch, self.info)
            cast(distributed.AllReduceOptimizer, self.step_optimizer).weight = weight
        batch = self._to_device(batch)
        self.model.train()
        stats = dict(self.method.train_step(self.model, self.step_optimizer, batch, self.cfg))
        self.step += 1
        return distributed.all_reduce_stats(stats, weight, self.info)

    def predictor(self) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
        """The method's one-episode predictor for the current weights; takes CPU episodes in
        the data dtype, runs on the model's device and dtype, returns CPU logits."""
        predict = self.method.make_predict(self.model, self.cfg)

        def on_device(support_x: Tensor, support_y: Tensor, query_x: Tensor) -> Tensor:
            logits = predict(
                support_x.to(self.device, self.dtype),
                support_y.to(self.device),
                query_x.to(self.device, self.dtype),
            )
            return cast(Tensor, logits).cpu()

        return on_device

    # -- state ------------------------------------------------------------------------------

    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """Everything needed to continue identically: tensors and JSON metadata."""
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        optim = self.optimizer.state_dict()
        optim_meta: dict[str, dict[str, Any]] = {}
        for index, param_state in optim["state"].items():
            for key, value in param_state.items():
                if torch.is_tensor(value):
                    tensors[f"optim.{index}.{key}"] = value
                else:
                    optim_meta.setdefault(str(index), {})[key] = value
        tensors.update(_rng_tensors(self.generator))
        metadata = {
            "step": self.step,
            "optimizer": {"param_groups": optim["param_groups"], "state": optim_meta},
            "python_random": _python_random_state(),
        }
        return tensors, metadata

    def load_state(self, tensors: dict[str, Tensor], metadata: dict[str, Any]) -> None:
        """Restore what `state` returned."""
        model_state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
        self.model.load_state_dict(model_state)
        optim_state: dict[int, dict[str, Any]] = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, index, name = key.split(".", 2)
                optim_state.setdefault(int(index), {})[name] = value
        for index, extra in metadata["optimizer"]["state"].items():
            optim_state.setdefault(int(index), {}).update(extra)
        self.optimizer.load_state_dict(
            {"state": optim_state, "param_groups": metadata["optimizer"]["param_groups"]}
        )
        self.generator.set_state(tensors["rng.generator"])
        torch.set_rng_state(tensors["rng.torch"])
        cuda_states = [
            tensors[f"rng.cuda.{i}"] for i in range(len(tensors)) if f"rng.cuda.{i}" in tensors
        ]
        if cuda_states and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(cuda_states)
        version, internal, gauss = metadata["python_random"]
        random.setstate((version, tuple(internal), gauss))
        self.step = int(metadata["step"])


# ---------------------------------------------------------------------------------------------
# The run folder's lock


class RunLock:
    """One training per run folder: `<folder>/run.lock`, held with `flock` while a run trains.

    The file records the holder (PID, host, start time, command), so a second training on the
    same `--out` fails naming it. The kernel drops a `flock` when its process dies, so a lock
    file left by a killed run is stale exactly when it can be locked: `acquire` then takes it
    over and returns the dead holder's description, and removes the temporary files that
    killed writers left beside the run's files (`files.remove_orphans`). `release` removes the
    lock file.

    Args:
        folder: The run folder (created if missing; removed again on release if it was created
            and is still empty).
        command: The holder's command line, recorded in the file.
    """

    def __init__(self, folder: Path, command: str) -> None:
        self.folder, self.command = folder, command
        self.path = folder / LOCK_FILE
        self.fd: int | None = None
        self.created = False

    def acquire(self) -> str | None:
        """Take the lock.

        Returns:
            `None`, or the description of a dead holder whose stale lock was taken over.

        Raises:
            HarnessError: If a live process holds the folder (the message names it).
        """
        import fcntl
        import socket

        self.created = not self.folder.exists()
        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise HarnessError(
                    f"{self.folder} is in use by {self.holder()}: wait for that run to end, or "
                    "choose another --out"
                ) from None
            try:  # a releasing holder may have removed the file we opened: lock the new one
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        previous = self.holder(fd)
        for name in (MODEL_FILE, BEST_FILE, RESUME_FILE, SUMMARY_FILE):  # killed writers' temps
            files.remove_orphans(self.folder / name)
        record = {
            "pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
            "started": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }  # fmt: skip
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        self.fd = fd
        return None if previous == "an unknown process" else f"{previous} (that process is gone)"

    def holder(self, fd: int | None = None) -> str:
        """The recorded holder in words, e.g. `PID 123 on host, started 2026-...Z (command)`."""
        try:
            if fd is None:
                text = self.path.read_text(encoding="utf-8")
            else:
                text = os.pread(fd, 1 << 16, 0).decode("utf-8")
            record = json.loads(text)
            return (
                f"PID {int(record['pid'])} on {record.get('host', '?')}, started "
                f"{record.get('started', '?')} ({record.get('command', '?')})"
            )
        except (OSError, ValueError, KeyError, TypeError):
            return "an unknown process"

    def release(self) -> None:
        """Remove the lock file and drop the lock (a no-op when not held)."""
        if self.fd is None:
            return
        self.path.unlink(missing_ok=True)  # while still locked: the next holder opens a new file
        os.close(self.fd)
        self.fd = None
        if self.created:
            try:
                self.folder.rmdir()  # only if the failed command left it empty
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------
# The per-update metrics file


class MetricsLog:
    """`<out>/metrics.jsonl`: one JSON line per update, appended durably, consistent on resume.

    Args:
        path: The file.
        resume_step: `None` for a new run (the file starts empty); else the step of the resume
            checkpoint: lines of later updates, and any line that is not a record with an
            integer `update` (a write cut short by a kill, bytes that are not UTF-8), are dropped
            by an atomic rewrite, so the next line is update `resume_step + 1`.
    """

    def __init__(self, path: Path, resume_step: int | None) -> None:
        self.path = path
        kept: list[str] = []
        if resume_step is not None and path.exists():
            for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                step = record.get("update") if isinstance(record, dict) else None
                if isinstance(step, int) and not isinstance(step, bool) and step <= resume_step:
                    kept.append(line + "\n")
        files.atomic_write(path, "".join(kept).encode("utf-8"))
        self.fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND)

    def append(self, record: dict[str, Any]) -> None:
        """Write `record` as one line with a single `write`, then flush it to disk (fsync)."""
        if self.fd is None:
            raise ValueError(f"{self.path} is closed")
        os.write(self.fd, (json.dumps(record) + "\n").encode("utf-8"))
        os.fsync(self.fd)

    def close(self) -> None:
        """Close the file (further appends raise)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


# ---------------------------------------------------------------------------------------------
# Checkpoints


def save_model(path: Path, trainer: Trainer, split: str, extra: dict[str, Any]) -> None:
    """Write the weights in the shared checkpoint format (`reference_impl.checkpoints`)."""
    from reference_impl import checkpoints

    model = trainer.model
    if trainer.dtype != torch.float32 or trainer.device.type != "cpu":
        model = trainer.method.build_model(trainer.cfg)  # a float32 CPU copy for publishing
        model.load_state_dict({k: v.float().cpu() for k, v in trainer.model.state_dict().items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    checkpoints.save_checkpoint(
        path,
        model,
        trainer.method.algorithm,
        trainer.cfg,
        split=split,
        seed=trainer.seed,
        extra=extra,
    )


# ---------------------------------------------------------------------------------------------
# Command line


def build_parser(
    cfg_class: type | None = None, *, first_pass: bool = False
) -> argparse.ArgumentParser:
    """The argument parser; with `cfg_class`, also one flag per config field.

    `first_pass` builds the parser that only finds the method: no `--help` (so that
    `METHOD --help` reaches the full parser and lists the config's flags) and an optional method.
    """
    parser = common.ArgumentParser(
        prog="python -m benchmarks.train",
        description="Train a reference method on Omniglot (resumable, optionally distributed).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        add_help=not first_pass,
    )
    parser.add_argument(
        "method", nargs="?" if first_pass else None, help=f"one of {', '.join(methods.METHODS)}"
    )
    parser.add_argument("setting", nargs="?", help=f"one of {', '.join(common.SETTINGS)}")
    parser.add_argument("--split", choices=common.SPLITS, default="maml", help="Omniglot split")
    parser.add_argument(
        "--seed", type=common.seed, default=0, help="initialisation and task sampling seed"
    )
    parser.add_argument(
        "--episodes",
        type=common.int_at_least(1),
        default=None,
        help="training updates (overrides the config's step count)",
    )
    parser.add_argument(
        "--budget-minutes",
        type=common.non_negative_number,
        default=None,
        help="stop training after this much wall-clock time (summed over resumed sessions)",
    )
    parser.add_argument(
        "--out",
        type=common.path_arg,
        default=None,
        help="run folder (default benchmarks/runs/<method>_<setting>_<split>_s<seed>)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue from <out>/resume.safetensors"
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--dtype", choices=tuple(DTYPES), default="float32")
    parser.add_argument(
        "--threads", type=common.int_at_least(1), default=None, help="torch intra-op threads"
    )
    parser.add_argument(
        "--data",
        choices=("omniglot", "synthetic"),
        default="omniglot",
        help="synthetic: Omniglot-shaped random strokes, for tests",
    )
    parser.add_argument(
        "--data-root",
        type=common.path_arg,
        default=None,
        help="Omniglot folder (default: $OMNIGLOT_ROOT, else ../shared/data/omniglot beside a "
        "checkout, else the per-user cache; `python -m reference_impl.omniglot where` shows it)",
    )
    parser.add_argument(
        "--download",
        action="store_true",
        help="fetch Omniglot into the data folder first if it is missing (MD5-checked)",
    )
    parser.add_argument(
        "--val-every",
        type=common.int_at_least(0),
        default=500,
        help="updates between validations (0: only at the end)",
    )
    parser.add_argument(
        "--val-episodes", type=common.int_at_least(0), default=200, help="validation episodes"
    )
    parser.add_argument(
        "--checkpoint-every",
        type=common.int_at_least(1),
        default=100,
        help="updates between resume checkpoints",
    )
    parser.add_argument(
        "--stop-after",
        type=common.int_at_least(1),
        default=None,
        help="simulate an interruption: save the resume state after this update and exit",
    )
    parser.add_argument(
        "--distributed",
        action="store_true",
        help="join the torch.distributed group set up by torchrun",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    if cfg_class is not None:
        common.add_config_flags(parser, cfg_class, skip=HARNESS_FIELDS)
    return parser


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, type]:
    """Parse in two passes: the method first, then the flags generated from its config."""
    known, _ = build_parser(first_pass=True).parse_known_args(argv)
    if known.method is None:  # no method: the plain parser's usage error, or its help
        build_parser().parse_args(argv)
    cfg_class = common.load_method(known.method).config_class
    args = build_parser(cfg_class).parse_args(argv)
    if args.setting is None:
        raise HarnessError(f"missing SETTING; expected one of {', '.join(common.SETTINGS)}")
    common.parse_setting(args.setting)
    return args, cfg_class


def resolve_config(args: argparse.Namespace, cfg_class: type, num_train_classes: int) -> Any:
    """Config = setting protocol < the method's `cuda_defaults` on a GPU < `--<field>` flags <
    harness flags < the method's fixed fields."""
    n_way, k_shot = common.parse_setting(args.setting)
    values = common.omniglot_fields(args.method, n_way, k_shot, num_train_classes)
    if args.device == "cuda":
        values.update(common.load_method(args.method).cuda_defaults)
    values.update(common.config_overrides(args))
    if args.episodes is not None:
        values["train_steps"] = args.episodes
    values["seed"] = args.seed
    values.update(common.load_method(args.method).fixed)
    return common.make_config(cfg_class, values)


def default_out(args: argparse.Namespace) -> Path:
    """`benchmarks/runs/<method>_<setting>_<split>_s<seed>`."""
    return common.RUNS_DIR / f"{args.method}_{args.setting}_{args.split}_s{args.seed}"


def run(argv: list[str]) -> dict[str, Any]:
    """Train as the command line says; return a summary (also written to `<out>/summary.json`).

    Everything a command line can get wrong is checked before the run folder is touched: the
    flags, the config, the data, the run folder itself (a file, unwritable, a misspelt folder
    under `--resume`, another run's files without it) and whether the model takes the data's
    inputs. The folder is then locked (`RunLock`) for the whole session.
    """
    args, cfg_class = parse_args(argv)
    out: Path = args.out if args.out is not None else default_out(args)
    common.check_output_folder(out, "--out", "run folder")
    check_run_folder(out, resume=args.resume)
    problem = distributed.environment_problem()
    if problem is not None:
        raise HarnessError(f"the process-group environment is invalid: {problem}")
    world = distributed.env_world_size()
    if (args.distributed or world > 1) and not distributed.launched_by_torchrun():
        raise HarnessError(
            ("" if args.distributed else f"WORLD_SIZE={world} in the environment: ")
            + "--distributed needs torchrun, which sets RANK, WORLD_SIZE, MASTER_ADDR and "
            "MASTER_PORT: torchrun --nproc-per-node 2 -m benchmarks.train ... --distributed"
        )
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise HarnessError("--device cuda requested but torch.cuda.is_available() is False")
    dtype = DTYPES[args.dtype]
    use_dist = args.distributed or distributed.env_world_size() > 1
    info = distributed.init_distributed(args.device) if use_dist else DistInfo()
    device = f"cuda:{info.local_rank}" if args.device == "cuda" else "cpu"

    train_data = load_part(args, "train", dtype)
    val_data = load_part(args, "val", dtype)
    cfg = resolve_config(args, cfg_class, train_data.shape[0])
    try:  # the method's own checks (a backbone it lacks, an optimizer setting Adam refuses)
        trainer = Trainer(
            args.method, cfg, train_data, seed=args.seed, device=device, dtype=dtype, info=info
        )
    except (ValueError, RuntimeError, MemoryError) as err:
        raise HarnessError(f"cannot build {args.method} from this config: {err}") from err
    trainer.check_inputs()
    lock = RunLock(out, common.command_line("benchmarks.train", argv)) if info.is_main else None
    stale = lock.acquire() if lock is not None else None
    if stale is not None:
        print(f"benchmarks.train: taking over the stale lock of {stale}", file=sys.stderr)
    try:  # checked again under the lock: another run may have finished here meanwhile
        check_run_folder(out, resume=args.resume)
        return _session(args, argv, cfg_class, cfg, trainer, val_data, out, info, use_dist)
    finally:
        if lock is not None:
            lock.release()


def check_run_folder(out: Path, *, resume: bool) -> None:
    """Refuse a run folder that does not fit the command: one under the published results,
    `--resume` without resume state (a misspelt `--out` must not start afresh), or a new run
    over another run's files.

    Raises:
        HarnessError: Naming the folder and what to do.
    """
    if out.resolve().is_relative_to(common.RESULTS_DIR.resolve()):
        raise HarnessError(
            f"--out {out} lies under {common.relative(common.RESULTS_DIR)}/, the published "
            f"results: train into a run folder (default under {common.relative(common.RUNS_DIR)}/)"
            " and publish with benchmarks.evaluate"
        )
    resume_path = out / RESUME_FILE
    if resume and not resume_path.is_file():
        raise HarnessError(
            f"--resume: {out} holds no resume state ({RESUME_FILE}); check --out, or drop "
            "--resume to start a new run"
        )
    if not resume and resume_path.exists():
        raise HarnessError(
            f"{resume_path} exists: pass --resume to continue it, or choose another --out"
        )
    # a metrics log alone is a run killed before its first resume state: it starts afresh
    taken = [name for name in (MODEL_FILE, BEST_FILE, SUMMARY_FILE)
             if (out / name).exists()]  # fmt: skip
    if not resume and taken:
        raise HarnessError(
            f"{out} already holds {taken[0]} from another run (and no resume state): choose "
            "another --out, or move those files away"
        )


def check_resume_metadata(path: Path, meta: dict[str, Any]) -> None:
    """Refuse a file that is not a resume state of this harness (e.g. a model checkpoint).

    Raises:
        HarnessError: Naming the file and what it is.
    """
    if "config_class" in meta and "extra" in meta:
        raise HarnessError(
            f"{path} is a model checkpoint, not a resume state: --resume continues from the "
            f"{RESUME_FILE} that benchmarks.train writes"
        )
    missing = sorted(set(RESUME_FIELDS) - set(meta))
    if missing:
        raise HarnessError(f"{path} is not a resume state of benchmarks.train (no {missing})")
    trainer, history, seconds = meta["trainer"], meta["history"], meta["train_seconds"]
    step = trainer.get("step") if isinstance(trainer, dict) else None
    checks = {
        "trainer.step is an integer >= 0": isinstance(step, int) and not isinstance(step, bool)
        and step >= 0,
        "history holds validation and sessions lists": isinstance(history, dict)
        and all(isinstance(history.get(k), list) for k in ("validation", "sessions")),
        "train_seconds is a number >= 0": isinstance(seconds, (int, float))
        and not isinstance(seconds, bool) and math.isfinite(seconds) and seconds >= 0,
        "done is true or false": isinstance(meta["done"], bool),
    }  # fmt: skip
    wrong = [what for what, ok in checks.items() if not ok]
    if wrong:
        raise HarnessError(f"{path}: not a valid resume state: expected {'; '.join(wrong)}")


def _session(
    args: argparse.Namespace,
    argv: list[str],
    cfg_class: type,
    cfg: Any,
    trainer: Trainer,
    val_data: Tensor,
    out: Path,
    info: DistInfo,
    use_dist: bool,
) -> dict[str, Any]:
    """The locked part of `run`: resume, train, validate, save."""
    resume_path = out / RESUME_FILE
    history: dict[str, Any] = {"validation": [], "sessions": [], "best_accuracy": None}
    train_seconds = 0.0
    done = False
    budget_s = args.budget_minutes * 60 if args.budget_minutes is not None else math.inf
    saved_step: int | None = None
    if resume_path.exists():
        tensors, meta = common.read_tensor_file(resume_path)
        check_resume_metadata(resume_path, meta)
        try:
            stored = methods.config_from_json(cfg_class, meta["config"])
        except (TypeError, ValueError) as err:
            raise HarnessError(f"{resume_path}: its config does not load: {err}") from err
        diff = {
            f.name: (getattr(stored, f.name), getattr(cfg, f.name))
            for f in dataclasses.fields(cfg_class)
            if f.name != "train_steps" and getattr(stored, f.name) != getattr(cfg, f.name)
        }
        if diff:
            raise HarnessError(f"--resume with a different config (stored, given): {diff}")
        for key in ("method", "setting", "split", "seed", "dtype", "data"):
            if meta[key] != getattr(args, key):
                raise HarnessError(
                    f"--resume with {key}={getattr(args, key)!r}; the run used {meta[key]!r}"
                )
        try:
            trainer.load_state(tensors, meta["trainer"])
        except (KeyError, RuntimeError, TypeError, ValueError) as err:
            raise HarnessError(
                f"{resume_path}: the resume state does not fit this run: {err}"
            ) from err
        history, train_seconds = meta["history"], float(meta["train_seconds"])
        stopped = meta.get("stopped_by")
        spent = stopped == "budget" and train_seconds >= budget_s
        if bool(meta["done"]) and (trainer.step >= trainer.total_steps or spent):
            print(
                f"benchmarks.train: {out} is already finished: {trainer.step}/"
                f"{trainer.total_steps} updates (stopped by {stopped}); nothing to do (raise "
                "--episodes or --budget-minutes to train further)",
                file=sys.stderr,
            )
            if use_dist:
                distributed.shutdown_distributed()
            return summary_of(args, trainer, out, history, train_seconds, True, stopped, info)
        resumed_step: int | None = trainer.step
        saved_step = trainer.step
    else:
        resumed_step = None
    metrics = MetricsLog(out / METRICS_FILE, resumed_step) if info.is_main else None
    pending: dict[str, Any] = {}  # this update's metrics line, written before any checkpoint

    def write_pending() -> None:
        if metrics is not None and pending:
            metrics.append(dict(pending))
        pending.clear()

    command = common.command_line("benchmarks.train", argv)
    if info.world_size > 1:
        command = (
            f"torchrun --nproc-per-node {info.world_size} -m benchmarks.train "
            + command.split(" benchmarks.train ", 1)[1]
        )
    # the code that runs is the commit checked out now; HEAD may move during a long run
    session_commit = files.git_commit()
    history["sessions"].append(
        {
            "command": command, "start_step": trainer.step, "world_size": info.world_size,
            "git_commit": session_commit,
        }
    )  # fmt: skip
    n_test, k_shot = common.parse_setting(args.setting)
    val_episodes = (
        common.fixed_episodes(
            val_data, n_test, k_shot, common.TEST_QUERIES, args.val_episodes, seed=args.seed
        )
        if info.is_main and args.val_episodes > 0
        else []
    )
    progress = common.Progress(
        trainer.total_steps,
        start=trainer.step,
        episodes_per_step=trainer.episodes_per_step,
        enabled=info.is_main and not args.quiet,
        budget_s=budget_s - train_seconds,
    )
    if history["validation"]:
        progress.val = history["validation"][-1]["accuracy"]

    def metadata(stopped_by: str | None, trainer_meta: dict[str, Any]) -> dict[str, Any]:
        return {
            "method": args.method, "setting": args.setting, "split": args.split, "seed": args.seed,
            "dtype": args.dtype, "data": args.data, "config": methods.config_to_json(cfg),
            "trainer": trainer_meta, "history": history, "train_seconds": train_seconds,
            "done": done, "stopped_by": stopped_by, "command": command,
            "machine": common.machine_info(args.device, args.dtype), "world_size": info.world_size,
        }  # fmt: skip

    def save_resume(stopped_by: str | None = None) -> None:
        nonlocal saved_step
        if info.is_main:
            tensors, trainer_meta = trainer.state()
            common.write_tensor_file(resume_path, tensors, metadata(stopped_by, trainer_meta))
            saved_step = trainer.step

    def checkpoint_extra() -> dict[str, Any]:
        return {
            "harness_method": args.method, "setting": args.setting, "steps": trainer.step,
            "train_seconds": train_seconds, "train_command": command,
            "train_commands": [s["command"] for s in history["sessions"]],
            "validation": history["validation"], "world_size": info.world_size,
            "machine": common.machine_info(args.device, args.dtype), "data": args.data,
            "git_commit": session_commit,
            "git_commits": [s.get("git_commit", "unknown") for s in history["sessions"]],
        }  # fmt: skip

    def validate() -> None:
        if not val_episodes:
            return
        result = evaluation.evaluate_predictor(trainer.predictor(), val_episodes)
        accuracy, ci95, count = result.accuracy, result.ci95, result.episodes
        history["validation"].append(
            {"step": trainer.step, "accuracy": accuracy, "ci95": ci95, "episodes": count}
        )
        progress.val = accuracy
        if pending.get("update") == trainer.step:
            pending.update(val_accuracy=accuracy, val_ci95=ci95, val_episodes=count)
        progress.message(
            f"validation at step {trainer.step}: {100 * accuracy:.2f}% ± {100 * ci95:.2f}"
        )
        best = history["best_accuracy"]
        if best is None or accuracy > best:
            history["best_accuracy"] = accuracy
            save_model(
                out / BEST_FILE,
                trainer,
                args.split,
                {**checkpoint_extra(), "selected": "best validation"},
            )

    stop_requested: list[str] = []

    def on_signal(signum: int, frame: Any) -> None:
        if stop_requested:  # a second signal: give up at once
            signal.signal(signum, signal.SIG_DFL)
            raise KeyboardInterrupt
        stop_requested.append(signal.Signals(signum).name)
        progress.message(f"{stop_requested[0]}: stopping after this update (again to abort)")

    handlers = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    session_start = time.perf_counter()
    base_seconds = train_seconds
    stopped_by: str | None = None
    try:
        while not done and trainer.step < trainer.total_steps:
            try:
                stats = trainer.train_step()
            except (ValueError, RuntimeError, IndexError) as err:  # e.g. a non-finite loss
                kept = (
                    f"the resume state in {out} holds the weights after update {saved_step} "
                    "(continue with --resume once the cause is fixed)"
                    if saved_step is not None
                    else f"no resume state was written (the first is saved after update "
                    f"{args.checkpoint_every})"
                )
                raise HarnessError(
                    f"training stopped at update {trainer.step + 1}: {err}; {kept}"
                ) from err
            train_seconds = base_seconds + time.perf_counter() - session_start
            progress.update(trainer.step, stats["loss"])
            pending.update(update=trainer.step, loss=stats["loss"], seconds=round(train_seconds, 3))
            if "accuracy" in stats:
                pending["train_accuracy"] = stats["accuracy"]
            if info.is_main and args.val_every > 0 and trainer.step % args.val_every == 0:
                validate()
            if distributed.any_rank(bool(stop_requested), info):
                stopped_by = "interrupted"
                break
            if distributed.broadcast_flag(train_seconds >= budget_s, info):
                stopped_by = "budget"
                break
            if args.stop_after is not None and trainer.step >= args.stop_after:
                stopped_by = "stop-after"
                break
            if trainer.step >= trainer.total_steps:
                break  # the last update's line is written after its final validation
            write_pending()
            if trainer.step % args.checkpoint_every == 0:
                save_resume()
        if stopped_by in ("stop-after", "interrupted"):
            write_pending()
            save_resume(stopped_by)
            progress.message(
                f"stopped after update {trainer.step} ({stopped_by}); continue with --resume"
            )
        elif not done:
            done = True
            if not history["validation"] or history["validation"][-1]["step"] != trainer.step:
                if info.is_main:
                    validate()
            write_pending()
            if info.is_main:
                save_model(
                    out / MODEL_FILE,
                    trainer,
                    args.split,
                    {
                        **checkpoint_extra(),
                        "selected": "final",
                        "stopped_by": stopped_by or "steps",
                    },
                )
            save_resume(stopped_by or "steps")
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        if metrics is not None:
            metrics.close()
    distributed.barrier(info)
    progress.close()
    summary = summary_of(args, trainer, out, history, train_seconds, done, stopped_by, info)
    if info.is_main:
        files.atomic_write_json(out / SUMMARY_FILE, summary)
    if use_dist:
        distributed.shutdown_distributed()
    return summary


def summary_of(
    args: argparse.Namespace,
    trainer: Trainer,
    out: Path,
    history: dict[str, Any],
    train_seconds: float,
    done: bool,
    stopped_by: str | None,
    info: DistInfo,
) -> dict[str, Any]:
    """What `run` returns and writes to `<out>/summary.json`."""
    return {
        "method": args.method, "setting": args.setting, "split": args.split, "seed": args.seed,
        "steps": trainer.step, "total_steps": trainer.total_steps, "done": done,
        "stopped_by": stopped_by, "train_seconds": train_seconds, "out": str(out),
        "validation": history["validation"], "world_size": info.world_size,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; user errors print one line and return 2."""
    try:
        summary = run(list(sys.argv[1:] if argv is None else argv))
    except HarnessError as err:
        print(f"benchmarks.train: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except OSError as err:  # a full disk, a folder the file system refuses
        print(f"benchmarks.train: error: {common.describe_os_error(err)}", file=sys.stderr)
        return 1
    except (MemoryError, RuntimeError) as err:  # sizes this machine cannot allocate
        if not common.out_of_memory(err):
            raise
        print(f"benchmarks.train: error: out of memory: {' '.join(str(err).split())}",
              file=sys.stderr)  # fmt: skip
        return 1
    state = "finished" if summary["done"] else "paused"
    print(
        f"{state}: {summary['steps']}/{summary['total_steps']} updates in {summary['train_seconds']:.1f} s -> {summary['out']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
