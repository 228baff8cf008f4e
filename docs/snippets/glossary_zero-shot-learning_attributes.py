r"""Attribute-based zero-shot classification, beside the one-shot prototype rule.

Zero-shot learning labels inputs of classes it has seen no labelled example of, using a
description of every class instead: here a vector of attributes $a_c \in \mathbb{R}^A$ ("has
stripes", "lives in water"), as in attribute-based classification (Lampert, Nickisch, Harmeling
2009, "Learning to Detect Unseen Object Classes by Between-Class Attribute Transfer"). A linear
map $W$ from inputs to attribute space is fitted on the *seen* classes by ridge regression,

$$W = \arg\min_W \lVert X W - A_y \rVert_F^2 + \lambda \lVert W \rVert_F^2
    = (X^\top X + \lambda I)^{-1} X^\top A_y ,$$

with $A_y$ the attribute vectors of the training examples' classes; an input of an *unseen*
class is then labelled with the candidate class whose description is most similar to its
predicted attributes, $\hat y = \arg\max_c \cos(x W, a_c)$. No labelled example of an unseen
class is used anywhere.

`world` draws a synthetic universe for it: each class has a binary attribute vector and an
appearance $a_c M + \delta_c$, where $M$ is a fixed random map and $\delta_c$ the part of a class's
appearance that its attributes do not describe; examples add noise to the appearance. The
descriptions a learner receives may themselves be noisy.

Shapes: `C` classes, `A` attributes, `D` input features, `T` episodes, `N` classes per episode,
`M` inputs per episode.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class World:
    """Classes of a synthetic attribute universe: what generates inputs, and what describes them."""

    attributes: Tensor
    r"""True attribute vector of every class, $\pm 1$ entries, shape `(C, A)`."""
    appearance: Tensor
    r"""Mean input of every class, $a_c M + \delta_c$, shape `(C, D)`."""
    example_noise: float
    """Standard deviation of an input around its class's appearance."""


def world(
    n_classes: int,
    n_attributes: int,
    dim: int,
    undescribed: float,
    example_noise: float,
    generator: torch.Generator,
) -> World:
    r"""Draw classes with random binary attributes and appearances $a_c M + \delta_c$.

    Args:
        n_classes: Number of classes `C`.
        n_attributes: Attributes per class `A`.
        dim: Input features `D`.
        undescribed: Standard deviation of each class's own offset $\delta_c$, the part of its
            appearance its attributes leave out.
        example_noise: Standard deviation of an input around its class's appearance.
        generator: Source of all randomness.

    Returns:
        The classes' attributes and appearances.
    """
    attributes = torch.randint(0, 2, (n_classes, n_attributes), generator=generator) * 2.0 - 1
    mixing = torch.randn(n_attributes, dim, generator=generator) / n_attributes**0.5  # (A, D)
    offsets = undescribed * torch.randn(n_classes, dim, generator=generator)  # (C, D)
    return World(attributes, attributes @ mixing + offsets, example_noise)  # appearance (C, D)


def draw_inputs(w: World, classes: Tensor, generator: torch.Generator) -> Tensor:
    """Fresh inputs of the given classes (any shape of class indices).

    Args:
        w: The world.
        classes: Class indices, any shape `S`.
        generator: Source of the input noise.

    Returns:
        Inputs, shape `(*S, D)`.
    """
    mean = w.appearance[classes]  # (*S, D)
    return mean + w.example_noise * torch.randn(mean.shape, generator=generator)


# --8<-- [start:zero-shot]
def fit_attribute_map(inputs: Tensor, attributes: Tensor, ridge: float) -> Tensor:
    r"""Ridge regression from inputs to their classes' attribute vectors, on seen classes only.

    $W = (X^\top X + \lambda I)^{-1} X^\top A_y$.

    Args:
        inputs: Training inputs of seen classes, shape `(M, D)`.
        attributes: The attribute vector of each input's class, shape `(M, A)`.
        ridge: Penalty $\lambda > 0$.

    Returns:
        The map $W$, shape `(D, A)`.

    Raises:
        ValueError: If the shapes disagree or `ridge` is not positive.
    """
    if inputs.dim() != 2 or attributes.dim() != 2 or inputs.shape[0] != attributes.shape[0]:
        raise ValueError(
            "inputs and attributes must be (M, D) and (M, A) with the same M, got "
            f"{tuple(inputs.shape)} and {tuple(attributes.shape)}"
        )
    if ridge <= 0:
        raise ValueError(f"ridge must be positive, got {ridge}")
    gram = inputs.T @ inputs + ridge * torch.eye(inputs.shape[1], dtype=inputs.dtype)  # (D, D)
    return torch.linalg.solve(gram, inputs.T @ attributes)  # (D, A)


def zero_shot_predict(inputs: Tensor, attribute_map: Tensor, descriptions: Tensor) -> Tensor:
    r"""Label each input with the candidate class whose description is nearest its predicted attributes.

    $\hat y = \arg\max_c \cos(x W, a_c)$ over the episode's candidate classes.

    Args:
        inputs: Inputs, shape `(T, M, D)`.
        attribute_map: $W$, shape `(D, A)`.
        descriptions: Attribute vectors of each episode's candidate classes, shape `(T, N, A)`.

    Returns:
        Predicted candidate index in `0 .. N-1`, shape `(T, M)`.
    """
    predicted = F.normalize(inputs @ attribute_map, dim=-1)  # (T, M, A)
    scores = predicted @ F.normalize(descriptions, dim=-1).transpose(1, 2)  # (T, M, N)
    return scores.argmax(-1)


# --8<-- [end:zero-shot]


def one_shot_predict(inputs: Tensor, support: Tensor) -> Tensor:
    r"""Nearest class mean on the raw inputs, given one labelled example per candidate class.

    With one shot the class mean is the example itself:
    $\hat y = \arg\min_c \lVert x - x_c \rVert^2$.

    Args:
        inputs: Inputs, shape `(T, M, D)`.
        support: One labelled input per candidate class, in candidate order, shape `(T, N, D)`.

    Returns:
        Predicted candidate index in `0 .. N-1`, shape `(T, M)`.
    """
    return torch.cdist(inputs, support).argmin(-1)  # distances (T, M, N)
