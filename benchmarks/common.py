"""Shared pieces of the Omniglot harness: methods, settings, config flags, files, machine facts.

Everything the training, evaluation and distributed entry points agree on lives here:

* `SETTINGS`: the setting names accepted on the command line (methods come from the method
  table, `reference_impl.methods`);
* `omniglot_fields`: a method's config for an Omniglot setting, its algorithm file's preset;
* `add_config_flags` / `config_overrides`: command-line flags generated from a config dataclass,
  so the harness never keeps a second hand-written list of hyperparameters;
* `write_tensor_file` / `read_tensor_file`: the resume state as one safetensors file (tensors plus
  JSON metadata under one SHA-256, no pickle) through `reference_impl.checkpoints`, atomically;
* `machine_info`, `provenance`: what every result file records (the commit comes from
  `reference_impl.files.git_commit`; files are written with `reference_impl.files`);
* `Progress`, `EvalProgress`: dependency-free progress bars on stderr (training, evaluation).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import datetime
import inspect
import itertools
import json
import math
import os
import platform
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

import torch
from torch import Tensor

from reference_impl import files, methods

REPO = Path(__file__).resolve().parents[1]
"""Repository root."""
RESULTS_DIR = REPO / "benchmarks" / "results"
"""Committed result files."""
OMNIGLOT_RESULTS = RESULTS_DIR / "omniglot"
"""Omniglot result JSON files, one per method, setting and split."""
CHECKPOINTS_DIR = OMNIGLOT_RESULTS / "checkpoints"
"""The checkpoint behind every published Omniglot number."""
RUNS_DIR = REPO / "benchmarks" / "runs"
"""Default folder of training runs (resume state, final checkpoint, logs); not committed."""


class HarnessError(Exception):
    """A user error the command line reports in one line, without a traceback."""


SETTINGS: dict[str, tuple[int, int]] = {
    "5w1s": (5, 1),
    "5w5s": (5, 5),
    "20w1s": (20, 1),
    "20w5s": (20, 5),
}
"""Setting name -> (N test classes, K shots)."""

SPLITS = ("maml", "lake")
"""Omniglot splits (`reference_impl.omniglot.get_split`)."""

TEST_QUERIES = 15
"""Queries per class in validation and test episodes (20 drawings = up to 5 shots + 15)."""


def load_method(name: str) -> methods.Method:
    """The method table's row of a command-line method name.

    Raises:
        HarnessError: If the name is not in `reference_impl.methods.METHODS`.
    """
    try:
        return methods.get(name)
    except ValueError as err:
        raise HarnessError(str(err)) from err


def run_cli(module: str, run: Callable[[list[str]], Any], argv: list[str] | None) -> int:
    """Call `run(argv)` (default `sys.argv[1:]`); every failure prints one line and returns.

    A `HarnessError` (a bad argument, a refused file) returns 2; an `OSError` (a full disk, a
    permission the file system refuses) or an allocation failure (`out_of_memory`) 1, naming
    the file or the size; Ctrl-C 130.
    """
    try:
        run(list(sys.argv[1:] if argv is None else argv))
    except HarnessError as err:
        print(f"{module}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"{module}: error: {describe_os_error(err)}", file=sys.stderr)
        return 1
    except (MemoryError, RuntimeError) as err:
        if not out_of_memory(err):
            raise
        print(f"{module}: error: out of memory: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{module}: interrupted; nothing half-written is left behind", file=sys.stderr)
        return 130
    return 0


def out_of_memory(err: BaseException) -> bool:
    """Whether `err` is an allocation failure (sizes too large for this machine), which a
    command line reports in one line like a full disk, rather than a bug's traceback."""
    return (
        isinstance(err, MemoryError)
        or "can't allocate memory" in str(err)
        or ("out of memory" in str(err).lower())
    )


def describe_os_error(err: OSError) -> str:
    """An `OSError` in one line: what failed and on which file (`[Errno 28] ...: 'path'`)."""
    return " ".join(str(err).split())


