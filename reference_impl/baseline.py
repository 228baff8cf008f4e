# SPDX-License-Identifier: MIT
# Copyright (c) 2026 Meta-Learning Glossary contributors; licence text: LICENSE in the repo.
# Page: algorithms/transfer-baseline/ on the Meta-Learning Glossary site
# (its source: docs/algorithms/transfer-baseline.md in the repository).
r"""Transfer-learning baseline: pre-train an ordinary classifier, then answer episodes without meta-learning.

The network is trained with cross-entropy over *all* meta-training classes at once, like any
image classifier. At meta-test time its feature extractor is frozen and each episode is answered
from the support set's features alone, by one of two heads:

* `"cosine"`: cosine similarity to the class means of the support features (nearest centroid),
  the test rule of the Classifier-Baseline in Chen et al. (2021), "Meta-Baseline: Exploring
  Simple Meta-Learning for Few-Shot Learning", arXiv:2003.04390; SimpleShot (Wang et al. (2019),
  arXiv:1911.04623) uses Euclidean nearest centroid on centred, L2-normalised features;
* `"logistic"`: a multinomial logistic regression fitted on the L2-normalised support features,
  as in Tian et al. (2020), "Rethinking Few-Shot Image Classification: a Good Embedding Is All You
  Need?", arXiv:2003.11539.

It is the comparator a meta-learner has to beat on the same episodes to pay for its complexity.

| Idea | Function |
|---|---|
| Pre-training objective: cross-entropy over all training classes | `pretrain_loss` |
| Nearest centroid by cosine similarity (Classifier-Baseline) | `cosine_head` |
| RFS linear classifier on normalised features | `fit_logistic_head` |
| Episode predictor `predict(support_x, support_y, query_x) -> logits` | `make_predict` |

Deliberate deviations:

1. The cosine head is not Baseline++ of Chen et al. (2019), "A Closer Look at Few-shot
   Classification", arXiv:1904.04232, which pre-trains with a cosine classifier and fits a new one
   on the support set by SGD; here pre-training uses a linear layer and the head's weights are the
   support class means (no fitting, deterministic), so both heads share one checkpoint.
2. Tian et al. fit scikit-learn's `LogisticRegression`; here the same objective
   (L2 penalty on the weights, unpenalised bias, inverse strength `head_c`) is minimised by L-BFGS
   in torch, so the file needs nothing but torch.
3. BatchNorm uses the current batch's statistics (`track_running_stats=False`); support and query
   are embedded in one batch (transductive).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ClassBatch = Callable[[torch.Generator], tuple[Tensor, Tensor]]


# --8<-- [start:config]
@dataclass(frozen=True)
class BaselineConfig:
    """Hyperparameters of the transfer baseline (defaults: a small synthetic run)."""

    backbone: str = "mlp"
    """`"mlp"` for the synthetic vectors, `"conv4"` for `(B, 1, 28, 28)` images such as Omniglot."""
    head: str = "cosine"
    """Episode head: `"cosine"` (nearest class mean by cosine) or `"logistic"` (RFS linear head)."""
    num_classes: int = 64
    """Pre-training classes (output size of the pre-training layer)."""
    mlp_hidden: int = 64
    """Width of the MLP layers; the MLP's feature dimension D."""
    conv_channels: int = 64
    """Filters per Conv-4 block (64 as in the MAML and ProtoNet papers); the Conv-4's D."""
    cosine_scale: float = 10.0
    """Multiplies cosine similarities to form logits; changes confidence, never the argmax."""
    head_c: float = 1.0
    """Inverse L2 strength of the logistic head (scikit-learn's `C`; its default, used by RFS)."""
    head_steps: int = 100
    """Maximum L-BFGS iterations when fitting the logistic head."""
    outer_lr: float = 1e-3
    """Adam learning rate for pre-training (`outer_lr` in every config of the package)."""
    batch_size: int = 128
    """Examples per pre-training step."""
    train_steps: int = 300
    """Pre-training steps in `train`."""
    x_dim: int = 32
    """Synthetic data: dimension of each input vector."""
    latent_dim: int = 8
    """Synthetic data: dimensions that carry class identity; the rest is nuisance."""
    cluster_std: float = 0.5
    """Synthetic data: spread of a class around its centre in the latent dimensions."""
    nuisance_std: float = 2.0
    """Synthetic data: spread of the class-independent nuisance dimensions."""
    world_seed: int = 0
    """Synthetic data: seed of the fixed mixing matrix and the pre-training class centres."""
    n_way: int = 5
    """Classes per evaluation episode (N)."""
    k_shot: int = 1
    """Support examples per class (K)."""
    n_query: int = 15
    """Query examples per class (Q)."""
    eval_tasks: int = 200
    """Episodes in `evaluate`."""
    seed: int = 0
    """Initial weights and pre-training batches in `main` (and `train`'s default batch order)."""

    def __post_init__(self) -> None:
        if self.backbone not in ("mlp", "conv4"):
            raise ValueError(f"backbone must be 'mlp' or 'conv4', got {self.backbone!r}")
        if self.head not in ("cosine", "logistic"):
            raise ValueError(f"head must be 'cosine' or 'logistic', got {self.head!r}")
        sizes = ("mlp_hidden", "conv_channels", "x_dim")
        for name in ("num_classes", "batch_size", "k_shot", "n_query", "eval_tasks", *sizes):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_way < 2 or self.train_steps < 0:
            raise ValueError(
                f"n_way must be >= 2 and train_steps >= 0, got {self.n_way} and {self.train_steps}"
            )
        if not (self.outer_lr > 0 and self.head_c > 0 and self.head_steps >= 1):
            raise ValueError(
                f"outer_lr and head_c must be > 0 and head_steps >= 1, got {self.outer_lr}, "
                f"{self.head_c} "
                f"and {self.head_steps}"
            )


