# SPDX-License-Identifier: MIT
# Copyright (c) 2026 Meta-Learning Glossary contributors; licence text: LICENSE in the repo.
# Page: algorithms/fast-weights/ on the Meta-Learning Glossary site
# (its source: docs/algorithms/fast-weights.md in the repository).
r"""Delta-rule fast weights: a few-shot learner that writes its support set into a weight matrix.

A slow network (an encoder plus small heads) turns each support example into a key $k$, a value $v$
and a write strength $\beta$, and writes them one at a time into a fast weight matrix $W$ with the
delta rule of Schlag, Irie & Schmidhuber (2021), "Linear Transformers Are Secretly Fast Weight
Programmers", arXiv:2102.11174v3. A query is answered by reading $W$ with the query's key. Only the
slow weights are trained (by ordinary backpropagation through the writes); adapting to a new task
is one forward pass, with no inner-loop gradients. The paper's equations are named, not numbered,
here: their numbers were not checked against a fixed arXiv version.

| Paper | Function |
|---|---|
| delta-rule update: $\bar v = W_{t-1}\phi(k_t)$, $W_t = W_{t-1} + \beta_t(v_t - \bar v)\otimes\phi(k_t)$ | `write` |
| retrieval: $y_t = W_t \phi(q_t)$ | `read` |
| purely additive update $W_t = W_{t-1} + v_t \otimes \phi(k_t)$ (= unnormalised linear attention) | `write_additive` |

Deliberate deviations from the paper (a language model, not a few-shot learner):

1. Keys and queries are L2-normalised, $\phi(x) = x / \lVert x\rVert_2$. The paper uses a
   non-negative feature map (DPFP) and divides by the sum of its entries. With unit keys, writing
   $v$ under $k$ with $\beta = 1$ makes $W k = v$ exactly, so recall of orthonormal keys is exact.
2. The value of a support example is its one-hot label, so reading $W$ is a soft vote over the N
   labels; a learned temperature scales it into logits. Values do not depend on the image.
3. The support set is written in the order given (class-major for the shared episode sampler),
   `write_passes` times (default 2); the paper writes each token once. A second pass repairs what
   later writes did to earlier keys: with unit keys and $\beta = 1$ repeated passes are Kaczmarz's
   method and converge to the minimum-norm $W$ with $W k_i = v_i$ for every support example.
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

TaskBatch = tuple[Tensor, Tensor, Tensor, Tensor]
"""`(support_x, support_y, query_x, query_y)` with a leading meta-batch dimension `T`."""


# --8<-- [start:config]
@dataclass(frozen=True)
class FastWeightsConfig:
    """Hyperparameters of the fast-weight learner and of its synthetic task family."""

    n_way: int = 5
    """Classes per task, N."""
    k_shot: int = 1
    """Support examples per class, K."""
    n_query: int = 5
    """Query examples per class, Q."""
    backbone: str = "mlp"
    """Encoder network: `"mlp"` for vector inputs (the synthetic tasks) or `"conv4"` for `(1, 28, 28)` images."""
    x_dim: int = 32
    """Input size of the MLP encoder: `signal_dim + noise_dim` for the synthetic tasks."""
    conv_channels: int = 64
    """Filters per Conv-4 block (64 in MAML and ProtoNets)."""
    mlp_hidden: int = 64
    """Width of the MLP encoder's two layers."""
    in_channels: int = 1
    """Image channels of the Conv-4 encoder (1 for Omniglot)."""
    image_size: int = 28
    """Image side length of the Conv-4 encoder; 28 gives a 64-d embedding."""
    key_dim: int = 64
    r"""Size $D_k$ of keys and queries."""
    rule: str = "delta"
    """`"delta"` (`write`) or `"additive"` (`write_additive`, linear attention)."""
    normalize_keys: bool = True
    r"""L2-normalise keys and queries (deviation 1)."""
    write_passes: int = 2
    """Times the support set is written into the fast weights (deviation 3)."""
    init_temperature: float = 10.0
    """Initial value of the learned scale from read-out to logits."""
    init_write_strength: float = 0.9
    r"""Initial $\beta$: the write-strength head starts with weight 0 and this sigmoid output."""
    outer_lr: float = 1e-3
    """Adam step size for the slow weights."""
    meta_batch_size: int = 16
    """Tasks per meta-update."""
    train_steps: int = 300
    """Meta-updates in `train`."""
    signal_dim: int = 8
    """Synthetic tasks: dimensions that carry the class."""
    noise_dim: int = 24
    """Synthetic tasks: distractor dimensions, independent of the class."""
    within_class_std: float = 0.3
    """Synthetic tasks: spread of a class around its mean on the signal dimensions."""
    distractor_std: float = 2.0
    """Synthetic tasks: standard deviation of the distractor dimensions."""
    eval_tasks: int = 200
    """Tasks used by `evaluate`."""
    seed: int = 0
    """Seed of the parameter initialisation and of the training-task generator."""

    def __post_init__(self) -> None:
        if self.backbone not in ("mlp", "conv4"):
            raise ValueError(f"backbone must be 'mlp' or 'conv4', got {self.backbone!r}")
        if self.rule not in ("delta", "additive"):
            raise ValueError(f"rule must be 'delta' or 'additive', got {self.rule!r}")
        counts = ("n_way", "k_shot", "n_query", "write_passes", "meta_batch_size", "eval_tasks")
        sizes = ("x_dim", "conv_channels", "mlp_hidden", "in_channels", "image_size", "key_dim")
        for name in (*counts, *sizes):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.train_steps < 0 or not self.outer_lr > 0:
            raise ValueError(
                f"train_steps must be >= 0 and outer_lr > 0, got {self.train_steps} and "
                f"{self.outer_lr}"
            )
        if not 0 < self.init_write_strength < 1:  # a sigmoid output: its logit must be finite
            raise ValueError(
                f"init_write_strength must be in (0, 1), got {self.init_write_strength}"
            )


