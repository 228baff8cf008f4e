r"""Pretrain → meta-train → fine-tune on a synthetic image-like domain, with a prototype head.

The three stages of Hu et al. (2022), "Pushing the Limits of Simple Pipelines for Few-Shot
Learning: External Data and Fine-Tuning Make a Difference", arXiv:2204.07305 (P>M>F), on a
two-layer embedding network small enough to train in a fraction of a second:

* **P, pretrain**: ordinary classification of all base classes with a linear head, which is then
  dropped (the "Classifier-Baseline" of Chen et al. 2021, arXiv:2003.04390);
* **M, meta-train**: episodes from the same base classes, with the Prototypical Networks loss of
  the head used at test (Meta-Baseline's second stage; P>M>F's M = ProtoNet);
* **F, fine-tune**: at test, a few gradient steps on the episode's own support set, with the
  prototype head rebuilt from the support set at every step.

Every stage ends in the same test-time rule: class means of the support embeddings and a softmax
over negative squared Euclidean distances,

$$p(y = c \mid x) \propto \exp\big(-\lVert f_\theta(x) - \mu_c\rVert^2\big),\qquad
\mu_c = \tfrac{1}{K}\textstyle\sum_{i: y_i = c} f_\theta(x_i).$$

A domain is a fixed linear world: class centres live in a low-dimensional latent space, an
example is its class centre plus within-class noise, mixed into the input by a matrix $A$, plus
large *nuisance* noise mixed in by a second matrix $B$. An embedding helps exactly as much as it
learns to keep the directions of $A$ and drop those of $B$; a *shifted* domain keeps $A$ and
draws a new $B$, so what pretraining learned to ignore no longer covers the nuisance.

Shapes: `E` episodes, `N` ways, `K` shots, `Q` queries per class, `D` input features, `H` hidden
units, `F` embedding features, `C` classes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

Params = dict[str, Tensor]
"""Embedding weights `w1 (D, H)`, `b1 (H,)`, `w2 (H, F)`, `b2 (F,)`; with a leading `(E, ...)`
dimension (biases `(E, 1, ·)`) when every episode has its own fine-tuned copy."""
Episodes = tuple[Tensor, Tensor, Tensor, Tensor]
"""`support_x (E, N*K, D)`, `support_y (E, N*K)`, `query_x (E, N*Q, D)`, `query_y (E, N*Q)`."""


@dataclass(frozen=True)
class Domain:
    """A synthetic domain: class-signal mixing `signal (L, D)` and nuisance mixing `nuisance (M, D)`."""

    signal: Tensor
    """Maps the latent class space (dimension L) into the input, shape `(L, D)`."""
    nuisance: Tensor
    """Maps nuisance noise (dimension M) into the input, shape `(M, D)`."""
    within_std: float = 0.6
    """Within-class standard deviation in the latent space (class centres have std 1)."""
    nuisance_std: float = 1.5
    """Standard deviation of the nuisance noise."""


def make_domain(
    input_dim: int, latent_dim: int, nuisance_dim: int, generator: torch.Generator,
    signal: Tensor | None = None,
) -> Domain:  # fmt: skip
    """Draw a domain's mixing matrices (pass `signal` to keep a domain's class mixing: a shift).

    Args:
        input_dim: Input features D.
        latent_dim: Dimension L of the class space.
        nuisance_dim: Dimension M of the nuisance noise.
        generator: Source of the random matrices.
        signal: Class mixing `(L, D)` to reuse; drawn when `None`.

    Returns:
        The domain; rows of both matrices have unit expected squared norm.

    Raises:
        ValueError: If `signal` is not `(latent_dim, input_dim)`.
    """
    if signal is None:
        signal = torch.randn(latent_dim, input_dim, generator=generator) / input_dim**0.5
    elif signal.shape != (latent_dim, input_dim):
        raise ValueError(
            f"signal must have shape ({latent_dim}, {input_dim}), got {tuple(signal.shape)}"
        )
    nuisance = torch.randn(nuisance_dim, input_dim, generator=generator) * (3 / input_dim) ** 0.5
    return Domain(signal, nuisance)


def sample_points(domain: Domain, centres: Tensor, generator: torch.Generator) -> Tensor:
    """One input per row of `centres (..., L)`: centre + within-class noise, mixed, + nuisance.

    Returns:
        Inputs of shape `(..., D)`.
    """
    latent = centres + domain.within_std * torch.randn(centres.shape, generator=generator)
    noise = domain.nuisance_std * torch.randn(
        *centres.shape[:-1], domain.nuisance.shape[0], generator=generator
    )  # (..., M)
    return latent @ domain.signal + noise @ domain.nuisance  # (..., D)


def sample_episodes(
    domain: Domain, centres: Tensor, episodes: int, ways: int, shots: int, queries: int,
    generator: torch.Generator,
) -> Episodes:  # fmt: skip
    """N-way K-shot episodes over the classes whose latent centres are the rows of `centres`.

    Labels are re-assigned per episode: `0..N-1` in the order the classes were drawn.

    Args:
        domain: The domain the inputs come from.
        centres: Latent class centres `(C, L)` the episodes draw their classes from (C >= N).
        episodes: Episodes E.
        ways: Classes per episode N.
        shots: Support examples per class K.
        queries: Query examples per class Q.
        generator: Source of all randomness.

    Returns:
        `support_x (E, N*K, D)`, `support_y (E, N*K)`, `query_x (E, N*Q, D)`, `query_y (E, N*Q)`;
        examples are grouped by class (label `i // K` in the support set, `i // Q` in the query).

    Raises:
        ValueError: If there are fewer than `ways` classes.
    """
    if centres.shape[0] < ways:
        raise ValueError(
            f"{ways}-way episodes need at least {ways} classes, got {centres.shape[0]}"
        )
    classes = torch.rand(episodes, centres.shape[0], generator=generator).argsort(-1)[:, :ways]
    chosen = centres[classes]  # (E, N, L)
    support = sample_points(domain, chosen.repeat_interleave(shots, 1), generator)  # (E, N*K, D)
    query = sample_points(domain, chosen.repeat_interleave(queries, 1), generator)  # (E, N*Q, D)
    labels = torch.arange(ways)
    return (
        support, labels.repeat_interleave(shots).expand(episodes, -1),
        query, labels.repeat_interleave(queries).expand(episodes, -1),
    )  # fmt: skip


def init_embedding(
    input_dim: int, hidden: int, features: int, generator: torch.Generator
) -> Params:
    """He-initialised weights of the two-layer embedding `D -> H -> F` (biases zero)."""
    return {
        "w1": torch.randn(input_dim, hidden, generator=generator) * (2 / input_dim) ** 0.5,
        "b1": torch.zeros(hidden),
        "w2": torch.randn(hidden, features, generator=generator) * (2 / hidden) ** 0.5,
        "b2": torch.zeros(features),
    }


def embed(params: Params, x: Tensor) -> Tensor:
    r"""$f_\theta(x) = W_2^\top \mathrm{relu}(W_1^\top x + b_1) + b_2$ for `x (..., n, D)` -> `(..., n, F)`.

    Shared weights broadcast over any leading dimensions; per-episode weights `(E, D, H)` pair with
    `x (E, n, D)`.
    """
    return torch.relu(x @ params["w1"] + params["b1"]) @ params["w2"] + params["b2"]


def prototype_logits(support: Tensor, support_y: Tensor, query: Tensor, ways: int) -> Tensor:
    r"""Negative squared distances to the class means (Prototypical Networks' Eq. 1-2 logits).

    Args:
        support: Support embeddings `(E, N*K, F)`.
        support_y: Support labels `(E, N*K)` in `0..N-1`, every class present.
        query: Query embeddings `(E, M, F)`.
        ways: Classes N.

    Returns:
        Logits `(E, M, N)`: $-\lVert f(x) - \mu_c\rVert^2$.
    """
    onehot = F.one_hot(support_y, ways).to(support.dtype)  # (E, N*K, N)
    means = onehot.mT @ support / onehot.sum(1).unsqueeze(-1)  # (E, N, F)
    return -torch.cdist(query, means).pow(2)  # (E, M, N)


def _adam(
    params: Params, lr: float, steps: int, loss_of: Callable[[Params, int], Tensor]
) -> Params:
    """`steps` Adam steps on `loss_of(params, step)` from a copy of `params`; returns the result."""
    params = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    optimiser = torch.optim.Adam(params.values(), lr=lr)
    for step in range(steps):
        optimiser.zero_grad()
        loss_of(params, step).backward()
        optimiser.step()
    return {k: v.detach() for k, v in params.items()}


def pretrain(
    params: Params, domain: Domain, centres: Tensor, steps: int, batch: int, lr: float,
    generator: torch.Generator,
) -> Params:  # fmt: skip
    """Stage P: classify all C base classes with a linear head on the embedding, then drop the head.

    Every batch is drawn afresh (uniform classes), so the number of classes is the only thing that
    differs between two calls with the same budget.

    Args:
        params: Initial embedding weights.
        domain: Domain of the base classes.
        centres: Latent centres of the C base classes, `(C, L)`.
        steps: Adam steps.
        batch: Examples per step.
        lr: Adam learning rate.
        generator: Source of the batches and the head's initialisation.

    Returns:
        The pretrained embedding weights (the classification head is discarded).
    """
    classes = centres.shape[0]
    labels = torch.randint(classes, (steps, batch), generator=generator)
    inputs = sample_points(domain, centres[labels], generator)  # (steps, batch, D)
    features = params["w2"].shape[1]
    head = {"w": torch.zeros(features, classes), "b": torch.zeros(classes)}

    def loss(p: Params, step: int) -> Tensor:
        logits = embed(p, inputs[step]) @ p["w"] + p["b"]  # (batch, C)
        return F.cross_entropy(logits, labels[step])

    trained = _adam({**params, **head}, lr, steps, loss)
    return {k: trained[k] for k in params}


def episode_loss(params: Params, episode: Episodes, ways: int) -> Tensor:
    """Mean query cross-entropy of the prototype head over a batch of episodes (one number)."""
    support_x, support_y, query_x, query_y = episode
    logits = prototype_logits(embed(params, support_x), support_y, embed(params, query_x), ways)
    return F.cross_entropy(logits.flatten(0, 1), query_y.flatten())


def meta_train(
    params: Params, domain: Domain, centres: Tensor, steps: int, episodes: int, ways: int,
    shots: int, queries: int, lr: float, generator: torch.Generator,
) -> Params:  # fmt: skip
    """Stage M: episodic training of the embedding with the prototype head's loss on base classes.

    Args:
        params: Embedding weights to start from (pretrained, for P>M).
        domain: Domain of the base classes.
        centres: Latent centres of the base classes, `(C, L)` with C >= `ways`.
        steps: Adam steps.
        episodes: Episodes per step.
        ways: Classes per training episode.
        shots: Support examples per class.
        queries: Query examples per class.
        lr: Adam learning rate.
        generator: Source of the episodes.

    Returns:
        The meta-trained embedding weights.
    """
    batches = [
        sample_episodes(domain, centres, episodes, ways, shots, queries, generator)
        for _ in range(steps)
    ]
    return _adam(params, lr, steps, lambda p, step: episode_loss(p, batches[step], ways))


# --8<-- [start:fine-tune]
def fine_tune(
    params: Params, support_x: Tensor, support_y: Tensor, ways: int, steps: int, lr: float
) -> Params:
    r"""Stage F: per-episode gradient steps on the support set, all episodes at once.

    Each episode gets its own copy of the embedding, trained by plain gradient descent on the
    prototype head's cross-entropy of its *support* examples against prototypes rebuilt from the
    same support set at every step (no query labels are used). The episodes' losses are summed,
    so each copy receives exactly its own episode's gradient.

    Args:
        params: Shared starting weights (pretrained, meta-trained, or random for "scratch").
        support_x: Support inputs `(E, N*K, D)`.
        support_y: Support labels `(E, N*K)`.
        ways: Classes N.
        steps: Gradient steps per episode.
        lr: Step size.

    Returns:
        Per-episode weights: `w1 (E, D, H)`, `b1 (E, 1, H)`, `w2 (E, H, F)`, `b2 (E, 1, F)`.
    """
    episodes = support_x.shape[0]
    copies = {  # weights (E, ·, ·), biases (E, 1, ·): one independent copy per episode
        k: (v if v.dim() == 2 else v.unsqueeze(0)).expand(episodes, -1, -1).clone()
        for k, v in params.items()
    }
    for _ in range(steps):
        copies = {k: v.requires_grad_(True) for k, v in copies.items()}
        z = embed(copies, support_x)  # (E, N*K, F)
        logits = prototype_logits(z, support_y, z, ways)  # (E, N*K, N)
        loss = F.cross_entropy(logits.flatten(0, 1), support_y.flatten(), reduction="sum")
        grads = torch.autograd.grad(loss / support_x.shape[1], list(copies.values()))
        copies = {k: (v - lr * g).detach() for (k, v), g in zip(copies.items(), grads, strict=True)}
    return copies


# --8<-- [end:fine-tune]


def accuracy(params: Params, episode: Episodes, ways: int) -> Tensor:
    """Query accuracy per episode `(E,)` of the prototype head on `params` (shared or per-episode)."""
    support_x, support_y, query_x, query_y = episode
    with torch.no_grad():
        logits = prototype_logits(embed(params, support_x), support_y, embed(params, query_x), ways)
    return (logits.argmax(-1) == query_y).double().mean(-1)
