"""The Omniglot harness: resumable training (including after SIGKILL), flags, files, errors.

Runs use `--data synthetic` (Omniglot-shaped random strokes) and a Conv-4 with 4 filters, so each
takes well under a second of compute; the weights are compared bit for bit.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import shlex
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from benchmarks import common, evaluate, run_all, train
from reference_impl import checkpoints, files
from reference_impl.protonet import ProtoNetConfig

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "protonet", "5w1s", "--data", "synthetic", "--conv-channels", "4", "--n-way", "5",
    "--meta-batch-size", "2", "--threads", "1", "--quiet", "--val-episodes", "4",
]  # fmt: skip


def weights(path: Path) -> dict[str, torch.Tensor]:
    tensors, _ = common.read_tensor_file(path)
    return tensors


def assert_same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_train_stop_and_resume_matches_uninterrupted_run(tmp_path: Path) -> None:
    """Stopping after update 3 of 7 and resuming gives bit-identical weights, Adam state, RNG."""
    flags = [*TINY, "--episodes", "7", "--checkpoint-every", "2", "--val-every", "3"]
    assert train.main([*flags, "--out", str(tmp_path / "a")]) == 0
    assert train.main([*flags, "--out", str(tmp_path / "b"), "--stop-after", "3"]) == 0
    _, paused = common.read_tensor_file(tmp_path / "b" / train.RESUME_FILE)
    assert paused["trainer"]["step"] == 3 and not paused["done"]
    assert not (tmp_path / "b" / train.MODEL_FILE).exists()
    assert train.main([*flags, "--out", str(tmp_path / "b"), "--resume"]) == 0

    assert_same_tensors(
        weights(tmp_path / "a" / train.MODEL_FILE), weights(tmp_path / "b" / train.MODEL_FILE)
    )
    assert_same_tensors(
        weights(tmp_path / "a" / train.RESUME_FILE), weights(tmp_path / "b" / train.RESUME_FILE)
    )
    summary_a = json.loads((tmp_path / "a" / "summary.json").read_text())
    summary_b = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary_a["validation"] == summary_b["validation"]
    assert [v["step"] for v in summary_a["validation"]] == [3, 6, 7]


def test_train_records_the_commit_each_session_started_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HEAD may move while a run trains: the model names the commit checked out when each
    session started, not the one at save time."""
    flags = [*TINY, "--episodes", "4", "--val-every", "0", "--out", str(tmp_path / "r")]
    for session, extra in (("A", ["--stop-after", "2"]), ("B", ["--resume"])):
        calls = itertools.chain([session], itertools.repeat("moved"))
        monkeypatch.setattr(files, "git_commit", lambda calls=calls: next(calls))
        assert train.main([*flags, *extra]) == 0
    described = checkpoints.load_checkpoint(tmp_path / "r" / train.MODEL_FILE).metadata
    assert described["extra"]["git_commit"] == "B"
    assert described["extra"]["git_commits"] == ["A", "B"]


@pytest.mark.slow
def test_train_resume_after_sigkill_matches_uninterrupted_run(tmp_path: Path) -> None:
    """A run killed with SIGKILL mid-training continues from its last checkpoint to the same weights.

    The child checkpoints after every update; the parent kills it as soon as a checkpoint with
    step >= 2 appears, long before the 80th; the resumed and reference runs checkpoint rarely, to stay fast.
    """
    flags = [*TINY, "--episodes", "80", "--val-every", "0"]
    killed = tmp_path / "killed"
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.train",
            *flags,
            "--checkpoint-every",
            "1",
            "--out",
            str(killed),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # generous: the child imports torch first, which is slow on a loaded machine
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and child.poll() is None:
            resume = killed / train.RESUME_FILE
            if resume.exists() and common.read_tensor_file(resume)[1]["trainer"]["step"] >= 2:
                break
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
    finally:
        _, stderr = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, stderr.decode()
    _, state = common.read_tensor_file(killed / train.RESUME_FILE)
    assert 2 <= state["trainer"]["step"] < 80 and not state["done"]
    assert not (killed / train.MODEL_FILE).exists()

    rare = ["--checkpoint-every", "1000"]
    assert train.main([*flags, *rare, "--out", str(killed), "--resume"]) == 0
    assert train.main([*flags, *rare, "--out", str(tmp_path / "whole")]) == 0
    assert_same_tensors(
        weights(killed / train.MODEL_FILE), weights(tmp_path / "whole" / train.MODEL_FILE)
    )


