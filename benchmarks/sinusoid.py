"""Sinusoid regression of the MAML paper (§5.1, Appendix C.1 Table 2): MAML and "pretrained".

    python -m benchmarks.sinusoid [--threads 1] [--train-steps N] [--out FILE] [--quiet]

Meta-trains MAML (`reference_impl.maml.train`) and the paper's "pretrained on all tasks" baseline
(`reference_impl.maml.pretrain`: the same network fitted to every task's points jointly) on sine
tasks with the paper's settings (§5.1): amplitude in [0.1, 5], phase in [0, pi], x in [-5, 5],
a 2x40 ReLU MLP, K = 10 support points, one inner step at alpha = 0.01, Adam. The paper does not
state the meta-batch size, the meta step size or the number of meta-updates; the defaults are
those of the authors' code (`cbfinn/maml`, `main.py`: 25 tasks, 1e-3, and the usage string's
70,000 iterations for both models), and the result file records the count that ran.

Both models are then scored as Table 2 scores them: 5-shot, the mean squared error on the task
after 1, 5 and 10 gradient steps on the same 5 support points (every count from 0 to 10 is
recorded). MAML adapts with its training step size; the pretrained model with the step size of a
grid (`--baseline-lrs`) that gives the lowest mean validation MSE over the 1-, 5- and 10-step
columns (the paper: "an automatically tuned step size"), chosen on validation tasks that are not
the test tasks. Test: `--test-tasks` tasks (600, as the authors' code), each scored on
`--query-points` fresh points of its sine (the code uses 5; more points only lower the variance
of each task's MSE, not its expectation). The ± of every mean is the 95% interval over tasks,
1.96 s / sqrt(n).

Writes the two models as checkpoints (`reference_impl.checkpoints`, a few kilobytes each) into
`--checkpoints` (default `benchmarks/results/sinusoid/`) and the result JSON to `--out` (default
`benchmarks/results/sinusoid.json`) with per-task MSEs at 1, 5 and 10 steps, so the two models
pair up task by task. `--train-steps` and the other `MAMLConfig` flags change the training.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

from benchmarks import common
from benchmarks.common import HarnessError
from reference_impl import checkpoints, evaluation, files, maml, methods

OUT = common.RESULTS_DIR / "sinusoid.json"
"""Default result file."""
CHECKPOINTS = common.RESULTS_DIR / "sinusoid"
"""Default folder of the two committed models."""
TABLE_STEPS = (1, 5, 10)
"""Gradient steps of the paper's Table 2 columns (per-task values are kept for these)."""
MAX_STEPS = max(TABLE_STEPS)
TEST_SHOT = 5
"""Support points per test task (Table 2 is 5-shot)."""
BASELINE_LRS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)
"""Step sizes tried for the pretrained model's fine-tuning."""
PAPER_DEFAULTS: dict[str, Any] = dict(
    backbone="mlp", k_shot=10, n_query=10, inner_lr=0.01, inner_steps=1, meta_batch_size=25,
    outer_lr=1e-3, train_steps=70_000, path="fast", fuse_query=True,
)  # fmt: skip
"""§5.1 (K = 10, alpha = 0.01, one inner step) and the authors' code (25 tasks, Adam 1e-3, 10
query points from the code's 2K points per task, and the 70,000 meta-updates and pretraining
updates of the usage string of `cbfinn/maml` `main.py`); the batched fast path is the same
mathematics."""
SEEDS = {"train": 0, "validation": 1, "test": 2}
"""Generator seeds: initialisation and training tasks, validation tasks, test tasks."""


def sample_tasks(cfg: maml.MAMLConfig, count: int, query_points: int, seed: int) -> maml.Batch:
    """`count` 5-shot sine tasks with `query_points` query points each, from the §5.1 sampler.

    Returns:
        `support_x, support_y` of shape `(count, 5, 1)`, `query_x, query_y` of `(count, Q, 1)`.
    """
    shape = dataclasses.replace(cfg, meta_batch_size=count, k_shot=TEST_SHOT, n_query=query_points)
    return maml.sample_sinusoid_batch(shape, torch.Generator().manual_seed(seed))


