# SPDX-License-Identifier: MIT
# Copyright (c) 2026 Meta-Learning Glossary contributors; licence text: LICENSE in the repo.
# Page: algorithms/prototypical-networks/ on the Meta-Learning Glossary site
# (its source: docs/algorithms/prototypical-networks.md in the repository).
r"""Prototypical Networks: classify a query by its distance to the mean embedding of each class.

An embedding network $f_\phi$ maps every support example to a vector; the prototype of a class is
the mean of its support embeddings (Eq. 1), and a query receives a softmax over its negative
distances to the prototypes (Eq. 2). Training minimises the cross-entropy of that softmax on the
query examples of random episodes, so $f_\phi$ is learnt for nearest-prototype classification of
classes it never saw. Adapting to a new task is one forward pass: no gradient steps.

Snell et al. (2017), "Prototypical Networks for Few-shot Learning", arXiv:1703.05175v2.

| Paper | Code |
|---|---|
| Eq. (1), prototype $c_k$ | `prototypes` |
| Eq. (2), $p_\phi(y = k \mid x)$ | `prototype_logits` (its logits), `episode_loss` (its log) |
| Algorithm 1, loss $J(\phi)$ over one episode | `episode_loss`, `train_step` |
| §3.1, four-block convolutional embedding | `conv_block`, `build_model` |
| §3.1, Adam, learning rate halved every 2000 episodes | `learning_rate`, `train` |

Deliberate deviations from the paper and the authors' code:

* Batch normalisation always uses the current batch's statistics (`track_running_stats=False`),
  in training and at test; the authors' evaluation script switches to running averages
  (`model.eval()`). Support and query examples of an episode go through the network as one batch,
  as in the authors' code, so a query's logits depend on the other examples of its episode.
* `main` trains on a synthetic task family (Gaussian classes behind a fixed random warp), so the
  file runs alone in seconds; Omniglot episodes enter `train` through its `sample_batch` argument.
* `ProtoNetConfig(fast=True)` swaps ReLU and max-pooling in each block (they commute, so outputs
  and gradients are unchanged) and runs the convolutions in `channels_last` layout.
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

TaskBatch = tuple[Tensor, Tensor, Tensor, Tensor]
"""`(support_x, support_y, query_x, query_y)` with a leading meta-batch dimension `T`."""
SampleBatch = Callable[[torch.Generator], TaskBatch]
"""A task source: called with a generator, returns one meta-batch of episodes."""

DISTANCES = ("sqeuclidean", "cosine")
BACKBONES = ("conv4", "mlp")


# --8<-- [start:config]
@dataclass(frozen=True)
class ProtoNetConfig:
    """Hyperparameters of Prototypical Networks; the defaults are the paper's Omniglot protocol.

    `ProtoNetConfig()` is the 5-shot Omniglot setting of §3.1. Two named presets change it:
    `ProtoNetConfig.omniglot_cpu()` (cheaper episodes for a 2-core CPU) and
    `ProtoNetConfig.synthetic()` (a small MLP on the synthetic task family, seconds to train).
    """

    n_way: int = 60
    """Classes per training episode (§3.1: 60-way training episodes on Omniglot)."""
    k_shot: int = 5
    """Support examples per class; §3.1 trains with the shot used at test (1 or 5)."""
    n_query: int = 5
    """Query examples per class in a training episode (§3.1)."""
    test_n_way: int = 5
    """Classes per test episode (Table 1 reports 5- and 20-way)."""
    test_n_query: int = 15
    """Query examples per class at test; not stated in the paper, 15 in the authors' code."""
    meta_batch_size: int = 1
    """Episodes per parameter update; Algorithm 1 updates after every episode."""
    outer_lr: float = 1e-3
    """Adam learning rate (§3.1)."""
    lr_decay: float = 0.5
    """Factor applied to the learning rate every `lr_halve_every` episodes (§3.1: halved)."""
    lr_halve_every: int = 2000
    """Episodes between learning-rate decays (§3.1)."""
    train_steps: int = 20_000
    """Training episodes (one update each with `meta_batch_size=1`); the paper stops on
    validation loss, so this count is ours."""
    test_episodes: int = 1000
    """Test episodes averaged by `evaluate` (§3.1, Table 1)."""
    distance: str = "sqeuclidean"
    """`"sqeuclidean"` (the paper's choice) or `"cosine"` (compared in Fig. 2)."""
    backbone: str = "conv4"
    """Embedding network: `"conv4"`, four conv blocks (§3.1); `"mlp"`, two hidden layers, for the
    synthetic tasks."""
    in_channels: int = 1
    """Image channels of the Conv-4 input (Omniglot: 1)."""
    image_size: int = 28
    """Image height and width of the Conv-4 input (§3.1: 28)."""
    conv_channels: int = 64
    """Filters per conv block, and so the embedding size on 28x28 inputs (§3.1: 64)."""
    x_dim: int = 16
    """Input size of the MLP embedding."""
    mlp_hidden: int = 64
    """Width of the MLP's two hidden layers."""
    embedding_dim: int = 16
    """Output size `D` of the MLP embedding."""
    latent_dim: int = 4
    """Synthetic family: coordinates that carry the class; the other inputs are nuisance."""
    class_std: float = 0.15
    """Synthetic family: spread of a class around its centre in the class coordinates."""
    nuisance_std: float = 1.0
    """Synthetic family: spread of the nuisance coordinates, shared by all classes."""
    warp_gain: float = 0.5
    """Synthetic family: strength of the fixed tanh warp applied to every input."""
    train_classes: int = 400
    """Synthetic family: classes used for training; test tasks use the next `test_classes`."""
    test_classes: int = 100
    """Synthetic family: classes held out for `evaluate`."""
    task_seed: int = 0
    """Seed of the synthetic family's fixed parameters (class centres, warp)."""
    seed: int = 0
    """Seed of initialisation, of episode sampling in `train` and in `evaluate`."""
    fast: bool = False
    """Fast path for CPU training (see the module docstring); the exact path is the default."""

    def __post_init__(self) -> None:
        least = dict.fromkeys(("n_way", "test_n_way"), 2) | {"train_steps": 0}
        least |= dict.fromkeys(("k_shot", "n_query", "test_n_query", "test_episodes"), 1)
        least |= dict.fromkeys(("in_channels", "image_size", "conv_channels", "x_dim"), 1)
        least |= dict.fromkeys(("mlp_hidden", "embedding_dim"), 1)
        for name, low in (least | {"meta_batch_size": 1, "lr_halve_every": 1}).items():
            if not getattr(self, name) >= low:  # `not >=`: NaN is refused too
                raise ValueError(f"{name} must be >= {low}, got {getattr(self, name)}")
        if not (self.outer_lr > 0 and 0 < self.lr_decay <= 1):
            raise ValueError(
                f"outer_lr must be > 0 and lr_decay in (0, 1], got {self.outer_lr} and "
                f"{self.lr_decay}"
            )
        for name, allowed in {"distance": DISTANCES, "backbone": BACKBONES}.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if not 0 < self.latent_dim < math.prod(self.input_shape):
            raise ValueError(f"latent_dim must be in [1, {math.prod(self.input_shape)})")

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input: `(C, H, W)` for Conv-4, `(x_dim,)` for the MLP."""
        if self.backbone == "conv4":
            return (self.in_channels, self.image_size, self.image_size)
        return (self.x_dim,)

    @classmethod
    def omniglot_cpu(cls) -> ProtoNetConfig:
        """Cheaper Omniglot protocol for a small CPU: 20-way training episodes, fast path on.

        Not from the paper: Fig. 2 shows that more ways in training help, so this preset trades
        some accuracy for a third of the cost of a 60-way episode.
        """
        return cls(n_way=20, fast=True)

    @classmethod
    def synthetic(cls) -> ProtoNetConfig:
        """Small MLP on the synthetic task family; `main` finishes in seconds on a CPU."""
        return cls(
            backbone="mlp",
            n_way=20,
            n_query=5,
            train_steps=400,
            lr_halve_every=200,
            test_episodes=500,
        )


def omniglot_config(n_way: int = 5, k_shot: int = 1, **overrides: object) -> ProtoNetConfig:
    """The Omniglot protocol of §3.1 for an N-way K-shot test setting.

    Training episodes are 60-way with 5 queries per class and the test shot; test episodes are
    N-way with 15 queries per class. The fast path is on (same outputs, faster on a CPU).

    Args:
        n_way: Classes per test episode.
        k_shot: Support examples per class, in training and at test.
        **overrides: Any other `ProtoNetConfig` field.

    Returns:
        The configuration.
    """
    fields: dict = dict(
        backbone="conv4", in_channels=1, image_size=28, n_way=60, k_shot=k_shot, n_query=5,
        test_n_way=n_way, test_n_query=15, fast=True,
    )  # fmt: skip
    return ProtoNetConfig(**{**fields, **overrides})


# --8<-- [end:config]


# --8<-- [start:data]
def synthetic_family(cfg: ProtoNetConfig) -> dict[str, Tensor]:
    r"""Draw the fixed parameters of the synthetic task family from `cfg.task_seed`.

    Class $c$ has a centre $\mu_c \sim \mathcal{N}(0, I)$ in `latent_dim` class coordinates. An
    example is $u = [\mu_c + \sigma_c \varepsilon,\ \sigma_n \nu]$ (class coordinates, then
    nuisance coordinates shared by all classes), observed as
    $x = (u + g \tanh(u A))\,R$ with a fixed random matrix $A$ and rotation $R$.

    Args:
        cfg: Uses `task_seed`, `latent_dim`, `train_classes`, `test_classes`, `input_shape`.

    Returns:
        `centres` `(train_classes + test_classes, latent_dim)`, `warp` `(X, X)` and
        `rotation` `(X, X)`, where `X` is the number of input values.
    """
    generator = torch.Generator().manual_seed(cfg.task_seed)
    x_size = math.prod(cfg.input_shape)
    centres = torch.randn(cfg.train_classes + cfg.test_classes, cfg.latent_dim, generator=generator)
    warp = torch.randn(x_size, x_size, generator=generator) / math.sqrt(x_size)
    rotation, _ = torch.linalg.qr(torch.randn(x_size, x_size, generator=generator))
    return {"centres": centres, "warp": warp, "rotation": rotation}


def make_sampler(
    cfg: ProtoNetConfig,
    split: str = "train",
    *,
    n_way: int | None = None,
    n_query: int | None = None,
    meta_batch_size: int | None = None,
) -> SampleBatch:
    """Return a task source over the synthetic family's training or held-out classes.

    Args:
        cfg: Family parameters; `k_shot`, and by default `n_way`, `n_query`, `meta_batch_size`.
        split: `"train"` (the first `train_classes` classes) or `"test"` (the rest).
        n_way: Classes per episode, default `cfg.n_way`.
        n_query: Queries per class, default `cfg.n_query`.
        meta_batch_size: Episodes per call, default `cfg.meta_batch_size`.

    Returns:
        `sample_batch(generator) -> (support_x, support_y, query_x, query_y)` with shapes
        `(T, N*K, *x_shape)`, `(T, N*K)`, `(T, N*Q, *x_shape)`, `(T, N*Q)`; labels are
        class-major (`support_y = arange(N).repeat_interleave(K)`).

    Raises:
        ValueError: If `split` is unknown or the split has fewer than `n_way` classes.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    family = synthetic_family(cfg)
    first = 0 if split == "train" else cfg.train_classes
    count = cfg.train_classes if split == "train" else cfg.test_classes
    n = cfg.n_way if n_way is None else n_way
    q = cfg.n_query if n_query is None else n_query
    t = cfg.meta_batch_size if meta_batch_size is None else meta_batch_size
    k, latent, x_size = cfg.k_shot, cfg.latent_dim, math.prod(cfg.input_shape)
    if n > count:
        raise ValueError(f"n_way={n} exceeds the {count} classes of the {split!r} split")

    def sample_batch(generator: torch.Generator) -> TaskBatch:
        classes = torch.stack([torch.randperm(count, generator=generator)[:n] for _ in range(t)])
        centres = family["centres"][first + classes]  # (T, N, L)
        noise = torch.randn(t, n, k + q, latent, generator=generator)  # (T, N, K+Q, L)
        signal = centres[:, :, None] + cfg.class_std * noise
        nuisance = cfg.nuisance_std * torch.randn(t, n, k + q, x_size - latent, generator=generator)
        u = torch.cat([signal, nuisance], dim=-1)  # (T, N, K+Q, X)
        x = (u + cfg.warp_gain * torch.tanh(u @ family["warp"])) @ family["rotation"]
        x = x.reshape(t, n, k + q, *cfg.input_shape)
        labels = torch.arange(n)
        return (
            x[:, :, :k].reshape(t, n * k, *cfg.input_shape),
            labels.repeat_interleave(k).expand(t, n * k),
            x[:, :, k:].reshape(t, n * q, *cfg.input_shape),
            labels.repeat_interleave(q).expand(t, n * q),
        )

    return sample_batch


