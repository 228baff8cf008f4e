r"""A MANN-style external memory: content-based reads and least-recently-used writes.

Santoro et al. (2016), "Meta-Learning with Memory-Augmented Neural Networks", arXiv:1605.06065,
§3. A controller emits a key $k_t$ for every input; the memory $M_t$ is read by content,

$$w^r_t(i) = \operatorname{softmax}_i\big(\beta\, K(k_t, M_t(i))\big), \qquad
r_t = \textstyle\sum_i w^r_t(i)\, M_t(i),$$

with $K$ the cosine similarity, and written by *least recently used access* (LRUA): the write
weights interpolate between the slot read at the previous step and the least-used slot,

$$w^w_t = \sigma(\alpha)\, w^r_{t-1} + (1 - \sigma(\alpha))\, w^{lu}_{t-1}, \qquad
w^u_t = \gamma\, w^u_{t-1} + w^r_t + w^w_t,$$

where $w^u$ is a decaying usage count and $w^{lu}$ is one-hot on the least-used slot, which is
cleared before the write. This copy keeps the memory in key-value form (a key row and a one-hot
label row per slot, written with the same weights) and uses a fixed controller, the identity on
the input features, so the read and write rules can be studied on their own; in the paper an LSTM
controller learns the keys, the read sharpness and the gate.

The task is the paper's online binding task: an episode shows the examples of `N` classes one at
a time in random order, each label is revealed only after the prediction for its example, and
the memory must bind a class to its label from its first presentation on.

Shapes: `E` episodes, `L` steps per episode, `M` memory slots, `D` features, `N` classes.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor


def binding_episodes(
    n_way: int, instances: int, dim: int, noise: float, n_episodes: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Episodes of `n_way` new classes, each shown `instances` times in a random order.

    Every episode draws fresh class centres (standard normal in `D` dimensions); each example is
    its class centre plus Gaussian noise of standard deviation `noise`.

    Returns:
        `(x, y)` of shapes `(E, L, D)` and `(E, L)` with `L = n_way * instances`.
    """
    centres = torch.randn(n_episodes, n_way, dim, generator=generator)  # (E, N, D)
    labels = torch.arange(n_way).repeat(instances)  # (L,): every class `instances` times
    order = torch.argsort(torch.rand(n_episodes, labels.numel(), generator=generator), -1)
    y = labels[order]  # (E, L)
    x = centres.gather(1, y.unsqueeze(-1).expand(-1, -1, dim))  # (E, L, D)
    return x + noise * torch.randn(x.shape, generator=generator), y


def instance_index(y: Tensor, n_way: int) -> Tensor:
    """How many times each step's class was shown before it (0 for a first presentation): `(E, L)`."""
    one_hot = F.one_hot(y, n_way)  # (E, L, N)
    seen_before = one_hot.cumsum(1) - one_hot  # (E, L, N): earlier presentations of each class
    return seen_before.gather(-1, y.unsqueeze(-1)).squeeze(-1)


# --8<-- [start:memory]
class Memory(NamedTuple):
    """The memory of every episode; explicit state, passed in and returned by each operation."""

    keys: Tensor
    """Key rows, shape `(E, M, D)`."""
    values: Tensor
    """Label rows, shape `(E, M, N)`."""
    usage: Tensor
    r"""Usage $w^u$ of every slot, shape `(E, M)`."""
    last_read: Tensor
    r"""Read weights of the previous step $w^r_{t-1}$, shape `(E, M)`."""


def empty_memory(n_episodes: int, slots: int, dim: int, n_way: int) -> Memory:
    """All-zero memory (a cleared slot is all zeros)."""
    zeros = torch.zeros(n_episodes, slots)
    return Memory(torch.zeros(n_episodes, slots, dim), torch.zeros(n_episodes, slots, n_way),
                  zeros, zeros.clone())  # fmt: skip


def content_read(memory: Memory, key: Tensor, sharpness: float) -> tuple[Tensor, Tensor]:
    r"""Read by content: softmax of $\beta$ times the cosine similarity of `key` to every slot.

    Args:
        memory: The current memory.
        key: One key per episode, shape `(E, D)`.
        sharpness: $\beta$; large values approach reading the single most similar slot.

    Returns:
        `(weights, read)`: read weights of shape `(E, M)` and the label read, shape `(E, N)`.
    """
    similarity = F.cosine_similarity(memory.keys, key.unsqueeze(1), dim=-1, eps=1e-8)  # (E, M)
    weights = torch.softmax(sharpness * similarity, -1)
    return weights, (weights.unsqueeze(-1) * memory.values).sum(1)


