r"""A differentiable closed-form head: ridge regression on the support set (R2-D2).

Bertinetto, Henriques, Torr, Vedaldi (2019), "Meta-learning with differentiable closed-form
solvers", arXiv:1805.08136, fit a linear classifier to each episode's support embeddings
$X \in \mathbb{R}^{NK \times D}$ and one-hot labels $Y \in \mathbb{R}^{NK \times N}$ by ridge
regression, in the form that inverts an $NK \times NK$ matrix instead of a $D \times D$ one
(the Woodbury identity; cheap when the embedding is wider than the support set is large):

$$W = (X^\top X + \lambda I_D)^{-1} X^\top Y = X^\top (X X^\top + \lambda I_{NK})^{-1} Y,$$

and score queries with $\text{logits} = \alpha\,\hat X W$, where the regulariser $\lambda$ and
the scale $\alpha$ are meta-learned by backpropagating the query cross-entropy through the solve
(the paper also learns an offset of the logits; one offset shared by all classes cancels in the
softmax, so it is left out here). MetaOptNet (Lee et al. 2019, arXiv:1904.03758) uses the same
idea with a multi-class SVM solved as a quadratic programme and differentiated through its
optimality conditions.

Shapes: `T` episodes, `N*K` support examples, `M` queries, `D` features, `N` classes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _check(support: Tensor, support_y: Tensor, query: Tensor) -> None:
    if support.dim() != 3 or query.dim() != 3 or support.shape[::2] != query.shape[::2]:
        raise ValueError(
            "support and query must be (T, N*K, D) and (T, M, D) with the same T and D, got "
            f"{tuple(support.shape)} and {tuple(query.shape)}"
        )
    if support_y.shape != support.shape[:2]:
        raise ValueError(
            f"support_y must be (T, N*K) = {tuple(support.shape[:2])}, got {tuple(support_y.shape)}"
        )


# --8<-- [start:ridge]
def ridge_weights(support: Tensor, support_y: Tensor, n_way: int, lam: Tensor | float) -> Tensor:
    r"""Ridge-regression classifier of each episode, $W = X^\top(XX^\top + \lambda I)^{-1}Y$.

    Args:
        support: Support embeddings $X$, shape `(T, N*K, D)`.
        support_y: Support labels in `0..N-1`, shape `(T, N*K)`.
        n_way: Classes per episode (N).
        lam: Regulariser $\lambda > 0$ (a tensor keeps it differentiable).

    Returns:
        Weights, shape `(T, D, N)`; differentiable in `support` and `lam`.
    """
    targets = F.one_hot(support_y, n_way).to(support.dtype)  # (T, N*K, N): Y
    gram = support @ support.transpose(1, 2)  # (T, N*K, N*K): X X^T
    eye = torch.eye(support.shape[1], dtype=support.dtype, device=support.device)
    return support.transpose(1, 2) @ torch.linalg.solve(gram + lam * eye, targets)  # (T, D, N)


class RidgeHead(nn.Module):
    r"""R2-D2's head: ridge weights from the support set, then logits $\alpha\,\hat X W$.

    The meta-parameters are stored as $\log\lambda$ and $\log\alpha$, so both stay positive.

    Args:
        lam: Initial regulariser $\lambda$.
        scale: Initial output scale $\alpha$.
    """

    def __init__(self, lam: float = 1.0, scale: float = 1.0) -> None:
        super().__init__()
        self.log_lam = nn.Parameter(torch.tensor(float(lam)).log())
        self.log_scale = nn.Parameter(torch.tensor(float(scale)).log())

    def forward(self, support: Tensor, support_y: Tensor, query: Tensor, n_way: int) -> Tensor:
        """Query logits of every episode.

        Args:
            support: Support embeddings, shape `(T, N*K, D)`.
            support_y: Support labels, shape `(T, N*K)`.
            query: Query embeddings, shape `(T, M, D)`.
            n_way: Classes per episode (N).

        Returns:
            Logits, shape `(T, M, N)`.

        Raises:
            ValueError: If the shapes disagree.
        """
        _check(support, support_y, query)
        lam = self.log_lam.exp().to(support.dtype)
        weights = ridge_weights(support, support_y, n_way, lam)  # (T, D, N)
        return self.log_scale.exp() * (query @ weights)  # (T, M, N)


# --8<-- [end:ridge]


def prototype_predictions(support: Tensor, support_y: Tensor, query: Tensor, n_way: int) -> Tensor:
    """Nearest class mean (squared Euclidean) for comparison, labels of shape `(T, M)`."""
    _check(support, support_y, query)
    one_hot = F.one_hot(support_y, n_way).to(support.dtype)  # (T, N*K, N)
    means = one_hot.transpose(1, 2) @ support / one_hot.sum(1).unsqueeze(-1)  # (T, N, D)
    return torch.cdist(query, means).argmin(-1)