def test_train_budget_stops_and_publishes_checkpoint(tmp_path: Path) -> None:
    """A zero-minute budget stops after the first update and still writes the final checkpoint."""
    flags = [*TINY, "--episodes", "50", "--val-every", "0", "--budget-minutes", "0"]
    assert train.main([*flags, "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["steps"] == 1 and summary["stopped_by"] == "budget" and summary["done"]
    assert (tmp_path / train.MODEL_FILE).exists()


def test_train_resume_rejects_changed_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Resuming with a different hyperparameter is a one-line error naming the field."""
    flags = [*TINY, "--episodes", "3", "--val-every", "0", "--out", str(tmp_path)]
    assert train.main([*flags, "--stop-after", "1"]) == 0
    assert train.main([*flags, "--resume", "--outer-lr", "0.5"]) == 2
    assert "outer_lr" in capsys.readouterr().err
    assert train.main(flags) == 2  # existing run without --resume
    assert "--resume" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nosuch", "5w1s"], "unknown method 'nosuch'"),
        (["protonet", "7w3s"], "unknown setting '7w3s'"),
        (["protonet"], "missing SETTING"),
        (["protonet", "5w1s", "--data-root", "/nonexistent/omniglot"], "cannot load Omniglot"),
        (["protonet", "5w1s", "--data", "synthetic", "--n-way", "500"], "500-way"),
        (
            ["protonet", "5w1s", "--checkpoint-every", "0"],
            "--checkpoint-every: must be >= 1, got 0",
        ),
        (["protonet", "5w1s", "--episodes", "0"], "--episodes: must be >= 1, got 0"),
        (["maml", "5w1s", "--data", "synthetic", "--outer-lr", "-1"], "outer_lr must be > 0, got"),
        (["baseline", "5w1s", "--data", "synthetic", "--head", "knn"], "head must be 'cosine'"),
        (["fast_weights", "5w1s", "--data", "synthetic", "--rule", "hebb"], "rule must be"),
        (["fast_weights", "5w1s", "--init-write-strength", "1"], "init_write_strength must be in"),
    ],
)
def test_train_cli_errors_are_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """User errors return 2 and print one `error:` line, no traceback."""
    assert train.main([*argv, "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_train_cli_error_in_subprocess_has_no_traceback() -> None:
    """The real command line also exits 2 with one line on an unknown method."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.train", "mamI", "5w1s"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "benchmarks.train: error: unknown method 'mamI'; expected one of "
        "maml, fomaml, protonet, fast_weights, baseline"
    )


def test_config_flags_cover_every_dataclass_field() -> None:
    """One flag per config field (seed excepted: `--seed`), typed from the annotation."""
    parser = train.build_parser(ProtoNetConfig)
    dests = {a.dest for a in parser._actions if a.dest.startswith("cfg__")}
    expected = {f"cfg__{f.name}" for f in dataclasses.fields(ProtoNetConfig)} - {"cfg__seed"}
    assert dests == expected
    args = parser.parse_args(
        ["protonet", "5w1s", "--outer-lr", "0.01", "--no-fast", "--n-way", "7"]
    )
    assert common.config_overrides(args) == {"outer_lr": 0.01, "fast": False, "n_way": 7}


@pytest.mark.parametrize("argv", [["maml", "--help"], ["maml", "20w1s", "-h"]])
def test_method_help_lists_its_config_flags(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`METHOD --help` reaches the second parser: the config's flags are listed, exit 0."""
    with pytest.raises(SystemExit) as exit_info:
        train.main(argv)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "MAMLConfig fields" in out and "--n-query INT" in out and "--inner-lr FLOAT" in out


def test_help_without_method_shows_usage(capsys: pytest.CaptureFixture[str]) -> None:
    """`--help` alone prints the harness flags (the config's need a method), exit 0."""
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--budget-minutes" in out and "fields" not in out


@pytest.mark.parametrize(
    ("setting", "n_query", "inner"), [("5w1s", 15, (1, 0.4, 32)), ("20w1s", 1, (5, 0.1, 16))]
)
def test_resolve_config_follows_maml_appendix_and_flags_override_it(
    setting: str, n_query: int, inner: tuple[int, float, int]
) -> None:
    """Appendix A.1 per setting; `--n-query 1` (the authors' code: K queries) overrides only it."""
    extra = [] if n_query == 15 else ["--n-query", str(n_query)]
    args, cfg_class = train.parse_args(["maml", setting, *extra])
    cfg = train.resolve_config(args, cfg_class, num_train_classes=4400)
    assert (cfg.inner_steps, cfg.inner_lr, cfg.meta_batch_size) == inner
    assert (cfg.backbone, cfg.n_query, cfg.k_shot) == ("conv4", n_query, 1)


@pytest.mark.parametrize(("setting", "k_shot", "n_test"), [("5w1s", 1, 5), ("20w5s", 5, 20)])
def test_resolve_config_follows_protonet_protocol(setting: str, k_shot: int, n_test: int) -> None:
    """ProtoNets on Omniglot: 60-way training, 5 queries, training shot = test shot, Conv-4."""
    args, cfg_class = train.parse_args(["protonet", setting, "--seed", "3"])
    cfg = train.resolve_config(args, cfg_class, num_train_classes=4400)
    assert (cfg.n_way, cfg.k_shot, cfg.n_query, cfg.test_n_way) == (60, k_shot, 5, n_test)
    assert (cfg.backbone, cfg.seed) == ("conv4", 3)


def test_resolve_config_sets_baseline_classes_from_data() -> None:
    """The baseline pre-trains one output per training class (rotations included)."""
    args, cfg_class = train.parse_args(["baseline", "20w1s", "--episodes", "11"])
    cfg = train.resolve_config(args, cfg_class, num_train_classes=4400)
    assert (cfg.backbone, cfg.num_classes, cfg.train_steps, cfg.n_way, cfg.k_shot) == (
        "conv4", 4400, 11, 20, 1,
    )  # fmt: skip


def test_baseline_omniglot_protocol_outlasts_a_30_minute_budget() -> None:
    """Without `--episodes`, the synthetic default (300 updates, about 3 min here) must not stop
    an Omniglot pre-training that `make bench --plan` gives 30 minutes: the protocol's step count
    covers a budget at 0.3 s per update, twice faster than this 1-thread CPU measured."""
    args, cfg_class = train.parse_args(["baseline", "5w1s"])
    cfg = train.resolve_config(args, cfg_class, num_train_classes=4400)
    assert cfg_class().train_steps < 1000
    assert cfg.train_steps * 0.3 >= run_all.BUDGET_MINUTES["baseline"] * 60


def test_tensor_file_round_trip_and_safetensors_layout(tmp_path: Path) -> None:
    """Every dtype survives; the header is 8-byte aligned JSON with contiguous byte ranges."""
    tensors = {
        "a": torch.arange(6, dtype=torch.float64).reshape(2, 3),
        "b": torch.tensor(3.5),
        "c": torch.randint(0, 255, (5,), dtype=torch.uint8),
        "d": torch.tensor([True, False]),
        "e": torch.zeros(0, 4),
        "f": torch.arange(4, dtype=torch.int64).bfloat16(),
    }
    path = tmp_path / "x.safetensors"
    common.write_tensor_file(path, tensors, {"step": 4, "nested": {"k": [1, 2]}})
    loaded, meta = common.read_tensor_file(path)
    assert meta == {"step": 4, "nested": {"k": [1, 2]}}
    for name, tensor in tensors.items():
        assert loaded[name].dtype == tensor.dtype and torch.equal(loaded[name], tensor)
    blob = path.read_bytes()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + length])
    assert length % 8 == 0 and header["a"] == {
        "dtype": "F64",
        "shape": [2, 3],
        "data_offsets": [0, 48],
    }
    ends = sorted(v["data_offsets"] for k, v in header.items() if k != "__metadata__")
    assert all(x[1] == y[0] for x, y in itertools.pairwise(ends))
    assert ends[-1][1] == len(blob) - 8 - length