class ArgumentParser(argparse.ArgumentParser):
    """`argparse.ArgumentParser` whose usage errors raise `HarnessError`, so a command line
    reports them in one line (argparse prints the whole usage first); `--help` is unchanged."""

    def error(self, message: str) -> NoReturn:
        """Raise the usage error as a `HarnessError` (its text, without the usage)."""
        raise HarnessError(f"{message} (see {self.prog} --help)")


INT_LIMIT = methods.INT_LIMIT
"""Integers on the command line stay below 2**63 (torch's int64)."""
SEED_MAX = 2**63 - 1
"""Largest seed: `torch.manual_seed` and `torch.Generator.manual_seed` take `0..2**63-1`."""


def int_at_least(low: int) -> Callable[[str], int]:
    """An argparse `type`: an integer `>= low` (and `< 2**63`), else a one-line message."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        if value >= INT_LIMIT:
            raise argparse.ArgumentTypeError(f"must be < 2**63, got {value}")
        return value

    parse.__name__ = f"int >= {low}"
    return parse


def path_arg(text: str) -> Path:
    """An argparse `type` for paths: refuses an empty one (`Path("")` would be the current
    folder, so `--out ""` would write a run into it)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    return Path(text)


def seed(text: str) -> int:
    """An argparse `type` for seeds: an integer in `0..SEED_MAX`."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"must be in 0..{SEED_MAX} (2**63 - 1), got {value}")
    return value


def non_negative_number(text: str) -> float:
    """An argparse `type`: a finite number `>= 0` (not `nan`, `inf` or negative)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def check_output_file(
    path: Path, flag: str = "--out", inputs: Sequence[Path | None] = (), writer: str = ""
) -> None:
    """Refuse, before any work, an output file that could not be written at the end, that is
    one of the command's `inputs` (a report written over the checkpoint it reports on), or
    that is a committed result of another command (`writer` is this command's module).

    Raises:
        HarnessError: If `path` is a folder, is one of `inputs`, is a result under
            `benchmarks/results/` that `result_owner` gives to another module, lies under a
            file, or its folder (the nearest one that exists) does not let this process create
            files.
    """
    if path.is_dir():
        raise HarnessError(f"{flag} {path} is a folder; expected a file")
    if writer and path.is_file() and path.resolve().is_relative_to(RESULTS_DIR.resolve()):
        owner = result_owner(path)
        if owner not in (None, writer):
            raise HarnessError(
                f"{flag} {path} is a result of {owner}; {writer} would overwrite it: choose "
                f"another {flag}"
            )
    for source in inputs:
        if source is not None and path.exists() and source.exists() and path.samefile(source):
            raise HarnessError(f"{flag} {path} is the input {source}; it would be overwritten")
    _check_creatable(path.parent, f"{flag} {path}")


