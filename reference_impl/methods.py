r"""The one method table: every method the package knows, and what each algorithm file provides.

Checkpoints, the training harness, evaluation, task shift and the health report find a method
here and nowhere else. A row names the algorithm module (imported normally, so the import graph
shows every algorithm file connected through this table), its config class, its Omniglot preset
and the functions the infrastructure calls.

**The contract of an algorithm file.** A module in the table is one file importing only the
standard library and `torch` (`tests/test_standalone.py`), and defines:

| Name | What the infrastructure relies on |
|---|---|
| `<Algo>Config` | Frozen dataclass of hyperparameters with `seed`, `train_steps` (updates in `train`) and `outer_lr` (Adam step size); episodic methods also `n_way`, `k_shot`, `n_query`, `meta_batch_size` |
| `omniglot_config(n_way, k_shot, ...)` | The config of the method's paper protocol for an N-way K-shot Omniglot test setting (Conv-4 on `(1, 28, 28)` images) |
| `build_model(cfg)` | The `nn.Module` whose `state_dict()` a checkpoint stores |
| `train_step(model, optimizer, batch, cfg)` | One update; returns `{"loss": ...}` (plus anything else it measures); raises `ValueError` without updating on a non-finite loss. `batch` is `(support_x, support_y, query_x, query_y)` with a leading `T` for episodic methods, `(x, y)` class batches otherwise |
| `make_predict(model, cfg)` | `predict(support_x, support_y, query_x) -> logits (N*Q, N)` for one episode (`reference_impl.evaluation.Predict`) |
| `embed(model, x, cfg)` (optional) | Frozen features `(B, D)` of inputs `(B, *x_shape)`, for the task-shift score |
| `learning_rate(cfg, step)` (optional) | The step-size schedule the harness applies before each update |

Episodes use labels `0..N-1` and `N` is one more than the largest support label; each file
validates its inputs once, at its public entry points.

**Adding a method** is its algorithm file, one `Method` row in `METHODS`, its page and its tests
(README, "Adding a method"). `tests/test_methods.py` trains every row for two updates, checkpoints
it, reloads it through `reference_impl.checkpoints.load_predictor` and evaluates it, so a method
missing anywhere fails the suite. `register` adds a row at run time (tests, extensions); it goes
through the same table.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from torch import Tensor, nn

from reference_impl import baseline, fast_weights, maml, protonet
from reference_impl.evaluation import Predict


@dataclass(frozen=True)
class Method:
    """One row of the method table."""

    name: str
    """Name on the command line and in result files (e.g. `"fomaml"`)."""
    module: ModuleType
    """The algorithm file. Checkpoints store its short name (`algorithm`), so a FOMAML
    checkpoint says `"maml"` and is rebuilt by the `maml` row."""
    config_class: type[Any]
    """The module's config dataclass."""
    omniglot: Callable[[int, int, int], Any]
    """`(n_way, k_shot, training classes) -> config`: the method's Omniglot protocol."""
    build_model: Callable[[Any], nn.Module]
    """`build_model(cfg)`."""
    train_step: Callable[..., Mapping[str, float]]
    """`train_step(model, optimizer, batch, cfg) -> {"loss": ...}`."""
    make_predict: Callable[..., Predict]
    """`make_predict(model, cfg) -> predict`."""
    embed: Callable[..., Tensor] | None = None
    """`embed(model, x, cfg) -> (B, D)` features, or None where the method has none."""
    learning_rate: Callable[[Any, int], float] | None = None
    """`learning_rate(cfg, step)`, or None for a constant `outer_lr`."""
    fixed: Mapping[str, Any] = field(default_factory=dict)
    """Config fields this name pins, applied after every flag (`first_order=True` for FOMAML)."""
    cuda_defaults: Mapping[str, Any] = field(default_factory=dict)
    """Config fields the harness sets when training on a GPU, before the flags (MAML's batched
    path, `path="fast"`)."""
    episodic: bool = True
    """Trained on episodes; `False`: on labelled class batches `(x, y)` (the baseline)."""
    test_episodes: int = 1000
    """Default number of test episodes: 600 for MAML (its code), 1000 otherwise (ProtoNets)."""
    test_only: tuple[str, ...] = ()
    """Config fields training never reads, so a checkpoint trained for one setting may be tested
    in another whose protocol differs only in these (`benchmarks.common.transferable_setting`)."""

    def __post_init__(self) -> None:
        if not (
            isinstance(self.config_class, type) and dataclasses.is_dataclass(self.config_class)
        ):
            raise ValueError(f"method {self.name!r}: config_class must be a dataclass")
        names = {f.name for f in dataclasses.fields(self.config_class)}
        needed = {"seed", "train_steps", "outer_lr"}
        if self.episodic:
            needed |= {"n_way", "k_shot", "n_query", "meta_batch_size"}
        unknown = (needed | set(self.test_only) | set(self.fixed) | set(self.cuda_defaults)) - names
        if unknown:
            raise ValueError(
                f"method {self.name!r}: {self.config_class.__name__} lacks the fields "
                f"{sorted(unknown)} the table relies on"
            )

    @property
    def algorithm(self) -> str:
        """Short name of the algorithm file (`"maml"` for `fomaml`): what checkpoints store."""
        return self.module.__name__.rpartition(".")[2]


