# SPDX-License-Identifier: MIT
# Copyright (c) 2026 Meta-Learning Glossary contributors; licence text: LICENSE in the repo.
# Page: algorithms/maml/ on the Meta-Learning Glossary site
# (its source: docs/algorithms/maml.md in the repository).
r"""Model-Agnostic Meta-Learning (MAML), second and first order, on sinusoids and Omniglot.

MAML learns an initialisation $\theta$ from which one or a few gradient steps on a task's
[support set][support-set] give parameters $\theta'$ that do well on the task's
[query set][query-set]; the meta-gradient differentiates through those inner steps.
Paper: Finn et al. (2017), "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks",
arXiv:1703.03400v3.

| Paper | Function |
|---|---|
| Eq. (1), inner gradient step | `adapt` (`adapt_tasks`: all tasks at once) |
| §2.2 meta-objective $\sum_i \mathcal{L}_{\mathcal{T}_i}(f_{\theta'_i})$ | `meta_loss`, `meta_backward` |
| Algorithm 2, meta-update with Adam | `train_step`, `train` |
| §3.1 losses (MSE, cross-entropy) | `task_loss` |
| §5.1 sinusoid tasks, "pretrained" baseline | `sample_sinusoid_batch`, `pretrain` |
| §5.2 / Appendix A.1 Omniglot Conv-4 and settings | `build_model`, `omniglot_config` |

Deliberate deviations: the Conv-4's convolutions have no bias (batch norm's mean subtraction
cancels it, so its gradient is identically zero); the strided convolutions pad one pixel on
every side (TensorFlow's "SAME" pads only bottom/right); `backbone="conv4"` without a task
source trains on synthetic images so the file runs alone.

The file reads top to bottom as the algorithm, with one inner loop (`adapt`). Its last section,
the batched path (`path="fast"`, what `benchmarks.train --device cuda` uses), computes the same
meta-gradient with every task's inner loop in one batched graph: much faster on a GPU, not on a
CPU (`benchmarks/bench_maml.py` measures both). A reader copying the algorithm can stop before it.
"""

from __future__ import annotations

import itertools
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

Params = dict[str, Tensor]
Batch = tuple[Tensor, Tensor, Tensor, Tensor]
SampleBatch = Callable[[torch.Generator], Batch]


# --8<-- [start:config]
@dataclass(frozen=True)
class MAMLConfig:
    """Hyperparameters of MAML; defaults are the sinusoid setting of §5.1 of the paper."""

    backbone: str = "mlp"
    """`"mlp"`: sinusoid regression with MSE; `"conv4"`: image classification with cross-entropy."""
    n_way: int = 5
    """Classes per task (classification only)."""
    k_shot: int = 10
    """Support examples per class (per task for sinusoids; K = 10 in §5.1)."""
    n_query: int = 10
    """Query examples per class (per task for sinusoids)."""
    amplitude_range: tuple[float, float] = (0.1, 5.0)
    """Sinusoid amplitude, uniform (§5.1)."""
    phase_range: tuple[float, float] = (0.0, math.pi)
    """Sinusoid phase, uniform (§5.1)."""
    x_range: tuple[float, float] = (-5.0, 5.0)
    """Sinusoid inputs, uniform (§5.1)."""
    hidden_sizes: tuple[int, ...] = (40, 40)
    """Hidden ReLU layers of the regression MLP (§5.1)."""
    conv_channels: int = 64
    """Channels of every Conv-4 block (64 for Omniglot, §5.2)."""
    max_pool: bool = False
    """Conv-4 with stride-1 convolutions and 2x2 max-pooling instead of stride-2 convolutions."""
    inner_lr: float = 0.01
    r"""Inner step size $\alpha$ of Eq. (1)."""
    inner_steps: int = 1
    """Inner gradient steps during meta-training."""
    test_inner_steps: int = 1
    """Inner gradient steps at evaluation (`evaluate`, `make_predict`)."""
    first_order: bool = False
    """Drop the second-order terms of the meta-gradient (first-order MAML)."""
    outer_lr: float = 1e-3
    r"""Meta step size $\beta$ of Adam (the paper's code default; not stated in the paper)."""
    meta_batch_size: int = 25
    """Tasks per meta-update (T)."""
    train_steps: int = 10_000
    """Meta-updates in `train` (our choice)."""
    eval_tasks: int = 100
    """Held-out tasks in `evaluate`."""
    path: str = "exact"
    """`"exact"`: a loop over tasks; `"fast"`: the batched path at the end of the file (same
    mathematics, for GPUs; `benchmarks.train --device cuda` picks it unless told otherwise)."""
    fuse_query: bool | None = None
    """Fast path only: also batch the query passes (grouped convolutions). `None` picks what
    measured faster: fused, except for the Conv-4 on a CPU (`benchmarks/bench_maml.py`)."""
    seed: int = 0
    """Seed of initialisation and task sampling in `main`."""

    def __post_init__(self) -> None:
        for name, allowed in {"backbone": ("mlp", "conv4"), "path": ("exact", "fast")}.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        least = dict.fromkeys(("n_way", "k_shot", "n_query", "meta_batch_size", "eval_tasks"), 1)
        least |= dict.fromkeys(("inner_steps", "test_inner_steps", "train_steps", "inner_lr"), 0)
        value = {**vars(self), "min(hidden_sizes)": min(self.hidden_sizes, default=1)}
        for name in ("amplitude_range", "phase_range", "x_range"):  # (low, high), low <= high
            low, high = getattr(self, name)
            value[f"{name} high - low"], least[f"{name} high - low"] = high - low, 0
        for name, low in (least | {"conv_channels": 1, "min(hidden_sizes)": 1}).items():
            if not value[name] >= low:  # `not >=`: NaN is refused too
                raise ValueError(f"{name} must be >= {low}, got {value[name]}")
        if not self.outer_lr > 0:
            raise ValueError(f"outer_lr must be > 0, got {self.outer_lr}")


