"""Tests of `benchmarks.evaluate` beyond the headline: per-episode counts, running-average batch
norm, publishing exactly one verified file, and refusing a checkpoint labelled as another method.

Every refusal also asserts that nothing under `benchmarks/results/` changed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

from benchmarks import common, evaluate, train
from benchmarks.common import HarnessError
from reference_impl import checkpoints, evaluation

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "protonet", "5w1s", "--data", "synthetic", "--conv-channels", "4", "--n-way", "5",
    "--threads", "1", "--quiet", "--val-episodes", "0", "--episodes", "2",
]  # fmt: skip


def results_snapshot() -> dict[str, str]:
    """SHA-256 of every file under benchmarks/results/."""
    folder = REPO / "benchmarks" / "results"
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("run")
    assert train.main([*TINY, "--out", str(run)]) == 0
    return run / train.MODEL_FILE


def synthetic_test_part() -> torch.Tensor:
    args = argparse.Namespace(data="synthetic", data_root=None, split="maml")
    return train.load_part(args, "test", torch.float32)


def relabel(source: Path, target: Path, **changes: object) -> Path:
    """A copy of a checkpoint with edited description fields, signed anew (a consistent file
    that lies about itself, as a careless script would write it)."""
    state, description = checkpoints.load_tensors(source)
    extra = {**description["extra"], **changes.pop("extra", {})}  # type: ignore[dict-item]
    return checkpoints.save_tensors(target, state, {**description, **changes, "extra": extra})


# ---------------------------------------------------------------- per-episode counts
def test_result_keeps_the_correct_queries_of_every_episode(
    tiny_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.json"
    assert evaluate.main([str(tiny_model), "--episodes", "6", "4", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    correct, queries = result["per_episode_correct"], result["queries_per_episode"]
    assert queries == 5 * common.TEST_QUERIES and len(correct) == 6
    episodes = common.fixed_episodes(synthetic_test_part(), 5, 1, common.TEST_QUERIES, 6, 0)
    scored = evaluation.evaluate_predictor(checkpoints.load_predictor(tiny_model), episodes)
    assert [c / queries for c in correct] == scored.per_episode  # exact fractions
    for evaluated in result["evaluations"]:  # each count is a prefix of the same list
        part = [c / queries for c in correct[: evaluated["episodes"]]]
        assert evaluated["accuracy"] == pytest.approx(math.fsum(part) / len(part), abs=1e-15)
        assert evaluated["ci95"] == pytest.approx(evaluation.confidence_interval95(part), abs=1e-15)
    text = out.read_text()
    assert f'"per_episode_correct": {json.dumps(correct, separators=(",", ":"))}' in text
    assert result["batch_norm"] == "episode" and "running_bn" not in result
    state, description = checkpoints.load_tensors(tiny_model)
    text = json.dumps(description, sort_keys=True, allow_nan=False)
    assert result["checkpoint_sha256"] == checkpoints.content_sha256(state, text)


# ---------------------------------------------------------------- running-average batch norm
def test_with_running_batch_norm_uses_the_average_of_the_calibration_batch_statistics() -> None:
    """Closed form: after calibration on batches b, eval-mode batch norm computes
    (x - mean_b mu_b) / sqrt(mean_b var_b + eps) * w + c, with var_b the unbiased variance."""
    torch.manual_seed(0)
    norm = nn.BatchNorm1d(3, track_running_stats=False).double()
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([1.0, 2.0, -0.5], dtype=torch.float64))
        norm.bias.copy_(torch.tensor([0.1, 0.0, 3.0], dtype=torch.float64))
    model = nn.Sequential(nn.Identity(), norm)
    batches = [torch.randn(n, 3, dtype=torch.float64) * (n + 1) + n for n in (4, 7, 5)]
    calibrated = evaluate.with_running_batch_norm(model, batches, lambda m, x: m(x))
    mean = torch.stack([b.mean(0) for b in batches]).mean(0)
    var = torch.stack([b.var(0, unbiased=True) for b in batches]).mean(0)
    x = torch.randn(2, 3, dtype=torch.float64)
    expected = (x - mean) / torch.sqrt(var + norm.eps) * norm.weight + norm.bias
    torch.testing.assert_close(calibrated(x), expected, rtol=1e-12, atol=1e-12)
    one = calibrated(x[:1])  # eval mode: a query no longer depends on its batch
    torch.testing.assert_close(one, expected[:1], rtol=1e-12, atol=1e-12)
    assert not model[1].track_running_stats and model.training  # the original is unchanged


def test_batch_norm_both_pairs_running_and_episode_statistics_on_the_same_episodes(
    tiny_model: Path, tmp_path: Path
) -> None:
    both, plain = tmp_path / "both.json", tmp_path / "plain.json"
    flags = ["--episodes", "5", "--bn-batches", "3"]
    assert evaluate.main([str(tiny_model), *flags, "--batch-norm", "both", "--out", str(both)]) == 0
    assert evaluate.main([str(tiny_model), *flags, "--out", str(plain)]) == 0
    result, headline = json.loads(both.read_text()), json.loads(plain.read_text())
    assert result["accuracy"] == headline["accuracy"]  # the headline is still episode statistics
    assert result["per_episode_correct"] == headline["per_episode_correct"]
    running = result["running_bn"]
    queries = result["queries_per_episode"]
    diffs = [
        (a - b) / queries
        for a, b in zip(running["per_episode_correct"], result["per_episode_correct"], strict=True)
    ]
    assert running["difference"]["accuracy"] == pytest.approx(sum(diffs) / 5, abs=1e-15)
    assert running["difference"]["ci95"] == pytest.approx(
        evaluation.confidence_interval95(diffs), abs=1e-15
    )
    assert running["calibration"] == {
        "part": "train", "batches": 3, "seed": 0, "n_way": 5, "k_shot": 1, "n_query": 5,
    }  # fmt: skip
    # the running numbers are what a model with those statistics predicts, episode by episode
    model, cfg = checkpoints.load_model(tiny_model)
    train_part = train.load_part(
        argparse.Namespace(data="synthetic", data_root=None, split="maml"), "train", torch.float32
    )
    calibration = common.fixed_episodes(train_part, 5, 1, 5, 3, 0)
    from reference_impl import protonet

    calibrated = evaluate.with_running_batch_norm(
        model,
        [torch.cat([e.support_x, e.query_x]) for e in calibration],
        lambda m, x: protonet.embed(m, x, cfg),
    )
    episodes = common.fixed_episodes(synthetic_test_part(), 5, 1, common.TEST_QUERIES, 5, 0)
    scored = evaluation.evaluate_predictor(protonet.make_predict(calibrated, cfg), episodes)
    assert [c / queries for c in running["per_episode_correct"]] == scored.per_episode


def test_running_batch_norm_is_refused_for_maml_in_one_line(
    tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from reference_impl import maml

    cfg = maml.MAMLConfig()
    model = checkpoints.save_checkpoint(
        tmp_path / "maml.safetensors", maml.build_model(cfg), "maml", cfg, split="maml", seed=0,
        extra={"harness_method": "maml", "setting": "5w1s", "data": "synthetic"},
    )  # fmt: skip
    before = results_snapshot()
    capsys.readouterr()
    out = tmp_path / "x.json"
    argv = [str(model), "--batch-norm", "running", "--out", str(out)]
    assert evaluate.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--batch-norm running applies to protonet" in err[0]
    assert evaluate.main([str(tiny_model), "--bn-batches", "0", "--out", str(out)]) == 2
    assert "--bn-batches: must be >= 1, got 0" in capsys.readouterr().err
    assert not out.exists() and results_snapshot() == before


# ---------------------------------------------------------------- method label
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"extra": {"harness_method": "maml"}}, "labelled 'maml' but holds a 'protonet' model"),
        ({"extra": {"harness_method": "nope"}}, "harness method 'nope' is unknown"),
    ],
)
def test_evaluate_refuses_a_checkpoint_labelled_as_another_method(
    tiny_model: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    changes: dict,
    message: str,
) -> None:
    """A ProtoNet labelled `maml` would be published as the MAML result: refused, before any
    work, with and without `--out`, and nothing under benchmarks/results/ changes."""
    liar = relabel(tiny_model, tmp_path / "model.safetensors", **changes)
    before = results_snapshot()
    capsys.readouterr()
    for extra_flags in ([], ["--out", str(tmp_path / "r.json")]):
        assert evaluate.main([str(liar), "--episodes", "1", *extra_flags]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0] and str(liar) in err[0], err
    assert not (tmp_path / "r.json").exists() and results_snapshot() == before


def test_evaluate_refuses_fomaml_label_on_an_exact_maml_config(tmp_path: Path) -> None:
    meta = {
        "method": "maml",
        "config": {"first_order": False},
        "extra": {"harness_method": "fomaml"},
    }
    with pytest.raises(HarnessError, match=r"labelled 'fomaml' but its config has \{'first_order'"):
        evaluate.check_method(tmp_path / "m.safetensors", meta)
    evaluate.check_method(tmp_path / "m.safetensors", {**meta, "config": {"first_order": True}})


# ---------------------------------------------------------------- publishing
@pytest.fixture
def published(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of benchmarks/results/omniglot/ that evaluate publishes into."""
    folder = tmp_path / "results" / "omniglot"
    shutil.copytree(common.OMNIGLOT_RESULTS, folder)
    monkeypatch.setattr(common, "OMNIGLOT_RESULTS", folder)
    monkeypatch.setattr(common, "CHECKPOINTS_DIR", folder / "checkpoints")
    return folder


