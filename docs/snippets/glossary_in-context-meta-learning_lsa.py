r"""A tiny attention model meta-trained to do linear regression in its context, and its rivals.

Garg et al. (2022), "What Can Transformers Learn In-Context? A Case Study of Simple Function
Classes", arXiv:2208.01066, train a transformer on sequences $(x_1, y_1, \dots, x_n, y_n, x_q)$
of random linear functions $y = w^\top x$ and find that it predicts $y_q$ about as well as least
squares. The model here is the smallest member of that family: $L$ layers of *linear*
self-attention with residual connections (von Oswald et al. 2023, arXiv:2212.07677), where every
token $z_t = (x_t, y_t)$, the query carrying $y = 0$, is updated from the $n$ context tokens by

$$z_t \leftarrow z_t + \frac{1}{n} P_l \sum_{j=1}^{n} z_j\, z_j^\top Q_l\, z_t ,$$

and the prediction is the last coordinate of the query token after the last layer. Each layer
has two $(d+1) \times (d+1)$ matrices; nothing else is learned. Many models are trained at once,
as one batched computation with a leading model dimension, so that a sweep over training task
pools costs one training loop.

Rivals, all in closed form: ridge regression with the prior's strength (the Bayes-optimal
prediction when $w \sim \mathcal{N}(0, \tau^2 I)$ and the noise is Gaussian), minimum-norm least
squares, nearest neighbour, and the posterior mean over a *finite* pool of training tasks (the
Bayes-optimal prediction if the pool were the whole task distribution; Raventós et al. 2023,
arXiv:2306.15063, call it dMMSE).

Shapes: `R` models, `B` sequences, `n` context examples, `m` query examples, `d` input features,
`M` tasks in a pool.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class RegressionTasks:
    r"""Linear regression tasks $y = w^\top x + \varepsilon$ with Gaussian $x$, $w$ and noise."""

    dim: int = 4
    """Input features d."""
    weight_std: float = 1.0
    r"""Prior standard deviation $\tau$ of each weight."""
    noise_std: float = 0.5
    r"""Standard deviation $\sigma$ of the target noise."""


def sample_sequences(
    tasks: RegressionTasks, weights: Tensor, context: int, queries: int, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Context and query examples of the tasks whose weights are the rows of `weights (..., d)`.

    Returns:
        `x (..., n, d)`, `y (..., n)`, `query_x (..., m, d)`, `query_y (..., m)`; the query
        targets carry noise too.
    """
    shape = weights.shape[:-1]
    x = torch.randn(*shape, context + queries, tasks.dim, generator=generator)
    y = (x @ weights.unsqueeze(-1)).squeeze(-1)  # (..., n+m)
    y = y + tasks.noise_std * torch.randn(y.shape, generator=generator)
    return x[..., :context, :], y[..., :context], x[..., context:, :], y[..., context:]


def init_lsa(
    models: int, layers: int, dim: int, generator: torch.Generator, scale: float = 0.1
) -> dict[str, Tensor]:
    """Small random `P` and `Q` of shape `(R, L, d+1, d+1)` for `R` models of `L` layers."""
    shape = (models, layers, dim + 1, dim + 1)
    return {
        "P": scale * torch.randn(shape, generator=generator),
        "Q": scale * torch.randn(shape, generator=generator),
    }