def omniglot_config(n_way: int = 5, k_shot: int = 1, **overrides: object) -> MAMLConfig:
    r"""Omniglot settings of Appendix A.1 (5-way or 20-way), 15 queries per class.

    The paper does not state the training query count; the authors' code uses K per class
    (pass `n_query=k_shot` for that). Test episodes are the caller's and may differ.

    Args:
        n_way: 5 (1 inner step, $\alpha = 0.4$, 32 tasks, 3 steps at test) or 20 (5 steps,
            $\alpha = 0.1$, 16 tasks, 5 steps at test).
        k_shot: Support examples per class.
        **overrides: Any other `MAMLConfig` field.

    Returns:
        The configuration.

    Raises:
        ValueError: If `n_way` is not 5 or 20.
    """
    presets = {
        5: dict(inner_steps=1, inner_lr=0.4, meta_batch_size=32, test_inner_steps=3),
        20: dict(inner_steps=5, inner_lr=0.1, meta_batch_size=16, test_inner_steps=5),
    }
    if n_way not in presets:
        raise ValueError(f"Appendix A.1 gives settings for n_way 5 or 20, got {n_way}")
    fields: dict = dict(backbone="conv4", n_way=n_way, k_shot=k_shot, n_query=15, **presets[n_way])
    return MAMLConfig(**{**fields, **overrides})


# --8<-- [end:config]


# --8<-- [start:data]
def sample_sinusoid_batch(cfg: MAMLConfig, generator: torch.Generator) -> Batch:
    r"""Sample T sine tasks $y = a \sin(x - \varphi)$ with support and query points (§5.1).

    Args:
        cfg: Uses `meta_batch_size`, `k_shot`, `n_query` and the three ranges.
        generator: Source of all randomness.

    Returns:
        `support_x, support_y` of shape `(T, K, 1)` and `query_x, query_y` of shape `(T, Q, 1)`.
    """
    t, n = cfg.meta_batch_size, cfg.k_shot + cfg.n_query

    def uniform(shape: tuple[int, ...], bounds: tuple[float, float]) -> Tensor:
        return bounds[0] + (bounds[1] - bounds[0]) * torch.rand(shape, generator=generator)

    amplitude, phase = uniform((t, 1, 1), cfg.amplitude_range), uniform((t, 1, 1), cfg.phase_range)
    x = uniform((t, n, 1), cfg.x_range)
    y = amplitude * torch.sin(x - phase)  # (T, K+Q, 1)
    return x[:, : cfg.k_shot], y[:, : cfg.k_shot], x[:, cfg.k_shot :], y[:, cfg.k_shot :]


