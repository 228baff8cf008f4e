r"""A Siamese network for one-shot classification, after Koch, Zemel and Salakhutdinov (2015).

Two inputs go through the *same* embedding $h$ (the twins share weights); the network scores the
pair by a learned weighting of the component-wise distance of the embeddings,

$$p(\text{same} \mid x_1, x_2) = \sigma\Big(\sum_j w_j \,\lvert h(x_1)_j - h(x_2)_j\rvert + b\Big),$$

and is trained with binary cross-entropy on pairs labelled "same class" or "different class".
No episodes are needed for training. At test time, a query gets the label of the support example
it is most likely to share a class with (one-shot verification turned into classification).

Shapes: `B` pairs, `T` episodes, `M` queries, `N*K` support examples, `D` input features,
`E` embedding features.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


# --8<-- [start:model]
class SiameseNetwork(nn.Module):
    """Shared MLP embedding and a logistic head on the absolute difference of two embeddings.

    Args:
        in_features: Input features (D).
        hidden: Width of the hidden ReLU layer.
        out_features: Embedding features (E).
    """

    def __init__(self, in_features: int, hidden: int, out_features: int) -> None:
        super().__init__()
        self.embed = nn.Sequential(
            nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, out_features)
        )
        self.head = nn.Linear(out_features, 1)  # the weights w_j and bias b of the pair score

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        r"""Logit of $p(\text{same} \mid x_1, x_2)$ for inputs that broadcast against each other.

        Args:
            x1: Inputs, shape `(..., D)`.
            x2: Inputs, shape `(..., D)`, broadcastable with `x1`.

        Returns:
            Pair logits, the broadcast shape of `x1` and `x2` without the last dimension.
        """
        distance = (self.embed(x1) - self.embed(x2)).abs()  # (..., E), component-wise L1
        return self.head(distance).squeeze(-1)


# --8<-- [end:model]


# --8<-- [start:pairs]
def sample_pairs(
    data: Tensor, n_pairs: int, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    """Draw `n_pairs` pairs of distinct examples, half of them from the same class on average.

    Args:
        data: Labelled examples, shape `(num_classes, examples_per_class, D)`, at least two of each.
        n_pairs: Number of pairs (B).
        generator: Source of all randomness.

    Returns:
        `x1 (B, D)`, `x2 (B, D)` and the target `same (B,)`: 1.0 for a same-class pair, else 0.0.

    Raises:
        ValueError: If `data` is not `(classes, examples, D)` with at least two of each.
    """
    if data.dim() != 3 or data.shape[0] < 2 or data.shape[1] < 2:
        raise ValueError(
            f"data must be (num_classes >= 2, examples_per_class >= 2, D), got {tuple(data.shape)}"
        )
    classes, examples = data.shape[:2]
    first = torch.randint(0, classes, (n_pairs,), generator=generator)
    same = torch.rand(n_pairs, generator=generator) < 0.5
    other = (first + torch.randint(1, classes, (n_pairs,), generator=generator)) % classes
    second = torch.where(same, first, other)  # a different class unless `same`
    i = torch.randint(0, examples, (n_pairs,), generator=generator)
    j = (i + torch.randint(1, examples, (n_pairs,), generator=generator)) % examples  # j != i
    return data[first, i], data[second, j], same.to(data.dtype)


def pair_loss(model: SiameseNetwork, x1: Tensor, x2: Tensor, same: Tensor) -> Tensor:
    """Binary cross-entropy of the pair scores against the same-class targets (mean over pairs).

    Args:
        model: The twin network.
        x1: First inputs, shape `(B, D)`.
        x2: Second inputs, shape `(B, D)`.
        same: Targets in {0, 1}, shape `(B,)`.

    Returns:
        Scalar loss.
    """
    return F.binary_cross_entropy_with_logits(model(x1, x2), same)


# --8<-- [end:pairs]


# --8<-- [start:predict]
def one_shot_predict(
    model: SiameseNetwork, support_x: Tensor, support_y: Tensor, query_x: Tensor
) -> Tensor:
    """Label each query with the label of its highest-scoring support example.

    Args:
        model: The twin network.
        support_x: Support inputs, shape `(T, N*K, D)`.
        support_y: Support labels, shape `(T, N*K)`.
        query_x: Query inputs, shape `(T, M, D)`.

    Returns:
        Predicted labels, shape `(T, M)`.

    Raises:
        ValueError: If the shapes disagree.
    """
    if support_x.dim() != 3 or query_x.dim() != 3 or support_y.shape != support_x.shape[:2]:
        raise ValueError(
            "expected support_x (T, N*K, D), support_y (T, N*K), query_x (T, M, D), got "
            f"{tuple(support_x.shape)}, {tuple(support_y.shape)}, {tuple(query_x.shape)}"
        )
    scores = model(query_x.unsqueeze(2), support_x.unsqueeze(1))  # (T, M, N*K)
    return support_y.gather(1, scores.argmax(-1))  # (T, M)


# --8<-- [end:predict]
