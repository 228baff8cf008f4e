r"""A conditional neural process (CNP) on 1-D functions, beside the exact posterior it approximates.

Garnelo et al. (2018), "Conditional Neural Processes", arXiv:1807.01613. A CNP maps a context set
$C = \{(x_i, y_i)\}_{i=1}^n$ to a predictive distribution at any target input $x$:

$$r_i = h_\theta(x_i, y_i),\qquad r = \frac{1}{n}\sum_{i=1}^n r_i,\qquad
(\mu(x), \sigma(x)) = g_\theta(x, r),$$

and is trained on many functions by maximising $\log \mathcal{N}(y \mid \mu(x), \sigma(x)^2)$ of
target points given a random-size context (the paper's Eq. (4); its targets include the context
points, as here). The mean over $r_i$ makes the prediction invariant to the order of the context.

The functions here are draws from a Gaussian process with the linear kernel
$k(x, x') = s_a^2\, x x' + s_b^2$ plus observation noise, i.e. lines $y = a x + b + \varepsilon$
with $a \sim \mathcal{N}(0, s_a^2)$, $b \sim \mathcal{N}(0, s_b^2)$. For this prior the Bayes
predictive distribution given a context is known in closed form (`gp_predictive`), so the CNP's
learned uncertainty can be compared with the exact answer.

Shapes: `T` functions (tasks), `P` points per function, `n` context points, `M` targets,
`H` hidden units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class LineTasks:
    """The task distribution: noisy lines on an interval, a GP with a linear kernel."""

    slope_std: float = 1.0
    r"""Prior standard deviation $s_a$ of the slope."""
    intercept_std: float = 1.0
    r"""Prior standard deviation $s_b$ of the intercept."""
    noise_std: float = 0.2
    r"""Observation noise $\sigma_\varepsilon$."""
    x_low: float = -2.0
    """Inputs are uniform on `[x_low, x_high]`."""
    x_high: float = 2.0
    """Upper end of the input interval."""


def sample_functions(
    tasks: LineTasks, n_functions: int, n_points: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Draw `n_functions` lines and `n_points` noisy observations of each.

    Args:
        tasks: The prior over functions and the noise.
        n_functions: Number of functions `T`.
        n_points: Points per function `P`, in random order (any prefix is a random context).
        generator: Source of all randomness.

    Returns:
        `(x, y)`, each of shape `(T, P)`.
    """
    x = tasks.x_low + (tasks.x_high - tasks.x_low) * torch.rand(
        n_functions, n_points, generator=generator
    )
    slope = tasks.slope_std * torch.randn(n_functions, 1, generator=generator)  # (T, 1)
    intercept = tasks.intercept_std * torch.randn(n_functions, 1, generator=generator)
    noise = tasks.noise_std * torch.randn(n_functions, n_points, generator=generator)
    return x, slope * x + intercept + noise


# --8<-- [start:exact]
def linear_kernel(a: Tensor, b: Tensor, tasks: LineTasks) -> Tensor:
    r"""$k(a_i, b_j) = s_a^2 a_i b_j + s_b^2$ for every pair: shape `(T, len_a, len_b)`."""
    return tasks.slope_std**2 * a.unsqueeze(-1) * b.unsqueeze(-2) + tasks.intercept_std**2


def gp_predictive(
    context_x: Tensor, context_y: Tensor, target_x: Tensor, tasks: LineTasks
) -> tuple[Tensor, Tensor]:
    r"""Exact Bayes predictive mean and standard deviation of noisy targets given a context.

    Gaussian-process regression with kernel $k$ and noise variance $\sigma_\varepsilon^2$:

    $$\mu_* = K_{*C}(K_{CC} + \sigma_\varepsilon^2 I)^{-1} y_C,\qquad
    \sigma_*^2 = k(x_*, x_*) - K_{*C}(K_{CC} + \sigma_\varepsilon^2 I)^{-1}K_{C*}
    + \sigma_\varepsilon^2 .$$

    Args:
        context_x: Context inputs, shape `(T, n)`; `n = 0` gives the prior predictive.
        context_y: Context outputs, shape `(T, n)`.
        target_x: Target inputs, shape `(T, M)`.
        tasks: The prior and noise the functions were drawn from.

    Returns:
        `(mean, std)`, each of shape `(T, M)`.
    """
    prior_var = linear_kernel(target_x, target_x, tasks).diagonal(dim1=-2, dim2=-1)  # (T, M)
    noise_var = tasks.noise_std**2
    if context_x.shape[-1] == 0:
        return torch.zeros_like(target_x), (prior_var + noise_var).sqrt()
    gram = linear_kernel(context_x, context_x, tasks)  # (T, n, n)
    gram = gram + noise_var * torch.eye(gram.shape[-1], dtype=gram.dtype)
    cross = linear_kernel(target_x, context_x, tasks)  # (T, M, n)
    weights = torch.linalg.solve(gram, cross.transpose(-1, -2))  # (T, n, M)
    mean = (weights * context_y.unsqueeze(-1)).sum(-2)  # (T, M)
    var = prior_var - (cross.transpose(-1, -2) * weights).sum(-2) + noise_var  # (T, M)
    return mean, var.sqrt()