def sample_synthetic_image_batch(cfg: MAMLConfig, generator: torch.Generator) -> Batch:
    """Sample T classification tasks of noisy random 28x28 prototypes (stand-in for Omniglot).

    Args:
        cfg: Uses `meta_batch_size`, `n_way`, `k_shot`, `n_query`.
        generator: Source of all randomness.

    Returns:
        `support_x (T, N*K, 1, 28, 28)`, `support_y (T, N*K)`, `query_x (T, N*Q, 1, 28, 28)`,
        `query_y (T, N*Q)`; labels are class-major (`arange(N).repeat_interleave(K)`).
    """
    t, n = cfg.meta_batch_size, cfg.n_way
    prototypes = (torch.rand(t, n, 1, 1, 28, 28, generator=generator) < 0.2).float()

    def draw(per_class: int) -> tuple[Tensor, Tensor]:
        flips = torch.rand(t, n, per_class, 1, 28, 28, generator=generator) < 0.1
        x = (prototypes - flips.float()).abs().flatten(1, 2)  # (T, N*per_class, 1, 28, 28)
        y = torch.arange(n).repeat_interleave(per_class).expand(t, -1)
        return x, y

    return (*draw(cfg.k_shot), *draw(cfg.n_query))


# --8<-- [end:data]


# --8<-- [start:model]
def build_model(cfg: MAMLConfig) -> nn.Sequential:
    """Build the network of the paper: a 2x40 ReLU MLP (sinusoid) or the Conv-4 (Omniglot).

    The Conv-4 has four blocks of 3x3 convolution, [batch norm][transductive-batch-norm] with
    the current batch's statistics, ReLU, and either stride 2 (the paper's Omniglot choice) or
    2x2 max-pooling; the feature map is averaged over space, then a linear head gives `N` logits.

    Args:
        cfg: Uses `backbone`, `hidden_sizes`, `conv_channels`, `max_pool`, `n_way`.

    Returns:
        Module mapping `(B, 1)` to `(B, 1)` (sinusoid) or `(B, 1, 28, 28)` to `(B, N)`.
    """
    if cfg.backbone == "mlp":
        widths = (1, *cfg.hidden_sizes)
        layers: list[nn.Module] = []
        for width_in, width_out in itertools.pairwise(widths):
            layers += [nn.Linear(width_in, width_out), nn.ReLU()]
        return nn.Sequential(*layers, nn.Linear(widths[-1], 1))
    layers, channels = [], 1
    for _ in range(4):
        stride = 1 if cfg.max_pool else 2
        layers += [
            nn.Conv2d(channels, cfg.conv_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(cfg.conv_channels, track_running_stats=False),
            nn.ReLU(),
        ]
        layers += [nn.MaxPool2d(2)] if cfg.max_pool else []
        channels = cfg.conv_channels
    head = [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, cfg.n_way)]
    return nn.Sequential(*layers, *head)


def embed(model: nn.Sequential, x: Tensor, cfg: MAMLConfig) -> Tensor:
    """Features of the meta-parameters before the output layer (no adaptation).

    Args:
        model: A `build_model` network.
        x: Inputs, shape `(B, 1)` or `(B, 1, 28, 28)`.
        cfg: Unused; part of the shared `embed(model, x, cfg)` signature.

    Returns:
        Features, shape `(B, D)`: the last hidden layer (MLP) or the pooled Conv-4 map.
    """
    return model[:-1](x)


# --8<-- [end:model]