def test_evaluate_writes_result_with_provenance(tmp_path: Path) -> None:
    """The result JSON holds accuracy, CI, episodes, timings, machine, versions and both commands."""
    run = tmp_path / "run"
    flags = [*TINY, "--episodes", "2", "--val-every", "0", "--out", str(run)]
    assert train.main(flags) == 0
    out = tmp_path / "result.json"
    assert (
        evaluate.main([str(run / train.MODEL_FILE), "--episodes", "6", "3", "--out", str(out)]) == 0
    )
    result = json.loads(out.read_text())
    assert (result["method"], result["setting"], result["split"]) == ("protonet", "5w1s", "maml")
    assert [e["episodes"] for e in result["evaluations"]] == [6, 3] and result["episodes"] == 6
    from reference_impl import checkpoints, evaluation

    data = train.load_part(
        argparse.Namespace(data="synthetic", data_root=None, split="maml"), "test", torch.float32
    )
    episodes = common.fixed_episodes(data, 5, 1, common.TEST_QUERIES, 6, 0)
    expected = evaluation.evaluate_predictor(
        checkpoints.load_predictor(run / train.MODEL_FILE), episodes
    )
    assert result["accuracy"] == pytest.approx(expected.accuracy, abs=1e-12)
    assert result["ci95"] == pytest.approx(expected.ci95, abs=1e-12)
    assert result["train_steps"] == 2 and result["train_seconds"] > 0
    assert {"cpu", "torch_threads", "cpu_amx", "cpu_bf16", "bf16_used"} <= result["machine"].keys()
    assert result["commands"]["train"][0].startswith("python -m benchmarks.train protonet 5w1s")
    assert result["commands"]["evaluate"].startswith("python -m benchmarks.evaluate ")
    # the 3-episode figure is the first 3 of the 6 episodes, scored once
    first3 = result["evaluations"][1]["accuracy"]
    again = tmp_path / "again.json"
    assert evaluate.main([str(run / train.MODEL_FILE), "--episodes", "3", "--out", str(again)]) == 0
    assert json.loads(again.read_text())["accuracy"] == first3