# --8<-- [end:data]


# --8<-- [start:model]
def conv_block(
    in_channels: int, out_channels: int, *, pool_before_relu: bool = False
) -> nn.Sequential:
    """One block of the §3.1 embedding: 3x3 conv, batch norm, ReLU, 2x2 max-pool.

    Batch norm normalises with the current batch's statistics, in training and at test
    (`track_running_stats=False`, "transductive" batch norm).

    Args:
        in_channels: Channels of the input.
        out_channels: Filters of the convolution.
        pool_before_relu: Apply max-pool before ReLU. Both are monotone, so the outputs and
            gradients are the same, and ReLU touches a quarter of the values (fast path).

    Returns:
        Module mapping `(B, in_channels, H, W)` to `(B, out_channels, H // 2, W // 2)`.
    """
    conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
    norm = nn.BatchNorm2d(out_channels, track_running_stats=False)
    if pool_before_relu:
        return nn.Sequential(conv, norm, nn.MaxPool2d(2), nn.ReLU())
    return nn.Sequential(conv, norm, nn.ReLU(), nn.MaxPool2d(2))


def build_model(cfg: ProtoNetConfig) -> nn.Module:
    r"""Build the embedding network $f_\phi$ named by `cfg.backbone`.

    Args:
        cfg: Uses `backbone`, `in_channels`, `conv_channels`, `x_dim`, `mlp_hidden`,
            `embedding_dim`, `fast`.

    Returns:
        `"conv4"`: maps `(B, C, 28, 28)` to `(B, conv_channels)` (four blocks halve 28 to 1).
        `"mlp"`: maps `(B, x_dim)` to `(B, embedding_dim)`. The fast path changes no parameter,
        so both paths share one `state_dict` layout.
    """
    if cfg.backbone == "conv4":
        channels = [cfg.in_channels] + [cfg.conv_channels] * 4
        blocks = [
            conv_block(c_in, c_out, pool_before_relu=cfg.fast)
            for c_in, c_out in itertools.pairwise(channels)
        ]
        return nn.Sequential(*blocks, nn.Flatten())
    return nn.Sequential(
        nn.Linear(cfg.x_dim, cfg.mlp_hidden),
        nn.ReLU(),
        nn.Linear(cfg.mlp_hidden, cfg.mlp_hidden),
        nn.ReLU(),
        nn.Linear(cfg.mlp_hidden, cfg.embedding_dim),
    )