def mse_curve(model: nn.Module, cfg: maml.MAMLConfig, inner_lr: float, tasks: maml.Batch) -> Tensor:
    """Query MSE of every task after 0, 1, ..., 10 steps of `maml.adapt` at step size `inner_lr`.

    Each step is one call of the package's inner loop (`adapt` with `steps=1`) on the task's
    support points, continued from the previous step's parameters, so every count reuses the
    same points, as the paper's evaluation does.

    Returns:
        MSEs of shape `(tasks, 11)`; a diverged fine-tune gives `inf`.
    """
    step_cfg = dataclasses.replace(cfg, inner_lr=inner_lr, first_order=True)
    rows = []
    for support_x, support_y, query_x, query_y in zip(*tasks, strict=True):
        params = {name: p.detach() for name, p in model.named_parameters()}
        row = []
        for step in range(MAX_STEPS + 1):
            if step:
                params = maml.adapt(model, params, support_x, support_y, step_cfg, steps=1)
                params = {name: p.detach() for name, p in params.items()}
            with torch.no_grad():
                loss = maml.task_loss(functional_call(model, params, (query_x,)), query_y, cfg)
            row.append(loss.item() if math.isfinite(loss.item()) else math.inf)
        rows.append(row)
    return torch.tensor(rows, dtype=torch.float64)


def summary(curve: Tensor) -> dict[str, Any]:
    """Mean and 95% half-width over tasks at every step count, and the per-task Table 2 columns."""
    columns = [curve[:, s].tolist() for s in range(curve.shape[1])]
    return {
        "mse": [math.fsum(c) / len(c) for c in columns],
        "ci95": [evaluation.confidence_interval95(c) for c in columns],
        "per_task": {str(s): [float(f"{v:.6g}") for v in columns[s]] for s in TABLE_STEPS},
    }


def table_score(curve: Tensor) -> float:
    """Mean MSE over the Table 2 columns (the step-size selection criterion)."""
    return float(curve[:, list(TABLE_STEPS)].mean())