def omniglot_config(
    n_way: int = 5, k_shot: int = 1, *, num_classes: int, **overrides: object
) -> BaselineConfig:
    """Omniglot: Conv-4 pre-trained on every training class, tested on N-way K-shot episodes.

    The default 300 steps are sized for the synthetic demo; on Omniglot a 30-minute budget runs
    about 3000 updates of 128 images on one core, so the 30000 steps (about 40 passes over the
    maml split's images) leave the budget to end training.

    Args:
        n_way: Classes per test episode.
        k_shot: Support examples per class at test.
        num_classes: Training classes (rotations included).
        **overrides: Any other `BaselineConfig` field.

    Returns:
        The configuration.
    """
    fields: dict = dict(
        backbone="conv4", num_classes=num_classes, n_way=n_way, k_shot=k_shot, n_query=15,
        train_steps=30000,
    )  # fmt: skip
    return BaselineConfig(**{**fields, **overrides})


# --8<-- [end:config]


# --8<-- [start:data]
def make_world(cfg: BaselineConfig) -> tuple[Tensor, Tensor]:
    r"""Fixed parts of the synthetic domain: a mixing matrix and the pre-training class centres.

    An input is $x = M [z; u]$ with class signal $z \sim \mathcal{N}(\mu_c, \sigma^2 I)$ in
    `latent_dim` dimensions, class-independent nuisance $u$ with a larger spread, and a fixed
    random orthogonal $M$. Raw inputs separate classes poorly; a network that learns to project
    out $u$ separates them well, also for classes it never saw.

    Returns:
        `mixing` of shape `(x_dim, x_dim)` (or `(784, x_dim)` for `"conv4"`, which
        renders each vector as a `1x28x28` image) and `centres` of shape `(num_classes, latent_dim)`.
    """
    g = torch.Generator().manual_seed(cfg.world_seed)
    mixing = torch.linalg.qr(torch.randn(cfg.x_dim, cfg.x_dim, generator=g))[0]
    if cfg.backbone == "conv4":
        mixing = torch.randn(28 * 28, cfg.x_dim, generator=g) @ mixing / math.sqrt(cfg.x_dim)
    centres = torch.randn(cfg.num_classes, cfg.latent_dim, generator=g)
    return mixing, centres


