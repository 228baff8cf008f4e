r"""Meta-SGD on quadratic tasks whose optimal per-coordinate step sizes are known in closed form.

Meta-SGD (Li, Zhou, Chen, Li 2017, "Meta-SGD: Learning to Learn Quickly for Few-Shot Learning",
arXiv:1707.09835) meta-learns, beside the initialisation $\theta$, a vector $\alpha$ of the same
shape that sets the size *and direction* of the adaptation step per parameter:

$$\theta' = \theta - \alpha \circ \nabla_\theta \mathcal{L}_{\mathcal{S}}(\theta),$$

and trains both by the meta-gradient of the query loss $\mathcal{L}_{\mathcal{Q}}(\theta')$.

The tasks here make the right answer computable. Along coordinate $i$ every loss is a parabola
of curvature $h_i$, $\mathcal{L}(\theta) = \tfrac12\sum_i h_i(\theta_i - v_i)^2$; a task's
optimum $w$ is drawn around $\mu$ with spread $\tau_i$, and its support and query sets each see
that optimum through independent noise of size $\sigma_i$ ($v = w + \epsilon$). One step from
$\theta$ then has expected query loss
$\tfrac12\sum_i h_i\big[(1-\alpha_i h_i)^2(\tau_i^2 + (\theta_i-\mu_i)^2) + \alpha_i^2h_i^2\sigma_i^2
+ \sigma_i^2\big]$, minimised at $\theta = \mu$ and

$$\alpha_i^\star = \frac{1}{h_i}\cdot\frac{\tau_i^2}{\tau_i^2 + \sigma_i^2},$$

a Newton step shrunk by how much of the support set's signal is noise. A single step size for
every coordinate (MAML with a tuned scalar $\alpha$) can match at most one of them.

Shapes: `T` tasks, `D` coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class QuadraticTasks:
    """The task distribution: curvature, centre, spread and support/query noise per coordinate."""

    curvature: Tensor
    """$h_i$, shape `(D,)`, positive."""
    centre: Tensor
    r"""$\mu_i$, the mean task optimum, shape `(D,)`."""
    spread: Tensor
    r"""$\tau_i$, standard deviation of task optima around the centre, shape `(D,)`."""
    noise: Tensor
    r"""$\sigma_i$, noise of each set's view of the optimum, shape `(D,)`."""

    def __post_init__(self) -> None:
        shapes = {t.shape for t in (self.curvature, self.centre, self.spread, self.noise)}
        if len(shapes) != 1 or len(next(iter(shapes))) != 1:
            raise ValueError(f"all four fields must be vectors of one shape (D,), got {shapes}")
        if not bool((self.curvature > 0).all()):
            raise ValueError("curvature must be positive in every coordinate")

    def sample(self, n_tasks: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Draw `n_tasks` tasks: the optima seen by their support and query sets, each `(T, D)`."""
        shape = (n_tasks, self.centre.shape[0])
        kwargs = {"generator": generator, "dtype": self.centre.dtype}
        optimum = self.centre + self.spread * torch.randn(shape, **kwargs)
        return (
            optimum + self.noise * torch.randn(shape, **kwargs),
            optimum + self.noise * torch.randn(shape, **kwargs),
        )

    def loss(self, params: Tensor, target: Tensor) -> Tensor:
        r"""$\tfrac12\sum_i h_i(\theta_i - v_i)^2$ per task: `params (T, D)` or `(D,)`, `target (T, D)`."""
        return 0.5 * (self.curvature * (params - target) ** 2).sum(-1)

    def optimal_step_sizes(self) -> Tensor:
        r"""$\alpha^\star_i = \tau_i^2 / (h_i(\tau_i^2 + \sigma_i^2))$, shape `(D,)`."""
        return self.spread**2 / (self.curvature * (self.spread**2 + self.noise**2))

    def best_single_step_size(self) -> Tensor:
        r"""The scalar $\alpha$ minimising the expected query loss at $\theta = \mu$.

        $\alpha = \sum_i h_i^2\tau_i^2 / \sum_i h_i^3(\tau_i^2 + \sigma_i^2)$ (set the derivative
        of the expected loss above, with one $\alpha$ for all coordinates, to zero).
        """
        h, spread2, noise2 = self.curvature, self.spread**2, self.noise**2
        return (h**2 * spread2).sum() / (h**3 * (spread2 + noise2)).sum()


# --8<-- [start:adapt]
def adapt(tasks: QuadraticTasks, params: Tensor, step_sizes: Tensor, support: Tensor) -> Tensor:
    r"""One Meta-SGD step on each task's support loss: $\theta' = \theta - \alpha\circ\nabla\mathcal{L}_\mathcal{S}$.

    Args:
        tasks: The task distribution (for the curvature).
        params: Initialisation $\theta$, shape `(D,)`.
        step_sizes: $\alpha$, shape `(D,)` (a scalar tensor gives MAML's single step size).
        support: Each task's support optimum $v^\mathcal{S}$, shape `(T, D)`.

    Returns:
        Adapted parameters $\theta'$, shape `(T, D)`.
    """
    gradient = tasks.curvature * (params - support)  # (T, D): gradient of the support loss
    return params - step_sizes * gradient


def meta_train(
    tasks: QuadraticTasks,
    meta_steps: int,
    meta_batch_size: int,
    outer_lr: float,
    initial_step_size: float,
    generator: torch.Generator,
) -> tuple[Tensor, Tensor]:
    r"""Learn $\theta$ and the vector $\alpha$ jointly with Adam on the query loss after one step.

    Args:
        tasks: The task distribution.
        meta_steps: Outer updates.
        meta_batch_size: Tasks per update (T).
        outer_lr: Adam's step size.
        initial_step_size: Starting value of every $\alpha_i$.
        generator: Draws the tasks.

    Returns:
        The learned initialisation and step sizes, each of shape `(D,)`.
    """
    params = torch.zeros_like(tasks.centre, requires_grad=True)
    step_sizes = torch.full_like(tasks.centre, initial_step_size, requires_grad=True)
    optimiser = torch.optim.Adam([params, step_sizes], lr=outer_lr)
    for _ in range(meta_steps):
        support, query = tasks.sample(meta_batch_size, generator)
        loss = tasks.loss(adapt(tasks, params, step_sizes, support), query).mean()
        optimiser.zero_grad()
        loss.backward()  # the meta-gradient reaches both theta and alpha through adapt
        optimiser.step()
    return params.detach(), step_sizes.detach()


# --8<-- [end:adapt]