def omniglot_config(n_way: int = 5, k_shot: int = 1, **overrides: object) -> FastWeightsConfig:
    """Omniglot recipe for an N-way K-shot test setting: Conv-4, at least 20-way training episodes.

    20-way training episodes beat 5-way for the same images seen (the fast-weights notes);
    `make_predict` reads N from the support labels, so any test N works.

    Args:
        n_way: Classes per test episode; training uses `max(n_way, 20)`.
        k_shot: Support examples per class.
        **overrides: Any other `FastWeightsConfig` field.

    Returns:
        The configuration.
    """
    fields: dict = dict(
        backbone="conv4", in_channels=1, image_size=28, n_way=max(n_way, 20), k_shot=k_shot,
        n_query=5,
    )  # fmt: skip
    return FastWeightsConfig(**{**fields, **overrides})


# --8<-- [end:config]


# --8<-- [start:data]
def sample_tasks(cfg: FastWeightsConfig, generator: torch.Generator) -> TaskBatch:
    """Sample a meta-batch of synthetic N-way K-shot tasks whose classes are new every time.

    Each class is a Gaussian mean on `signal_dim` dimensions; `noise_dim` further dimensions are
    large class-independent noise. A learner must find the signal dimensions to beat chance, and
    no class is ever seen twice, so test classes are unseen by construction. Labels are
    class-major, like the shared episode sampler.

    Args:
        cfg: Uses `n_way`, `k_shot`, `n_query`, `meta_batch_size`, `signal_dim`, `noise_dim`,
            `within_class_std`, `distractor_std`.
        generator: Source of all randomness.

    Returns:
        `support_x (T, N*K, x_dim)`, `support_y (T, N*K)`, `query_x (T, N*Q, x_dim)`,
        `query_y (T, N*Q)`, with labels in `0..N-1`.
    """
    t, n, per_class = cfg.meta_batch_size, cfg.n_way, cfg.k_shot + cfg.n_query
    means = torch.randn(t, n, 1, cfg.signal_dim, generator=generator)  # (T, N, 1, S)
    signal = means + cfg.within_class_std * torch.randn(
        t, n, per_class, cfg.signal_dim, generator=generator
    )  # (T, N, K+Q, S)
    noise = cfg.distractor_std * torch.randn(t, n, per_class, cfg.noise_dim, generator=generator)
    x = torch.cat([signal, noise], dim=-1)  # (T, N, K+Q, x_dim)
    labels = torch.arange(n)
    support_x = x[:, :, : cfg.k_shot].reshape(t, n * cfg.k_shot, -1)
    query_x = x[:, :, cfg.k_shot :].reshape(t, n * cfg.n_query, -1)
    support_y = labels.repeat_interleave(cfg.k_shot).expand(t, -1)
    query_y = labels.repeat_interleave(cfg.n_query).expand(t, -1)
    return support_x, support_y, query_x, query_y


