r"""Test-time adaptation on a toy: a normalised linear classifier meets shifted, unlabelled batches.

The model normalises each input feature, applies a per-feature affine map and a linear head,

$$f(x) = W\big(\gamma \odot \tfrac{x - m}{s} + \beta\big) + b ,$$

a batch-normalisation layer in front of a classifier. Trained on the source domain, $(m, s)$ are
the source statistics (what `model.eval()` uses: running averages) and $\gamma = 1$, $\beta = 0$.
Three ways to predict on a batch of unlabelled test inputs:

* **source**: the model as trained;
* **test-batch statistics** (AdaBN, Li et al. 2016): $(m, s)$ re-estimated on the test batch,
  population variance as in batch normalisation's training mode;
* **entropy minimisation** (Tent, Wang et al. 2021, arXiv:2006.10726v3): test-batch statistics and
  a few Adam steps on $\gamma, \beta$ only, minimising the batch's mean prediction entropy
  $-\tfrac{1}{B}\sum_i \sum_c p_{ic}\log p_{ic}$, restarted from the source model for every batch.

Shapes: `B` batches side by side, `M` inputs per batch, `D` features, `C` classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class ShiftedDomains:
    """Gaussian classes and a family of shifts of them, indexed by a severity `s >= 0`."""

    means: Tensor
    """Class means, shape `(C, D)`."""
    scale_per_feature: Tensor
    """How fast each feature's scale grows with the severity, shape `(D,)`."""

    @classmethod
    def draw(cls, classes: int, dim: int, generator: torch.Generator) -> ShiftedDomains:
        """Random class means (standard deviation 1.2) and per-feature scale rates in [0, 1)."""
        means = 1.2 * torch.randn(classes, dim, generator=generator)
        return cls(means, torch.rand(dim, generator=generator))

    def sample(
        self, batches: int, size: int, severity: float, generator: torch.Generator,
        class_probs: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:  # fmt: skip
        r"""Batches of labelled inputs from the domain of one severity.

        The shift is per-feature affine: $x \mapsto x \odot (1 + s\,r) + \tfrac{s}{2}(\mu_1 - \mu_0)$,
        a scale change plus an offset along the direction separating the first two classes.

        Args:
            batches: Batches (B).
            size: Inputs per batch (M).
            severity: Shift severity $s$; 0 is the source domain.
            generator: Source of randomness.
            class_probs: Class frequencies `(C,)`; uniform if `None`.

        Returns:
            Inputs `(B, M, D)` and labels `(B, M)`.
        """
        classes, dim = self.means.shape
        probs = torch.full((classes,), 1 / classes) if class_probs is None else class_probs
        labels = torch.multinomial(probs, batches * size, True, generator=generator)
        labels = labels.view(batches, size)  # (B, M)
        x = self.means[labels] + torch.randn(batches, size, dim, generator=generator)
        offset = 0.5 * severity * (self.means[1] - self.means[0])  # (D,)
        return x * (1 + severity * self.scale_per_feature) + offset, labels


@dataclass(frozen=True)
class NormalisedClassifier:
    """Source statistics and linear head of the toy model."""

    mean: Tensor
    """Source feature means `m`, shape `(D,)`."""
    std: Tensor
    """Source feature standard deviations `s`, shape `(D,)`."""
    weight: Tensor
    """Head weights `W`, shape `(C, D)`."""
    bias: Tensor
    """Head bias `b`, shape `(C,)`."""


def logits(
    model: NormalisedClassifier, x: Tensor, mean: Tensor, std: Tensor,
    gamma: Tensor | float = 1.0, beta: Tensor | float = 0.0,
) -> Tensor:  # fmt: skip
    r"""$W(\gamma \odot (x - m)/s + \beta) + b$ for inputs `x (B, M, D)`; returns `(B, M, C)`.

    `mean`, `std`, `gamma`, `beta` broadcast against `x`: `(D,)` for source statistics,
    `(B, 1, D)` for per-batch ones.
    """
    return (gamma * (x - mean) / std + beta) @ model.weight.T + model.bias


def train_source(x: Tensor, y: Tensor, classes: int) -> NormalisedClassifier:
    """Fit the head by full-batch L-BFGS on source inputs `x (M, D)` with labels `y (M,)`."""
    mean, std = x.mean(0), x.std(0, unbiased=False)
    weight = x.new_zeros(classes, x.shape[1], requires_grad=True)
    bias = x.new_zeros(classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy((x - mean) / std @ weight.T + bias, y)
        loss.backward()
        return loss

    optimizer.step(closure)
    return NormalisedClassifier(mean, std, weight.detach(), bias.detach())


def batch_statistics(x: Tensor) -> tuple[Tensor, Tensor]:
    """Per-batch feature mean and population std of `x (B, M, D)`, each `(B, 1, D)`."""
    return x.mean(1, keepdim=True), x.std(1, unbiased=False, keepdim=True)


def mean_entropy(scores: Tensor) -> Tensor:
    """Mean prediction entropy per batch, shape `(B,)`, of logits `(B, M, C)` (nats)."""
    log_p = scores.log_softmax(-1)
    return -(log_p.exp() * log_p).sum(-1).mean(-1)


# --8<-- [start:tent]
def entropy_minimisation(
    model: NormalisedClassifier, x: Tensor, steps: int, lr: float
) -> tuple[Tensor, Tensor]:
    r"""Tent on every batch at once: test-batch statistics, Adam on $\gamma, \beta$ only.

    Each batch gets its own $(\gamma, \beta)$, started at the source values $(1, 0)$; the loss is
    the sum of the batches' mean entropies, so the batches do not interact.

    Args:
        model: The source model (its head is not changed).
        x: Unlabelled test batches, shape `(B, M, D)`.
        steps: Adam steps per batch.
        lr: Adam step size.

    Returns:
        Adapted `gamma` and `beta`, each `(B, 1, D)`.
    """
    mean, std = batch_statistics(x)
    gamma = x.new_ones(x.shape[0], 1, x.shape[2]).requires_grad_()
    beta = x.new_zeros(x.shape[0], 1, x.shape[2]).requires_grad_()
    optimizer = torch.optim.Adam([gamma, beta], lr=lr)
    for _ in range(steps):
        loss = mean_entropy(logits(model, x, mean, std, gamma, beta)).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return gamma.detach(), beta.detach()


# --8<-- [end:tent]


def accuracies(
    model: NormalisedClassifier, x: Tensor, y: Tensor, steps: int, lr: float
) -> dict[str, list[float]]:
    """Per-batch accuracy of the three predictors on batches `x (B, M, D)`, labels `y (B, M)`."""
    mean, std = batch_statistics(x)
    gamma, beta = entropy_minimisation(model, x, steps, lr)
    scores = {
        "source model": logits(model, x, model.mean, model.std),
        "test-batch statistics": logits(model, x, mean, std),
        "entropy minimisation (Tent)": logits(model, x, mean, std, gamma, beta),
    }
    return {name: (s.argmax(-1) == y).double().mean(-1).tolist() for name, s in scores.items()}