def fit(
    name: str, cfg: maml.MAMLConfig, progress: bool
) -> tuple[nn.Module, list[float], float, int]:
    """Train one model (`"maml"` or `"pretrained"`) from the training seed.

    Returns:
        The model, the mean training loss of every block of 1000 updates, the seconds, updates.
    """
    torch.manual_seed(SEEDS["train"])
    model = maml.build_model(cfg)
    steps = cfg.train_steps
    generator = torch.Generator().manual_seed(SEEDS["train"])
    bar = common.Progress(steps, episodes_per_step=cfg.meta_batch_size, enabled=progress)
    sampler = maml.default_sampler(cfg)
    calls = [0]

    def sample(gen: torch.Generator) -> maml.Batch:  # one batch per update: drives the bar
        bar.update(calls[0], math.nan)
        calls[0] += 1
        return sampler(gen)

    start = time.perf_counter()
    if progress:
        bar.message(f"training {name}: {steps} updates of {cfg.meta_batch_size} tasks")
    trainer = maml.train if name == "maml" else maml.pretrain
    losses = trainer(model, cfg, generator, sample)
    seconds = time.perf_counter() - start
    bar.update(len(losses), losses[-1] if losses else math.nan, force=True)
    bar.close()
    blocks = [losses[i : i + 1000] for i in range(0, len(losses), 1000)]
    return model, [math.fsum(b) / len(b) for b in blocks], seconds, len(losses)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (one flag per `MAMLConfig` field, paper defaults applied)."""
    parser = common.ArgumentParser(
        prog="python -m benchmarks.sinusoid",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--test-tasks", type=int, default=600, help="test tasks (the code's 600)")
    parser.add_argument("--val-tasks", type=int, default=600, help="tasks that pick the step size")
    parser.add_argument("--query-points", type=int, default=100, help="query points per task")
    parser.add_argument(
        "--baseline-lrs", type=float, nargs="+", default=list(BASELINE_LRS),
        help="step sizes tried for the pretrained model",
    )  # fmt: skip
    parser.add_argument(
        "--threads", type=common.int_at_least(1), default=None, help="torch intra-op threads"
    )
    parser.add_argument("--out", type=common.path_arg, default=OUT, help="result JSON")
    parser.add_argument(
        "--checkpoints", type=common.path_arg, default=CHECKPOINTS, help="model folder"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    common.add_config_flags(
        parser, maml.MAMLConfig, skip={"backbone", "conv_channels", "max_pool", "n_way", "seed",
                                       "eval_tasks"},
    )  # fmt: skip
    return parser


def make_config(args: argparse.Namespace) -> maml.MAMLConfig:
    """The paper's settings with the flags given on top.

    Raises:
        HarnessError: On an invalid config or a non-sinusoid one.
    """
    values = {**PAPER_DEFAULTS, **common.config_overrides(args)}
    return common.make_config(maml.MAMLConfig, values)


def run(argv: list[str]) -> dict[str, Any]:
    """Train, tune, evaluate and write the checkpoints and the result file."""
    args = build_parser().parse_args(argv)
    if min(args.test_tasks, args.val_tasks) < 2 or args.query_points < 1:
        raise HarnessError(
            f"--test-tasks and --val-tasks must be >= 2 and --query-points >= 1, got "
            f"{args.test_tasks}, {args.val_tasks} and {args.query_points}"
        )
    if any(not (lr > 0 and math.isfinite(lr)) for lr in args.baseline_lrs):
        raise HarnessError(f"--baseline-lrs must be positive, got {args.baseline_lrs}")
    if args.checkpoints.exists() and not args.checkpoints.is_dir():
        raise HarnessError(f"--checkpoints {args.checkpoints} exists and is not a folder")
    common.check_output_folder(args.checkpoints, "--checkpoints")
    common.check_output_file(args.out, writer="benchmarks.sinusoid")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    cfg = make_config(args)
    try:  # before training (own seeded generators): sizes too large to allocate fail now
        maml.build_model(cfg)
        validation = sample_tasks(cfg, args.val_tasks, args.query_points, SEEDS["validation"])
        test = sample_tasks(cfg, args.test_tasks, args.query_points, SEEDS["test"])
    except (RuntimeError, MemoryError) as err:
        raise HarnessError(f"cannot build the model or the tasks of this config: {err}") from err
    models, histories, seconds, updates = {}, {}, {}, {}
    for name in ("maml", "pretrained"):
        models[name], histories[name], seconds[name], updates[name] = fit(
            name, cfg, progress=not args.quiet
        )
    grid = {lr: table_score(mse_curve(models["pretrained"], cfg, lr, validation))
            for lr in args.baseline_lrs}  # fmt: skip
    baseline_lr = min(grid, key=lambda lr: grid[lr])
    step_sizes = {"maml": cfg.inner_lr, "pretrained": baseline_lr}
    results: dict[str, Any] = {}
    paths = {}
    for name, model in models.items():
        curve = mse_curve(model, cfg, step_sizes[name], test)
        results[name] = {
            "inner_lr": step_sizes[name], "updates": updates[name],
            "train_seconds": seconds[name], "train_loss_per_1000": histories[name],
            **summary(curve),
        }  # fmt: skip
        paths[name] = args.checkpoints / f"{name}.safetensors"
    results["pretrained"]["validation_by_lr"] = {str(lr): v for lr, v in grid.items()}
    for name, model in models.items():  # written only once everything else succeeded
        checkpoints.save_checkpoint(
            paths[name], model, "maml", cfg, split="sinusoid", seed=SEEDS["train"],
            extra={"benchmark": "sinusoid", "trained_by": name, "updates": updates[name],
                   "test_inner_lr": step_sizes[name]},
        )  # fmt: skip
        results[name]["checkpoint"] = common.relative(paths[name])
    result = {
        "benchmark": "sinusoid", "config": methods.config_to_json(cfg),
        "test": {"tasks": args.test_tasks, "k_shot": TEST_SHOT, "query_points": args.query_points,
                 "steps": list(range(MAX_STEPS + 1)), "table_steps": list(TABLE_STEPS)},
        "validation_tasks": args.val_tasks, "baseline_lrs": list(args.baseline_lrs),
        "seeds": SEEDS, **results,
        "machine": common.machine_info(), **common.provenance("benchmarks.sinusoid", argv),
    }  # fmt: skip
    files.atomic_write_json(args.out, result)
    for name in models:
        table = ", ".join(
            f"{s} steps {results[name]['mse'][s]:.2f} ± {results[name]['ci95'][s]:.2f}"
            for s in TABLE_STEPS
        )
        print(f"{name} (alpha {step_sizes[name]:g}): {table}")
    print(f"wrote {common.relative(args.out)}")
    return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; user errors print one line and return 2."""
    return common.run_cli("benchmarks.sinusoid", run, argv)


if __name__ == "__main__":
    sys.exit(main())