def embed(model: nn.Module, x: Tensor, cfg: ProtoNetConfig) -> Tensor:
    r"""Apply $f_\phi$ to a batch, in `channels_last` layout on the fast path for images.

    Args:
        model: Embedding network from `build_model`.
        x: Inputs, shape `(B, *x_shape)`.
        cfg: Uses `fast`.

    Returns:
        Embeddings, shape `(B, D)`.
    """
    if cfg.fast and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return model(x).flatten(1)  # (B, D)


# --8<-- [end:model]


# --8<-- [start:prototypes]
def prototypes(support_embeddings: Tensor, support_y: Tensor, n_way: int) -> Tensor:
    r"""Mean embedding of each class's support examples (Eq. 1).

    $$c_k = \frac{1}{|S_k|} \sum_{(x_i, y_i) \in S_k} f_\phi(x_i)$$

    Args:
        support_embeddings: $f_\phi(x_i)$ for the support set, shape `(N*K, D)`.
        support_y: Labels covering `0..N-1`, shape `(N*K,)` (`check_episode` checks them).
        n_way: Number of classes `N`.

    Returns:
        Prototypes $c_k$, shape `(N, D)`.

    Raises:
        ValueError: If the shapes disagree.
    """
    if support_embeddings.dim() != 2 or support_y.shape != support_embeddings.shape[:1]:
        raise ValueError(
            "expected support_embeddings (N*K, D) and support_y (N*K,), got "
            f"{tuple(support_embeddings.shape)} and {tuple(support_y.shape)}"
        )
    classes = torch.arange(n_way, device=support_y.device)
    one_hot = (support_y[:, None] == classes).to(support_embeddings.dtype)  # (N*K, N)
    return (one_hot.T @ support_embeddings) / one_hot.sum(dim=0)[:, None]  # (N, D)