def sample_points(
    centres: Tensor,
    n_per_class: int,
    mixing: Tensor,
    cfg: BaselineConfig,
    generator: torch.Generator,
) -> Tensor:
    """Draw `n_per_class` inputs around each latent class centre.

    Args:
        centres: Latent class centres, shape `(C, latent_dim)`.
        n_per_class: Examples per class.
        mixing: Mixing matrix from `make_world`.
        cfg: Uses `latent_dim`, `cluster_std`, `nuisance_std`, `backbone`.
        generator: Source of randomness.

    Returns:
        Inputs of shape `(C, n_per_class, x_dim)`, or `(C, n_per_class, 1, 28, 28)` for `"conv4"`.
    """
    c = centres.shape[0]
    signal = centres[:, None] + cfg.cluster_std * torch.randn(
        c, n_per_class, cfg.latent_dim, generator=generator
    )
    nuisance = cfg.nuisance_std * torch.randn(
        c, n_per_class, cfg.x_dim - cfg.latent_dim, generator=generator
    )
    x = torch.cat([signal, nuisance], dim=-1) @ mixing.T  # (C, n, x_dim) or (C, n, 784)
    return x.reshape(c, n_per_class, 1, 28, 28) if cfg.backbone == "conv4" else x


def sample_class_batch(
    cfg: BaselineConfig, world: tuple[Tensor, Tensor], generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Draw one pre-training batch: inputs with their global class labels.

    Returns:
        `x` of shape `(B, *x_shape)` and labels `y` of shape `(B,)` in `0..num_classes-1`.
    """
    mixing, centres = world
    y = torch.randint(cfg.num_classes, (cfg.batch_size,), generator=generator)
    x = sample_points(centres[y], 1, mixing, cfg, generator)[:, 0]
    return x, y


def sample_tasks(
    cfg: BaselineConfig, world: tuple[Tensor, Tensor], num_tasks: int, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Draw episodes of *new* classes (fresh latent centres) from the synthetic domain.

    Returns:
        `support_x (T, N*K, *x_shape)`, `support_y (T, N*K)`, `query_x (T, N*Q, *x_shape)`,
        `query_y (T, N*Q)`; labels are class-major, `0..N-1`.
    """
    mixing, _ = world
    n, k, q = cfg.n_way, cfg.k_shot, cfg.n_query
    centres = torch.randn(num_tasks * n, cfg.latent_dim, generator=generator)
    x = sample_points(centres, k + q, mixing, cfg, generator)  # (T*N, K+Q, *x_shape)
    x = x.reshape(num_tasks, n, k + q, *x.shape[2:])
    support_x = x[:, :, :k].reshape(num_tasks, n * k, *x.shape[3:])
    query_x = x[:, :, k:].reshape(num_tasks, n * q, *x.shape[3:])
    support_y = torch.arange(n).repeat_interleave(k).expand(num_tasks, -1)
    query_y = torch.arange(n).repeat_interleave(q).expand(num_tasks, -1)
    return support_x, support_y, query_x, query_y


# --8<-- [end:data]


# --8<-- [start:model]
class BaselineNet(nn.Module):
    """Feature extractor `embed` plus a linear pre-training layer `classifier`."""

    def __init__(self, embed: nn.Module, feature_dim: int, num_classes: int) -> None:
        super().__init__()
        self.embed = embed
        self.classifier = nn.Linear(feature_dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Pre-training logits of shape `(B, num_classes)` for inputs `(B, *x_shape)`."""
        return self.classifier(self.embed(x))


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 convolution, batch-statistics BatchNorm, ReLU, 2x2 max-pool."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.BatchNorm2d(out_channels, track_running_stats=False),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


def build_model(cfg: BaselineConfig) -> BaselineNet:
    """The network as configured: Conv-4 (28x28 -> 64 features) or a two-layer MLP (the config
    admits no other backbone or head)."""
    if cfg.backbone == "conv4":
        c = cfg.conv_channels
        embed: nn.Module = nn.Sequential(
            conv_block(1, c), conv_block(c, c), conv_block(c, c), conv_block(c, c), nn.Flatten()
        )  # (B, 1, 28, 28) -> (B, c, 1, 1) -> (B, c)
        return BaselineNet(embed, c, cfg.num_classes)
    if cfg.backbone == "mlp":
        h = cfg.mlp_hidden
        embed = nn.Sequential(nn.Linear(cfg.x_dim, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU())
        return BaselineNet(embed, h, cfg.num_classes)
    raise ValueError(f"backbone must be 'mlp' or 'conv4', got {cfg.backbone!r}")


def embed(model: BaselineNet, x: Tensor, cfg: BaselineConfig) -> Tensor:
    """The frozen feature extractor on a batch of inputs `(B, *x_shape)`, shape `(B, D)`."""
    return model.embed(x)


# --8<-- [end:model]


def _check_head_input(
    support_features: Tensor, support_y: Tensor, query_features: Tensor | None = None
) -> None:
    if support_features.dim() != 2 or support_y.shape != support_features.shape[:1]:
        raise ValueError(
            "expected support_features (N*K, D) and support_y (N*K,), got "
            f"{tuple(support_features.shape)} and {tuple(support_y.shape)}"
        )
    if query_features is not None and (
        query_features.dim() != 2 or query_features.shape[1] != support_features.shape[1]
    ):
        raise ValueError(
            f"expected query_features (N*Q, {support_features.shape[1]}), got "
            f"{tuple(query_features.shape)}"
        )


# --8<-- [start:heads]
def cosine_head(
    support_features: Tensor, support_y: Tensor, query_features: Tensor, n_way: int, scale: float
) -> Tensor:
    r"""Nearest-centroid logits: scaled cosine similarity to each class mean of the support features.

    $$\text{logit}_k(q) = s \cos\big(f(q), c_k\big), \qquad c_k = \frac{1}{K}\sum_{i: y_i = k} f(x_i)$$

    Args:
        support_features: Frozen features, shape `(N*K, D)`.
        support_y: Labels covering `0..N-1`, shape `(N*K,)` (`check_episode` checks them).
        query_features: Frozen features, shape `(N*Q, D)`.
        n_way: Number of classes N.
        scale: The factor $s$.

    Returns:
        Logits of shape `(N*Q, N)`.

    Raises:
        ValueError: If the features are not `(rows, D)` with one D.
    """
    _check_head_input(support_features, support_y, query_features)
    classes = torch.arange(n_way, device=support_y.device)
    one_hot = (support_y[:, None] == classes).to(support_features.dtype)  # (N*K, N)
    means = (one_hot.T @ support_features) / one_hot.sum(0)[:, None]  # (N, D)
    return scale * F.normalize(query_features, dim=-1) @ F.normalize(means, dim=-1).T  # (N*Q, N)


def fit_logistic_head(
    support_features: Tensor, support_y: Tensor, n_way: int, cfg: BaselineConfig
) -> tuple[Tensor, Tensor]:
    r"""Fit a multinomial logistic regression on L2-normalised support features (RFS head).

    Minimises, over $W$ and $b$, with $\hat f = f / \lVert f \rVert$ and $n = N K$,

    $$\frac{1}{n}\sum_{i=1}^{n} \text{CE}\big(W \hat f(x_i) + b,\ y_i\big) + \frac{\lVert W \rVert^2}{2 C n},$$

    scikit-learn's objective divided by $Cn$, so it has the same minimiser. Starts from zero, so
    the fit is deterministic.

    Args:
        support_features: Frozen features, shape `(N*K, D)`.
        support_y: Labels `0..N-1`, shape `(N*K,)`.
        n_way: Number of classes N.
        cfg: Uses `head_c` (C) and `head_steps`.

    Returns:
        `weight` of shape `(N, D)` and `bias` of shape `(N,)`, detached.

    Raises:
        ValueError: If the features are not `(N*K, D)`.
    """
    _check_head_input(support_features, support_y)
    feats = F.normalize(support_features.detach(), dim=-1)  # (N*K, D)
    weight = feats.new_zeros(n_way, feats.shape[1], requires_grad=True)
    bias = feats.new_zeros(n_way, requires_grad=True)
    penalty = 1.0 / (2.0 * cfg.head_c * feats.shape[0])
    optimizer = torch.optim.LBFGS(
        [weight, bias],
        lr=1.0,
        max_iter=cfg.head_steps,
        tolerance_grad=1e-10,
        tolerance_change=1e-12,
        line_search_fn="strong_wolfe",
    )

    def objective() -> Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(feats @ weight.T + bias, support_y) + penalty * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(objective)
    return weight.detach(), bias.detach()


# --8<-- [end:heads]


# --8<-- [start:predict]
def check_episode(
    support_x: Tensor, support_y: Tensor, query_x: Tensor, query_y: Tensor | None = None,
    like: Tensor | None = None,
) -> int:  # fmt: skip
    """Validate an episode, or a meta-batch with a leading `T`, and return its classes `N`.

    `N` is one more than the largest support label; the support labels of every episode must
    cover `0..N-1` and the query labels lie in `0..N-1`. One host sync for the whole batch.

    Args:
        support_x: Support inputs, shape `(N*K, *x_shape)` or `(T, N*K, *x_shape)`.
        support_y: int64 labels, shape `(N*K,)` or `(T, N*K)`.
        query_x: Query inputs, shape `(N*Q, *x_shape)` or `(T, N*Q, *x_shape)`.
        query_y: int64 labels, shape `(N*Q,)` or `(T, N*Q)`, if known.
        like: One input as the model takes it (`x_shape`, dtype, device), if known.

    Returns:
        `N`.

    Raises:
        ValueError: On mismatched shapes, inputs unlike `like`, labels that are not int64, an
            empty support set (`K=0`) or query set, or labels that do not cover `0..N-1`.
    """
    lead = support_y.dim()  # 1, or 2 with a leading T
    given = {"support_x": support_x, "support_y": support_y, "query_x": query_x, "query_y": query_y}
    pairs = ((support_x, support_y), (query_x, query_y))
    found = (support_x.shape[lead:], support_x.dtype, support_x.device)
    if not (
        lead in (1, 2)
        and (like is None or found == (like.shape, like.dtype, like.device))
        and query_x.shape[: lead - 1] + query_x.shape[lead:]
        == support_x.shape[: lead - 1] + support_x.shape[lead:]
        and all(
            y is None or (y.dtype == torch.int64 and y.shape == x.shape[:lead]) for x, y in pairs
        )
        and min(support_x.shape[lead - 1], query_x.shape[lead - 1]) > 0
    ):
        got = ", ".join(f"{name} {tuple(t.shape)}" for name, t in given.items() if t is not None)
        x = "*x_shape" if like is None else ", ".join(map(str, like.shape))
        raise ValueError(
            f"expected support_x (N*K, {x}), int64 support_y (N*K,), query_x (N*Q, {x}) and "
            "int64 query_y (N*Q,), optionally with a leading T, K and Q >= 1"
            + ("" if like is None else f", {like.dtype} inputs on {like.device}")
            + f"; got {got}"
        )
    labels = support_y.reshape(-1, support_y.shape[-1])  # (T, N*K)
    seen = torch.zeros_like(labels).scatter_(1, labels.clamp(0, labels.shape[1] - 1), 1)
    queries = labels if query_y is None else query_y
    stats = [labels.min(), labels.max(), labels.amax(1).min(), seen.sum(1).min()]
    stats += [queries.min(), queries.max()]
    low, high, lowest_max, distinct, query_low, query_high = torch.stack(stats).tolist()  # 1 sync
    if low != 0 or lowest_max != high or distinct != high + 1 or query_low < 0 or query_high > high:
        raise ValueError(
            f"support_y must cover 0..N-1 in every episode and query_y lie in it (N = largest "
            f"support label + 1 = {high + 1}); got support labels {low}..{high} ({distinct} "
            f"distinct in one episode) and query labels {query_low}..{query_high}"
        )
    return high + 1


def make_predict(
    model: BaselineNet, cfg: BaselineConfig
) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    """Episode predictor from a pre-trained network; the network's weights are never changed.

    Args:
        model: Pre-trained `BaselineNet`; only `model.embed` is used.
        cfg: Uses `head`, `cosine_scale` and, for the logistic head, `head_c`, `head_steps`.

    Returns:
        `predict(support_x, support_y, query_x) -> logits` with `support_x (N*K, *x_shape)`,
        `support_y (N*K,)` int64 in `0..N-1`, `query_x (N*Q, *x_shape)`, logits `(N*Q, N)`.
    """

    x_shape = (cfg.x_dim,) if cfg.backbone == "mlp" else (1, 28, 28)  # what `build_model` takes

    def predict(support_x: Tensor, support_y: Tensor, query_x: Tensor) -> Tensor:
        like = next(model.parameters()).new_empty(x_shape)  # one input as the network takes it
        n_way = check_episode(support_x, support_y, query_x, like=like)
        with torch.no_grad():
            feats = model.embed(torch.cat([support_x, query_x]))  # (N*K + N*Q, D), one BN batch
        support_features, query_features = feats[: len(support_y)], feats[len(support_y) :]
        if cfg.head == "cosine":
            return cosine_head(support_features, support_y, query_features, n_way, cfg.cosine_scale)
        weight, bias = fit_logistic_head(support_features, support_y, n_way, cfg)
        return F.normalize(query_features, dim=-1) @ weight.T + bias  # (N*Q, N)

    return predict


# --8<-- [end:predict]


# --8<-- [start:loss]
def pretrain_loss(model: BaselineNet, x: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy over all pre-training classes at once (no episodes).

    Args:
        model: The network.
        x: Inputs, shape `(B, *x_shape)`.
        y: Global class labels, shape `(B,)`.

    Returns:
        Scalar mean loss.
    """
    return F.cross_entropy(model(x), y)


# --8<-- [end:loss]


# --8<-- [start:train-step]
def train_step(
    model: BaselineNet,
    optimizer: torch.optim.Optimizer,
    batch: tuple[Tensor, Tensor],
    cfg: BaselineConfig,
) -> dict[str, float]:
    """One supervised pre-training step on a class batch.

    Args:
        model: The network, updated in place.
        optimizer: Optimiser over `model.parameters()`.
        batch: Inputs `x (B, *x_shape)` and global class labels `y (B,)`.
        cfg: Unused; part of the shared `train_step(model, optimizer, batch, cfg)` signature.

    Returns:
        `{"loss": ...}`, the batch loss before the update.

    Raises:
        ValueError: If `y` is not int64 labels `(B,)`, or the loss is not finite; the weights
            are then left as they were.
    """
    x, y = batch
    if y.dtype != torch.int64 or y.shape != x.shape[:1]:  # float targets would be class weights
        raise ValueError(
            f"expected int64 labels y (B,) for x {tuple(x.shape)}, got {y.dtype} {tuple(y.shape)}"
        )
    optimizer.zero_grad()
    loss = pretrain_loss(model, x, y)
    if not bool(torch.isfinite(loss)):  # a NaN update would spoil every later step
        raise ValueError(
            f"non-finite pre-training loss ({loss.item()}); the weights were not updated"
        )
    loss.backward()
    optimizer.step()
    return {"loss": float(loss.detach())}


# --8<-- [end:train-step]


# --8<-- [start:train]
def train(
    cfg: BaselineConfig,
    data: Tensor | None = None,
    *,
    sample_batch: ClassBatch | None = None,
    generator: torch.Generator | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> tuple[BaselineNet, list[float]]:
    """Pre-train the classifier on all meta-training classes.

    The task source is ordinary labelled batches, not episodes: episodic labels `0..N-1` do not
    name a class across episodes. Give either a class tensor `data` (as the Omniglot loader
    returns it) or a `sample_batch(generator) -> (x, y)` callable; neither means synthetic data.

    Args:
        cfg: Uses `train_steps`, `outer_lr`, `batch_size`, `num_classes` and the model fields.
        data: Meta-training classes, shape `(num_classes, examples_per_class, *x_shape)`.
        sample_batch: Returns `x (B, *x_shape)` and global labels `y (B,)`.
        generator: Randomness for batch sampling; default seeded with `cfg.seed`.
        on_step: Called as `on_step(steps_done, loss)` after every step.

    Returns:
        The trained network and the loss of every step.

    Raises:
        ValueError: If `data` does not have `cfg.num_classes` classes.
    """
    generator = generator if generator is not None else torch.Generator().manual_seed(cfg.seed)
    if data is not None:
        if data.dim() < 3 or data.shape[0] != cfg.num_classes:
            raise ValueError(
                f"expected data (num_classes={cfg.num_classes}, examples, *x_shape), got {tuple(data.shape)}"
            )
        flat = data.reshape(-1, *data.shape[2:])  # (C*E, *x_shape)
        labels = torch.arange(data.shape[0]).repeat_interleave(data.shape[1])

        def sample_batch(g: torch.Generator) -> tuple[Tensor, Tensor]:
            idx = torch.randint(flat.shape[0], (cfg.batch_size,), generator=g)
            return flat[idx], labels[idx].to(flat.device)
    elif sample_batch is None:
        world = make_world(cfg)

        def sample_batch(g: torch.Generator) -> tuple[Tensor, Tensor]:
            return sample_class_batch(cfg, world, g)

    model = build_model(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.outer_lr)
    losses = []
    for step in range(cfg.train_steps):
        x, y = sample_batch(generator)
        losses.append(train_step(model, optimizer, (x, y), cfg)["loss"])
        if on_step is not None:
            on_step(step + 1, losses[-1])
    return model, losses


# --8<-- [end:train]


# --8<-- [start:evaluate]
def evaluate(
    model: BaselineNet,
    cfg: BaselineConfig,
    episodes: tuple[Tensor, Tensor, Tensor, Tensor] | None = None,
    *,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """Accuracy on held-out episodes with its 95% confidence interval over episodes.

    Args:
        model: Pre-trained network.
        cfg: Uses the head fields and, for synthetic episodes, `eval_tasks`, `n_way`, `k_shot`, `n_query`.
        episodes: `(support_x, support_y, query_x, query_y)` with a leading T dimension; default
            `cfg.eval_tasks` synthetic episodes of unseen classes.
        generator: Randomness for the synthetic episodes; default seeded with 1.

    Returns:
        `accuracy` and `ci95` (1.96 times the population std over episodes, over sqrt(T)).
    """
    if episodes is None:
        generator = generator if generator is not None else torch.Generator().manual_seed(1)
        episodes = sample_tasks(cfg, make_world(cfg), cfg.eval_tasks, generator)
    predict = make_predict(model, cfg)
    accs = torch.stack(
        [
            (predict(sx, sy, qx).argmax(-1) == qy).double().mean()
            for sx, sy, qx, qy in zip(*episodes, strict=True)
        ]
    )  # (T,)
    return {
        "accuracy": float(accs.mean()),
        "ci95": float(1.96 * accs.std(unbiased=False) / math.sqrt(len(accs))),
    }


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


def main(cfg: BaselineConfig) -> dict[str, float]:
    """Pre-train on synthetic classes, then evaluate on episodes of unseen classes.

    Returns:
        `pretrain_loss` (mean of the last 10 steps), `accuracy` and `ci95` on new classes.
    """
    torch.manual_seed(cfg.seed)  # the initial weights; `train` seeds its batches from cfg.seed
    model, losses = train(cfg, on_step=_progress("baseline", cfg.train_steps))
    metrics = evaluate(model, cfg)
    return {"pretrain_loss": sum(losses[-10:]) / len(losses[-10:]), **metrics}


if __name__ == "__main__":
    if sys.argv[1:]:  # no command line in an algorithm file: readers change values in Python
        sys.exit(f"python -m reference_impl.baseline takes no arguments, got {sys.argv[1:]}")
    main(BaselineConfig())
# --8<-- [end:main]