# --8<-- [start:validate]
def check_episode(
    cfg: MAMLConfig, support_x: Tensor, support_y: Tensor, query_x: Tensor,
    query_y: Tensor | None = None, like: Tensor | None = None,
) -> None:  # fmt: skip
    """Validate an episode, or a meta-batch with a leading `T`, once at an entry point.

    Shapes, dtype and device are checked for free; class labels cost one host sync for the
    whole batch.

    Args:
        cfg: Uses `backbone`, `n_way`.
        support_x: `(K, D)` points or `(N*K, C, H, W)` images, optionally with a leading `T`.
        support_y: `(K, 1)` targets or int64 labels `(N*K,)` in `0..N-1`, likewise.
        query_x: Query inputs, shaped like `support_x` but for the number of examples.
        query_y: Query targets or labels, if given.
        like: A parameter of a `build_model` network: inputs must have its dtype and device,
            and one feature (`D = 1`) or one channel (`C = 1`).

    Raises:
        ValueError: Naming the expected shapes, dtype and device, or the labels' range.
    """
    regression = cfg.backbone == "mlp"
    lead = support_x.dim() - (1 if regression else 3)  # 1, or 2 with a leading T
    given = {"support_x": support_x, "support_y": support_y, "query_x": query_x, "query_y": query_y}
    pairs = [(x, y) for x, y in ((support_x, support_y), (query_x, query_y)) if y is not None]
    if not (
        lead in (1, 2)
        and support_x.shape[lead - 1] > 0
        and (like is None or support_x.shape[lead] == 1)  # this file's models: 1 feature/channel
        and (like is None or (support_x.dtype, support_x.device) == (like.dtype, like.device))
        and query_x.shape[: lead - 1] + query_x.shape[lead:]
        == support_x.shape[: lead - 1] + support_x.shape[lead:]
        and all(  # (K,) regression targets would broadcast against (K, 1) outputs silently
            y.shape == ((*x.shape[:-1], 1) if regression else x.shape[:lead])
            and (regression or y.dtype == torch.int64)
            for x, y in pairs
        )
    ):
        expected = "x and y (K, 1)" if regression else "x (N*K, 1, H, W), int64 labels (N*K,)"
        expected += "" if like is None else f", {like.dtype} inputs on {like.device}"
        got = ", ".join(f"{name} {tuple(t.shape)}" for name, t in given.items() if t is not None)
        raise ValueError(f"expected {expected}, optionally with a leading T, K >= 1; got {got}")
    if not regression:
        labels = torch.cat([y.flatten() for _, y in pairs])
        low, high = torch.stack([labels.min(), labels.max()]).tolist()  # one host sync
        if low < 0 or high >= cfg.n_way:
            raise ValueError(f"labels must lie in 0..{cfg.n_way - 1}, got {low}..{high}")


# --8<-- [end:validate]


# --8<-- [start:inner-loop]
def adapt(
    model: nn.Module,
    params: Params,
    support_x: Tensor,
    support_y: Tensor,
    cfg: MAMLConfig,
    steps: int | None = None,
) -> Params:
    r"""Adapt meta-parameters to one task by gradient descent on its support set.

    Applies Eq. (1) of the paper `steps` times (default `cfg.inner_steps`):

    $$\theta' = \theta - \alpha \nabla_\theta \mathcal{L}_{\mathcal{T}}(f_\theta)$$

    The inner gradient is part of the graph (second order) unless `cfg.first_order` is set or
    no parameter requires grad (evaluation), in which case it is a constant.

    Args:
        model: Network evaluated with `params` via `functional_call`; its own weights are unused.
        params: Meta-parameters $\theta$, keyed like `model.named_parameters()`.
        support_x: Support inputs, shape `(N*K, *x_shape)`.
        support_y: Support targets, shape `(N*K,)` (labels) or `(N*K, 1)` (regression).
        cfg: Uses `inner_lr`, `inner_steps`, `first_order`, `backbone`.
        steps: Number of inner steps; `cfg.inner_steps` if `None`.

    Returns:
        Adapted parameters $\theta'$, same keys and shapes as `params`.

    Raises:
        ValueError: If `steps < 0`, or the support set is malformed (`check_episode`, one host
            sync for its labels).
    """
    steps = cfg.inner_steps if steps is None else steps
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    check_episode(cfg, support_x, support_y, support_x)
    create_graph = not cfg.first_order and any(p.requires_grad for p in params.values())
    with torch.enable_grad():
        params = {
            n: p if p.requires_grad else p.detach().requires_grad_() for n, p in params.items()
        }
        for _ in range(steps):
            loss = task_loss(functional_call(model, params, (support_x,)), support_y, cfg)
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
            params = {
                n: p - cfg.inner_lr * g for (n, p), g in zip(params.items(), grads, strict=True)
            }
    return params


# --8<-- [end:inner-loop]


# --8<-- [start:loss]
def task_loss(outputs: Tensor, targets: Tensor, cfg: MAMLConfig) -> Tensor:
    """Mean loss over a task's examples: MSE (sinusoid) or cross-entropy (Omniglot), §3.1.

    Args:
        outputs: Predictions `(B, 1)` or logits `(B, N)`.
        targets: Targets `(B, 1)` or labels `(B,)`.
        cfg: Uses `backbone`.

    Returns:
        Scalar loss.
    """
    if cfg.backbone == "mlp":
        return F.mse_loss(outputs, targets)
    return F.cross_entropy(outputs, targets)