def test_evaluate_in_another_setting_scores_the_same_model_on_its_episodes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ProtoNet trained for 5w1s is reported as 20w1s; 5w5s (another training shot) is refused."""
    from reference_impl import checkpoints, evaluation

    run = tmp_path / "run"
    assert train.main([*TINY, "--episodes", "2", "--val-every", "0", "--out", str(run)]) == 0
    model = str(run / train.MODEL_FILE)
    out = tmp_path / "r20.json"
    flags = ["--episodes", "5", "--setting", "20w1s", "--out", str(out)]
    assert evaluate.main([model, *flags]) == 0
    result = json.loads(out.read_text())
    assert (result["setting"], result["trained_setting"], result["n_way"]) == ("20w1s", "5w1s", 20)
    data = train.load_part(
        argparse.Namespace(data="synthetic", data_root=None, split="maml"), "test", torch.float32
    )
    episodes = common.fixed_episodes(data, 20, 1, common.TEST_QUERIES, 5, 0)
    expected = evaluation.evaluate_predictor(checkpoints.load_predictor(model), episodes)
    assert result["accuracy"] == pytest.approx(expected.accuracy, abs=1e-12)
    capsys.readouterr()
    assert evaluate.main([model, "--setting", "5w5s", "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert "trained for 5w1s cannot be reported as 5w5s" in err and "k_shot 1 -> 5" in err
    assert "Traceback" not in err and not (tmp_path / "x.json").exists()


@pytest.mark.parametrize(
    ("method", "trained", "tested", "refused_field"),
    [
        ("protonet", "5w5s", "20w5s", None),
        ("fast_weights", "5w1s", "20w1s", None),  # both train on 20-way episodes
        ("baseline", "5w1s", "20w5s", None),  # pre-training ignores N and K
        ("maml", "5w1s", "20w1s", "n_way"),  # the classifier has N outputs
        ("protonet", "5w1s", "5w5s", "k_shot"),
    ],
)
def test_transferable_setting_follows_the_training_protocol(
    method: str, trained: str, tested: str, refused_field: str | None
) -> None:
    if refused_field is None:
        common.transferable_setting(method, trained, tested, 100)
    else:
        with pytest.raises(common.HarnessError, match=rf"differs in .*{refused_field} "):
            common.transferable_setting(method, trained, tested, 100)


def test_progress_line_shows_rate_loss_validation_and_eta() -> None:
    """The bar reports episodes/s, loss, the last validation accuracy and an ETA."""
    progress = common.Progress(100, episodes_per_step=32, enabled=False)
    progress.loss, progress.val = 0.25, 0.9731
    progress.t0 -= 10.0  # 10 s elapsed
    line = progress.line(20)
    assert "20/100" in line and "64.0 episodes/s" in line and "loss 0.2500" in line
    assert "val 97.31%" in line and "ETA 40s" in line


def test_machine_info_reads_cpu_flags() -> None:
    """bf16/AMX support is read from /proc/cpuinfo flags, not assumed."""
    info = common.machine_info()
    flags = common.cpu_flags()
    assert info["cpu_amx"] == bool(flags & {"amx_tile", "amx_bf16", "amx_int8"})
    assert info["cpu_avx2"] == ("avx2" in flags) and info["bf16_used"] is False


def _results_snippet() -> dict:
    """The namespace of docs/snippets/results_omniglot.py, as the reproduction page runs it."""
    namespace: dict = {}
    exec((REPO / "docs" / "snippets" / "results_omniglot.py").read_text(), namespace)
    return namespace


def _result(method: str, setting: str, split: str, accuracy: float) -> dict:
    return {
        "method": method, "setting": setting, "split": split, "accuracy": accuracy,
        "ci95": 0.004, "episodes": 600, "train_steps": 1234, "train_seconds": 5400.0,
        "evaluations": [{"episodes": 600, "accuracy": accuracy, "ci95": 0.004}],
        "eval_seed": 0, "train_machine": {"cpu": "AMD EPYC", "torch_threads": 2, "device": "cpu"},
        "commands": {
            "train": ["python -m benchmarks.train maml 5w1s --budget-minutes 120 --resume"],
            "evaluate": "python -m benchmarks.evaluate x.safetensors",
        },
    }  # fmt: skip


def test_results_page_renders_files_and_not_run_yet(tmp_path: Path) -> None:
    """A cell shows its result file's accuracy ± CI and time; a cell without one, not run yet."""
    namespace = _results_snippet()
    folder = tmp_path / "benchmarks" / "results" / "omniglot"
    folder.mkdir(parents=True)
    (folder / "maml_5w1s_maml.json").write_text(json.dumps(_result("maml", "5w1s", "maml", 0.9812)))
    results = namespace["load_results"](tmp_path)
    table = namespace["split_table"](results, "maml")
    row = next(line for line in table.splitlines() if line.startswith("| MAML (ours)"))
    assert (
        row == "| MAML (ours) | 98.12 ± 0.40 (90 min) | not run yet | not run yet | not run yet |"
    )
    assert "| MAML (paper) | 98.7 ± 0.4 | 99.9 ± 0.1 | 95.8 ± 0.3 | 98.9 ± 0.2 |" in table
    lake = namespace["split_table"](results, "lake")
    assert "98.12" not in lake and "(paper)" not in lake
    assert "--budget-minutes 120" in namespace["commands"](results)
    reused = {**_result("protonet", "20w1s", "maml", 0.955), "trained_setting": "5w1s"}
    (folder / "protonet_20w1s_maml.json").write_text(json.dumps(reused))
    results = namespace["load_results"](tmp_path)
    row = next(
        line
        for line in namespace["split_table"](results, "maml").splitlines()
        if line.startswith("| ProtoNets (ours)")
    )
    assert "| 95.50 ± 0.40 (90 min, the 5w1s model) |" in row
    assert "ProtoNets 20w1s maml (trained for 5w1s)" in namespace["details_table"](results)


def test_run_table_shows_each_runs_training_tasks_from_its_checkpoint(tmp_path: Path) -> None:
    """The run table reads the training episode shape from the config beside the checkpoint, so a
    run trained with other queries, ways or schedule than the prose says cannot hide."""
    namespace = _results_snippet()
    folder = tmp_path / "benchmarks" / "results" / "omniglot"
    (folder / "checkpoints").mkdir(parents=True)
    args, cfg_class = train.parse_args(["maml", "5w5s", "--n-query", "5"])
    maml_config = dataclasses.asdict(train.resolve_config(args, cfg_class, num_train_classes=4400))
    protonet_config = dataclasses.asdict(ProtoNetConfig(n_way=60, k_shot=1, lr_halve_every=400))
    for name, config in (("maml_5w5s_maml", maml_config), ("protonet_5w1s_maml", protonet_config)):
        checkpoints.save_tensors(
            folder / "checkpoints" / f"{name}.safetensors", {}, {"config": config}
        )
        method, setting, split = name.split("_")
        result = {
            **_result(method, setting, split, 0.99),
            "checkpoint": f"benchmarks/results/omniglot/checkpoints/{name}.safetensors",
        }
        (folder / f"{name}.json").write_text(json.dumps(result))
    (folder / "maml_5w1s_maml.json").write_text(json.dumps(_result("maml", "5w1s", "maml", 0.98)))
    rows = namespace["details_table"](namespace["load_results"](tmp_path)).splitlines()
    row = {line.split(" | ")[0]: line.split(" | ")[2] for line in rows[2:]}
    assert row["| MAML 5w5s maml"] == "5-way 5-shot, 5 queries per class, 32 tasks per update"
    assert row["| ProtoNets 5w1s maml"] == (
        f"60-way 1-shot, {protonet_config['n_query']} queries per class, 1 task per update, "
        "rate halved every 400"
    )
    assert row["| MAML 5w1s maml"] == "?"  # no checkpoint description to read
    assert " 2 threads " in rows[2]


