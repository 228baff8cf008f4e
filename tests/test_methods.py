"""Every row of the method table works everywhere: training, checkpoints, evaluation, task shift.

Each method trains for two updates through the command line on Omniglot-shaped synthetic
characters, its checkpoint is reloaded through `load_predictor` and evaluated through the
evaluation command, so a method added to the table but missing anywhere fails here.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import math
import shlex
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest
import torch

from benchmarks import common, evaluate, task_shift, train
from reference_impl import baseline, checkpoints, evaluation, fast_weights, maml, methods, protonet

SMALL = {
    "maml": ["--meta-batch-size", "2"],
    "fomaml": ["--meta-batch-size", "2"],
    "fast_weights": ["--meta-batch-size", "2"],
    "baseline": ["--batch-size", "16"],
}
"""Fewer tasks or examples per update than the Omniglot protocol, so two updates stay cheap;
every method also gets `--conv-channels 4` (one vocabulary: every config has the field)."""

EPISODES = 6


@pytest.mark.parametrize("name", list(methods.METHODS))
def test_every_method_trains_checkpoints_reloads_and_evaluates(name: str, tmp_path: Path) -> None:
    method = methods.METHODS[name]
    run = tmp_path / "run"
    flags = [name, "5w1s", "--data", "synthetic", "--episodes", "2", "--val-episodes", "0"]
    flags += ["--threads", "1", "--quiet", "--out", str(run), "--conv-channels", "4"]
    flags += SMALL.get(name, [])
    assert train.main(flags) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["done"]

    # the published weights are the trained ones: equal to the resume state's, not the init's
    model, cfg = checkpoints.load_model(run / train.MODEL_FILE)
    assert isinstance(cfg, method.config_class)
    resumed, meta = common.read_tensor_file(run / train.RESUME_FILE)
    assert meta["trainer"]["step"] == 2
    torch.manual_seed(0)
    fresh = method.build_model(cfg)
    stored = model.state_dict()
    assert all(torch.equal(stored[k], resumed[f"model.{k}"]) for k in stored)
    assert any(not torch.equal(stored[k], v) for k, v in fresh.state_dict().items())

    # load_predictor gives the method's own predictor on those weights, and evaluate scores it
    data = train.synthetic_characters(32, seed=3)  # what `--data synthetic` tests on
    episodes = evaluation.fixed_episodes(data, 5, 1, common.TEST_QUERIES, EPISODES, seed=0)
    loaded = checkpoints.load_predictor(run / train.MODEL_FILE)
    own = method.make_predict(model, cfg)
    for episode in episodes[:2]:
        logits = loaded(episode.support_x, episode.support_y, episode.query_x)
        assert logits.shape == (5 * common.TEST_QUERIES, 5)
        assert torch.equal(logits, own(episode.support_x, episode.support_y, episode.query_x))
    expected = evaluation.evaluate_predictor(loaded, episodes)
    out = tmp_path / "result.json"
    argv = [str(run / train.MODEL_FILE), "--episodes", str(EPISODES), "--out", str(out)]
    assert evaluate.main([*argv, "--threads", "1"]) == 0
    result = json.loads(out.read_text())
    assert result["method"] == name and result["episodes"] == EPISODES
    assert result["accuracy"] == expected.accuracy and result["ci95"] == expected.ci95

    # where training for 20w1s is the same protocol, the model is reported there too
    try:
        common.transferable_setting(name, "5w1s", "20w1s")
    except common.HarnessError:
        assert name in ("maml", "fomaml")  # N output units: 20-way needs its own training
    else:
        other = tmp_path / "result_20w1s.json"
        argv = [str(run / train.MODEL_FILE), "--episodes", "2", "--setting", "20w1s"]
        assert evaluate.main([*argv, "--out", str(other), "--threads", "1"]) == 0
        assert json.loads(other.read_text())["n_way"] == 20

    # the task-shift score reads the method's features through the same table
    if method.embed is not None:
        features = method.embed(model, episodes[0].support_x, cfg)
        assert features.dim() == 2 and features.shape[0] == 5
        rows = task_shift.shift_rows(run / train.MODEL_FILE, episodes=2, n_way=5, k_shot=1, seed=0)
        assert [r["part"] for r in rows] == ["val", "test"]
        assert all(math.isfinite(r["mean_z"]) for r in rows)


def test_table_rows_name_their_own_module_and_store_a_rebuildable_algorithm() -> None:
    """A checkpoint stores `Method.algorithm`; that name must be a row of the same module."""
    for name, method in methods.METHODS.items():
        assert method.name == name
        assert methods.METHODS[method.algorithm].module is method.module
        assert method.config_class.__module__ == method.module.__name__
        for function in (method.build_model, method.train_step, method.make_predict):
            assert function.__module__ == method.module.__name__, (name, function)


COMMITTED = sorted(common.OMNIGLOT_RESULTS.glob("**/checkpoints/*.safetensors"))


@pytest.mark.parametrize("checkpoint", COMMITTED, ids=lambda p: p.stem)
def test_each_committed_checkpoint_config_is_its_method_preset_plus_its_recorded_flags(
    checkpoint: Path,
) -> None:
    """The Omniglot presets in the algorithm files reproduce every published training config:
    replaying a checkpoint's recorded command through the table gives the config it stores."""
    described = checkpoints.load_checkpoint(checkpoint).metadata
    command = described["extra"]["train_commands"][0]
    argv = shlex.split(command.split("benchmarks.train", 1)[1])
    args, cfg_class = train.parse_args(argv)
    classes = described["config"].get("num_classes", 0)  # the baseline's: the split's classes
    replayed = train.resolve_config(args, cfg_class, num_train_classes=classes)
    _, stored = checkpoints.load_model(checkpoint)
    assert replayed == stored


