r"""Matching Networks' classification rule, beside the prototype rule it is compared with.

Matching Networks (Vinyals et al. 2016, "Matching Networks for One Shot Learning",
arXiv:1606.04080) label a query $\hat x$ with an attention-weighted vote of the support labels,

$$p(y = n \mid \hat x, \mathcal{S}) = \sum_{i=1}^{N K} a(\hat x, x_i)\,[y_i = n],
\qquad a(\hat x, x_i) = \frac{\exp c(f(\hat x), g(x_i))}{\sum_j \exp c(f(\hat x), g(x_j))},$$

so the output is already a distribution over the $N$ classes and the training loss is its
negative log-likelihood, $-\log p(y \mid \hat x, \mathcal{S})$ (no further softmax). The paper's
similarity $c$ is the cosine; `similarity="sq_euclidean"` uses $-\lVert u - v\rVert^2$ instead,
the similarity of Prototypical Networks, so that the two rules below differ only in what the query
is compared with: every support example (attention) or each class mean (prototypes).

Shapes: `T` episodes, `M` queries per episode, `N*K` support examples, `D` features.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _check(query: Tensor, support: Tensor, support_y: Tensor) -> None:
    if query.dim() != 3 or support.dim() != 3 or query.shape[::2] != support.shape[::2]:
        raise ValueError(
            "query and support embeddings must be (T, M, D) and (T, N*K, D) with the same T "
            f"and D, got {tuple(query.shape)} and {tuple(support.shape)}"
        )
    if support_y.shape != support.shape[:2]:
        raise ValueError(
            f"support_y must be (T, N*K) = {tuple(support.shape[:2])}, got {tuple(support_y.shape)}"
        )


def similarities(query: Tensor, keys: Tensor, similarity: str) -> Tensor:
    r"""Similarity $c(u, v)$ of every query to every key.

    Args:
        query: Query embeddings, shape `(T, M, D)`.
        keys: Support embeddings or prototypes, shape `(T, R, D)`.
        similarity: `"cosine"` (the paper's $c$) or `"sq_euclidean"` ($-\lVert u - v\rVert^2$).

    Returns:
        Similarities, shape `(T, M, R)`.

    Raises:
        ValueError: If `similarity` is neither name.
    """
    if similarity == "cosine":
        return F.normalize(query, dim=-1) @ F.normalize(keys, dim=-1).transpose(1, 2)  # (T, M, R)
    if similarity == "sq_euclidean":
        return -torch.cdist(query, keys).pow(2)  # (T, M, R)
    raise ValueError(f"similarity must be 'cosine' or 'sq_euclidean', got {similarity!r}")


# --8<-- [start:rule]
def matching_probabilities(
    query: Tensor,
    support: Tensor,
    support_y: Tensor,
    n_way: int,
    similarity: str = "cosine",
    temperature: float = 1.0,
) -> Tensor:
    r"""Class probabilities of Matching Networks: attention over the support set, summed per label.

    $p(y = n \mid \hat x) = \sum_i a(\hat x, x_i)[y_i = n]$ with $a$ a softmax over the $N K$
    support examples of $c(\hat x, x_i) / \text{temperature}$.

    Args:
        query: Query embeddings $f(\hat x)$, shape `(T, M, D)`.
        support: Support embeddings $g(x_i)$, shape `(T, N*K, D)`.
        support_y: Support labels in `0..N-1`, shape `(T, N*K)`.
        n_way: Classes per episode (N).
        similarity: See `similarities`.
        temperature: Divides the similarities before the softmax (lower: closer to 1-NN).

    Returns:
        Probabilities, shape `(T, M, N)`; each row sums to one.

    Raises:
        ValueError: If the shapes disagree (see `_check`) or `similarity` is unknown.
    """
    _check(query, support, support_y)
    attention = torch.softmax(similarities(query, support, similarity) / temperature, -1)
    one_hot = F.one_hot(support_y, n_way).to(attention.dtype)  # (T, N*K, N)
    return attention @ one_hot  # (T, M, N): attention mass on each class's examples


# --8<-- [end:rule]
def prototype_probabilities(
    query: Tensor, support: Tensor, support_y: Tensor, n_way: int, temperature: float = 1.0
) -> Tensor:
    r"""Class probabilities of Prototypical Networks: softmax over $-\lVert f(\hat x) - c_n\rVert^2$.

    Args:
        query: Query embeddings, shape `(T, M, D)`.
        support: Support embeddings, shape `(T, N*K, D)`.
        support_y: Support labels in `0..N-1`, shape `(T, N*K)`.
        n_way: Classes per episode (N).
        temperature: Divides the similarities before the softmax.

    Returns:
        Probabilities, shape `(T, M, N)`.

    Raises:
        ValueError: If the shapes disagree.
    """
    _check(query, support, support_y)
    one_hot = F.one_hot(support_y, n_way).to(support.dtype)  # (T, N*K, N)
    prototypes = one_hot.transpose(1, 2) @ support / one_hot.sum(1).unsqueeze(-1)  # (T, N, D)
    return torch.softmax(similarities(query, prototypes, "sq_euclidean") / temperature, -1)


# --8<-- [start:loss]
def matching_nll(probabilities: Tensor, query_y: Tensor) -> Tensor:
    r"""Matching Networks' training loss: $-\log p(y \mid \hat x, \mathcal{S})$, mean over queries.

    The attention sum is already a probability, so the loss takes its log directly; a softmax on
    top of it would train a different model.

    Args:
        probabilities: Output of `matching_probabilities`, shape `(T, M, N)`.
        query_y: Query labels, shape `(T, M)`.

    Returns:
        Scalar loss.
    """
    picked = probabilities.gather(-1, query_y.unsqueeze(-1)).squeeze(-1)  # (T, M)
    return -picked.clamp_min(torch.finfo(picked.dtype).tiny).log().mean()


# --8<-- [end:loss]