def test_variant_table_names_the_config_fields_that_differ_from_the_published_run(
    tmp_path: Path,
) -> None:
    """Another run of a published cell is shown beside it with the config fields that differ,
    computed from the two checkpoint descriptions, and its commands are listed."""
    namespace = _results_snippet()
    folder = tmp_path / "benchmarks" / "results" / "omniglot"
    (folder / "variants" / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints").mkdir()
    configs = {}
    for where, extra in (("", []), ("variants/", ["--n-query", "5"])):
        args, cfg_class = train.parse_args(["maml", "5w5s", *extra])
        configs[where] = dataclasses.asdict(train.resolve_config(args, cfg_class, 4400))
        checkpoint = f"benchmarks/results/omniglot/{where}checkpoints/maml_5w5s_maml.safetensors"
        checkpoints.save_tensors(tmp_path / checkpoint, {}, {"config": configs[where]})
        result = {
            **_result("maml", "5w5s", "maml", 0.99 + len(extra) / 1000),
            "checkpoint": checkpoint,
        }
        if extra:
            result["train_steps"] = 2600
            result["commands"]["train"] = ["python -m benchmarks.train maml 5w5s --n-query 5"]
        (folder / f"{where}maml_5w5s_maml.json").write_text(json.dumps(result))
    assert {k for k in configs[""] if configs[""][k] != configs["variants/"][k]} == {"n_query"}
    results = namespace["load_results"](tmp_path)
    variants = namespace["load_variants"](tmp_path)
    assert list(results) == [("maml", "5w5s", "maml")] and len(variants) == 1
    row = namespace["variants_table"](variants, results).splitlines()[2]
    assert row == (
        "| MAML 5w5s maml | 99.20 ± 0.40 (600) | 99.00 ± 0.40 (600) "
        "| `n_query` 5 (published: 15) | 2600 (1234) | 90 min |"
    )
    assert "--n-query 5" in namespace["commands"](variants)
    reused = {**variants[0], "setting": "20w5s", "trained_setting": "5w5s"}
    row = namespace["variants_table"]([reused], results).splitlines()[2]
    assert row.startswith(
        "| MAML 20w5s maml (trained for 5w5s) | 99.20 ± 0.40 (600) | not run yet |"
    )
    published = results[("maml", "5w5s", "maml")]
    for world, differs in ((2, "processes 2 (published: 1)"), (1, "none (another training")):
        same_config = {**variants[0], "train_config": published["train_config"]}
        same_config["train_world_size"] = world
        row = namespace["variants_table"]([same_config], {("maml", "5w5s", "maml"): published})
        assert row.splitlines()[2].split(" | ")[3].startswith(differs)
    assert namespace["variants_table"]([], results) == "No other runs are kept."


def test_validation_table_lists_each_trained_models_history_once(tmp_path: Path) -> None:
    """Validation history comes from the checkpoint description, one row per trained model (a
    reused model's second cell is not repeated); a run without one says so."""
    namespace = _results_snippet()
    folder = tmp_path / "benchmarks" / "results" / "omniglot"
    (folder / "checkpoints").mkdir(parents=True)
    history = [
        {"step": 500, "accuracy": 0.97214, "ci95": 0.01, "episodes": 200},
        {"step": 901, "accuracy": 0.9795, "ci95": 0.01, "episodes": 200},
    ]
    checkpoint = "benchmarks/results/omniglot/checkpoints/protonet_5w1s_maml.safetensors"
    checkpoints.save_tensors(
        tmp_path / checkpoint, {}, {"config": {}, "extra": {"validation": history}}
    )
    for setting in ("5w1s", "20w1s"):
        result = {**_result("protonet", setting, "maml", 0.98), "checkpoint": checkpoint}
        result["trained_setting"] = "5w1s"
        (folder / f"protonet_{setting}_maml.json").write_text(json.dumps(result))
    (folder / "maml_5w1s_maml.json").write_text(json.dumps(_result("maml", "5w1s", "maml", 0.98)))
    results = namespace["load_results"](tmp_path)
    other = {**results[("protonet", "5w1s", "maml")], "train_validation": history[:1]}
    lines = namespace["validation_table"](results, [other]).splitlines()
    assert lines[0].endswith("(after updates; 200 episodes each) |")
    assert lines[2:] == [
        "| MAML 5w1s maml | not recorded |",
        "| ProtoNets 5w1s maml | 97.21 (500), 97.95 (901) |",
        "| ProtoNets 5w1s maml, *other run* | 97.21 (500) |",
    ]


@pytest.mark.slow
def test_a_published_number_is_recomputed_from_its_committed_checkpoint() -> None:
    """The reproduction page's recipe (load_predictor, fixed_episodes, evaluate_predictor) on the
    committed MAML 5-way 1-shot checkpoint and the published episodes gives the published number:
    the result file and the checkpoint beside it belong together."""
    from reference_impl.checkpoints import load_predictor
    from reference_impl.evaluation import evaluate_predictor, fixed_episodes
    from reference_impl.omniglot import load_omniglot

    result = json.loads((common.OMNIGLOT_RESULTS / "maml_5w1s_maml.json").read_text())
    predict = load_predictor(common.REPO / result["checkpoint"])
    test = load_omniglot(split=result["split"], part=result["split_part"])
    n_way, n_query, episodes = result["n_way"], result["n_query"], result["episodes"]
    shape = (n_way, result["k_shot"], n_query, episodes, result["eval_seed"])
    mine = evaluate_predictor(predict, fixed_episodes(test, *shape))
    assert mine.episodes == episodes
    # float32 sums may round differently with another thread count: at most one query may flip
    assert abs(mine.accuracy - result["accuracy"]) <= 1.01 / (episodes * n_way * n_query)
    assert mine.ci95 == pytest.approx(result["ci95"], rel=0.01)


def test_every_committed_result_has_its_training_config() -> None:
    """Each published cell's checkpoint description is committed and names its training tasks;
    each kept variant has its checkpoint and a published cell to compare with."""
    namespace = _results_snippet()
    results = namespace["load_results"](REPO)
    assert results, "no committed Omniglot results"
    for key, result in results.items():
        assert namespace["training_tasks"](result.get("train_config")) != "?", key
    for variant in namespace["load_variants"](REPO):
        published = results[(variant["method"], variant["setting"], variant["split"])]
        assert variant["train_config"] and published["train_config"], variant["checkpoint"]
        assert (REPO / variant["checkpoint"]).is_file()


@pytest.mark.parametrize(
    ("accuracy", "status"),
    [
        (0.9850, "met"),  # target 98.0; the whole interval 98.50 ± 0.40 lies above it
        (0.97996, "indistinguishable at this sample size"),  # shows as 98.00, is below 98.0
        (0.9812, "indistinguishable at this sample size"),  # above 98.0, interval reaches below
        (0.9750, "missed"),  # the whole interval 97.50 ± 0.40 lies below 98.0
    ],
)
def test_targets_table_compares_each_cell_at_full_precision(
    tmp_path: Path, accuracy: float, status: str
) -> None:
    namespace = _results_snippet()
    folder = tmp_path / "benchmarks" / "results" / "omniglot"
    folder.mkdir(parents=True)
    (folder / "maml_5w1s_maml.json").write_text(
        json.dumps(_result("maml", "5w1s", "maml", accuracy))
    )
    lines = namespace["target_status"](namespace["load_results"](tmp_path)).splitlines()
    maml = [line for line in lines if line.startswith("| MAML |")]
    assert len(maml) == 4  # one line per MAML target cell
    # 5400 s over 1234 updates = 4.4 s per update
    assert maml[0] == (
        f"| MAML | 5w1s | ≥ 98.0 | {100 * accuracy:.2f} ± 0.40 | {status} | 1234 | 4.4 |"
    )
    assert maml[1] == "| MAML | 5w5s | ≥ 99.5 | not run yet | open | – | – |"


def test_paper_schedule_table_turns_each_runs_pace_into_the_papers_training_time(
    tmp_path: Path,
) -> None:
    namespace = _results_snippet()
    folder = tmp_path / "benchmarks" / "results" / "omniglot"
    folder.mkdir(parents=True)
    for setting, split in (("5w1s", "maml"), ("5w5s", "lake")):
        result = _result("maml", setting, split, 0.98)
        (folder / f"maml_{setting}_{split}.json").write_text(json.dumps(result))
    lines = namespace["paper_schedule"](namespace["load_results"](tmp_path)).splitlines()
    # 1234 of 60,000 updates; 5400 s / 1234 = 4.38 s each; 60,000 of them = 72.9 h
    assert lines[2:] == ["| MAML 5w1s maml | 1234 | 2.1% | 4.4 | 73 h |"]  # lake: not compared


def test_gpu_schedule_reads_the_5w1s_meta_gradient_time_of_the_gpu_speed_file(
    tmp_path: Path,
) -> None:
    namespace = _results_snippet()
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    assert namespace["gpu_schedule"](tmp_path) == "No GPU speed file is committed."
    speed = {
        "setting": {"n_way": 5, "k_shot": 1, "meta_batch_size": 32, "inner_steps": 1},
        "machine": {"gpu": "Some GPU"},
        "results": [
            {"variant": "exact", "order": "second", "median_s": 0.3},
            {"variant": "fast", "order": "second", "median_s": 0.02},
            {"variant": "fast", "order": "first", "median_s": 0.01},
        ],
    }
    (results / "maml_speed_cuda.json").write_text(json.dumps(speed))
    text = namespace["gpu_schedule"](tmp_path)
    # 60,000 x 0.02 s = 20 min; 60,000 x 0.3 s = 5.0 h
    assert "on an Some GPU" in text and "at 0.020 s with the fast path and 0.300 s" in text
    assert "would take 20 min and 5.0 h of meta-gradients" in text
    speed["setting"]["n_way"] = 20
    (results / "maml_speed_cuda.json").write_text(json.dumps(speed))
    assert "does not time the 5-way 1-shot" in namespace["gpu_schedule"](tmp_path)


def test_run_all_replays_recorded_steps_instead_of_budget(tmp_path: Path) -> None:
    """`make bench` reruns a result with its recorded update count (deterministic), not its budget."""
    commands = run_all.replay_commands(_result("maml", "5w1s", "maml", 0.98), tmp_path / "r")
    assert commands is not None
    train_argv, evaluate_argv = commands
    assert train_argv[:4] == [sys.executable, "-m", "benchmarks.train", "maml"]
    assert "--budget-minutes" not in train_argv and train_argv.count("--resume") == 1
    assert train_argv[train_argv.index("--episodes") + 1] == "1234"
    checkpoint = str(tmp_path / "r" / "model.safetensors")
    assert evaluate_argv[-5:] == [checkpoint, "--episodes", "600", "--eval-seed", "0"]
    ddp = _result("maml", "5w5s", "maml", 0.99)
    ddp["commands"]["train"] = [
        "torchrun --nproc-per-node 2 -m benchmarks.train maml 5w5s --distributed "
        "--budget-minutes 120 --threads 1 --out benchmarks/runs/x"
    ]
    commands = run_all.replay_commands(ddp, tmp_path / "d")
    assert commands is not None
    assert commands[0] == [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
        "-m", "benchmarks.train", "maml", "5w5s", "--distributed", "--threads", "1",
        "--episodes", "1234", "--out", str(tmp_path / "d"), "--resume",
    ]  # fmt: skip
    gpu = {**_result("maml", "5w1s", "maml", 0.98), "train_machine": {"device": "cuda"}}
    assert (run_all.replay_commands(gpu, tmp_path) is None) == (not torch.cuda.is_available())


PLANNED_RESULTS = sorted(
    path.stem
    for path in common.OMNIGLOT_RESULTS.glob("*.json")
    if path.stem.rsplit("_", 2)[0] in {method for method, _, _ in run_all.PLAN}
)


@pytest.mark.parametrize("name", PLANNED_RESULTS)
def test_run_all_plan_trains_with_the_committed_runs_flags(name: str) -> None:
    """The plan's training command sets the same config flags as every committed result of a
    planned method (first-order MAML is outside the plan)."""
    result = json.loads((common.OMNIGLOT_RESULTS / f"{name}.json").read_text(encoding="utf-8"))
    method, setting, split = result["method"], result["setting"], result["split"]
    planned, _ = run_all.plan_commands(method, setting, split, Path("r"))
    recorded = run_all.python_command(result["commands"]["train"][0])
    # run length (--budget-minutes, --episodes) and where and how a run goes are not protocol
    harness = {"--budget-minutes", "--episodes", "--out", "--threads", "--checkpoint-every"}
    harness |= {"--split", "--nproc-per-node"}  # torchrun's process count: the same algorithm
    harness |= {"--quiet", "--resume", "--distributed"}  # no value: the next token is not theirs

    def config_flags(argv: list[str]) -> dict[str, str]:
        pairs = zip(argv, [*argv[1:], ""], strict=True)
        return {f: v for f, v in pairs if f.startswith("--") and f not in harness}

    assert config_flags(recorded) == config_flags(planned)


def test_run_all_trains_a_shared_model_once_and_evaluates_it_in_each_setting() -> None:
    """ProtoNet 20w1s reuses the 5w1s run (same 60-way training); MAML 20w1s trains its own."""
    assert run_all.reused_setting("protonet", "20w1s", "lake") == "5w1s"
    assert run_all.reused_setting("protonet", "20w5s", "maml") == "5w5s"
    assert run_all.reused_setting("protonet", "5w5s", "maml") is None
    assert run_all.reused_setting("maml", "20w1s", "maml") is None
    assert run_all.reused_setting("baseline", "20w5s", "lake") == "5w1s"  # ignores N and K
    for method, setting, split in run_all.PLAN:  # every planned run resolves its commands
        run_all.plan_commands(
            method, setting, split, Path("r"), run_all.reused_setting(method, setting, split)
        )
    assert run_all.reused_setting("fast_weights", "5w5s", "maml") is None
    reused = {**_result("protonet", "20w1s", "maml", 0.96), "trained_setting": "5w1s"}
    assert run_all.trained_name(reused) == "protonet_5w1s_maml"
    commands = run_all.replay_commands(reused, Path("r"))
    assert commands is not None and commands[1][-2:] == ["--setting", "20w1s"]
    train_argv, evaluate_argv = run_all.plan_commands(
        "protonet", "20w1s", "maml", Path("r"), "5w1s"
    )
    assert train_argv[3:5] == ["protonet", "5w1s"] and evaluate_argv[-2:] == ["--setting", "20w1s"]


def test_task_shift_scores_fresh_val_and_test_tasks_against_a_val_calibration(
    tmp_path: Path,
) -> None:
    """Rows equal the signals API applied by hand: reference on train + val, fresh tasks per part."""
    from benchmarks import task_shift
    from benchmarks.health import method_features
    from reference_impl import checkpoints, evaluation, signals

    run = tmp_path / "run"
    assert train.main([*TINY, "--episodes", "2", "--val-every", "0", "--out", str(run)]) == 0
    model = run / train.MODEL_FILE
    out = tmp_path / "shift.json"
    assert task_shift.main([str(model), "--episodes", "8", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["split"], r["part"], r["episodes"]) for r in rows] == [
        ("maml", "val", 8),
        ("maml", "test", 8),
    ]
    net, cfg = checkpoints.load_model(model)
    embed = method_features("protonet", net, cfg)
    assert embed is not None
    args = argparse.Namespace(data="synthetic", data_root=None, split="maml")
    parts = {p: train.load_part(args, p, torch.float32) for p in ("train", "val", "test")}
    pick = torch.randperm(64, generator=torch.Generator().manual_seed(0))
    reference = signals.fit_task_shift(embed, parts["train"][pick[:400]], parts["val"])
    for row in rows:
        tasks = list(evaluation.fixed_episodes(parts[row["part"]], 5, 1, 15, 8, 1))
        shift = signals.task_shift(reference, embed, tasks)
        assert row["mean_z"] == pytest.approx(shift.mean_z, rel=1e-9)
        assert row["share_flagged"] == shift.share_flagged
        scored = evaluation.evaluate_predictor(checkpoints.load_predictor(model), tasks)
        assert row["accuracy"] == pytest.approx(scored.accuracy, abs=1e-12)
    assert task_shift.main([str(tmp_path / "none.safetensors"), "--out", str(out)]) == 2
    for bad in (["--k-shot", "6"], ["--k-shot", "0"], ["--n-way", "1"]):
        assert task_shift.main([str(model), *bad, "--out", str(tmp_path / "bad.json")]) == 2
    assert not (tmp_path / "bad.json").exists()


def _documented_commands(module: str) -> list[tuple[str, list[str]]]:
    """`-m benchmarks.<module> ...` lines in the bash blocks of README.md and the docs."""
    found, marker = [], f"-m benchmarks.{module} "
    for path in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]:
        text = path.read_text(encoding="utf-8").replace("\\\n", " ")
        for block in text.split("```bash\n")[1:]:
            for line in block.split("```")[0].splitlines():
                if marker in line and not line.lstrip().startswith("#"):
                    argv = shlex.split(line.split(marker, 1)[1], comments=True)
                    found.append((path.relative_to(REPO).as_posix(), argv))
    return found