# --8<-- [end:exact]
# --8<-- [start:cnp]
class ConditionalNeuralProcess(nn.Module):
    r"""Encoder $h_\theta$, mean aggregation, decoder $g_\theta$ (Garnelo et al. 2018, §2.4).

    Args:
        hidden: Width `H` of every hidden layer and of the representation $r$.
        min_std: Floor added to the predicted standard deviation (keeps the likelihood finite).
    """

    def __init__(self, hidden: int = 32, min_std: float = 0.01) -> None:
        super().__init__()
        self.min_std = min_std
        self.encoder = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.decoder = nn.Sequential(
            nn.Linear(hidden + 1, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 2),
        )

    def forward(
        self, context_x: Tensor, context_y: Tensor, context_mask: Tensor, target_x: Tensor
    ) -> tuple[Tensor, Tensor]:
        r"""Predictive mean and standard deviation at the targets.

        Args:
            context_x: Context inputs, shape `(T, P)` (padded; see `context_mask`).
            context_y: Context outputs, shape `(T, P)`.
            context_mask: 1 for the points that belong to the context, 0 for padding, shape
                `(T, P)`; every row needs at least one context point.
            target_x: Target inputs, shape `(T, M)`.

        Returns:
            `(mean, std)`, each of shape `(T, M)`.

        Raises:
            ValueError: If the shapes disagree or a row has an empty context.
        """
        if context_x.dim() != 2 or not context_x.shape == context_y.shape == context_mask.shape:
            raise ValueError(
                "context_x, context_y and context_mask must all be (T, P), got "
                f"{tuple(context_x.shape)}, {tuple(context_y.shape)}, {tuple(context_mask.shape)}"
            )
        if target_x.dim() != 2 or target_x.shape[0] != context_x.shape[0]:
            raise ValueError(f"target_x must be (T, M) with T = {context_x.shape[0]}")
        counts = context_mask.sum(-1, keepdim=True)  # (T, 1)
        if bool((counts == 0).any()):
            raise ValueError("every function needs at least one context point (a row of zeros)")
        pairs = torch.stack([context_x, context_y], -1)  # (T, P, 2)
        r_i = self.encoder(pairs) * context_mask.unsqueeze(-1)  # (T, P, H), padding zeroed
        r = r_i.sum(-2) / counts  # (T, H): mean over the context only
        r = r.unsqueeze(-2).expand(-1, target_x.shape[-1], -1)  # (T, M, H)
        out = self.decoder(torch.cat([r, target_x.unsqueeze(-1)], -1))  # (T, M, 2)
        mean, raw_std = out.unbind(-1)
        return mean, self.min_std + F.softplus(raw_std)


def gaussian_nll(mean: Tensor, std: Tensor, y: Tensor) -> Tensor:
    r"""Per-point negative log-likelihood $-\log\mathcal{N}(y \mid \mu, \sigma^2)$, shape of `y`."""
    return 0.5 * ((y - mean) / std) ** 2 + std.log() + 0.5 * math.log(2 * math.pi)


# --8<-- [end:cnp]
# --8<-- [start:train]
def train_cnp(
    model: ConditionalNeuralProcess,
    tasks: LineTasks,
    steps: int,
    batch: int,
    n_points: int,
    max_context: int,
    lr: float,
    generator: torch.Generator,
) -> list[float]:
    """Meta-train a CNP: each step draws `batch` functions and a context size per function.

    The loss is the mean target NLL over all `n_points` points of each function (the context
    points included, as in the paper), given the first `n` points as context with `n` uniform in
    `1..max_context`.

    Returns:
        The training loss of every step.
    """
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    positions = torch.arange(n_points)
    losses = []
    for _ in range(steps):
        x, y = sample_functions(tasks, batch, n_points, generator)  # (T, P) each
        sizes = torch.randint(1, max_context + 1, (batch, 1), generator=generator)  # (T, 1)
        mask = (positions < sizes).to(x.dtype)  # (T, P): the first n points are the context
        mean, std = model(x, y, mask, x)
        loss = gaussian_nll(mean, std, y).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return losses


# --8<-- [end:train]
