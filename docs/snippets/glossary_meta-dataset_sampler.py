r"""Meta-Dataset's variable-way, variable-shot episodes, re-implemented from its sampling rules.

Triantafillou et al. (2020), "Meta-Dataset: A Dataset of Datasets for Learning to Learn from Few
Examples", arXiv:1903.03096. Episodes are not N-way K-shot: each draws its own number of classes,
its own query size and an imbalanced support set. The rules below follow
`meta_dataset/data/sampling.py` of `google-research/meta-dataset` (commit 1676095) with the
defaults of `learn/gin/setups/data_config_common.gin`:

1. ways $N \sim U\{5, \dots, \min(50, C)\}$ for a split with $C$ classes, classes uniform without
   replacement (ImageNet's hierarchy-aware and Omniglot's alphabet-aware class choice are not
   reproduced here);
2. queries per class $Q = \min(10, \min_c \lfloor n_c / 2\rfloor)$, the same for every class;
3. support-set size $S = \min\big(500, \sum_c \lfloor \beta\, \min(100, n_c - Q) \rfloor + 1\big)$
   with one $\beta \sim U(0, 1)$ per episode;
4. shots $k_c = \min\big(n_c - Q,\ \lfloor \pi_c (S - N) \rfloor + 1\big)$ with
   $\pi_c \propto n_c\, e^{u_c}$, $u_c \sim U(\log\tfrac12, \log 2)$: at least one shot per class,
   roughly in proportion to the class's size.

$n_c$ is the number of images of class $c$. Shapes: `C` classes in the split, `N` in an episode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class EpisodeRules:
    """The sampler's settings (defaults: Meta-Dataset's `data_config_common.gin`)."""

    min_ways: int = 5
    max_ways: int = 50
    max_query: int = 10
    max_support_size: int = 500
    max_support_contribution: int = 100
    min_log_weight: float = math.log(0.5)
    max_log_weight: float = math.log(2.0)


@dataclass(frozen=True)
class Episode:
    """The composition of one episode: which classes, and how many images of each."""

    classes: Tensor
    """Class indices into the split, shape `(N,)`."""
    shots: Tensor
    """Support examples per class, shape `(N,)`."""
    queries: int
    """Query examples per class (balanced)."""


# --8<-- [start:sampler]
def sample_episode(
    images_per_class: Tensor, rules: EpisodeRules, generator: torch.Generator
) -> Episode:
    """Draw one episode's composition from a split whose class `c` has `images_per_class[c]` images.

    Args:
        images_per_class: Images of every class of the split, shape `(C,)`, integers.
        rules: The sampler's settings.
        generator: Source of every random choice.

    Returns:
        The episode's classes, shots per class and queries per class.

    Raises:
        ValueError: If the split has fewer than `rules.min_ways` classes or a class has fewer
            than 2 images.
    """
    n_classes = images_per_class.numel()
    if n_classes < rules.min_ways:
        raise ValueError(f"a split needs at least {rules.min_ways} classes, got {n_classes}")
    if int(images_per_class.min()) < 2:
        raise ValueError("every class needs at least 2 images (one support, one query)")
    upper = min(rules.max_ways, n_classes)
    ways = int(torch.randint(rules.min_ways, upper + 1, (1,), generator=generator))  # rule 1
    classes = torch.randperm(n_classes, generator=generator)[:ways]
    sizes = images_per_class[classes]  # (N,)
    queries = min(rules.max_query, int((sizes // 2).min()))  # rule 2
    remaining = sizes - queries  # (N,): images left for the support set
    beta = float(torch.rand((), generator=generator))  # rule 3
    contributions = remaining.clamp(max=rules.max_support_contribution)
    support_size = min(rules.max_support_size, int(torch.floor(beta * contributions + 1).sum()))
    log_weights = torch.empty(ways, dtype=torch.float64).uniform_(
        rules.min_log_weight, rules.max_log_weight, generator=generator
    )  # rule 4
    proportions = sizes.double() * log_weights.exp()
    proportions = proportions / proportions.sum()
    desired = torch.floor(proportions * (support_size - ways)).long() + 1
    return Episode(classes, torch.minimum(desired, remaining), queries)


# --8<-- [end:sampler]