def prototype_logits(
    query_embeddings: Tensor, protos: Tensor, distance: str = "sqeuclidean"
) -> Tensor:
    r"""Logits of Eq. (2): negative distances from each query to each prototype.

    $$p_\phi(y = k \mid x) = \frac{\exp(-d(f_\phi(x), c_k))}{\sum_{k'} \exp(-d(f_\phi(x), c_{k'}))}$$

    With $d(z, z') = \lVert z - z' \rVert^2$ the logits are $-d$. With `"cosine"` they are the
    cosine similarity, i.e. $-d$ for $d = 1 - \cos$ up to a constant that the softmax ignores.

    Args:
        query_embeddings: $f_\phi(x)$ for the queries, shape `(N*Q, D)`.
        protos: Prototypes $c_k$, shape `(N, D)`.
        distance: `"sqeuclidean"` or `"cosine"`.

    Returns:
        Logits, shape `(N*Q, N)`.

    Raises:
        ValueError: If the embedding sizes differ or `distance` is unknown.
    """
    matrices = query_embeddings.dim() == protos.dim() == 2
    if not matrices or query_embeddings.shape[1:] != protos.shape[1:]:
        raise ValueError(
            "expected query_embeddings (N*Q, D) and prototypes (N, D), got "
            f"{tuple(query_embeddings.shape)} and {tuple(protos.shape)}"
        )
    if distance == "sqeuclidean":
        diff = query_embeddings[:, None, :] - protos[None, :, :]  # (N*Q, N, D)
        return -(diff**2).sum(dim=-1)  # (N*Q, N)
    if distance == "cosine":
        return F.normalize(query_embeddings, dim=-1) @ F.normalize(protos, dim=-1).T  # (N*Q, N)
    raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}")


