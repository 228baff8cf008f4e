r"""MLDG against ERM on synthetic domains with an invariant and a spurious feature.

Each domain is a binary task with labels $y \in \{-1, +1\}$ and two features: an *invariant*
one, $x_1 = \mu y + \varepsilon_1$, the same in every domain, and a *spurious* one,
$x_2 = s_d\, y + \sigma \varepsilon_2$, whose strength $s_d$ (and sign) depends on the domain. The
model is logistic regression, $p(y = 1 \mid x) = \sigma(w^\top x + b)$.

ERM minimises the average of the training domains' losses. MLDG (Li et al. 2018,
arXiv:1710.03463, Algorithm 1 and Eq. 3) splits the training domains at every step into
meta-train domains with loss $F$ and a meta-test domain with loss $G$, and minimises

$$F(\theta) + \beta\, G\big(\theta - \alpha \nabla F(\theta)\big),$$

differentiating through the inner step (second order) unless `first_order` is set, in which case
$\nabla F$ inside $G$ is treated as a constant, as DomainBed's implementation does. Several runs
(one per inner step size $\alpha$) are trained side by side: their parameters are stacked, and
every loss is a sum over runs, so each run's gradient is its own. Shapes: `R` runs, `n` points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

Domain = tuple[Tensor, Tensor]
"""`x (n, 2)` (invariant, spurious feature) and `y (n,)` in {0, 1}, float64."""


@dataclass(frozen=True)
class DomainConfig:
    """The synthetic domains and the training budget shared by ERM and MLDG."""

    invariant_mean: float = 1.0
    r"""Mean $\mu$ of the invariant feature times the label (its noise has unit variance)."""
    spurious_noise: float = 0.5
    r"""Noise $\sigma$ of the spurious feature: small, so it is the more predictive one."""
    points_per_domain: int = 400
    """Labelled points of each training domain."""
    steps: int = 300
    """Full-batch Adam steps, for ERM and for MLDG."""
    lr: float = 0.1
    """Adam step size."""
    meta_test_weight: float = 1.0
    r"""MLDG's weight $\beta$ on the meta-test loss."""


def make_domain(
    strength: float, points: int, cfg: DomainConfig, generator: torch.Generator
) -> Domain:
    """Draw one domain whose spurious feature has mean `strength * y`; balanced labels on average."""
    sign = 2.0 * torch.randint(0, 2, (points,), generator=generator, dtype=torch.float64) - 1
    invariant = cfg.invariant_mean * sign + torch.randn(
        points, generator=generator, dtype=torch.float64
    )
    spurious = strength * sign + cfg.spurious_noise * torch.randn(
        points, generator=generator, dtype=torch.float64
    )
    return torch.stack([invariant, spurious], dim=1), (sign > 0).to(torch.float64)


def domain_loss(weights: Tensor, bias: Tensor, domain: Domain) -> Tensor:
    """Mean logistic loss of each run on one domain: `weights (R, 2)`, `bias (R,)` -> `(R,)`."""
    x, y = domain
    logits = x @ weights.T + bias  # (n, R)
    return F.binary_cross_entropy_with_logits(
        logits, y[:, None].expand_as(logits), reduction="none"
    ).mean(0)


def correct(weights: Tensor, bias: Tensor, domain: Domain) -> Tensor:
    """Per-point correctness (1.0 or 0.0) of each run's prediction, shape `(n, R)`."""
    x, y = domain
    return ((x @ weights.T + bias > 0).to(y.dtype) == y[:, None]).to(y.dtype)


def train_erm(domains: Sequence[Domain], cfg: DomainConfig) -> tuple[Tensor, Tensor]:
    """ERM: Adam on the average of the training domains' losses; returns `(1, 2)` and `(1,)`."""
    weights = domains[0][0].new_zeros(1, 2, requires_grad=True)
    bias = domains[0][0].new_zeros(1, requires_grad=True)
    optimiser = torch.optim.Adam([weights, bias], lr=cfg.lr)
    for _ in range(cfg.steps):
        loss = sum(domain_loss(weights, bias, d) for d in domains).sum() / len(domains)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return weights.detach(), bias.detach()


# --8<-- [start:mldg]
def mldg_objective(
    weights: Tensor,
    bias: Tensor,
    domains: Sequence[Domain],
    held_out: int,
    inner_lrs: Tensor,
    meta_test_weight: float,
    first_order: bool = False,
) -> Tensor:
    r"""$F(\theta) + \beta\, G(\theta - \alpha \nabla F(\theta))$ of every run, summed over runs.

    Args:
        weights: Weights of the `R` runs, shape `(R, 2)`.
        bias: Biases, shape `(R,)`.
        domains: The training domains; `domains[held_out]` is the meta-test domain (loss $G$), the
            others are the meta-train domains (mean loss $F$).
        held_out: Index of the meta-test domain.
        inner_lrs: Inner step size $\alpha$ of each run, shape `(R,)`.
        meta_test_weight: $\beta$.
        first_order: Treat $\nabla F$ inside $G$ as a constant (no second derivatives).

    Returns:
        A scalar: the runs do not share parameters, so its gradient is each run's own.
    """
    meta_train = [d for i, d in enumerate(domains) if i != held_out]
    loss_f = sum(domain_loss(weights, bias, d) for d in meta_train) / len(meta_train)  # (R,)
    grad_w, grad_b = torch.autograd.grad(
        loss_f.sum(), (weights, bias), create_graph=not first_order, retain_graph=True
    )  # (R, 2), (R,); F's graph is kept for the outer backward pass in both modes
    loss_g = domain_loss(
        weights - inner_lrs[:, None] * grad_w, bias - inner_lrs * grad_b, domains[held_out]
    )  # (R,): the meta-test domain after one step on the meta-train domains
    return (loss_f + meta_test_weight * loss_g).sum()


def train_mldg(
    domains: Sequence[Domain],
    inner_lrs: Sequence[float],
    cfg: DomainConfig,
    first_order: bool = False,
) -> tuple[Tensor, Tensor]:
    r"""MLDG: at step $t$ domain $t \bmod D$ is the meta-test domain, the others are meta-train.

    Args:
        domains: The `D >= 2` training domains.
        inner_lrs: One inner step size $\alpha$ per run (`R` runs trained side by side).
        cfg: Uses `steps`, `lr` and `meta_test_weight` ($\beta$).
        first_order: Treat $\nabla F$ inside $G$ as a constant (no second derivatives).

    Returns:
        Weights `(R, 2)` and biases `(R,)`, detached.

    Raises:
        ValueError: If fewer than two domains are given or `inner_lrs` is empty.
    """
    if len(domains) < 2 or not inner_lrs:
        raise ValueError(
            f"MLDG needs at least 2 domains and 1 inner step size, got {len(domains)} "
            f"and {len(inner_lrs)}"
        )
    alpha = domains[0][0].new_tensor(list(inner_lrs))  # (R,)
    weights = domains[0][0].new_zeros(len(inner_lrs), 2, requires_grad=True)
    bias = domains[0][0].new_zeros(len(inner_lrs), requires_grad=True)
    optimiser = torch.optim.Adam([weights, bias], lr=cfg.lr)
    for step in range(cfg.steps):
        objective = mldg_objective(
            weights, bias, domains, step % len(domains), alpha, cfg.meta_test_weight, first_order
        )
        optimiser.zero_grad()
        objective.backward()
        optimiser.step()
    return weights.detach(), bias.detach()


# --8<-- [end:mldg]
