r"""A hierarchical Gaussian model of tasks: the exact posterior, a learned prior, amortised inference.

Each task $t$ has an unknown mean $\mu_t \sim \mathcal{N}(m, \tau^2)$ (the prior, shared by all
tasks) and observations $x \sim \mathcal{N}(\mu_t, \sigma^2)$; a task's support set is $K$ such
observations, its query set more of them. Given a support set with mean $\bar x$, the Bayes
posterior of $\mu_t$ is Gaussian,

$$\mu_t \mid \mathcal{S} \sim \mathcal{N}\big(w_K \bar x + (1 - w_K)\, m,\; w_K \sigma^2 / K\big),
\qquad w_K = \frac{K\tau^2}{K\tau^2 + \sigma^2},$$

and a query observation's predictive distribution adds the noise variance $\sigma^2$. Two
meta-learners are fitted on training tasks by the same objective, the predictive log-likelihood of
each task's query set given its support set:

* `LearnedPrior`: the prior $(m, \tau)$ and noise $\sigma$ are meta-parameters and inference is
  exact (empirical Bayes; the view of Grant et al. 2018, arXiv:1801.08930, with MAML's
  initialisation in the role of $m$);
* `AmortisedPosterior`: a small network maps the support set's summary $(\bar x, 1/K)$ straight
  to the predictive mean and standard deviation (amortised inference, as in Gordon et al. 2019,
  arXiv:1805.09921), with no prior written down anywhere.

Shapes: `T` tasks, `K` support and `Q` query observations per task, `H` hidden units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class GaussianTasks:
    """The true task distribution (unknown to the meta-learners)."""

    prior_mean: float = 2.0
    """$m$: mean of the task means."""
    prior_std: float = 1.0
    r"""$\tau$: spread of the task means."""
    noise_std: float = 2.0
    r"""$\sigma$: spread of a task's observations around its mean."""