# --8<-- [end:prototypes]


# --8<-- [start:loss]
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


def episode_logits(
    model: nn.Module,
    support_x: Tensor,
    support_y: Tensor,
    query_x: Tensor,
    n_way: int,
    cfg: ProtoNetConfig,
) -> Tensor:
    r"""Embed one episode's support and query examples in one batch and score the queries.

    Args:
        model: Embedding network $f_\phi$.
        support_x: Support inputs, shape `(N*K, *x_shape)`.
        support_y: Labels covering `0..N-1`, shape `(N*K,)` (see `check_episode`).
        query_x: Query inputs, shape `(N*Q, *x_shape)`.
        n_way: `N`, as `check_episode` returns it.
        cfg: Uses `distance`, `fast`.

    Returns:
        Logits of Eq. (2), shape `(N*Q, N)`.
    """
    z = embed(model, torch.cat([support_x, query_x]), cfg)  # (N*K + N*Q, D)
    z_support, z_query = z[: support_x.shape[0]], z[support_x.shape[0] :]
    return prototype_logits(z_query, prototypes(z_support, support_y, n_way), cfg.distance)


def episode_loss(logits: Tensor, query_y: Tensor) -> Tensor:
    r"""Mean negative log-probability of the true class over the queries (Algorithm 1).

    $$J(\phi) = -\frac{1}{|Q|} \sum_{(x, y) \in Q} \log p_\phi(y \mid x)$$

    Args:
        logits: Output of `prototype_logits`, shape `(N*Q, N)`.
        query_y: Labels in `0..N-1`, shape `(N*Q,)`.

    Returns:
        Scalar loss.

    Raises:
        ValueError: If `query_y` does not match `logits`.
    """
    if query_y.shape != logits.shape[:1] or logits.dim() != 2:
        raise ValueError(
            f"expected logits (N*Q, N) and query_y (N*Q,), got {tuple(logits.shape)} and "
            f"{tuple(query_y.shape)}"
        )
    return F.cross_entropy(logits, query_y)