def folder_snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_publish_copies_exactly_the_checkpoint_file_even_with_brackets_in_its_name(
    tiny_model: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run[1]"
    run.mkdir()
    source = run / "model[1].safetensors"
    shutil.copy(tiny_model, source)
    (run / "model[1].v0.json").write_text('{"stray": true}')
    (run / "model[1].json").write_text('{"old sidecar": true}')
    (run / "model[1].secret").symlink_to("/etc/hostname")
    target = tmp_path / "published" / "protonet_5w1s_maml.safetensors"
    assert evaluate.publish_checkpoint(source, target) == common.relative(target)
    assert [p.name for p in target.parent.iterdir()] == [target.name]
    loaded, original = checkpoints.load_checkpoint(target), checkpoints.load_checkpoint(tiny_model)
    assert loaded.metadata == original.metadata
    for name, tensor in original.state_dict.items():
        assert torch.equal(loaded.state_dict[name], tensor), name
    stamp = target.stat().st_mtime_ns, target.read_bytes()
    assert evaluate.publish_checkpoint(target, target) == common.relative(target)  # in place
    assert (target.stat().st_mtime_ns, target.read_bytes()) == stamp


def test_publish_refuses_symlinks_and_damaged_checkpoints_changing_nothing(
    tiny_model: Path, tmp_path: Path
) -> None:
    target = tmp_path / "published" / "protonet_5w1s_maml.safetensors"
    target.parent.mkdir()
    shutil.copy(tiny_model, target)
    before = target.read_bytes()
    link = tmp_path / "link.safetensors"
    link.symlink_to(tiny_model)
    with pytest.raises(HarnessError, match=r"checkpoint .*link\.safetensors is a symbolic link"):
        evaluate.publish_checkpoint(link, target)
    other = tmp_path / "elsewhere.safetensors"
    shutil.copy(tiny_model, other)
    linked_target = tmp_path / "published" / "linked.safetensors"
    linked_target.symlink_to(other)
    with pytest.raises(
        HarnessError, match=r"published checkpoint .*linked\.safetensors is a symbolic"
    ):
        evaluate.publish_checkpoint(tiny_model, linked_target)
    damaged = tmp_path / "damaged.safetensors"
    blob = bytearray(tiny_model.read_bytes())
    blob[-2] ^= 0x01
    damaged.write_bytes(bytes(blob))
    with pytest.raises(HarnessError, match=r"cannot publish .*damaged\.safetensors.*SHA-256 check"):
        evaluate.publish_checkpoint(damaged, target)
    assert target.read_bytes() == before and other.read_bytes() == tiny_model.read_bytes()
    assert sorted(p.name for p in target.parent.iterdir()) == ["linked.safetensors", target.name]


def test_evaluate_refuses_a_symlinked_checkpoint_before_evaluating(
    tiny_model: Path, tmp_path: Path, published: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Publishing is checked before the evaluation starts; one line, exit 2, nothing changed
    (neither the copy of the results evaluate would publish into nor benchmarks/results/)."""
    omniglot_model = relabel(tiny_model, tmp_path / "model.safetensors", extra={"data": "omniglot"})
    link = tmp_path / "link.safetensors"
    link.symlink_to(omniglot_model)
    before, before_repo = folder_snapshot(published), results_snapshot()
    capsys.readouterr()
    assert evaluate.main([str(link), "--episodes", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a symbolic link; publish the file itself" in err[0], err
    assert folder_snapshot(published) == before and results_snapshot() == before_repo