def sample_tasks(
    tasks: GaussianTasks, n_tasks: int, k_shot: int, n_query: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Draw `n_tasks` task means and a support and a query set of each.

    Returns:
        `(support, query)` of shapes `(T, K)` and `(T, Q)`.
    """
    means = tasks.prior_mean + tasks.prior_std * torch.randn(n_tasks, 1, generator=generator)
    noise = tasks.noise_std * torch.randn(n_tasks, k_shot + n_query, generator=generator)
    observations = means + noise  # (T, K + Q)
    return observations[:, :k_shot], observations[:, k_shot:]


# --8<-- [start:posterior]
def posterior(
    support: Tensor,
    prior_mean: Tensor | float,
    prior_std: Tensor | float,
    noise_std: Tensor | float,
) -> tuple[Tensor, Tensor]:
    r"""Exact posterior of each task's mean given its support set, $\mathcal{N}(\mu_\text{post}, s^2)$.

    Conjugate Gaussian update: precisions add, means are precision-weighted,
    $s^{-2} = \tau^{-2} + K\sigma^{-2}$ and $\mu_\text{post} = s^2(m/\tau^2 + K\bar x/\sigma^2)$.

    Args:
        support: Support observations, shape `(T, K)` with `K >= 1`.
        prior_mean: $m$ (a float or a scalar tensor, possibly requiring grad).
        prior_std: $\tau > 0$.
        noise_std: $\sigma > 0$.

    Returns:
        `(mean, std)` of the posterior, each of shape `(T,)`.

    Raises:
        ValueError: If `support` is not `(T, K)` with `K >= 1`.
    """
    if support.dim() != 2 or support.shape[1] == 0:
        raise ValueError(f"support must be (T, K) with K >= 1, got {tuple(support.shape)}")
    k_shot = support.shape[1]
    precision = prior_std**-2 + k_shot * noise_std**-2
    var = 1.0 / precision
    mean = var * (prior_mean * prior_std**-2 + support.sum(-1) * noise_std**-2)  # (T,)
    return mean, torch.as_tensor(var, dtype=support.dtype).sqrt().expand_as(mean)


def shrinkage(k_shot: int, prior_std: float, noise_std: float) -> float:
    r"""$w_K = K\tau^2 / (K\tau^2 + \sigma^2)$: the posterior mean's weight on the support mean."""
    return k_shot * prior_std**2 / (k_shot * prior_std**2 + noise_std**2)


def predictive_nll(mean: Tensor, std: Tensor, query: Tensor) -> Tensor:
    r"""Mean NLL of each task's queries under $\mathcal{N}(\text{mean}, \text{std}^2)$.

    Args:
        mean: Predictive mean per task, shape `(T,)`.
        std: Predictive standard deviation per task, shape `(T,)`.
        query: Query observations, shape `(T, Q)`.

    Returns:
        Per-task NLL, shape `(T,)`.
    """
    z = (query - mean.unsqueeze(-1)) / std.unsqueeze(-1)  # (T, Q)
    return (0.5 * z**2 + std.log().unsqueeze(-1) + 0.5 * math.log(2 * math.pi)).mean(-1)


# --8<-- [end:posterior]
# --8<-- [start:learners]
class LearnedPrior(nn.Module):
    r"""Meta-parameters $(m, \log\tau, \log\sigma)$; predicts with the exact posterior under them."""

    def __init__(self) -> None:
        super().__init__()
        self.prior_mean = nn.Parameter(torch.zeros(()))
        self.log_prior_std = nn.Parameter(torch.zeros(()))
        self.log_noise_std = nn.Parameter(torch.zeros(()))

    def forward(self, support: Tensor) -> tuple[Tensor, Tensor]:
        """Predictive mean and std of a query observation, each of shape `(T,)`."""
        noise_std = self.log_noise_std.exp()
        mean, std = posterior(support, self.prior_mean, self.log_prior_std.exp(), noise_std)
        return mean, (std**2 + noise_std**2).sqrt()


class AmortisedPosterior(nn.Module):
    r"""A network from the support summary $(\bar x, 1/K)$ to the predictive mean and std.

    Args:
        hidden: Width `H` of the two hidden layers.
    """

    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
            nn.Linear(hidden, 2),
        )  # fmt: skip

    def forward(self, support: Tensor) -> tuple[Tensor, Tensor]:
        """Predictive mean and std of a query observation, each of shape `(T,)`.

        Raises:
            ValueError: If `support` is not `(T, K)` with `K >= 1`.
        """
        if support.dim() != 2 or support.shape[1] == 0:
            raise ValueError(f"support must be (T, K) with K >= 1, got {tuple(support.shape)}")
        summary = torch.stack(
            [support.mean(-1), support.new_full((support.shape[0],), 1.0 / support.shape[1])], -1
        )  # (T, 2)
        mean, raw_std = self.net(summary).unbind(-1)
        return mean, F.softplus(raw_std) + 1e-3


def meta_train(
    learner: nn.Module,
    tasks: GaussianTasks,
    shots: tuple[int, ...],
    steps: int,
    n_tasks: int,
    n_query: int,
    lr: float,
    generator: torch.Generator,
) -> None:
    """Fit a learner's meta-parameters: query NLL given support, on fresh tasks every step.

    Step `i` draws `n_tasks` tasks with support size `shots[i % len(shots)]` (the learner must
    serve all of them) and takes one Adam step on their mean query NLL.
    """
    optimiser = torch.optim.Adam(learner.parameters(), lr=lr)
    for step in range(steps):
        support, query = sample_tasks(tasks, n_tasks, shots[step % len(shots)], n_query, generator)
        loss = predictive_nll(*learner(support), query).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()


# --8<-- [end:learners]
def support_weight(learner: nn.Module, k_shot: int, centre: float) -> float:
    r"""The learner's effective weight on the support mean, $\partial \hat\mu / \partial \bar x$.

    Measured by autograd at a support set of `k_shot` copies of `centre` (the predictive mean of
    both learners depends on the support only through $\bar x$).
    """
    support = torch.full((1, k_shot), centre, requires_grad=True)
    mean, _ = learner(support)
    (grad,) = torch.autograd.grad(mean.sum(), support)
    return float(grad.sum())