def lrua_write(
    memory: Memory, key: Tensor, value: Tensor, read_weights: Tensor, gate: float, decay: float
) -> Memory:
    r"""Least-recently-used access: clear the least-used slot, then write with $w^w_t$.

    Args:
        memory: The current memory (its `last_read` is $w^r_{t-1}$).
        key: Keys to store, shape `(E, D)`.
        value: One-hot labels to store, shape `(E, N)`.
        read_weights: This step's read weights $w^r_t$, shape `(E, M)`; they become `last_read`
            and count towards usage.
        gate: $\sigma(\alpha)$ in [0, 1]: 0 writes only to the least-used slot, 1 only where the
            previous step read.
        decay: $\gamma$, the usage decay per step.

    Returns:
        The memory after the write.

    Raises:
        ValueError: If `gate` is outside [0, 1].
    """
    if not 0.0 <= gate <= 1.0:
        raise ValueError(f"gate is sigma(alpha) and must lie in [0, 1], got {gate}")
    least_used = F.one_hot(memory.usage.argmin(-1), memory.usage.shape[-1]).to(key.dtype)
    write = gate * memory.last_read + (1 - gate) * least_used  # (E, M): w^w_t
    keep = (1 - least_used).unsqueeze(-1)  # (E, M, 1): the least-used slot is cleared
    keys = memory.keys * keep + write.unsqueeze(-1) * key.unsqueeze(1)
    values = memory.values * keep + write.unsqueeze(-1) * value.unsqueeze(1)
    usage = decay * memory.usage + read_weights + write
    return Memory(keys, values, usage, read_weights)


def run_binding(
    x: Tensor, y: Tensor, n_way: int, slots: int, sharpness: float, gate: float, decay: float
) -> Tensor:
    """Play every episode online: predict from memory, then store the example with its label.

    The prediction is the label with the largest read (an all-zero read counts as wrong). Until
    an example of the class has been stored, the read can only point at other classes, so a
    first presentation is never answered correctly.

    Args:
        x: Inputs, shape `(E, L, D)` (the fixed controller's keys).
        y: Labels, shape `(E, L)`.
        n_way: Classes per episode `N`.
        slots: Memory slots `M`.
        sharpness: Read sharpness.
        gate: Write gate, see `lrua_write`.
        decay: Usage decay, see `lrua_write`.

    Returns:
        Whether each prediction was right, shape `(E, L)`, bool.
    """
    n_episodes, length, dim = x.shape
    memory = empty_memory(n_episodes, slots, dim, n_way)
    correct = []
    for t in range(length):
        weights, read = content_read(memory, x[:, t], sharpness)
        correct.append((read.argmax(-1) == y[:, t]) & (read.amax(-1) > 0))
        memory = lrua_write(memory, x[:, t], F.one_hot(y[:, t], n_way).to(x.dtype), weights,
                            gate, decay)  # fmt: skip
    return torch.stack(correct, 1)


# --8<-- [end:memory]
def run_binding_fifo(x: Tensor, y: Tensor, n_way: int, slots: int, sharpness: float) -> Tensor:
    """The same task with a ring buffer: every write replaces the oldest slot.

    Returns:
        Whether each prediction was right, shape `(E, L)`, bool.
    """
    n_episodes, length, dim = x.shape
    memory = empty_memory(n_episodes, slots, dim, n_way)
    correct = []
    for t in range(length):
        _, read = content_read(memory, x[:, t], sharpness)
        correct.append((read.argmax(-1) == y[:, t]) & (read.amax(-1) > 0))
        slot = t % slots
        keys, values = memory.keys.clone(), memory.values.clone()
        keys[:, slot] = x[:, t]
        values[:, slot] = F.one_hot(y[:, t], n_way).to(x.dtype)
        memory = Memory(keys, values, memory.usage, memory.last_read)
    return torch.stack(correct, 1)