def meta_loss(model: nn.Module, params: Params, batch: Batch, cfg: MAMLConfig) -> Tensor:
    r"""The meta-objective of §2.2, averaged over the T tasks of a batch.

    $$\frac{1}{T}\sum_{t=1}^{T} \mathcal{L}_{\mathcal{T}_t}\big(f_{\theta'_t}\big),
      \qquad \theta'_t = \mathrm{adapt}(\theta, \mathcal{S}_t)$$

    Args:
        model: A `build_model` network.
        params: Meta-parameters $\theta$.
        batch: `support_x (T, N*K, ...)`, `support_y`, `query_x (T, N*Q, ...)`, `query_y`.
        cfg: Uses the inner-loop fields and `backbone`.

    Returns:
        Scalar loss, differentiable with respect to `params`.
    """
    losses = [
        task_loss(functional_call(model, adapt(model, params, sx, sy, cfg), (qx,)), qy, cfg)
        for sx, sy, qx, qy in zip(*batch, strict=True)
    ]
    return torch.stack(losses).mean()


def meta_backward(model: nn.Sequential, batch: Batch, cfg: MAMLConfig) -> float:
    r"""Accumulate the gradient of `meta_loss` into the `.grad` of `model`'s parameters.

    Task by task (`path="exact"`), so only one task's graph is alive at a time; `path="fast"`
    hands the batch to `meta_backward_batched`, the same gradient from one batched graph.

    Args:
        model: A `build_model` network; its parameters are $\theta$.
        batch: `support_x (T, N*K, ...)`, `support_y`, `query_x (T, N*Q, ...)`, `query_y`.
        cfg: Uses `path` and the inner-loop fields.

    Returns:
        The meta-loss value.

    Raises:
        ValueError: If the batch is malformed (`check_episode`).
    """
    check_episode(cfg, *batch)
    if cfg.path == "fast":
        return meta_backward_batched(model, batch, cfg)
    params: Params = dict(model.named_parameters())
    losses = []
    for support_x, support_y, query_x, query_y in zip(*batch, strict=True):
        adapted = adapt(model, params, support_x, support_y, cfg)
        loss = task_loss(functional_call(model, adapted, (query_x,)), query_y, cfg) / len(batch[0])
        loss.backward()
        losses.append(loss.detach())
    return torch.stack(losses).sum().item()


# --8<-- [end:loss]


# --8<-- [start:train-step]
class NonFiniteLossError(ValueError):
    """Raised by `train` when a meta-step gives a non-finite loss or gradient.

    Attributes:
        step: Index of the failing meta-step (`None` from `train_step`, which does not know it).
        last_good_state: `state_dict` before that step (also left in the model).
    """

    def __init__(self, step: int | None, loss: float, last_good_state: dict[str, Tensor]) -> None:
        super().__init__(
            ("" if step is None else f"meta-step {step}: ") + f"non-finite meta-loss or gradient "
            f"({loss}); the model keeps the parameters it had before (last_good_state)"
        )
        self.step, self.loss, self.last_good_state = step, loss, last_good_state


def train_step(
    model: nn.Sequential, optimizer: torch.optim.Optimizer, batch: Batch, cfg: MAMLConfig
) -> dict[str, float]:
    r"""One meta-update $\theta \leftarrow \mathrm{Adam}(\theta, \nabla_\theta \text{meta-loss})$.

    Args:
        model: A `build_model` network, updated in place.
        optimizer: Optimizer over `model.parameters()`.
        batch: `support_x (T, N*K, ...)`, `support_y`, `query_x (T, N*Q, ...)`, `query_y`.
        cfg: See `meta_backward`.

    Returns:
        `{"loss": ...}`, the meta-loss before the update.

    Raises:
        NonFiniteLossError: If the loss or a gradient is not finite; the model is not updated.
    """
    optimizer.zero_grad(set_to_none=True)
    loss = meta_backward(model, batch, cfg)
    grads = [p.grad.isfinite().all() for p in model.parameters() if p.grad is not None]
    if not (math.isfinite(loss) and bool(torch.stack(grads).all())):  # one host sync
        optimizer.zero_grad(set_to_none=True)
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        raise NonFiniteLossError(None, loss, state)
    optimizer.step()
    return {"loss": loss}


# --8<-- [end:train-step]


# --8<-- [start:train]
def default_sampler(cfg: MAMLConfig) -> SampleBatch:
    """The file's own task source: sinusoids, or synthetic images for `backbone="conv4"`.

    Args:
        cfg: Configuration the sampler reads.

    Returns:
        `sample_batch(generator) -> (support_x, support_y, query_x, query_y)`, leading dim T.
    """
    sampler = sample_sinusoid_batch if cfg.backbone == "mlp" else sample_synthetic_image_batch
    return lambda generator: sampler(cfg, generator)


