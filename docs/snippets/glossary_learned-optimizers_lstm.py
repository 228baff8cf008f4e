r"""A coordinate-wise LSTM optimiser meta-trained on random quadratics, and the hand-designed rules.

The optimisee is a random diagonal quadratic $f(x) = \tfrac12 \sum_i h_i (x_i - c_i)^2$ in `D`
dimensions, with curvatures $h_i$ log-uniform over two decades and centres $c_i \sim \mathcal N(0,1)$,
started at $x_0 = 0$. The learned optimiser follows Andrychowicz et al. (2016, arXiv:1606.04474):
one small LSTM, shared by every coordinate, reads that coordinate's gradient and proposes its step,
$x_{t+1} = x_t + g_t$, and is meta-trained by backpropagating the mean loss along a `T`-step
trajectory into the LSTM's weights. As in the paper, the gradient enters as an input whose own
dependence on the LSTM is ignored (no second derivatives), and it is preprocessed to
$(\log\lvert g\rvert / p,\ \mathrm{sign}\, g)$ when $\lvert g\rvert \ge e^{-p}$, and $(-1,\ e^{p} g)$
otherwise, so that gradients of any scale reach the LSTM at a usable size.

SGD and Adam are written out in the same vectorised form for comparison. Shapes: `n` quadratics,
`D` coordinates, `S` steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

Quadratics = tuple[Tensor, Tensor]
"""Curvatures `h (n, D)` and centres `c (n, D)` of `n` diagonal quadratics."""


class Trajectory(NamedTuple):
    """What an optimiser did on each quadratic at each step, all `(n, S)`."""

    losses: Tensor
    """$f(x_{t+1})$ after each step."""
    step_rms: Tensor
    """Root mean square over coordinates of the step $x_{t+1} - x_t$."""
    distance_rms: Tensor
    """Root mean square over coordinates of $x_{t+1} - c$, the distance from the minimum."""


def record(x: Tensor, step: Tensor, quadratics: Quadratics) -> tuple[Tensor, Tensor, Tensor]:
    """Loss, step RMS and distance RMS of one step that moved to `x (n, D)` by `step (n, D)`."""
    return (
        loss(x, quadratics),
        step.pow(2).mean(-1).sqrt(),
        (x - quadratics[1]).pow(2).mean(-1).sqrt(),
    )


def trajectory(rows: list[tuple[Tensor, Tensor, Tensor]]) -> Trajectory:
    """Stack per-step records into a `Trajectory`."""
    return Trajectory(*(torch.stack(column, dim=1) for column in zip(*rows, strict=True)))


@dataclass(frozen=True)
class LearnedOptimiserConfig:
    """The quadratic family, the LSTM optimiser's size and its meta-training."""

    dim: int = 10
    """Coordinates of each quadratic (D)."""
    curvature_range: tuple[float, float] = (0.1, 10.0)
    r"""Range of the log-uniform curvatures $h_i$."""
    hidden: int = 6
    """LSTM units (per coordinate; the weights are shared by all coordinates)."""
    step_scale: float = 0.1
    """The LSTM's output times this is the step, as in the paper."""
    preprocess_p: float = 10.0
    r"""Constant $p$ of the gradient preprocessing."""
    horizon: int = 20
    """Unrolled steps per meta-training trajectory (T)."""
    meta_steps: int = 80
    """Adam steps on the LSTM's weights."""
    meta_batch_size: int = 16
    """Quadratics per meta-training step."""
    meta_lr: float = 0.03
    """Adam step size of meta-training."""


def sample_quadratics(
    n: int, cfg: LearnedOptimiserConfig, generator: torch.Generator
) -> Quadratics:
    """Draw `n` quadratics: log-uniform curvatures and standard normal centres, float32."""
    low, high = (math.log(v) for v in cfg.curvature_range)
    curvature = torch.exp(low + (high - low) * torch.rand(n, cfg.dim, generator=generator))
    return curvature, torch.randn(n, cfg.dim, generator=generator)