# --8<-- [end:loss]


# --8<-- [start:train-step]
def train_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, batch: TaskBatch, cfg: ProtoNetConfig
) -> dict[str, float]:
    """One update on the mean episode loss of a meta-batch of `T` episodes.

    Args:
        model: Embedding network, updated in place.
        optimizer: Optimizer over `model.parameters()`.
        batch: `(support_x, support_y, query_x, query_y)` with shapes `(T, N*K, *x_shape)`,
            `(T, N*K)`, `(T, N*Q, *x_shape)`, `(T, N*Q)`.
        cfg: Uses `distance`, `fast`.

    Returns:
        `loss` (mean over the `T` episodes, before the update) and query `accuracy`.

    Raises:
        ValueError: If the batch is malformed (`check_episode`) or the loss is not finite; the
            weights are then left as they were.
    """
    support_x, support_y, query_x, query_y = batch
    n_way = check_episode(support_x, support_y, query_x, query_y)
    losses, correct = [], []
    for t in range(support_x.shape[0]):  # episodes are embedded separately: batch-norm statistics
        logits = episode_logits(model, support_x[t], support_y[t], query_x[t], n_way, cfg)
        losses.append(episode_loss(logits, query_y[t]))
        correct.append((logits.argmax(dim=-1) == query_y[t]).float().mean())
    loss = torch.stack(losses).mean()
    if not bool(torch.isfinite(loss)):  # one sync per step: a NaN update would spoil all later ones
        raise ValueError(f"non-finite training loss ({loss.item()}); the weights were not updated")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    loss_value, accuracy = torch.stack([loss.detach(), torch.stack(correct).mean()]).tolist()
    return {"loss": loss_value, "accuracy": accuracy}


# --8<-- [end:train-step]