# --8<-- [start:forward]
def lsa_predict(params: dict[str, Tensor], x: Tensor, y: Tensor, query_x: Tensor) -> Tensor:
    r"""Predictions of `R` linear self-attention models for the query inputs of each sequence.

    Args:
        params: `P` and `Q`, shape `(R, L, d+1, d+1)`.
        x: Context inputs, shape `(R, B, n, d)` (or `(B, n, d)`, shared by all models).
        y: Context targets, shape `(R, B, n)` or `(B, n)`.
        query_x: Query inputs, shape `(R, B, m, d)` or `(B, m, d)`; queries never attend to each
            other, so each is predicted from the context alone.

    Returns:
        Predicted query targets, shape `(R, B, m)`.

    Raises:
        ValueError: If the context is empty or the feature sizes disagree with `params`.
    """
    n, features = x.shape[-2], params["P"].shape[-1]
    if n == 0 or x.shape[-1] + 1 != features or query_x.shape[-1] + 1 != features:
        raise ValueError(
            f"need a non-empty context and inputs of {features - 1} features, got x "
            f"{tuple(x.shape)} and query_x {tuple(query_x.shape)}"
        )
    context = torch.cat([x, y.unsqueeze(-1)], -1)  # (R?, B, n, d+1)
    query = torch.cat([query_x, query_x.new_zeros(*query_x.shape[:-1], 1)], -1)  # (R?, B, m, d+1)
    tokens = torch.cat([context, query], -2)  # (R?, B, n+m, d+1)
    tokens = tokens.expand(params["P"].shape[0], *tokens.shape[-3:])  # (R, B, n+m, d+1)
    for layer in range(params["P"].shape[1]):
        p = params["P"][:, layer, None]  # (R, 1, d+1, d+1)
        q = params["Q"][:, layer, None]
        keys = tokens[..., :n, :]  # (R, B, n, d+1): only context tokens are attended to
        # sum_j z_j z_j^T Q z_t = (sum_j z_j z_j^T) Q z_t: linear attention needs only the
        # context's second-moment matrix, never the n x (n+m) score matrix.
        moments = keys.mT @ keys / n  # (R, B, d+1, d+1)
        tokens = tokens + tokens @ (p @ moments @ q).mT  # (R, B, n+m, d+1)
    return tokens[..., n:, -1]  # (R, B, m)


# --8<-- [end:forward]


def one_step_risk(context: int, gain: float, tasks: RegressionTasks) -> float:
    r"""Expected query error of one gradient step from zero, $\hat y_q = \gamma\, x_q^\top X^\top y / n$.

    With $S = X^\top X / n$ for Gaussian inputs, $\mathbb{E}[S] = I$ and
    $\mathbb{E}[S^2] = \frac{n + d + 1}{n} I$ (Wishart moments), so with $g = X^\top y / n$

    $$\mathbb{E}(\hat y_q - y_q)^2 = \tau^2 d + \sigma^2 - 2\gamma\tau^2 d
    + \gamma^2\Big(\tau^2 d\,\frac{n + d + 1}{n} + \frac{\sigma^2 d}{n}\Big).$$

    Args:
        context: Context examples n.
        gain: Step size $\gamma$ (the learning rate times the squared loss's factor).
        tasks: The task family.

    Returns:
        The expected squared error on a query.
    """
    signal = tasks.weight_std**2 * tasks.dim
    second_moment = signal * (context + tasks.dim + 1) / context
    second_moment += tasks.noise_std**2 * tasks.dim / context
    return signal + tasks.noise_std**2 - 2 * gain * signal + gain**2 * second_moment


def best_one_step_gain(context: int, tasks: RegressionTasks) -> float:
    r"""The step size minimising `one_step_risk` at `context` examples: $\tau^2 n / (\tau^2 (n + d + 1) + \sigma^2)$."""
    tau2 = tasks.weight_std**2
    return tau2 * context / (tau2 * (context + tasks.dim + 1) + tasks.noise_std**2)


def ridge_predict(x: Tensor, y: Tensor, query_x: Tensor, penalty: float) -> Tensor:
    r"""Ridge regression fitted on each context: $\hat w = (X^\top X + \lambda I)^{-1} X^\top y$.

    With $\lambda = \sigma^2 / \tau^2$ this is the posterior mean of $w$, hence the Bayes-optimal
    prediction under the Gaussian prior. Shapes as `least_squares_predict`.
    """
    gram = x.mT @ x + penalty * torch.eye(x.shape[-1], dtype=x.dtype)  # (..., d, d)
    weights = torch.linalg.solve(gram, (x.mT @ y.unsqueeze(-1)))  # (..., d, 1)
    return (query_x @ weights).squeeze(-1)


