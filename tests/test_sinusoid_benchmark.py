"""The sinusoid benchmark (benchmarks/sinusoid.py) and its committed result.

The result file and the two checkpoints beside it must belong together: re-adapting the committed
models on the recorded test tasks gives the recorded per-task errors. The error after k steps is
checked against an independent loop of plain gradient steps, and a short run's files against
what the command line promised.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch

from benchmarks import sinusoid
from reference_impl import checkpoints, maml

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "benchmarks" / "results" / "sinusoid.json"


def test_mse_curve_equals_plain_gradient_steps_float64() -> None:
    """Step k of `mse_curve` is k steps of w <- w - alpha * grad(support MSE), written out here
    with `torch.autograd.grad` on a hand-made forward pass (float64, rtol 1e-10)."""
    cfg = maml.MAMLConfig(hidden_sizes=(8,))
    torch.manual_seed(0)
    model = maml.build_model(cfg).double()
    tasks = tuple(t.double() for t in sinusoid.sample_tasks(cfg, 3, 7, seed=5))
    curve = sinusoid.mse_curve(model, cfg, 0.05, tasks)
    assert curve.shape == (3, sinusoid.MAX_STEPS + 1)
    (w1, b1), (w2, b2) = (
        (model[i].weight.detach(), model[i].bias.detach()) for i in (0, 2)
    )  # Linear, ReLU, Linear

    def forward(p: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x @ p[0].T + p[1]) @ p[2].T + p[3]

    for t, (sx, sy, qx, qy) in enumerate(zip(*tasks, strict=True)):
        params = [w1, b1, w2, b2]
        for step in range(sinusoid.MAX_STEPS + 1):
            expected = ((forward(params, qx) - qy) ** 2).mean().item()
            assert math.isclose(curve[t, step].item(), expected, rel_tol=1e-10)
            live = [p.clone().requires_grad_() for p in params]
            grads = torch.autograd.grad(((forward(live, sx) - sy) ** 2).mean(), live)
            params = [p - 0.05 * g for p, g in zip(params, grads, strict=True)]


def test_a_short_run_writes_files_that_reproduce_themselves(tmp_path: Path) -> None:
    """A tiny run: the result records what ran, the pretrained step size is the grid's minimum,
    and the checkpoints re-adapted on the same test tasks give the recorded per-task errors."""
    out, folder = tmp_path / "sinusoid.json", tmp_path / "models"
    argv = ["--train-steps", "20", "--test-tasks", "6", "--val-tasks", "4", "--query-points", "9",
            "--baseline-lrs", "0.005", "0.02", "--out", str(out), "--checkpoints", str(folder),
            "--quiet"]  # fmt: skip
    assert sinusoid.main(argv) == 0
    result = json.loads(out.read_text())
    assert result["maml"]["updates"] == result["pretrained"]["updates"] == 20
    assert result["config"]["inner_lr"] == 0.01 and result["config"]["k_shot"] == 10
    grid = {float(k): v for k, v in result["pretrained"]["validation_by_lr"].items()}
    assert result["pretrained"]["inner_lr"] == min(grid, key=lambda lr: grid[lr])
    tasks = sinusoid.sample_tasks(
        maml.MAMLConfig(), 6, result["test"]["query_points"], sinusoid.SEEDS["test"]
    )
    for name in ("maml", "pretrained"):
        model, cfg = checkpoints.load_model(result[name]["checkpoint"])
        assert dataclasses.asdict(cfg) == {
            k: tuple(v) if isinstance(v, list) else v for k, v in result["config"].items()
        }
        curve = sinusoid.mse_curve(model, cfg, result[name]["inner_lr"], tasks)
        for step in sinusoid.TABLE_STEPS:
            recorded = result[name]["per_task"][str(step)]
            assert curve[:, step].tolist() == pytest.approx(recorded, rel=1e-5)
        assert result[name]["mse"][0] == pytest.approx(curve[:, 0].mean().item(), rel=1e-9)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--test-tasks", "1"], "--test-tasks and --val-tasks must be >= 2"),
        (["--baseline-lrs", "0.01", "-1"], "--baseline-lrs must be positive"),
        (["--meta-batch-size", "0"], "invalid MAMLConfig"),
    ],
)
def test_bad_arguments_print_one_line_and_write_nothing(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "result.json"
    assert sinusoid.main([*argv, "--out", str(out), "--checkpoints", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err
    assert not out.exists() and not (tmp_path / "m").exists()


def test_committed_result_is_reproduced_by_its_committed_checkpoints() -> None:
    """The first test tasks of the committed file, re-adapted from the committed models, give
    the recorded errors: the numbers on the sinusoid page come from these two files."""
    result = json.loads(COMMITTED.read_text())
    count = 20
    tasks = sinusoid.sample_tasks(
        maml.MAMLConfig(), result["test"]["tasks"], result["test"]["query_points"],
        result["seeds"]["test"],
    )  # fmt: skip
    first = tuple(t[:count] for t in tasks)
    for name in ("maml", "pretrained"):
        model, cfg = checkpoints.load_model(REPO / result[name]["checkpoint"])
        assert cfg.backbone == "mlp" and result[name]["updates"] > 0
        curve = sinusoid.mse_curve(model, cfg, result[name]["inner_lr"], first)
        for step in sinusoid.TABLE_STEPS:
            recorded = result[name]["per_task"][str(step)][:count]
            assert curve[:, step].tolist() == pytest.approx(recorded, rel=1e-4)