# --8<-- [start:train]
def learning_rate(cfg: ProtoNetConfig, episode: int) -> float:
    """Step schedule of §3.1: `outer_lr`, multiplied by `lr_decay` every `lr_halve_every` episodes."""
    return cfg.outer_lr * cfg.lr_decay ** (episode // cfg.lr_halve_every)


def train(
    cfg: ProtoNetConfig,
    sample_batch: SampleBatch | None = None,
    *,
    model: nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    start_episode: int = 0,
    generator: torch.Generator | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> tuple[nn.Module, list[float]]:
    """Train the embedding on episodes from `sample_batch` for episodes `start_episode..train_steps-1`.

    Args:
        cfg: Training hyperparameters.
        sample_batch: Task source (see `SampleBatch`); default: the synthetic training classes.
        model: Network to continue training; default: `build_model(cfg)` seeded by `cfg.seed`.
        optimizer: Adam state to continue from; default: a new Adam over `model`.
        start_episode: First episode index (sets the learning rate when resuming).
        generator: Episode sampling randomness; default: seeded by `cfg.seed`.
        on_step: Called as `on_step(episodes_done, loss)` after every update.

    Returns:
        The trained model (on the device of its parameters) and the loss of every update.
    """
    if model is None:
        torch.manual_seed(cfg.seed)
        model = build_model(cfg)
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=cfg.outer_lr)
    sample_batch = sample_batch or make_sampler(cfg, "train")
    generator = generator or torch.Generator().manual_seed(cfg.seed)
    reference = next(model.parameters())
    model.train()
    history = []
    for episode in range(start_episode, cfg.train_steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg, episode)
        batch = tuple(  # inputs in the model's dtype, labels as they are, on its device
            t.to(reference) if t.is_floating_point() else t.to(reference.device)
            for t in sample_batch(generator)
        )
        history.append(train_step(model, optimizer, batch, cfg)["loss"])  # type: ignore[arg-type]
        if on_step is not None:
            on_step(episode + 1, history[-1])
    return model, history


# --8<-- [end:train]


# --8<-- [start:evaluate]
def make_predict(
    model: nn.Module, cfg: ProtoNetConfig
) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    """Wrap `model` as `predict(support_x, support_y, query_x) -> logits` for one episode.

    Args:
        model: Embedding network; `predict` runs it without gradients and never changes it.
        cfg: Uses `distance`, `fast`.

    Returns:
        `predict` mapping `(N*K, *x_shape)`, `(N*K,)`, `(N*Q, *x_shape)` to logits `(N*Q, N)`.
    """

    def predict(support_x: Tensor, support_y: Tensor, query_x: Tensor) -> Tensor:
        like = next(model.parameters(), support_x).new_empty(cfg.input_shape)  # one input
        n_way = check_episode(support_x, support_y, query_x, like=like)
        with torch.no_grad():
            return episode_logits(model, support_x, support_y, query_x, n_way, cfg)

    return predict


def evaluate(
    model: nn.Module,
    cfg: ProtoNetConfig,
    sample_batch: SampleBatch | None = None,
    *,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """Mean query accuracy over `cfg.test_episodes` episodes of classes unseen in training.

    Args:
        model: Embedding network (`nn.Flatten()` gives nearest-prototype on raw inputs).
        cfg: Uses `test_episodes`, and `test_n_way`, `k_shot`, `test_n_query` for the default
            task source.
        sample_batch: Task source; default: the synthetic held-out classes, one episode per call.
        generator: Sampling randomness; default: seeded by `cfg.seed`.

    Returns:
        `accuracy`, `ci95` (1.96 times the population std over episodes, over sqrt(episodes),
        the convention of `reference_impl.evaluation`) and mean query `loss`.
    """
    sample_batch = sample_batch or make_sampler(
        cfg, "test", n_way=cfg.test_n_way, n_query=cfg.test_n_query, meta_batch_size=1
    )
    generator = generator or torch.Generator().manual_seed(cfg.seed)
    predict = make_predict(model, cfg)
    reference = next(model.parameters(), torch.zeros(()))
    accuracies, losses = [], []
    for _ in range(cfg.test_episodes):
        batch = [t.to(reference) if t.is_floating_point() else t.to(reference.device)
                 for t in sample_batch(generator)]  # fmt: skip
        for support_x, support_y, query_x, target in zip(*batch, strict=True):
            logits = predict(support_x, support_y, query_x)
            accuracies.append((logits.argmax(dim=-1) == target).double().mean())
            losses.append(episode_loss(logits, target).double())
    acc, loss = torch.stack(accuracies), torch.stack(losses)  # (episodes,) each
    ci95 = 1.96 * acc.std(unbiased=False) / math.sqrt(len(accuracies))  # population std
    accuracy, ci95_value, mean_loss = torch.stack([acc.mean(), ci95, loss.mean()]).tolist()
    return {"accuracy": accuracy, "ci95": ci95_value, "loss": mean_loss}


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


def main(cfg: ProtoNetConfig) -> dict[str, float]:
    """Train on the synthetic task family and test on its held-out classes.

    Args:
        cfg: Configuration; `ProtoNetConfig.synthetic()` runs in seconds.

    Returns:
        `accuracy` and `ci95` on unseen classes, `raw_accuracy` (nearest prototype on the raw
        inputs, no learnt embedding), and the mean training loss over the first and last tenth
        of the episodes (`first_loss`, `last_loss`).
    """
    model, history = train(cfg, on_step=_progress("protonet", cfg.train_steps))
    tenth = max(1, len(history) // 10)
    test = evaluate(model, cfg)
    raw = evaluate(nn.Flatten(), replace(cfg, fast=False))
    metrics = {"accuracy": test["accuracy"], "ci95": test["ci95"], "raw_accuracy": raw["accuracy"]}
    metrics["first_loss"] = sum(history[:tenth]) / tenth
    metrics["last_loss"] = sum(history[-tenth:]) / tenth
    return metrics


if __name__ == "__main__":
    if sys.argv[1:]:  # no command line in an algorithm file: readers change values in Python
        sys.exit(f"python -m reference_impl.protonet takes no arguments, got {sys.argv[1:]}")
    for key, value in main(ProtoNetConfig.synthetic()).items():
        print(f"{key}: {value:.4f}")
# --8<-- [end:main]