def _maml_row(name: str, first_order: bool) -> Method:
    return Method(
        name=name,
        module=maml,
        config_class=maml.MAMLConfig,
        omniglot=lambda n_way, k_shot, classes: maml.omniglot_config(
            n_way, k_shot, first_order=first_order
        ),
        build_model=maml.build_model,
        train_step=maml.train_step,
        make_predict=maml.make_predict,
        embed=maml.embed,
        fixed={"first_order": first_order},
        cuda_defaults={"path": "fast"},
        test_episodes=600,
        test_only=("test_inner_steps",),
    )


METHODS: dict[str, Method] = {
    "maml": _maml_row("maml", first_order=False),
    "fomaml": _maml_row("fomaml", first_order=True),
    "protonet": Method(
        name="protonet",
        module=protonet,
        config_class=protonet.ProtoNetConfig,
        omniglot=lambda n_way, k_shot, classes: protonet.omniglot_config(n_way, k_shot),
        build_model=protonet.build_model,
        train_step=protonet.train_step,
        make_predict=protonet.make_predict,
        embed=protonet.embed,
        learning_rate=protonet.learning_rate,
        test_only=("test_n_way", "test_n_query"),
    ),
    "fast_weights": Method(
        name="fast_weights",
        module=fast_weights,
        config_class=fast_weights.FastWeightsConfig,
        omniglot=lambda n_way, k_shot, classes: fast_weights.omniglot_config(n_way, k_shot),
        build_model=fast_weights.build_model,
        train_step=fast_weights.train_step,
        make_predict=fast_weights.make_predict,
        embed=fast_weights.embed,
    ),
    "baseline": Method(
        name="baseline",
        module=baseline,
        config_class=baseline.BaselineConfig,
        omniglot=lambda n_way, k_shot, classes: baseline.omniglot_config(
            n_way, k_shot, num_classes=classes
        ),
        build_model=baseline.build_model,
        train_step=baseline.train_step,
        make_predict=baseline.make_predict,
        embed=baseline.embed,
        episodic=False,
        test_only=("n_way", "k_shot"),
    ),
}
"""The method table: name -> `Method`."""


def get(name: str) -> Method:
    """The row of method `name`.

    Raises:
        ValueError: If `name` is not in the table (the message lists the names that are).
    """
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; expected one of {', '.join(METHODS)}")
    return METHODS[name]


