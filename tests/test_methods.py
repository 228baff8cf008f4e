"""Every row of the method table works everywhere: training, checkpoints, evaluation, task shift.

Each method trains for two updates through the command line on Omniglot-shaped synthetic
characters, its checkpoint is reloaded through `load_predictor` and evaluated through the
evaluation command, so a method added to the table but missing anywhere fails here.
"""

from __future__ import annotations

import json
import math
import shlex
from pathlib import Path

import pytest
import torch

from benchmarks import common, evaluate, task_shift, train
from reference_impl import checkpoints, evaluation, methods

SMALL = {
    "maml": ["--filters", "4", "--meta-batch-size", "2"],
    "fomaml": ["--filters", "4", "--meta-batch-size", "2"],
    "protonet": ["--hidden-channels", "4"],
    "fast_weights": ["--hidden", "4", "--meta-batch-size", "2"],
    "baseline": ["--conv-channels", "4", "--batch-size", "16"],
}
"""Smaller networks than the Omniglot protocol's, so two updates take a fraction of a second."""

EPISODES = 6


@pytest.mark.parametrize("name", list(methods.METHODS))
def test_every_method_trains_checkpoints_reloads_and_evaluates(name: str, tmp_path: Path) -> None:
    method = methods.METHODS[name]
    run = tmp_path / "run"
    flags = [name, "5w1s", "--data", "synthetic", "--episodes", "2", "--val-episodes", "0"]
    flags += ["--threads", "1", "--quiet", "--out", str(run), *SMALL.get(name, [])]
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