# One of each helper ----------------------------------------------------------------------------


def test_label_to_n_is_one_function_copied_verbatim_into_each_label_reading_file() -> None:
    """ProtoNets, fast weights and the baseline read N from the support labels with the same
    `check_episode` (copied, so each file stays copyable alone); MAML's N is its head's."""
    copies = {
        name: ast.dump(next(node for node in ast.parse(inspect.getsource(module)).body
                            if isinstance(node, ast.FunctionDef) and node.name == "check_episode"))
        for name, module in (("protonet", protonet), ("fast_weights", fast_weights), ("baseline", baseline))
    }  # fmt: skip
    assert len(set(copies.values())) == 1, sorted(copies)
    labels = torch.tensor([2, 0, 1, 1])
    x = torch.randn(4, 3)
    assert {m.check_episode(x, labels, x) for m in (protonet, fast_weights, baseline)} == {3}
    # the shared evaluation reads N the same way
    episodes = [(x, labels, x, labels)]
    result = evaluation.evaluate_predictor(lambda sx, sy, qx: torch.zeros(len(qx), 3), episodes)
    assert result.episodes == 1


@pytest.mark.parametrize("module", [protonet, baseline], ids=["protonet", "baseline"])
def test_algorithm_file_ci95_is_the_evaluation_modules_formula(module: ModuleType) -> None:
    """An algorithm file's own `evaluate` reports the CI of `evaluation.confidence_interval95`
    (population std); recomputed here from the same episodes' accuracies."""
    torch.manual_seed(0)
    if module is protonet:
        cfg = replace(protonet.ProtoNetConfig.synthetic(), test_episodes=7)
        model = protonet.build_model(cfg)
        source = protonet.make_sampler(cfg, "test", n_way=5, n_query=3, meta_batch_size=1)
        drawn: list[tuple[torch.Tensor, ...]] = []

        def recorded(generator: torch.Generator) -> tuple[torch.Tensor, ...]:
            drawn.append(source(generator))
            return drawn[-1]

        reported = protonet.evaluate(model, cfg, recorded)
        episodes = [tuple(t[0] for t in batch) for batch in drawn]
    else:
        cfg = baseline.BaselineConfig(eval_tasks=7)
        model = baseline.build_model(cfg)
        world = baseline.make_world(cfg)
        batch = baseline.sample_tasks(cfg, world, 7, torch.Generator().manual_seed(1))
        reported = baseline.evaluate(model, cfg, batch)
        episodes = [tuple(parts) for parts in zip(*batch, strict=True)]
    predict = module.make_predict(model, cfg)
    expected = evaluation.evaluate_predictor(predict, episodes)
    assert len(set(expected.per_episode)) > 1  # the CI is not trivially zero
    assert reported["accuracy"] == pytest.approx(expected.accuracy, rel=1e-12)
    assert reported["ci95"] == pytest.approx(expected.ci95, rel=1e-12)