def register(method: Method, *, replace: bool = False) -> None:
    """Add a row to the table at run time (tests, extensions outside this package).

    Args:
        method: The row; its `name` is the key.
        replace: Allow replacing an existing, different row.

    Raises:
        ValueError: If the name is taken by another row and `replace` is False, or a checkpoint
            of the method could not be rebuilt (its `algorithm` names a row of another module).
    """
    if METHODS.get(method.name, method) != method and not replace:
        raise ValueError(f"method {method.name!r} is already in the table; pass replace=True")
    owner = METHODS.get(method.algorithm)
    if method.algorithm != method.name and (owner is None or owner.module is not method.module):
        raise ValueError(
            f"method {method.name!r}: checkpoints store {method.algorithm!r}, which must be a "
            "row of the same module"
        )
    METHODS[method.name] = method


def unregister(name: str) -> None:
    """Remove a row added with `register`.

    Raises:
        ValueError: If `name` is not in the table.
    """
    get(name)
    del METHODS[name]


RENAMED_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "MAMLConfig": {
        "filters": ("conv_channels",), "meta_steps": ("train_steps",), "task": ("backbone",),
    },
    "ProtoNetConfig": {
        "hidden_channels": ("conv_channels",), "embedding": ("backbone",),
        "train_episodes": ("train_steps",),
    },
    "FastWeightsConfig": {
        "hidden": ("conv_channels", "mlp_hidden"), "encoder": ("backbone",),
        "meta_steps": ("train_steps",),
    },
    "BaselineConfig": {"hidden_dim": ("mlp_hidden",), "lr": ("outer_lr",), "input_dim": ("x_dim",)},
}  # fmt: skip
"""Config fields renamed when the algorithm files got one vocabulary: stored name -> new name(s).
Published checkpoints and result files keep their old names; `upgrade_fields` reads them."""

RENAMED_VALUES: dict[tuple[str, str], dict[Any, Any]] = {
    ("MAMLConfig", "task"): {"sinusoid": "mlp", "omniglot": "conv4"},
}
"""Values that changed with a renamed field: MAML's `task` named the data, `backbone` the network."""