# --8<-- [end:data]


# --8<-- [start:model]
def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 convolution (no bias: BatchNorm's shift replaces it), BatchNorm, ReLU, 2x2 max-pool."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),  # BN adds it
        nn.BatchNorm2d(out_channels, track_running_stats=False),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


class FastWeightLearner(nn.Module):
    r"""The slow network: an encoder plus the heads that program the fast weights.

    Attributes:
        encoder: Maps one episode's inputs `(B, *x_shape)` to embeddings `(B, D)`.
        key_head: Linear map from an embedding to a key (and, for queries, a query) of size $D_k$.
        strength_head: Linear map from an embedding to the logit of the write strength $\beta$.
        log_temperature: Log of the scale that turns the read-out into logits.
    """

    def __init__(self, cfg: FastWeightsConfig) -> None:
        super().__init__()
        if cfg.backbone == "conv4":
            side = cfg.image_size // 16  # four 2x2 max-pools
            self.encoder: nn.Module = nn.Sequential(
                conv_block(cfg.in_channels, cfg.conv_channels),
                *(conv_block(cfg.conv_channels, cfg.conv_channels) for _ in range(3)),
                nn.Flatten(),
            )
            embedding_dim = cfg.conv_channels * side * side
            self.batch_norm = True
        elif cfg.backbone == "mlp":
            self.encoder = nn.Sequential(
                nn.Linear(cfg.x_dim, cfg.mlp_hidden),
                nn.ReLU(),
                nn.Linear(cfg.mlp_hidden, cfg.mlp_hidden),
            )
            embedding_dim = cfg.mlp_hidden
            self.batch_norm = False
        else:
            raise ValueError(f'backbone must be "conv4" or "mlp", got {cfg.backbone!r}')
        self.key_head = nn.Linear(embedding_dim, cfg.key_dim)
        self.strength_head = nn.Linear(embedding_dim, 1)
        nn.init.zeros_(self.strength_head.weight)
        p = cfg.init_write_strength
        nn.init.constant_(self.strength_head.bias, math.log(p / (1 - p)))  # sigmoid(bias) = p
        self.log_temperature = nn.Parameter(torch.tensor(cfg.init_temperature).log())

    def forward(self, x: Tensor, normalize: bool = True) -> tuple[Tensor, Tensor]:
        """Keys and write strengths of a batch of episodes.

        Args:
            x: Inputs, shape `(T, B, *x_shape)`; BatchNorm statistics are taken per episode.
            normalize: L2-normalise the keys.

        Returns:
            `keys (T, B, D_k)` and `write_strength (T, B)` in (0, 1).
        """
        if self.batch_norm:  # statistics per episode: map the encoder over the task dimension
            embedding = torch.func.vmap(self.encoder)(x)  # (T, B, D)
        else:
            embedding = self.encoder(x.flatten(0, 1)).unflatten(0, x.shape[:2])  # (T, B, D)
        keys = self.key_head(embedding)  # (T, B, D_k)
        if normalize:
            keys = F.normalize(keys, dim=-1)
        write_strength = torch.sigmoid(self.strength_head(embedding)).squeeze(-1)  # (T, B)
        return keys, write_strength


def build_model(cfg: FastWeightsConfig) -> FastWeightLearner:
    """The slow network as configured; its `state_dict()` is what checkpoints store."""
    return FastWeightLearner(cfg)


def embed(model: FastWeightLearner, x: Tensor, cfg: FastWeightsConfig) -> Tensor:
    """The encoder's features of a batch of inputs `(B, *x_shape)`, shape `(B, D)`."""
    return model.encoder(x)


# --8<-- [end:model]


def _check_write_shapes(fast_weights: Tensor, key: Tensor, value: Tensor, strength: Tensor) -> None:
    if fast_weights.dim() < 2:
        raise ValueError(
            f"fast_weights must have shape (..., D_v, D_k), got {tuple(fast_weights.shape)}"
        )
    batch = tuple(fast_weights.shape[:-2])
    d_v, d_k = fast_weights.shape[-2:]
    if tuple(key.shape) != (*batch, d_k):
        raise ValueError(f"key must have shape {(*batch, d_k)} (..., D_k), got {tuple(key.shape)}")
    if tuple(value.shape) != (*batch, d_v):
        raise ValueError(
            f"value must have shape {(*batch, d_v)} (..., D_v), got {tuple(value.shape)}"
        )
    if tuple(strength.shape) != batch:
        raise ValueError(f"write_strength must have shape {batch}, got {tuple(strength.shape)}")


# --8<-- [start:write-rule]
def write(fast_weights: Tensor, key: Tensor, value: Tensor, write_strength: Tensor) -> Tensor:
    r"""Write one association into the fast weights with the delta rule.

    $$\bar v = W k, \qquad W \leftarrow W + \beta\,(v - \bar v)\,k^\top$$

    The value currently stored under $k$ is moved a fraction $\beta$ of the way towards $v$.
    With $\lVert k\rVert_2 = 1$ and $\beta = 1$ the write makes $W k = v$ exactly and leaves
    $W k'$ unchanged for every $k' \perp k$. Batched over any leading dimensions (e.g. tasks `T`).

    Args:
        fast_weights: $W$, shape `(T, D_v, D_k)`.
        key: $k$, shape `(T, D_k)`; unit norm for exact recall.
        value: $v$, shape `(T, D_v)`.
        write_strength: $\beta$, shape `(T,)`; 0 leaves $W$ unchanged, 1 overwrites.

    Returns:
        The new fast weights, shape `(T, D_v, D_k)`.

    Raises:
        ValueError: If the shapes do not match `(T, D_v, D_k)`, `(T, D_k)`, `(T, D_v)`, `(T,)`.
    """
    _check_write_shapes(fast_weights, key, value, write_strength)
    retrieved = torch.einsum(
        "...vk,...k->...v", fast_weights, key
    )  # value now stored under k: (T, D_v)
    change = write_strength[..., None] * (value - retrieved)  # (T, D_v)
    return fast_weights + change[..., :, None] * key[..., None, :]  # outer product: (T, D_v, D_k)


def write_additive(
    fast_weights: Tensor, key: Tensor, value: Tensor, write_strength: Tensor
) -> Tensor:
    r"""Write one association with the purely additive rule, scaled by a strength.

    $$W \leftarrow W + \beta\, v\, k^\top$$

    Without the $-W k$ term nothing is ever overwritten: after writing $(k_i, v_i, \beta_i)$ for
    $i = 1..n$ into $W = 0$, reading with $q$ gives $\sum_i \beta_i (k_i^\top q)\, v_i$, which is
    unnormalised (softmax-free) linear attention of $q$ over the written examples.

    Args:
        fast_weights: $W$, shape `(T, D_v, D_k)`.
        key: $k$, shape `(T, D_k)`.
        value: $v$, shape `(T, D_v)`.
        write_strength: $\beta$, shape `(T,)`.

    Returns:
        The new fast weights, shape `(T, D_v, D_k)`.

    Raises:
        ValueError: If the shapes do not match `(T, D_v, D_k)`, `(T, D_k)`, `(T, D_v)`, `(T,)`.
    """
    _check_write_shapes(fast_weights, key, value, write_strength)
    change = write_strength[..., None] * value  # (T, D_v)
    return fast_weights + change[..., :, None] * key[..., None, :]  # (T, D_v, D_k)


# --8<-- [end:write-rule]


# --8<-- [start:read-rule]
def read(fast_weights: Tensor, query: Tensor) -> Tensor:
    r"""Read the fast weights with a batch of queries: $\hat y = W q$.

    Args:
        fast_weights: $W$, shape `(T, D_v, D_k)`.
        query: Queries $q$, shape `(T, Q, D_k)`.

    Returns:
        Read vectors $W q$, shape `(T, Q, D_v)`.

    Raises:
        ValueError: If `query` is not `(T, Q, D_k)` for `fast_weights` of shape `(T, D_v, D_k)`.
    """
    batch, d_k = tuple(fast_weights.shape[:-2]), fast_weights.shape[-1]
    if (
        query.dim() != fast_weights.dim()
        or tuple(query.shape[:-2]) != batch
        or query.shape[-1] != d_k
    ):
        raise ValueError(f"query must have shape (*{batch}, Q, {d_k}), got {tuple(query.shape)}")
    return torch.einsum("...vk,...qk->...qv", fast_weights, query)  # (T, Q, D_v)


# --8<-- [end:read-rule]


# --8<-- [start:program]
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


def write_support(
    keys: Tensor, values: Tensor, write_strength: Tensor, cfg: FastWeightsConfig
) -> Tensor:
    r"""Write a support set, one example at a time, into fast weights that start at zero.

    Args:
        keys: Support keys, shape `(T, N*K, D_k)`.
        values: Support values, shape `(T, N*K, D_v)`.
        write_strength: $\beta$ per support example, shape `(T, N*K)`.
        cfg: Uses `rule` and `write_passes`.

    Returns:
        Fast weights after all writes, shape `(T, D_v, D_k)`.

    Raises:
        ValueError: If the support set is empty.
    """
    if keys.shape[-2] == 0:
        raise ValueError("support set is empty: expected keys of shape (T, N*K, D_k) with N*K >= 1")
    rules = {"delta": write, "additive": write_additive}  # the config admits only these
    fast_weights = keys.new_zeros(
        *keys.shape[:-2], values.shape[-1], keys.shape[-1]
    )  # (T, D_v, D_k)
    for _ in range(cfg.write_passes):
        for i in range(keys.shape[-2]):  # the order given
            fast_weights = rules[cfg.rule](
                fast_weights, keys[..., i, :], values[..., i, :], write_strength[..., i]
            )
    return fast_weights


def episode_logits(
    model: FastWeightLearner,
    support_x: Tensor,
    support_y: Tensor,
    query_x: Tensor,
    n_way: int,
    cfg: FastWeightsConfig,
) -> Tensor:
    """Adapt to a batch of episodes by writing their support sets, then classify their queries.

    Support and query inputs go through the encoder together, so BatchNorm uses the statistics
    of each whole episode (transductive, as in MAML and ProtoNets).

    Args:
        model: The slow network.
        support_x: Support inputs, shape `(T, N*K, *x_shape)`.
        support_y: Support labels covering `0..N-1`, shape `(T, N*K)` (see `check_episode`).
        query_x: Query inputs, shape `(T, N*Q, *x_shape)`.
        n_way: N, the width of the one-hot values and of the logits.
        cfg: Uses `normalize_keys`, `rule`, `write_passes`.

    Returns:
        Logits, shape `(T, N*Q, N)`.
    """
    n_support = support_x.shape[1]
    keys, write_strength = model(torch.cat([support_x, query_x], dim=1), cfg.normalize_keys)
    classes = torch.arange(n_way, device=support_y.device)
    values = (support_y[..., None] == classes).to(keys)  # one-hot (T, N*K, N), keys' dtype
    fast_weights = write_support(
        keys[:, :n_support], values, write_strength[:, :n_support], cfg
    )  # (T, N, D_k)
    return model.log_temperature.exp() * read(fast_weights, keys[:, n_support:])  # (T, N*Q, N)


def make_predict(
    model: FastWeightLearner, cfg: FastWeightsConfig
) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    """Wrap the model as the shared one-episode predictor; N is the largest support label + 1.

    Args:
        model: The slow network; its weights are not changed.
        cfg: Uses `normalize_keys`, `rule`, `write_passes`.

    Returns:
        `predict(support_x (N*K, *x_shape), support_y (N*K,), query_x (N*Q, *x_shape))`
        returning logits of shape `(N*Q, N)`.
    """

    x_shape = (cfg.x_dim,) if cfg.backbone == "mlp" else (cfg.in_channels, *[cfg.image_size] * 2)

    def predict(support_x: Tensor, support_y: Tensor, query_x: Tensor) -> Tensor:
        like = next(model.parameters()).new_empty(x_shape)  # one input as the encoder takes it
        n_way = check_episode(support_x, support_y, query_x, like=like)
        return episode_logits(model, support_x[None], support_y[None], query_x[None], n_way, cfg)[0]

    return predict


# --8<-- [end:program]


# --8<-- [start:loss]
def meta_loss(
    model: FastWeightLearner, batch: TaskBatch, cfg: FastWeightsConfig
) -> tuple[Tensor, Tensor]:
    """Mean query cross-entropy and accuracy over a meta-batch of episodes.

    Args:
        model: The slow network.
        batch: `support_x (T, N*K, *x_shape)`, `support_y (T, N*K)`, `query_x (T, N*Q, *x_shape)`,
            `query_y (T, N*Q)`; N is read from the labels.
        cfg: Passed to `episode_logits`.

    Returns:
        `(loss, accuracy)`, both scalars; only the loss carries gradients.
    """
    support_x, support_y, query_x, query_y = batch
    n_way = check_episode(support_x, support_y, query_x, query_y)
    logits = episode_logits(model, support_x, support_y, query_x, n_way, cfg)  # (T, N*Q, N)
    loss = F.cross_entropy(logits.flatten(0, 1), query_y.flatten())
    accuracy = (logits.argmax(-1) == query_y).to(logits.dtype).mean()
    return loss, accuracy.detach()


# --8<-- [end:loss]


# --8<-- [start:train-step]
def train_step(
    model: FastWeightLearner,
    optimizer: torch.optim.Optimizer,
    batch: TaskBatch,
    cfg: FastWeightsConfig,
) -> dict[str, float]:
    """One meta-update: backpropagate the query loss through the writes into the slow weights.

    Args:
        model: The slow network, updated in place.
        optimizer: Optimiser over `model.parameters()`.
        batch: A meta-batch, shapes as in `meta_loss`.
        cfg: Passed to `meta_loss`.

    Returns:
        `{"loss": ..., "accuracy": ...}` on the batch's query sets, before the update.

    Raises:
        ValueError: If the loss is not finite; the weights are then left as they were.
    """
    optimizer.zero_grad()
    loss, accuracy = meta_loss(model, batch, cfg)
    if not bool(torch.isfinite(loss)):  # a NaN update would spoil every later step
        raise ValueError(f"non-finite meta-loss ({loss.item()}); the weights were not updated")
    loss.backward()
    optimizer.step()
    loss_value, accuracy_value = torch.stack([loss.detach(), accuracy]).tolist()
    return {"loss": loss_value, "accuracy": accuracy_value}


# --8<-- [end:train-step]


# --8<-- [start:train]
def train(
    cfg: FastWeightsConfig,
    sample_batch: Callable[[torch.Generator], TaskBatch] | None = None,
    model: FastWeightLearner | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> tuple[FastWeightLearner, list[dict[str, float]]]:
    """Meta-train the slow network for `cfg.train_steps` updates with Adam.

    Args:
        cfg: Uses `seed`, `outer_lr`, `train_steps` and whatever `sample_batch` needs.
        sample_batch: Task source `sample_batch(generator) -> (support_x, support_y, query_x,
            query_y)` with a leading meta-batch dimension; default: `sample_tasks` with `cfg`.
        model: Slow network to continue training; default: a fresh `build_model(cfg)`.
        on_step: Called as `on_step(steps_done, loss)` after every update.

    Returns:
        The trained model and the per-step metrics from `train_step`.
    """
    torch.manual_seed(cfg.seed)
    model = build_model(cfg) if model is None else model
    generator = torch.Generator().manual_seed(cfg.seed)
    source = sample_batch if sample_batch is not None else (lambda g: sample_tasks(cfg, g))
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.outer_lr)
    history = []
    for step in range(cfg.train_steps):
        history.append(train_step(model, optimizer, source(generator), cfg))
        if on_step is not None:
            on_step(step + 1, history[-1]["loss"])
    return model, history


# --8<-- [end:train]


# --8<-- [start:evaluate]
@torch.no_grad()
def evaluate(
    model: FastWeightLearner, cfg: FastWeightsConfig, generator: torch.Generator | None = None
) -> dict[str, float]:
    """Query accuracy and loss on `cfg.eval_tasks` fresh synthetic tasks (unseen classes).

    Args:
        model: The slow network.
        cfg: Uses `eval_tasks`, `meta_batch_size` and the task-family fields.
        generator: Source of the test tasks; default: seeded with `cfg.seed + 1`, disjoint from
            the training stream.

    Returns:
        `{"accuracy": ..., "loss": ...}` averaged over the tasks.
    """
    generator = generator if generator is not None else torch.Generator().manual_seed(cfg.seed + 1)
    batches = -(-cfg.eval_tasks // cfg.meta_batch_size)  # ceil
    results = [meta_loss(model, sample_tasks(cfg, generator), cfg) for _ in range(batches)]
    return {
        "accuracy": sum(a.item() for _, a in results) / batches,
        "loss": sum(loss.item() for loss, _ in results) / batches,
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


def main(cfg: FastWeightsConfig) -> dict[str, float]:
    """Train on the synthetic task family and evaluate on unseen classes.

    Returns:
        `accuracy_before` and `accuracy_after` (query accuracy on the same test tasks before and
        after meta-training), `loss_after`, and `chance` (1/N).
    """
    torch.manual_seed(cfg.seed)
    before = evaluate(build_model(cfg), cfg)
    model, _ = train(cfg, on_step=_progress("fast_weights", cfg.train_steps))
    after = evaluate(model, cfg)
    metrics = {
        "accuracy_before": before["accuracy"],
        "accuracy_after": after["accuracy"],
        "loss_after": after["loss"],
        "chance": 1.0 / cfg.n_way,
    }
    print(", ".join(f"{k}={v:.3f}" for k, v in metrics.items()))
    return metrics


if __name__ == "__main__":
    if sys.argv[1:]:  # no command line in an algorithm file: readers change values in Python
        sys.exit(f"python -m reference_impl.fast_weights takes no arguments, got {sys.argv[1:]}")
    main(FastWeightsConfig())
# --8<-- [end:main]