def train(
    model: nn.Sequential,
    cfg: MAMLConfig,
    generator: torch.Generator,
    sample_batch: SampleBatch | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Meta-train `model` in place for `cfg.train_steps` steps with Adam (Algorithm 2).

    Args:
        model: A `build_model` network.
        cfg: Uses `outer_lr`, `train_steps` and everything `train_step` uses.
        generator: Drives `sample_batch`.
        sample_batch: Task source with leading meta-batch dim T; `default_sampler(cfg)` if `None`.
        on_step: Called as `on_step(steps_done, meta_loss)` after every step.

    Returns:
        Meta-loss of every step.

    Raises:
        NonFiniteLossError: On a non-finite loss or gradient; the model keeps the last good state.
    """
    sample_batch = sample_batch or default_sampler(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.outer_lr)
    losses = []
    for step in range(cfg.train_steps):
        try:
            losses.append(train_step(model, optimizer, sample_batch(generator), cfg)["loss"])
        except NonFiniteLossError as error:
            raise NonFiniteLossError(step, error.loss, error.last_good_state) from None
        if on_step is not None:
            on_step(step + 1, losses[-1])
    return losses


def pretrain(
    model: nn.Sequential,
    cfg: MAMLConfig,
    generator: torch.Generator,
    sample_batch: SampleBatch | None = None,
) -> list[float]:
    """The paper's "pretrained on all tasks" baseline: fit all tasks' data jointly, no inner loop.

    Args:
        model: A `build_model` network, trained in place.
        cfg: Uses `outer_lr`, `train_steps`, `backbone`.
        generator: Drives `sample_batch`.
        sample_batch: Task source; `default_sampler(cfg)` if `None`.

    Returns:
        Training loss of every step.
    """
    sample_batch = sample_batch or default_sampler(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.outer_lr)
    losses = []
    for _ in range(cfg.train_steps):
        support_x, support_y, query_x, query_y = sample_batch(generator)
        x = torch.cat([support_x, query_x], 1).flatten(0, 1)
        loss = task_loss(model(x), torch.cat([support_y, query_y], 1).flatten(0, 1), cfg)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


# --8<-- [end:train]


# --8<-- [start:evaluate]
def make_predict(model: nn.Module, cfg: MAMLConfig) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    """Return `predict(support_x, support_y, query_x)`: adapt a copy, then predict the queries.

    Uses `cfg.test_inner_steps` steps of Eq. (1); `model`'s weights are not changed.

    Args:
        model: A `build_model` network holding the meta-parameters.
        cfg: Uses `test_inner_steps`, `inner_lr`, `backbone`, `n_way`.

    Returns:
        Function of `support_x (N*K, ...)`, `support_y (N*K,)`, `query_x (N*Q, ...)` returning
        logits `(N*Q, N)` (or predictions `(Q, 1)` for sinusoids).
    """

    def predict(support_x: Tensor, support_y: Tensor, query_x: Tensor) -> Tensor:
        params = {n: p.detach() for n, p in model.named_parameters()}
        check_episode(cfg, support_x, support_y, query_x, like=next(iter(params.values()), None))
        adapted = adapt(model, params, support_x, support_y, cfg, steps=cfg.test_inner_steps)
        with torch.no_grad():
            return functional_call(model, {n: p.detach() for n, p in adapted.items()}, (query_x,))

    return predict


def evaluate(
    model: nn.Module,
    cfg: MAMLConfig,
    generator: torch.Generator,
    sample_batch: SampleBatch | None = None,
) -> dict[str, float]:
    """Query loss (and accuracy) before and after `test_inner_steps` steps, on `eval_tasks` tasks.

    Args:
        model: A `build_model` network.
        cfg: Uses `eval_tasks`, `test_inner_steps`, `backbone`.
        generator: Drives `sample_batch`.
        sample_batch: Task source; `default_sampler(cfg)` if `None`.

    Returns:
        `mse_before`, `mse_after` (sinusoid) or `loss_before`, `loss_after`, `accuracy_before`,
        `accuracy_after` (classification), each a mean over tasks.
    """
    sample_batch = sample_batch or default_sampler(cfg)
    before = make_predict(model, replace(cfg, test_inner_steps=0))
    predictors = {"before": before, "after": make_predict(model, cfg)}
    tasks: list[tuple[Tensor, ...]] = []
    while len(tasks) < cfg.eval_tasks:
        tasks += zip(*sample_batch(generator), strict=True)
    loss_name = "mse" if cfg.backbone == "mlp" else "loss"
    sums: dict[str, float] = {}
    for sx, sy, qx, qy in tasks[: cfg.eval_tasks]:
        for when, predict in predictors.items():
            out = predict(sx, sy, qx)
            scores = {loss_name: task_loss(out, qy, cfg).item()}
            if cfg.backbone == "conv4":
                scores["accuracy"] = (out.argmax(-1) == qy).float().mean().item()
            for name, value in scores.items():
                sums[f"{name}_{when}"] = sums.get(f"{name}_{when}", 0.0) + value
    return {key: value / cfg.eval_tasks for key, value in sums.items()}


# --8<-- [end:evaluate]


# --8<-- [start:main]
_PROGRESS_SECONDS = 5.0
"""`main` prints a progress line on stderr at most this often (never for shorter runs)."""


def _progress(label: str, total: int) -> Callable[[int, float], None]:
    """An `on_step(step, loss)` callback for `main`: step, loss, elapsed and remaining seconds."""
    clock = [time.monotonic()] * 2  # start, last line

    def report(step: int, loss: float) -> None:
        if (now := time.monotonic()) - clock[1] >= _PROGRESS_SECONDS:
            clock[1], left = now, (total - step) * (now - clock[0]) / max(step, 1)
            print(f"{label}: {step}/{total} steps, loss {loss:.4f}, {now - clock[0]:.0f} s, "
                  f"about {left:.0f} s left", file=sys.stderr, flush=True)  # fmt: skip

    return report


def main(cfg: MAMLConfig) -> dict[str, float]:
    """Meta-train, evaluate, and (sinusoid) compare with the pretrained baseline.

    Args:
        cfg: Full configuration.

    Returns:
        `evaluate`'s metrics; for sinusoids also `pretrained_mse_before`, `pretrained_mse_after`.
    """
    torch.manual_seed(cfg.seed)
    model = build_model(cfg)
    generator = torch.Generator().manual_seed(cfg.seed)
    train(model, cfg, generator, on_step=_progress("maml", cfg.train_steps))
    metrics = evaluate(model, cfg, torch.Generator().manual_seed(cfg.seed + 1))
    if cfg.backbone == "mlp":
        torch.manual_seed(cfg.seed)
        baseline = build_model(cfg)
        pretrain(baseline, cfg, torch.Generator().manual_seed(cfg.seed))
        pretrained = evaluate(baseline, cfg, torch.Generator().manual_seed(cfg.seed + 1))
        metrics |= {f"pretrained_{key}": value for key, value in pretrained.items()}
    print(", ".join(f"{key} {value:.3f}" for key, value in metrics.items()))
    return metrics


# --8<-- [end:main]


# ---------------------------------------------------------------------------------------------
# The batched path: the algorithm above, with all T tasks in one graph per layer. It exists for
# speed on a GPU (`path="fast"`); tests/test_maml.py pins it to the exact path.
# --8<-- [start:batched]
def forward_tasks(model: nn.Sequential, params: Params, x: Tensor) -> Tensor:
    """Run `model` on T tasks at once, each with its own parameters, in one pass per layer.

    Convolutions become grouped convolutions (`groups=T`) over task-major channels, batch norm
    normalises each (task, channel) pair with that task's batch, linear layers become `baddbmm`.
    Equals stacking `functional_call(model, params[t], x[t])` over `t`.

    Args:
        model: A `build_model` network; only its layer types and hyperparameters are used.
        params: Per-task parameters, each of shape `(T, *shape)`.
        x: Inputs, shape `(T, B, 1)` or `(T, B, C, H, W)`.

    Returns:
        Outputs, shape `(T, B, out)`.
    """
    t, b = x.shape[:2]
    h = x.transpose(0, 1).flatten(1, 2) if x.dim() == 5 else x  # (B, T*C, H, W) or (T, B, D)
    for name, layer in model.named_children():
        p = {key.split(".", 1)[1]: v for key, v in params.items() if key.split(".", 1)[0] == name}
        if isinstance(layer, nn.Conv2d):
            h = F.conv2d(h, p["weight"].flatten(0, 1), None, layer.stride, layer.padding, groups=t)
        elif isinstance(layer, nn.BatchNorm2d):
            h = F.batch_norm(
                h, None, None, p["weight"].flatten(), p["bias"].flatten(), True, 0.0, layer.eps
            )
        elif isinstance(layer, nn.Flatten):
            h = h.reshape(b, t, -1).transpose(0, 1)  # (T, B, C)
        elif isinstance(layer, nn.Linear):
            h = torch.baddbmm(p["bias"].unsqueeze(1), h, p["weight"].transpose(1, 2))  # (T, B, out)
        else:  # ReLU, pooling: per channel, so the grouped layout is unchanged
            h = layer(h)
    return h


def adapt_tasks(
    model: nn.Sequential, params: Params, support_x: Tensor, support_y: Tensor, cfg: MAMLConfig
) -> Params:
    r"""Eq. (1) for T tasks at once: one batched pass per step instead of a loop over tasks.

    $\theta$ is expanded to `(T, *shape)`; since task $t$'s loss depends only on slice $t$,
    the gradient of the summed support losses with respect to the expanded tensor holds every
    task's own gradient $\nabla_\theta \mathcal{L}_{\mathcal{T}_t}$.

    Args:
        model: A `build_model` network.
        params: Meta-parameters $\theta$, unbatched.
        support_x: Support inputs, shape `(T, N*K, *x_shape)`.
        support_y: Support targets, shape `(T, N*K)` or `(T, N*K, 1)`.
        cfg: Uses `inner_lr`, `inner_steps`, `first_order`, `backbone`.

    Returns:
        Adapted parameters $\theta'_t$, each of shape `(T, *shape)`.
    """
    t = support_x.shape[0]
    adapted = {n: p.unsqueeze(0).expand(t, *p.shape) for n, p in params.items()}  # (T, *shape)
    for _ in range(cfg.inner_steps):
        outputs = forward_tasks(model, adapted, support_x)  # (T, N*K, out)
        loss = t * task_loss(
            outputs.flatten(0, 1), support_y.flatten(0, 1), cfg
        )  # sum of task means
        grads = torch.autograd.grad(loss, list(adapted.values()), create_graph=not cfg.first_order)
        adapted = {
            n: p - cfg.inner_lr * g for (n, p), g in zip(adapted.items(), grads, strict=True)
        }
    return adapted


def meta_backward_batched(model: nn.Sequential, batch: Batch, cfg: MAMLConfig) -> float:
    r"""`meta_backward` for all tasks at once: the same gradient, for GPUs.

    Adapts every task in one batched graph (`adapt_tasks`), runs the query passes on detached
    copies of $\theta'_t$ (one task at a time, or fused, see `MAMLConfig.fuse_query`), then sends
    their gradients through the inner loop in one backward call: the chain rule, split.

    Args:
        model: A `build_model` network; its parameters are $\theta$.
        batch: `support_x (T, N*K, ...)`, `support_y`, `query_x (T, N*Q, ...)`, `query_y`,
            already validated by `meta_backward`.
        cfg: Uses `fuse_query` and the inner-loop fields.

    Returns:
        The meta-loss value.
    """
    support_x, support_y, query_x, query_y = batch
    t = support_x.shape[0]
    adapted = adapt_tasks(model, dict(model.named_parameters()), support_x, support_y, cfg)
    leaves = {n: a.detach().requires_grad_() for n, a in adapted.items()}  # (T, *shape) each
    fuse = cfg.fuse_query
    if fuse is None:
        fuse = not (cfg.backbone == "conv4" and query_x.device.type == "cpu")
    if fuse:
        outputs = forward_tasks(model, leaves, query_x)  # (T, N*Q, out)
        losses = [task_loss(outputs.flatten(0, 1), query_y.flatten(0, 1), cfg)]
        losses[0].backward()
    else:
        losses = []
        for i in range(t):
            outputs = functional_call(model, {n: v[i] for n, v in leaves.items()}, (query_x[i],))
            losses.append(task_loss(outputs, query_y[i], cfg) / t)
            losses[-1].backward()
    torch.autograd.backward(list(adapted.values()), [leaves[n].grad for n in adapted])
    return torch.stack([loss.detach() for loss in losses]).sum().item()


# --8<-- [end:batched]


if __name__ == "__main__":
    if sys.argv[1:]:  # no command line in an algorithm file: readers change values in Python
        sys.exit(f"python -m reference_impl.maml takes no arguments, got {sys.argv[1:]}")
    main(MAMLConfig())