def least_squares_predict(x: Tensor, y: Tensor, query_x: Tensor) -> Tensor:
    """Minimum-norm least squares on each context (interpolates when `n <= d`).

    Args:
        x: Context inputs `(..., n, d)`.
        y: Context targets `(..., n)`.
        query_x: Query inputs `(..., m, d)`.

    Returns:
        Predictions `(..., m)`.
    """
    weights = torch.linalg.pinv(x) @ y.unsqueeze(-1)  # (..., d, 1)
    return (query_x @ weights).squeeze(-1)


def nearest_neighbour_predict(x: Tensor, y: Tensor, query_x: Tensor) -> Tensor:
    """The target of the nearest context input (Euclidean), per query; shapes as above."""
    nearest = torch.cdist(query_x, x).argmin(-1)  # (..., m)
    return torch.gather(y, -1, nearest)


def pool_posterior_predict(
    x: Tensor, y: Tensor, query_x: Tensor, pool: Tensor, noise_std: float
) -> Tensor:
    r"""Posterior mean over a finite pool of task weights (uniform prior on the pool).

    $p(k \mid \text{context}) \propto \exp\!\big(-\lVert y - X w_k\rVert^2 / 2\sigma^2\big)$ and
    $\hat y_q = \sum_k p(k \mid \text{context})\, w_k^\top x_q$.

    Args:
        x: Context inputs `(B, n, d)`.
        y: Context targets `(B, n)`.
        query_x: Query inputs `(B, m, d)`.
        pool: Weights of the pool's tasks, `(M, d)`.
        noise_std: Noise standard deviation $\sigma$ of the targets.

    Returns:
        Predictions `(B, m)`.
    """
    residual = y.unsqueeze(1) - torch.einsum("bnd,kd->bkn", x, pool)  # (B, M, n)
    posterior = torch.softmax(-residual.pow(2).sum(-1) / (2 * noise_std**2), -1)  # (B, M)
    per_task = torch.einsum("bmd,kd->bkm", query_x, pool)  # (B, M, m)
    return (posterior.unsqueeze(-1) * per_task).sum(1)


def train_lsa(
    params: dict[str, Tensor], tasks: RegressionTasks, pools: list[Tensor | None], steps: int,
    batch: int, context: int, queries: int, lr: float, generator: torch.Generator,
) -> dict[str, Tensor]:  # fmt: skip
    """Meta-train `R` models at once, model `r` on sequences of tasks drawn from `pools[r]`.

    A pool of `None` means a fresh task for every sequence (an unlimited task distribution);
    otherwise each sequence's weights are drawn uniformly from the pool's rows. Every sequence
    has the same context length; gradients are clipped to norm 1, which keeps the cubic
    dependence of the prediction on the weights from blowing up early steps.

    Args:
        params: Initial `P`, `Q` of shape `(R, L, d+1, d+1)` with `R == len(pools)`.
        tasks: The task family (input size, prior, noise).
        pools: Per model, its training tasks' weights `(M, d)` or `None`.
        steps: Adam steps.
        batch: Sequences per model per step.
        context: Context examples per training sequence n.
        queries: Query examples per sequence.
        lr: Adam learning rate.
        generator: Source of all sequences.

    Returns:
        The trained `P`, `Q`.

    Raises:
        ValueError: If `pools` and the models disagree in number.
    """
    if len(pools) != params["P"].shape[0]:
        raise ValueError(f"{params['P'].shape[0]} models but {len(pools)} pools")
    params = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    optimiser = torch.optim.Adam(params.values(), lr=lr)
    for _ in range(steps):
        weights = torch.stack([
            tasks.weight_std * torch.randn(batch, tasks.dim, generator=generator) if pool is None
            else pool[torch.randint(pool.shape[0], (batch,), generator=generator)]
            for pool in pools
        ])  # fmt: skip  # (R, B, d)
        x, y, qx, qy = sample_sequences(tasks, weights, context, queries, generator)
        optimiser.zero_grad()
        (lsa_predict(params, x, y, qx) - qy).pow(2).mean().backward()
        torch.nn.utils.clip_grad_norm_(params.values(), 1.0)
        optimiser.step()
    return {k: v.detach() for k, v in params.items()}