def test_documented_train_and_evaluate_commands_parse() -> None:
    """Every command a reader copies from the README or a page names flags that exist."""
    trains, evaluates = _documented_commands("train"), _documented_commands("evaluate")
    assert len(trains) >= 4 and len(evaluates) >= 3  # the README's and the results page's
    for where, argv in trains:
        args, cfg_class = train.parse_args(argv)
        train.resolve_config(args, cfg_class, num_train_classes=4400)  # config flags are valid
        assert args.setting in common.SETTINGS, where
    for where, argv in evaluates:
        assert evaluate.build_parser().parse_args(argv).checkpoint, where


def test_atomic_json_write_is_all_or_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A result file holds the old or the new JSON, never a part, and no temporary is left."""
    out = tmp_path / "results" / "r.json"
    files.atomic_write_json(out, {"accuracy": 0.5})
    assert json.loads(out.read_text()) == {"accuracy": 0.5} and out.read_text().endswith("}\n")

    def failing_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        files.atomic_write_json(out, {"accuracy": 0.9, "rows": list(range(10_000))})
    monkeypatch.undo()
    with pytest.raises(TypeError):
        files.atomic_write_json(out, {"accuracy": object()})
    assert json.loads(out.read_text()) == {"accuracy": 0.5}
    assert [p.name for p in out.parent.iterdir()] == ["r.json"]


def test_choosing_page_update_cells_say_what_each_benchmark_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both cells come from the one-process speed report; each memory figure says what it is."""
    namespace: dict = {}
    exec((REPO / "docs" / "snippets" / "choosing_numbers.py").read_text(), namespace)
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert namespace["update_cell"]("protonet") == namespace["MISSING"]
    maml = {"variant": "fast", "order": "second", "median_s": 1.234, "peak_mem_mib": 39.2}
    episode = {"median_ms": {"fast": 250.4}, "saved_for_backward_mib": {"fast": 422.9}}
    report = {
        "maml": {"setting": {"meta_batch_size": 32}, "results": [maml]},
        "protonet": {"episodes": {"60w5s5q": episode}},
    }
    (results / "speed_report.json").write_text(json.dumps(report))
    assert (
        namespace["update_cell"]("maml") == "1.23 s per meta-batch of 32 5w1s tasks, peak +39 MiB"
    )
    assert (
        namespace["update_cell"]("protonet")
        == "250 ms per 60w5s5q episode, 423 MiB saved for backward"
    )


def test_provenance_records_the_command_commit_and_time() -> None:
    """Every benchmark file's provenance: the typed command, HEAD (dirty or not), UTC seconds."""
    import datetime

    record = common.provenance("benchmarks.bench_maml", ["--rounds", "2", "--out", "a b.json"])
    assert record["command"] == "python -m benchmarks.bench_maml --rounds 2 --out 'a b.json'"
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert record["git_commit"] in (head, f"{head}-dirty")
    made = datetime.datetime.strptime(record["date"], "%Y-%m-%dT%H:%M:%SZ")
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    assert abs((now - made).total_seconds()) < 60