def result_owner(path: Path) -> str | None:
    """The module that wrote a JSON result file: the one its recorded `command` runs, or
    `benchmarks.evaluate` for an Omniglot cell; `None` when the file does not say."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    command = data.get("command")
    if isinstance(command, str) and command.startswith("python -m ") and len(command.split()) > 2:
        return command.split()[2]
    return "benchmarks.evaluate" if {"method", "setting", "split"} <= set(data) else None


def check_output_folder(path: Path, flag: str = "--out", what: str = "folder") -> None:
    """Refuse, before any work, an output folder that is a file or could not be written.

    Raises:
        HarnessError: If `path` is a file, lies under a file, or the nearest existing folder
            does not let this process create files.
    """
    if path.exists() and not path.is_dir():
        raise HarnessError(f"{flag} {path} is a file; expected a {what}")
    _check_creatable(path, f"{flag} {path}")


def _check_creatable(folder: Path, named: str) -> None:
    existing = folder
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():
            raise HarnessError(f"{named}: {existing} is a broken symbolic link")
        existing = existing.parent
    if not existing.is_dir():
        raise HarnessError(f"{named}: {existing} is a file; expected a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise HarnessError(f"{named} is not writable: {existing}: {err.strerror}") from err


def check_model_checkpoint(path: Path) -> None:
    """Refuse, in one line, what is not a model checkpoint file: a folder, a missing file, or a
    training run's resume state (the same format, another content).

    Raises:
        HarnessError: Naming the file and what to pass instead.
    """
    from reference_impl import checkpoints

    check_input_file(path)
    try:
        _, description = checkpoints.load_tensors(path)
    except (OSError, ValueError):
        return  # not readable as tensors: the checkpoint reader says why
    if "trainer" in description and "history" in description:
        raise HarnessError(
            f"{path} is a resume state, not a model checkpoint: pass the model.safetensors (or "
            "best.safetensors) of the same run folder"
        )


def check_input_file(path: Path, what: str = "checkpoint file") -> None:
    """Refuse a missing input file, or a folder where a file belongs, in one line.

    Raises:
        HarnessError: Naming `path` and what was expected.
    """
    if path.is_dir():
        raise HarnessError(f"{path} is a folder; expected a {what}")
    if not path.is_file():
        raise HarnessError(f"{what.split()[0]} {path} not found")


def parse_setting(setting: str) -> tuple[int, int]:
    """`(n_way, k_shot)` of a setting name such as `5w1s`.

    Raises:
        HarnessError: If the setting is not one of `SETTINGS`.
    """
    if setting not in SETTINGS:
        raise HarnessError(f"unknown setting {setting!r}; expected one of {', '.join(SETTINGS)}")
    return SETTINGS[setting]


def field_names(cfg_class: type) -> set[str]:
    """Names of the fields of a config dataclass."""
    return {f.name for f in dataclasses.fields(cfg_class)}


def omniglot_fields(
    method_name: str, n_way: int, k_shot: int, num_train_classes: int
) -> dict[str, Any]:
    """Every config field of a method on Omniglot in one setting: its algorithm file's preset
    (`omniglot_config`, the paper's protocol) with the table's fixed fields.

    Args:
        method_name: A name in the method table.
        n_way: Test classes per episode.
        k_shot: Shots.
        num_train_classes: Classes (rotations included) of the training part of the split.

    Returns:
        Field name -> value, for every field of the method's config class.
    """
    method = load_method(method_name)
    preset = method.omniglot(n_way, k_shot, num_train_classes)
    return {**dataclasses.asdict(preset), **method.fixed}


def transferable_setting(
    method_name: str, trained: str, tested: str, num_train_classes: int = 1
) -> None:
    """Check that a checkpoint trained for setting `trained` may be reported under `tested`.

    Allowed when the training protocol of the two settings is the same up to the method's
    `test_only` fields, i.e. training for `tested` would have run the very same updates. Examples:
    a ProtoNet trained for 5w1s (60-way 1-shot episodes) is the paper's 20w1s model too, and the
    baseline's pre-training ignores N and K; MAML's classifier has N outputs, so never.

    `num_train_classes` feeds only the baseline's preset, identically for both settings, so the
    default gives the same answer as the split's real count.

    Raises:
        HarnessError: Naming the fields whose training value differs.
    """
    method = load_method(method_name)
    configs = [
        omniglot_fields(method_name, *parse_setting(s), num_train_classes)
        for s in (trained, tested)
    ]
    differ = sorted(
        name
        for name in configs[0]
        if name not in method.test_only and configs[0][name] != configs[1][name]
    )
    if differ:
        fields = ", ".join(f"{n} {configs[0][n]!r} -> {configs[1][n]!r}" for n in differ)
        raise HarnessError(
            f"a {method_name} checkpoint trained for {trained} cannot be reported as {tested}: "
            f"training for {tested} differs in {fields}; train that setting instead"
        )


# ---------------------------------------------------------------------------------------------
# Command-line flags from a config dataclass


def field_docs(cfg_class: type) -> dict[str, str]:
    """Attribute docstrings of a dataclass (the string literal under each field), first line."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cfg_class)))
    except (OSError, TypeError, SyntaxError):
        return {}
    docs: dict[str, str] = {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    for node, following in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[node.target.id] = following.value.value.strip().splitlines()[0]
    return docs


def config_flag_type(annotation: str) -> Callable[[str], Any]:
    """An argparse `type` for a config field: the text as JSON (a string field takes it as
    typed), checked against the annotation by `methods.field_value`."""

    def parse(text: str) -> Any:
        if annotation == "str":
            return text
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text  # not JSON: refused below unless the field is a string
        try:
            return methods.field_value(annotation, value)
        except ValueError as err:
            if "2**63" in str(err):
                raise argparse.ArgumentTypeError(str(err)) from None
            raise argparse.ArgumentTypeError(
                f"expected {methods.describe_type(annotation)}, got {text!r}"
            ) from None

    parse.__name__ = annotation
    return parse


def add_config_flags(parser: argparse.ArgumentParser, cfg_class: type, skip: set[str]) -> None:
    """Add one `--field-name` flag per field of `cfg_class` (bool fields get `--no-...` too).

    Flags default to "not given", so only what the user types overrides the config.

    Args:
        parser: Parser to extend.
        cfg_class: Config dataclass.
        skip: Fields the harness sets through its own flags (e.g. `seed`).
    """
    docs = field_docs(cfg_class)
    group = parser.add_argument_group(
        f"{cfg_class.__name__} fields",
        "Defaults shown are the dataclass's; the SETTING's Omniglot protocol overrides some of "
        "them (the run's summary.json lists the values used), and a flag given here overrides both.",
    )
    for f in dataclasses.fields(cfg_class):
        if f.name in skip:
            continue
        type_name = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        default = f.default if f.default is not dataclasses.MISSING else None
        text = f"{docs.get(f.name, '')} (default {default!r})".strip().replace("%", "%%")
        flag = "--" + f.name.replace("_", "-")
        kwargs: dict[str, Any] = {"dest": f"cfg__{f.name}", "default": argparse.SUPPRESS}
        if type_name == "bool":
            group.add_argument(flag, action=argparse.BooleanOptionalAction, help=text, **kwargs)
        else:
            kind = config_flag_type(type_name)
            group.add_argument(flag, type=kind, metavar=type_name.upper(), help=text, **kwargs)


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The config fields given on the command line, by field name."""
    return {k[len("cfg__") :]: v for k, v in vars(args).items() if k.startswith("cfg__")}


def make_config(cfg_class: type, values: Mapping[str, Any]) -> Any:
    """Build a config, turning its own `ValueError` into a one-line `HarnessError`."""
    try:
        return cfg_class(**values)
    except (TypeError, ValueError) as err:
        raise HarnessError(f"invalid {cfg_class.__name__}: {err}") from err


# ---------------------------------------------------------------------------------------------
# safetensors files (tensors + JSON metadata under one SHA-256)


def write_tensor_file(
    path: Path, tensors: Mapping[str, Tensor], metadata: Mapping[str, Any]
) -> None:
    """Write tensors and JSON metadata as one safetensors file (`checkpoints.save_tensors`).

    The SHA-256 recorded in the file covers the tensors and every metadata field, so
    `read_tensor_file` refuses an edited step or config.

    Args:
        path: Destination file.
        tensors: Name -> tensor (any device; stored from CPU copies).
        metadata: JSON-serialisable values.

    Raises:
        HarnessError: If the metadata is not JSON-serialisable or a tensor cannot be stored.
    """
    from reference_impl import checkpoints

    try:
        checkpoints.save_tensors(path, dict(tensors), dict(metadata))
    except ValueError as err:
        raise HarnessError(f"cannot write {path}: {err}") from err


def read_tensor_file(path: Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Read a file written by `write_tensor_file` (structure and SHA-256 checked).

    Returns:
        Name -> CPU tensor, and the metadata.

    Raises:
        HarnessError: If the file is missing, truncated, modified or not in this layout.
    """
    from reference_impl import checkpoints

    try:
        return checkpoints.load_tensors(path)
    except (OSError, ValueError) as err:
        raise HarnessError(f"cannot read {path}: {err}") from err


# ---------------------------------------------------------------------------------------------
# Provenance


def cpu_flags() -> set[str]:
    """CPU feature flags from `/proc/cpuinfo` (empty where it does not exist)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_model() -> str:
    """CPU model name from `/proc/cpuinfo`, else `platform.processor()`."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(device: str = "cpu", dtype: str = "float32") -> dict[str, Any]:
    """What a result was measured on: CPU, threads, bf16/AMX support, GPU, versions.

    Args:
        device: `"cpu"` or `"cuda"`, as used by the run.
        dtype: Training and evaluation dtype (the harness uses no autocast; `bf16_used` says so).

    Returns:
        JSON-ready dict.
    """
    flags = cpu_flags()
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu_avx2": "avx2" in flags,
        "cpu_avx512": "avx512f" in flags,
        "cpu_bf16": bool(flags & {"avx512_bf16", "amx_bf16"}),
        "cpu_amx": bool(flags & {"amx_tile", "amx_bf16", "amx_int8"}),
        "bf16_used": dtype == "bfloat16",
        "dtype": dtype,
        "device": device,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }
    if device == "cuda" and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def cuda_precision() -> dict[str, bool]:
    """Whether cuDNN convolutions and CUDA matmuls may use TF32 (PyTorch lets convolutions by
    default): on a GPU it sets how far float32 results stand from float64 ones."""
    return {
        "cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32),
        "matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
    }


def contention_note(load_before: float, load_after: float) -> str:
    """Whether other processes shared the CPU during a speed benchmark, read from the 1-minute
    load average (the benchmark's own process accounts for about 1 of it)."""
    if max(load_before, load_after) > 1.5:
        return (
            "CPU timings were taken while other processes shared the cores (see load averages); "
            "variants ran interleaved, so ratios are more reliable than seconds."
        )
    return "The machine was otherwise idle (see load averages)."


def command_line(module: str, argv: list[str]) -> str:
    """The command as a user would type it from the repository root."""
    import shlex

    return shlex.join(["python", "-m", module, *argv])


def provenance(module: str, argv: list[str] | None) -> dict[str, str]:
    """What every result file records about its making: the command, the commit, the UTC time.

    Args:
        module: The benchmark's module, e.g. `"benchmarks.bench_maml"`.
        argv: Its arguments (`None`: this process's `sys.argv[1:]`).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    return {
        "command": command_line(module, args),
        "git_commit": files.git_commit(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def relative(path: Path) -> str:
    """`path` relative to the repository when inside it (for result files), else absolute."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path.resolve())


# ---------------------------------------------------------------------------------------------
# Progress bar


def format_seconds(seconds: float) -> str:
    """`1h02m03s` / `2m03s` / `3s`."""
    if not math.isfinite(seconds):
        return "?"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class Progress:
    """A one-line progress bar: step, episodes/s, loss, last validation accuracy, ETA.

    The ETA is the time to the last update at the current rate, or, when a time budget
    (`budget_s`, seconds left when the bar starts) ends the run first, the budget left, marked
    "(budget)".

    On a terminal the line is redrawn in place (at most 10 times a second); otherwise (a log file,
    a pipe) a full line is printed every `log_every` seconds, so logs stay readable.
    """

    def __init__(
        self,
        total: int,
        *,
        start: int = 0,
        episodes_per_step: int = 1,
        stream: TextIO | None = None,
        log_every: float = 30.0,
        enabled: bool = True,
        budget_s: float = math.inf,
    ) -> None:
        self.total, self.start, self.episodes_per_step = total, start, episodes_per_step
        self.budget_s = budget_s  # seconds left of a time budget when the bar starts
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.log_every, self.enabled = log_every, enabled
        self.t0 = time.perf_counter()
        self.last_draw = -math.inf
        self.loss = math.nan
        self.val: float | None = None

    def line(self, step: int) -> str:
        """The text of the bar after `step` updates."""
        done = step - self.start
        elapsed = time.perf_counter() - self.t0
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - step) / rate if rate > 0 else math.inf
        budget_left = max(self.budget_s - elapsed, 0.0)
        ends = " (budget)" if budget_left < eta else ""
        width = 24
        filled = int(width * step / max(self.total, 1))
        bar = "#" * filled + "." * (width - filled)
        val = f"{100 * self.val:.2f}%" if self.val is not None else "-"
        return (
            f"[{bar}] {step}/{self.total} | {rate * self.episodes_per_step:.1f} episodes/s | "
            f"loss {self.loss:.4f} | val {val} | ETA {format_seconds(min(eta, budget_left))}{ends}"
        )

    def update(self, step: int, loss: float, *, force: bool = False) -> None:
        """Record the loss after `step` updates and redraw if due."""
        self.loss = loss
        if not self.enabled:
            return
        now = time.perf_counter()
        due = (now - self.last_draw) >= (0.1 if self.tty else self.log_every)
        if force or due or step == self.total:
            self.last_draw = now
            end = "" if self.tty else "\n"
            prefix = "\r\033[K" if self.tty else ""
            self.stream.write(prefix + self.line(step) + end)
            self.stream.flush()

    def message(self, text: str) -> None:
        """Print a full line (e.g. a validation result) without breaking the bar."""
        if not self.enabled:
            return
        self.stream.write(("\r\033[K" if self.tty else "") + text + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line on a terminal."""
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


class EvalProgress(Progress):
    """Evaluation's progress line: episodes done, running accuracy, episodes/s, ETA.

    Same drawing rules as `Progress` (in place on a terminal, else a line every `log_every`
    seconds, default 10); `update(done, accuracy)` takes the running accuracy.
    """

    def __init__(self, total: int, **kwargs: Any) -> None:
        kwargs.setdefault("log_every", 10.0)
        super().__init__(total, **kwargs)
        self.accuracy = math.nan

    def line(self, step: int) -> str:
        """The text after `step` episodes."""
        elapsed = time.perf_counter() - self.t0
        rate = (step - self.start) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - step) / rate if rate > 0 else math.inf
        filled = int(24 * step / max(self.total, 1))
        return (
            f"[{'#' * filled}{'.' * (24 - filled)}] {step}/{self.total} episodes | "
            f"accuracy {100 * self.accuracy:.2f}% | {rate:.1f} episodes/s | "
            f"ETA {format_seconds(eta)}"
        )

    def update(self, step: int, accuracy: float, *, force: bool = False) -> None:
        """Record the running accuracy after `step` episodes and redraw if due."""
        self.accuracy = accuracy
        super().update(step, math.nan, force=force)


# ---------------------------------------------------------------------------------------------
# Episodes and evaluation: the shared modules of the data layer


def fixed_episodes(
    data: Tensor, n_way: int, k_shot: int, n_query: int, num_episodes: int, seed: int
) -> Any:
    """`reference_impl.evaluation.fixed_episodes`: the same episodes for every model (lazy)."""
    from reference_impl import evaluation

    try:
        return evaluation.fixed_episodes(data, n_way, k_shot, n_query, num_episodes, seed)
    except ValueError as err:
        raise HarnessError(
            f"cannot draw {n_way}-way {k_shot}-shot evaluation episodes: {err}"
        ) from err


def evaluate_prefixes(
    predict: Any,
    episodes: Any,
    counts: list[int],
    on_episode: Callable[[int, float], None] | None = None,
) -> tuple[list[dict[str, float]], list[float]]:
    """Score `predict` once on the longest prefix and report each count's first episodes.

    `fixed_episodes` is prefix-stable (the first 600 of 1000 episodes are the 600-episode set),
    so the 600- and 1000-episode figures of one run share their first 600 episodes.

    Args:
        predict: The shared predictor signature.
        episodes: Prefix-stable episodes, e.g. from `fixed_episodes`.
        counts: Episode counts to report.
        on_episode: Called as `on_episode(done, running_accuracy)` after every episode.

    Returns:
        One `{"episodes", "accuracy", "ci95"}` per count, in the order given, and the accuracy
        of every episode scored (the longest count), in order.
    """
    from reference_impl import evaluation

    chosen = episodes[: max(counts)]
    if on_episode is None:
        per_episode = evaluation.evaluate_predictor(predict, chosen).per_episode
    else:
        per_episode = []
        for episode in chosen:  # one at a time: the same numbers, with a running accuracy
            per_episode.extend(evaluation.evaluate_predictor(predict, [episode]).per_episode)
            on_episode(len(per_episode), math.fsum(per_episode) / len(per_episode))
    out = []
    for count in counts:
        part = per_episode[:count]
        accuracy = math.fsum(part) / len(part)
        out.append(
            {
                "episodes": len(part),
                "accuracy": accuracy,
                "ci95": evaluation.confidence_interval95(part),
            }
        )
    return out, per_episode