def upgrade_fields(config_class_name: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Stored config fields under today's names (`RENAMED_FIELDS`, `RENAMED_VALUES`).

    Args:
        config_class_name: The stored config class, e.g. `"MAMLConfig"`.
        fields: Field name -> value, possibly with old names.

    Returns:
        The same fields under the current names; fields already current are kept.

    Raises:
        ValueError: If a config holds both an old name and the name it became.
    """
    renames = RENAMED_FIELDS.get(config_class_name, {})
    upgraded: dict[str, Any] = {}
    for name, value in fields.items():
        values = RENAMED_VALUES.get((config_class_name, name))
        for new in renames.get(name, (name,)):
            if new != name and new in fields:
                raise ValueError(f"{config_class_name} config has both {name!r} and {new!r}")
            upgraded[new] = values.get(value, value) if values else value
    return upgraded


def config_to_json(cfg: Any) -> dict[str, Any]:
    """A config dataclass as JSON-ready fields (tuples become lists, at every depth).

    Args:
        cfg: A config dataclass instance.

    Returns:
        Field name -> JSON value; `config_from_json` inverts it.
    """
    as_json: dict[str, Any] = json.loads(json.dumps(dataclasses.asdict(cfg)))
    return as_json


INT_LIMIT = 2**63
"""Integer config fields lie strictly between `-INT_LIMIT` and `INT_LIMIT` (torch's int64)."""


def _split_top_level(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def describe_type(annotation: str) -> str:
    """A config field's annotation in words, as error messages name it (`"a list of integers"`).

    Args:
        annotation: The field's annotation text, e.g. `"tuple[int, ...]"` or `"bool | None"`.
    """
    text = annotation.replace(" ", "")
    words = {"int": "an integer", "float": "a finite number", "str": "a string",
             "bool": "true or false", "bool|None": "true, false or null"}  # fmt: skip
    if text in words:
        return words[text]
    if text.endswith("|None"):
        return f"{describe_type(text[: -len('|None')])} or null"
    if text.startswith("tuple[") and text.endswith("]"):
        items = _split_top_level(text[len("tuple[") : -1])
        plural = {"int": "integers", "float": "numbers", "str": "strings", "bool": "booleans"}
        if items[-1] == "...":
            return f"a list of {plural.get(items[0], describe_type(items[0]))}"
        if len(set(items)) == 1 and items[0] in plural:
            count = {2: "two", 3: "three"}.get(len(items), str(len(items)))
            return f"a list of {count} {plural[items[0]]}"
        return "a list [" + ", ".join(describe_type(i) for i in items) + "]"
    return annotation


def field_value(annotation: str, value: Any) -> Any:
    """`value` (as JSON gives it) checked against a config field's annotation.

    Handles the annotations config dataclasses use: `int`, `float`, `str`, `bool`, `X | None`,
    `tuple[X, ...]` and `tuple[X, Y, ...]`, nested. Lists become tuples, integers given for a
    `float` become floats; anything else is refused, so a stored `true` never becomes a shape
    and a `NaN` never a step size.

    Args:
        annotation: The field's annotation text (the dataclass field's `type`).
        value: A JSON value.

    Returns:
        The value as the config holds it.

    Raises:
        ValueError: `"expected <type in words>, got <value>"`, or the integer range.
    """
    text = annotation.replace(" ", "")
    wrong = ValueError(
        f"expected {describe_type(annotation)}, got {json.dumps(value, default=repr)}"
    )
    if text.endswith("|None") and value is None:
        return None
    if text.endswith("|None"):
        try:
            return field_value(text[: -len("|None")], value)
        except ValueError:
            raise wrong from None
    if text.startswith("tuple[") and text.endswith("]"):
        items = _split_top_level(text[len("tuple[") : -1])
        if not isinstance(value, list | tuple):
            raise wrong
        kinds = [items[0]] * len(value) if items[-1] == "..." else items
        if len(kinds) != len(value):
            raise wrong
        try:
            return tuple(field_value(k, v) for k, v in zip(kinds, value, strict=True))
        except ValueError:
            raise wrong from None
    if text == "bool" and isinstance(value, bool):
        return value
    if text == "str" and isinstance(value, str):
        return value
    if text in ("int", "float") and isinstance(value, int) and not isinstance(value, bool):
        if not -INT_LIMIT < value < INT_LIMIT:
            raise ValueError(f"must be < 2**63 in magnitude, got {value}")
        return float(value) if text == "float" else value
    if text == "float" and isinstance(value, float) and math.isfinite(value):
        return value
    raise wrong


def config_from_json(config_class: type[Any], fields: Mapping[str, Any]) -> Any:
    """Rebuild a config from `config_to_json` fields, each checked against its annotation.

    Fields missing from `fields` take the dataclass defaults (configs stored before a field was
    added still load), and renamed fields are read under their new names (`upgrade_fields`).
    Values go through `field_value`: JSON lists become tuples, and a value of the wrong type
    (a `true` where a shape belongs, a string where a number does) is refused by name.

    Args:
        config_class: The config dataclass.
        fields: Field name -> JSON value.

    Returns:
        The config instance.

    Raises:
        ValueError: If `fields` names a field `config_class` does not have, a value does not
            fit its field's type (`"<field>: expected ..."`), or the config's own checks refuse
            a value.
    """
    if not isinstance(fields, Mapping):
        raise ValueError(f"a {config_class.__name__} is stored as a JSON object, got {fields!r}")
    fields = upgrade_fields(config_class.__name__, fields)
    annotations = {f.name: str(f.type) for f in dataclasses.fields(config_class)}
    unknown = sorted(set(fields) - set(annotations))
    if unknown:
        raise ValueError(f"{config_class.__name__} has no fields {unknown}")
    values = {}
    for name, value in fields.items():
        try:
            values[name] = field_value(annotations[name], value)
        except ValueError as err:
            raise ValueError(f"{config_class.__name__}.{name}: {err}") from None
    return config_class(**values)