def loss(x: Tensor, quadratics: Quadratics) -> Tensor:
    """$f(x)$ of each quadratic at `x (n, D)`, shape `(n,)`."""
    curvature, centre = quadratics
    return 0.5 * (curvature * (x - centre) ** 2).sum(-1)


def gradient(x: Tensor, quadratics: Quadratics) -> Tensor:
    r"""$\nabla f(x) = h \odot (x - c)$, shape `(n, D)`."""
    curvature, centre = quadratics
    return curvature * (x - centre)


def preprocess(grad: Tensor, p: float) -> Tensor:
    r"""Map each gradient coordinate to two numbers of moderate size; `(...)` -> `(..., 2)`."""
    magnitude = grad.abs()
    large = magnitude >= math.exp(-p)
    first = torch.where(large, torch.log(magnitude.clamp_min(math.exp(-p))) / p, -1.0)
    second = torch.where(large, torch.sign(grad), math.exp(p) * grad)
    return torch.stack([first, second], dim=-1)


# --8<-- [start:optimiser]
class CoordinatewiseLSTM(nn.Module):
    """The learned update rule: one LSTM cell applied to every coordinate independently."""

    def __init__(self, cfg: LearnedOptimiserConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.cell = nn.LSTMCell(2, cfg.hidden)
        self.head = nn.Linear(cfg.hidden, 1)

    def run(self, quadratics: Quadratics, steps: int) -> Trajectory:
        """Optimise every quadratic from zero for `steps` steps."""
        n, dim = quadratics[0].shape
        x = quadratics[0].new_zeros(n, dim)
        state = (x.new_zeros(n * dim, self.cfg.hidden), x.new_zeros(n * dim, self.cfg.hidden))
        rows = []
        for _ in range(steps):
            grad = gradient(x, quadratics).detach()  # an input: no second derivatives
            state = self.cell(preprocess(grad, self.cfg.preprocess_p).reshape(n * dim, 2), state)
            step = self.cfg.step_scale * self.head(state[0]).reshape(n, dim)
            x = x + step  # x_{t+1} = x_t + g_t
            rows.append(record(x, step, quadratics))
        return trajectory(rows)


def meta_train(cfg: LearnedOptimiserConfig, generator: torch.Generator) -> CoordinatewiseLSTM:
    """Adam on the mean loss along `cfg.horizon`-step trajectories of fresh quadratics."""
    optimiser_net = CoordinatewiseLSTM(cfg)
    meta_optimiser = torch.optim.Adam(optimiser_net.parameters(), lr=cfg.meta_lr)
    for _ in range(cfg.meta_steps):
        quadratics = sample_quadratics(cfg.meta_batch_size, cfg, generator)
        trajectory_loss = optimiser_net.run(quadratics, cfg.horizon).losses.mean()
        meta_optimiser.zero_grad()
        trajectory_loss.backward()  # through all T steps of the unrolled optimisation
        meta_optimiser.step()
    return optimiser_net


# --8<-- [end:optimiser]


def run_sgd(quadratics: Quadratics, steps: int, lr: float) -> Trajectory:
    """Gradient descent from zero with step size `lr`."""
    x = quadratics[0].new_zeros(quadratics[0].shape)
    rows = []
    for _ in range(steps):
        step = -lr * gradient(x, quadratics)
        x = x + step
        rows.append(record(x, step, quadratics))
    return trajectory(rows)


def run_adam(
    quadratics: Quadratics, steps: int, lr: float, betas: tuple[float, float] = (0.9, 0.999)
) -> Trajectory:
    r"""Adam (Kingma & Ba: bias-corrected moments, $\epsilon = 10^{-8}$) from zero."""
    x = quadratics[0].new_zeros(quadratics[0].shape)
    first, second = torch.zeros_like(x), torch.zeros_like(x)
    rows = []
    for t in range(1, steps + 1):
        grad = gradient(x, quadratics)
        first = betas[0] * first + (1 - betas[0]) * grad
        second = betas[1] * second + (1 - betas[1]) * grad**2
        step = -lr * (first / (1 - betas[0] ** t)) / ((second / (1 - betas[1] ** t)).sqrt() + 1e-8)
        x = x + step
        rows.append(record(x, step, quadratics))
    return trajectory(rows)
