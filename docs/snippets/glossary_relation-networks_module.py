r"""A Relation Network: a learned comparison of a query with each class, after Sung et al. (2018).

Sung et al. (2018), "Learning to Compare: Relation Network for Few-Shot Learning",
arXiv:1711.06025. An embedding module $f$ maps every example to features; the features of each
class's $K$ support examples are summed into one class feature; a relation module $g$ reads the
concatenation of a class feature and a query feature and outputs a relation score in $(0, 1)$,

$$r_{n}(\hat x) = \sigma\Big(g\big([\textstyle\sum_{i: y_i = n} f(x_i) \,;\, f(\hat x)]\big)\Big),$$

trained by regressing the scores onto the one-hot label with a squared error. The metric is not
fixed in advance (as the squared Euclidean distance of Prototypical Networks is): $g$ learns it.

Shapes: `T` episodes, `M` queries, `N*K` support examples, `D` features.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


# --8<-- [start:module]
class RelationNetwork(nn.Module):
    """Embedding module (identity by default) and an MLP relation module on concatenated pairs.

    Args:
        features: Embedding features (D) that the relation module reads, twice.
        hidden: Width of the relation module's hidden ReLU layer.
        embed: Embedding module $f$; `nn.Identity()` compares raw features.
    """

    def __init__(self, features: int, hidden: int, embed: nn.Module | None = None) -> None:
        super().__init__()
        self.embed = nn.Identity() if embed is None else embed
        self.relation = nn.Sequential(
            nn.Linear(2 * features, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )

    def forward(self, support_x: Tensor, support_y: Tensor, query_x: Tensor, n_way: int) -> Tensor:
        """Relation score of every query with every class of its episode.

        Args:
            support_x: Support inputs, shape `(T, N*K, *x_shape)`.
            support_y: Support labels in `0..N-1`, shape `(T, N*K)`.
            query_x: Query inputs, shape `(T, M, *x_shape)`.
            n_way: Classes per episode (N).

        Returns:
            Scores in `(0, 1)`, shape `(T, M, N)`.

        Raises:
            ValueError: If `support_y` is not `(T, N*K)` for `support_x`.
        """
        if support_y.shape != support_x.shape[:2]:
            raise ValueError(
                f"support_y must be (T, N*K) = {tuple(support_x.shape[:2])}, "
                f"got {tuple(support_y.shape)}"
            )
        support, query = self.embed(support_x), self.embed(query_x)  # (T, N*K, D), (T, M, D)
        one_hot = F.one_hot(support_y, n_way).to(support.dtype)  # (T, N*K, N)
        classes = one_hot.transpose(1, 2) @ support  # (T, N, D): sum over each class's shots
        pairs = torch.cat(
            torch.broadcast_tensors(classes.unsqueeze(1), query.unsqueeze(2)), dim=-1
        )  # (T, M, N, 2D): [class feature; query feature]
        return torch.sigmoid(self.relation(pairs).squeeze(-1))  # (T, M, N)


def relation_loss(scores: Tensor, query_y: Tensor) -> Tensor:
    """Squared error of the relation scores against the one-hot labels (mean over all pairs).

    Args:
        scores: Relation scores, shape `(T, M, N)`.
        query_y: Query labels in `0..N-1`, shape `(T, M)`.

    Returns:
        Scalar loss.
    """
    return F.mse_loss(scores, F.one_hot(query_y, scores.shape[-1]).to(scores.dtype))


# --8<-- [end:module]
