r"""The memorisation problem on a toy: MAML with a linear head, on tasks with fixed or shuffled labels.

Classes are Gaussian clusters in $D$ dimensions whose means differ only in the first few
coordinates; the remaining coordinates are larger noise. A learner has meta-learned feature
scales $s \in \mathbb{R}^D$ (not adapted per task) and a meta-learned start $(W_0, b_0)$ of a
linear softmax head, which one step of gradient descent on the support set adapts (MAML, Finn et
al. 2017, arXiv:1703.03400v3, Eq. 1, restricted to the head as in ANIL):

$$z = s \odot x,\qquad W' = W_0 - \alpha\,\tfrac{1}{|\mathcal S|}(P - Y)^\top Z,
\qquad b' = b_0 - \alpha\,\overline{(P - Y)},$$

with $P$ the head's softmax probabilities on the support features $Z$ and $Y$ the one-hot labels
(the exact gradient of the mean cross-entropy).

Tasks are *non-mutually-exclusive* when every class keeps one label in every task (here class
$c$ is always label $c \bmod N$): then one head, $W_0$ itself, can solve every training task
without reading the support set (Yin et al. 2020, arXiv:1912.03820v3). *Task augmentation*
shuffles the labels per task, which makes the tasks mutually exclusive. *Meta-regularisation*
in the manner of their MR-MAML (W) makes the memorising parameters stochastic,
$W_0 \sim \mathcal N(\mu, \operatorname{diag}\sigma^2)$, and adds
$\beta\,\mathrm{KL}(\mathcal N(\mu,\sigma^2)\,\Vert\,\mathcal N(0, I))$ to the meta-loss, which limits
how much the start can store about the training classes.

Shapes: `T` tasks, `N` ways, `K` shots, `Q` queries per class, `D` features, `C` classes,
`E` examples per class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from reference_impl.episodes import Episode, gather_episodes, sample_indices


@dataclass(frozen=True)
class MemorisationConfig:
    """The toy's sizes and the meta-learner's hyperparameters."""

    n_way: int = 5
    """Classes per task (N)."""
    k_shot: int = 1
    """Support examples per class (K)."""
    n_query: int = 5
    """Query examples per class (Q)."""
    dim: int = 16
    """Input features (D)."""
    informative: int = 4
    """Leading features in which class means differ; the rest are noise."""
    noise_scale: float = 2.0
    """Standard deviation of the noise features relative to the informative ones."""
    inner_lr: float = 1.0
    r"""Step size $\alpha$ of the one inner step on the head."""
    outer_lr: float = 0.1
    """Adam step size of the meta-update."""
    meta_steps: int = 100
    """Meta-updates."""
    meta_batch_size: int = 16
    """Tasks per meta-update (T)."""
    kl_weight: float = 0.0
    r"""$\beta$ of the meta-regulariser; 0 trains plain MAML."""
    init_std: float = 0.1
    r"""Initial $\sigma$ of the stochastic head start (meta-regularised runs only)."""


class Learner(NamedTuple):
    """What meta-training learns."""

    head_weight: Tensor
    r"""Start $W_0$ of the head (the mean $\mu$ for a meta-regularised run), shape `(N, D)`."""
    head_bias: Tensor
    """Start $b_0$ of the head bias, shape `(N,)`."""
    feature_scale: Tensor
    """Feature scales $s$, shape `(D,)`."""


def make_classes(
    n_classes: int, examples: int, cfg: MemorisationConfig, generator: torch.Generator
) -> Tensor:
    """Draw `n_classes` Gaussian classes and `examples` examples of each.

    Returns:
        Data of shape `(C, E, D)`: means differ in the first `cfg.informative` features only.
    """
    means = torch.zeros(n_classes, cfg.dim)
    means[:, : cfg.informative] = 1.5 * torch.randn(n_classes, cfg.informative, generator=generator)
    spread = torch.ones(cfg.dim)
    spread[cfg.informative :] = cfg.noise_scale
    noise = 0.5 * spread * torch.randn(n_classes, examples, cfg.dim, generator=generator)
    return means.unsqueeze(1) + noise  # (C, E, D)


def sample_tasks(
    data: Tensor,
    cfg: MemorisationConfig,
    tasks: int,
    fixed_labels: bool,
    generator: torch.Generator,
) -> Episode:
    """Draw N-way K-shot tasks, with labels fixed per class or shuffled per task.

    Shuffled labels are the project's sampler (`reference_impl.episodes.sample_indices`: classes
    in random order, so label j means a different class in every task). Fixed labels draw one
    class from each residue class modulo N and keep it in residue order, so class c is always
    label `c % N`.

    Args:
        data: Examples, shape `(C, E, D)`, with `C` a multiple of `cfg.n_way`.
        cfg: Uses `n_way`, `k_shot`, `n_query`.
        tasks: Tasks to draw (T).
        fixed_labels: Non-mutually-exclusive tasks if true.
        generator: Source of randomness.

    Returns:
        `support_x (T, N*K, D)`, `support_y (T, N*K)`, `query_x (T, N*Q, D)`, `query_y (T, N*Q)`.

    Raises:
        ValueError: If `C` is not a multiple of `n_way`.
    """
    n_classes, n_examples = data.shape[:2]
    if n_classes % cfg.n_way:
        raise ValueError(f"need a multiple of n_way = {cfg.n_way} classes, got {n_classes}")
    classes, examples = sample_indices(
        n_classes, n_examples, cfg.n_way, cfg.k_shot, cfg.n_query, tasks, generator
    )
    if fixed_labels:  # one class per residue modulo N, in residue order: class c -> label c % N
        block = torch.randint(0, n_classes // cfg.n_way, (tasks, cfg.n_way), generator=generator)
        classes = torch.arange(cfg.n_way) + cfg.n_way * block  # (T, N)
    return gather_episodes(data, classes, examples, cfg.k_shot)


def head_logits(weight: Tensor, bias: Tensor, features: Tensor) -> Tensor:
    """Logits `(T, M, N)` of heads `weight (T, N, D)`, `bias (T, N)` on `features (T, M, D)`."""
    return features @ weight.transpose(-1, -2) + bias.unsqueeze(-2)


def adapt_head(
    weight: Tensor, bias: Tensor, features: Tensor, labels: Tensor, n_way: int, inner_lr: float
) -> tuple[Tensor, Tensor]:
    r"""One gradient step of the mean cross-entropy on each task's support set (closed form).

    Args:
        weight: Head start, shape `(N, D)` (shared) or `(T, N, D)`.
        bias: Bias start, shape `(N,)` or `(T, N)`.
        features: Support features $s \odot x$, shape `(T, N*K, D)`.
        labels: Support labels, shape `(T, N*K)`.
        n_way: Classes (N).
        inner_lr: Step size $\alpha$; 0 returns the start.

    Returns:
        Adapted `weight (T, N, D)` and `bias (T, N)`; differentiable in the start.
    """
    tasks, _, dim = features.shape
    weight, bias = weight.expand(tasks, n_way, dim), bias.expand(tasks, n_way)
    error = head_logits(weight, bias, features).softmax(-1) - F.one_hot(labels, n_way).to(features)
    # d mean-CE / dW = (P - Y)^T Z / |S|,  d mean-CE / db = mean of (P - Y): (T, N, D), (T, N)
    grad_weight = error.transpose(-1, -2) @ features / features.shape[1]
    return weight - inner_lr * grad_weight, bias - inner_lr * error.mean(1)


def query_scores(
    learner: Learner, episodes: Episode, cfg: MemorisationConfig, adapt: bool = True
) -> tuple[Tensor, Tensor]:
    """Per-task query loss and accuracy of a learner, with or without its inner step.

    Returns:
        Mean query cross-entropy and accuracy per task, shapes `(T,)` and `(T,)`.
    """
    support_x, support_y, query_x, query_y = episodes
    scale = learner.feature_scale
    weight, bias = adapt_head(
        learner.head_weight, learner.head_bias, scale * support_x, support_y, cfg.n_way,
        cfg.inner_lr if adapt else 0.0,
    )  # fmt: skip
    logits = head_logits(weight, bias, scale * query_x)  # (T, N*Q, N)
    loss = F.cross_entropy(logits.transpose(1, 2), query_y, reduction="none").mean(1)
    return loss, (logits.argmax(-1) == query_y).double().mean(1)


def gaussian_kl(mean: Tensor, log_std: Tensor) -> Tensor:
    r"""$\mathrm{KL}(\mathcal N(\mu, \sigma^2) \Vert \mathcal N(0, 1))$ summed over all entries.

    $\tfrac12 \sum (\sigma^2 + \mu^2 - 1 - \log \sigma^2)$, for `mean` and `log_std` of one shape.
    """
    return 0.5 * ((2 * log_std).exp() + mean.pow(2) - 1 - 2 * log_std).sum()


# --8<-- [start:meta-train]
def meta_train(
    data: Tensor, cfg: MemorisationConfig, fixed_labels: bool, generator: torch.Generator
) -> Learner:
    r"""Meta-train feature scales and head start by MAML (one inner step on the head).

    With `cfg.kl_weight` $= \beta > 0$ the head start is stochastic (one reparameterised draw per
    meta-batch) and the meta-loss gains $\beta\,\mathrm{KL}(\mathcal N(\mu,\sigma^2)\Vert\mathcal N(0,I))$.

    Args:
        data: Training classes, shape `(C, E, D)`.
        cfg: Sizes and hyperparameters.
        fixed_labels: Train on non-mutually-exclusive tasks (else labels shuffled per task).
        generator: Draws the tasks and the weight noise.

    Returns:
        The learned start (the mean $\mu$ for a meta-regularised run) and feature scales.
    """
    mean = torch.zeros(cfg.n_way, cfg.dim, requires_grad=True)
    bias = torch.zeros(cfg.n_way, requires_grad=True)
    log_scale = torch.zeros(cfg.dim, requires_grad=True)  # s = exp(log_scale) > 0
    log_std = torch.full((cfg.n_way, cfg.dim), math.log(cfg.init_std), requires_grad=True)
    regularised = cfg.kl_weight > 0
    optimizer = torch.optim.Adam(
        [mean, bias, log_scale, *([log_std] if regularised else [])], lr=cfg.outer_lr
    )
    for _ in range(cfg.meta_steps):
        episodes = sample_tasks(data, cfg, cfg.meta_batch_size, fixed_labels, generator)
        weight = mean
        if regularised:  # W0 = mu + sigma * eps, one draw per meta-batch
            weight = mean + log_std.exp() * torch.randn(mean.shape, generator=generator)
        learner = Learner(weight, bias, log_scale.exp())
        loss = query_scores(learner, episodes, cfg)[0].mean()
        if regularised:
            loss = loss + cfg.kl_weight * gaussian_kl(mean, log_std)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return Learner(mean.detach(), bias.detach(), log_scale.detach().exp())


# --8<-- [end:meta-train]


def no_meta_training(cfg: MemorisationConfig) -> Learner:
    """The start without meta-training: zero head, unit feature scales."""
    return Learner(torch.zeros(cfg.n_way, cfg.dim), torch.zeros(cfg.n_way), torch.ones(cfg.dim))
