r"""A tiny SNAIL: causal temporal convolutions and causal soft attention over an episode sequence.

Mishra et al. (2018), "A Simple Neural Attentive Meta-Learner", arXiv:1707.03141. An N-way
K-shot episode becomes one sequence: the $NK$ support examples, each with its one-hot label,
then the query with an all-zero label slot; the network's output at the last position is the
query's class. Two kinds of block build the network, each *concatenating* its output to its
input (dense connections):

* a **temporal convolution block**: a causal 1-D convolution of kernel size 2 and dilation $d$
  with a gated activation, $\tanh(W_f * h) \odot \sigma(W_g * h)$;
* an **attention block**: causal single-head soft attention, $\mathrm{softmax}(q k^\top /
  \sqrt{d_k} + \text{mask})\, v$, where the mask stops every position from seeing later ones.

Causality makes position $t$'s output depend on the first $t$ inputs only. The paper stacks
several of each with dilations $1, 2, 4, \dots$; this copy uses one of each so that it trains in
well under a second.

Shapes: `B` sequences, `L` positions (`N*K + 1`), `C` channels, `D` input features, `N` ways.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


# --8<-- [start:blocks]
class CausalConvBlock(nn.Module):
    r"""Gated causal convolution of kernel 2 and dilation $d$; returns `[h, new features]`.

    Args:
        channels: Input channels `C`.
        filters: New channels added to the output.
        dilation: How far back the second tap of the kernel looks.
    """

    def __init__(self, channels: int, filters: int, dilation: int) -> None:
        super().__init__()
        self.dilation = dilation
        self.filter = nn.Conv1d(channels, filters, kernel_size=2, dilation=dilation)
        self.gate = nn.Conv1d(channels, filters, kernel_size=2, dilation=dilation)

    def forward(self, h: Tensor) -> Tensor:
        """`h` of shape `(B, L, C)` to `(B, L, C + filters)`."""
        x = F.pad(h.transpose(1, 2), (self.dilation, 0))  # (B, C, L + d): left padding only
        new = torch.tanh(self.filter(x)) * torch.sigmoid(self.gate(x))  # (B, filters, L)
        return torch.cat([h, new.transpose(1, 2)], -1)


class CausalAttentionBlock(nn.Module):
    r"""Causal soft attention; returns `[h, attention read]` and keeps the last weights.

    Args:
        channels: Input channels `C`.
        key_size: Size of queries and keys.
        value_size: Size of values, the channels added to the output.
    """

    def __init__(self, channels: int, key_size: int, value_size: int) -> None:
        super().__init__()
        self.query = nn.Linear(channels, key_size)
        self.key = nn.Linear(channels, key_size)
        self.value = nn.Linear(channels, value_size)
        self.weights: Tensor | None = None
        """Attention weights of the last forward pass, shape `(B, L, L)` (row: reader)."""

    def forward(self, h: Tensor) -> Tensor:
        """`h` of shape `(B, L, C)` to `(B, L, C + value_size)`."""
        length = h.shape[1]
        scores = self.query(h) @ self.key(h).transpose(1, 2)  # (B, L, L)
        scores = scores / math.sqrt(self.query.out_features)
        future = torch.ones(length, length, dtype=torch.bool, device=h.device).triu(1)
        weights = torch.softmax(scores.masked_fill(future, float("-inf")), -1)  # (B, L, L)
        self.weights = weights.detach()
        return torch.cat([h, weights @ self.value(h)], -1)


class TinySNAIL(nn.Module):
    """One temporal convolution block, one attention block, and a linear head on the last position.

    Args:
        n_way: Classes per episode `N` (the label slot's width and the output size).
        features: Input features `D`.
        filters: Channels added by the convolution block.
        key_size: Attention query/key size.
        value_size: Attention value size.
    """

    def __init__(
        self, n_way: int, features: int, filters: int = 8, key_size: int = 16, value_size: int = 16
    ) -> None:
        super().__init__()
        self.n_way = n_way
        channels = features + n_way
        self.conv = CausalConvBlock(channels, filters, dilation=1)
        self.attention = CausalAttentionBlock(channels + filters, key_size, value_size)
        self.head = nn.Linear(channels + filters + value_size, n_way)

    def forward(self, sequence: Tensor) -> Tensor:
        """Class logits of the query at the last position: `(B, L, D + N)` to `(B, N)`."""
        return self.head(self.attention(self.conv(sequence))[:, -1])


# --8<-- [end:blocks]
# --8<-- [start:sequences]
def episode_sequences(
    support_x: Tensor,
    support_y: Tensor,
    query_x: Tensor,
    query_y: Tensor,
    n_way: int,
    generator: torch.Generator,
) -> tuple[Tensor, Tensor, Tensor]:
    """One sequence per query: the support set in a random order, then the query.

    Args:
        support_x: Support inputs, shape `(T, N*K, D)`.
        support_y: Support labels, shape `(T, N*K)`.
        query_x: Query inputs, shape `(T, M, D)`.
        query_y: Query labels, shape `(T, M)`.
        n_way: Classes per episode `N`.
        generator: Draws the support order of every episode.

    Returns:
        `(sequences, targets, order)`: sequences of shape `(T*M, N*K + 1, D + N)`, targets of
        shape `(T*M,)`, and the support order used, shape `(T, N*K)`.

    Raises:
        ValueError: If the shapes disagree.
    """
    n_tasks, n_support, dim = support_x.shape
    if support_y.shape != (n_tasks, n_support) or query_x.shape[::2] != (n_tasks, dim):
        raise ValueError(
            "expected support_x (T, N*K, D), support_y (T, N*K), query_x (T, M, D); got "
            f"{tuple(support_x.shape)}, {tuple(support_y.shape)}, {tuple(query_x.shape)}"
        )
    n_query = query_x.shape[1]
    order = torch.argsort(torch.rand(n_tasks, n_support, generator=generator), -1)  # (T, N*K)
    support_x = support_x.gather(1, order.unsqueeze(-1).expand(-1, -1, dim))
    support_y = support_y.gather(1, order)
    labelled = torch.cat([support_x, F.one_hot(support_y, n_way).to(support_x.dtype)], -1)
    labelled = labelled.repeat_interleave(n_query, 0)  # (T*M, N*K, D + N)
    queries = torch.cat([query_x, query_x.new_zeros(n_tasks, n_query, n_way)], -1)
    sequences = torch.cat([labelled, queries.reshape(n_tasks * n_query, 1, dim + n_way)], 1)
    return sequences, query_y.reshape(-1), order


# --8<-- [end:sequences]
def attention_read_rule(
    support_x: Tensor, support_y: Tensor, query_x: Tensor, n_way: int, scale: float
) -> Tensor:
    r"""The read a hand-set attention block performs: a soft nearest neighbour over the support.

    With queries and keys $\sqrt{s}\,x$ and values the one-hot labels, the attention read of the
    query position is $\sum_i \mathrm{softmax}_i(s\, x_q^\top x_i)\, \mathrm{onehot}(y_i)$ (the
    query's own zero label carries no class). `set_attention_to_read_rule` builds such a block;
    the test file checks that the two agree exactly.

    Args:
        support_x: Support inputs, shape `(T, N*K, D)`.
        support_y: Support labels, shape `(T, N*K)`.
        query_x: Query inputs, shape `(T, M, D)`.
        n_way: Classes per episode `N`.
        scale: The similarity scale $s$.

    Returns:
        Class probabilities of every query, shape `(T, M, N)` (rows sum to at most one; the
        remainder is the weight the query puts on itself).
    """
    support_scores = scale * query_x @ support_x.transpose(1, 2)  # (T, M, N*K)
    self_scores = scale * (query_x * query_x).sum(-1, keepdim=True)  # (T, M, 1)
    weights = torch.softmax(torch.cat([support_scores, self_scores], -1), -1)[..., :-1]
    return weights @ F.one_hot(support_y, n_way).to(query_x.dtype)  # (T, M, N)


def set_attention_to_read_rule(
    block: CausalAttentionBlock, features: int, n_way: int, scale: float
) -> None:
    """Set a block reading `[x, onehot(y)]` channels so that its read is `attention_read_rule`.

    Queries and keys keep the `features` input channels times `sqrt(scale * sqrt(key_size))`
    (the block divides scores by `sqrt(key_size)`); values copy the label channels; all biases
    are zero.

    Raises:
        ValueError: If the block's key size is below `features` or its value size below `n_way`.
    """
    key_size = block.query.out_features
    if key_size < features or block.value.out_features < n_way:
        raise ValueError(f"need key_size >= {features} and value_size >= {n_way}")
    gain = math.sqrt(scale * math.sqrt(key_size))
    with torch.no_grad():
        for projection in (block.query, block.key, block.value):
            projection.weight.zero_()
            projection.bias.zero_()
        eye = torch.eye(features, dtype=block.query.weight.dtype)
        block.query.weight[:features, :features] = gain * eye
        block.key.weight[:features, :features] = gain * eye
        block.value.weight[:n_way, features : features + n_way] = torch.eye(n_way)