def test_config_json_round_trip_turns_lists_into_tuples_at_every_depth() -> None:
    """Lists become tuples at the depth the annotation gives; a list where an int belongs is refused."""
    cfg = maml.MAMLConfig(hidden_sizes=(8, 4), x_range=(-1.0, 2.0))
    fields = methods.config_to_json(cfg)
    assert fields["hidden_sizes"] == [8, 4] and json.loads(json.dumps(fields)) == fields
    assert methods.config_from_json(maml.MAMLConfig, fields) == cfg
    with pytest.raises(
        ValueError, match=r"hidden_sizes: expected a list of integers, got \[\[1\], \[2\]\]"
    ):
        methods.config_from_json(maml.MAMLConfig, {**fields, "hidden_sizes": [[1], [2]]})
    nested = methods.field_value("tuple[tuple[int, int], ...]", [[1, 2], [3, 4]])
    assert nested == ((1, 2), (3, 4))
    with pytest.raises(ValueError, match=r"MAMLConfig has no fields \['nope'\]"):
        methods.config_from_json(maml.MAMLConfig, {**fields, "nope": 1})


HELPERS = {
    "atomic_write": "reference_impl/files.py",
    "atomic_write_json": "reference_impl/files.py",
    "git_commit": "reference_impl/files.py",
    "config_from_json": "reference_impl/methods.py",
    "config_to_json": "reference_impl/methods.py",
    "confidence_interval95": "reference_impl/evaluation.py",
    "Predict": "reference_impl/evaluation.py",
}
"""Each helper is defined once; every other module imports it."""


def test_each_helper_is_defined_in_exactly_one_module() -> None:
    repo = Path(__file__).resolve().parents[1]
    sources = [*repo.glob("reference_impl/*.py"), *repo.glob("benchmarks/*.py")]
    sources += repo.glob("docs/snippets/*.py")
    found: dict[str, list[str]] = {name: [] for name in HELPERS}
    for path in sources:
        for node in ast.parse(path.read_text()).body:
            targets = [node.name] if isinstance(node, ast.FunctionDef | ast.ClassDef) else []
            if isinstance(node, ast.Assign):
                targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            for name in {t.lstrip("_") for t in targets} & set(HELPERS):  # private copies too
                found[name].append(str(path.relative_to(repo)))
    assert found == {name: [where] for name, where in HELPERS.items()}


def test_renamed_fields_map_old_stored_names_onto_current_fields() -> None:
    """Old names are no longer fields and map onto fields that exist; a stored old config
    rebuilds the same config as one written with today's names."""
    classes = {m.config_class.__name__: m.config_class for m in methods.METHODS.values()}
    for class_name, renames in methods.RENAMED_FIELDS.items():
        current = {f.name for f in dataclasses.fields(classes[class_name])}
        for old, new in renames.items():
            assert old not in current and set(new) <= current, (class_name, old)
    old_maml = {"task": "omniglot", "filters": 8, "meta_steps": 3, "n_way": 5}
    assert methods.config_from_json(maml.MAMLConfig, old_maml) == maml.MAMLConfig(
        backbone="conv4", conv_channels=8, train_steps=3
    )
    assert methods.upgrade_fields("MAMLConfig", {"task": "sinusoid"}) == {"backbone": "mlp"}
    assert methods.upgrade_fields("FastWeightsConfig", {"hidden": 6, "key_dim": 5}) == {
        "conv_channels": 6, "mlp_hidden": 6, "key_dim": 5,
    }  # fmt: skip
    with pytest.raises(ValueError, match="both 'lr' and 'outer_lr'"):
        methods.upgrade_fields("BaselineConfig", {"lr": 0.1, "outer_lr": 0.2})


@pytest.mark.parametrize("checkpoint", COMMITTED, ids=lambda p: p.stem)
def test_committed_checkpoint_configs_use_only_known_old_or_current_names(
    checkpoint: Path,
) -> None:
    described = checkpoints.load_checkpoint(checkpoint).metadata
    row = methods.METHODS[described["method"]]
    upgraded = methods.upgrade_fields(described["config_class"], described["config"])
    assert set(upgraded) <= {f.name for f in dataclasses.fields(row.config_class)}


def test_maml_trains_on_the_batched_path_on_a_gpu_unless_told_otherwise() -> None:
    """`cuda_defaults` apply before the flags: `--device cuda` picks `path="fast"` for both MAML
    rows, `--path exact` still wins, and CPU runs keep the exact path the presets give."""
    for name in ("maml", "fomaml"):
        for extra, path in (([], "exact"), (["--device", "cuda"], "fast")):
            args, cfg_class = train.parse_args([name, "5w1s", *extra])
            assert train.resolve_config(args, cfg_class, num_train_classes=100).path == path
        args, cfg_class = train.parse_args([name, "5w1s", "--device", "cuda", "--path", "exact"])
        assert train.resolve_config(args, cfg_class, num_train_classes=100).path == "exact"
    assert [n for n, m in methods.METHODS.items() if m.cuda_defaults] == ["maml", "fomaml"]
