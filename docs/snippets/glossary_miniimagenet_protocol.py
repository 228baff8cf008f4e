r"""miniImageNet and tieredImageNet: the recorded splits, and what a reported interval implies.

Nothing here loads images. The split table records class counts read from split files of
public repositories (source, path and commit in each row); the functions turn a reported
"mean ± 95% interval over E test episodes" into the per-episode spread it implies, and model how
that interval, and the chance that two methods swap places on a fresh evaluation, depend on the
number of episodes and queries.

Per-episode accuracy is modelled as $a_e = \hat p_e$, the share of correct answers among the
$NQ$ queries of episode $e$, with the episode's own success probability $p_e$ scattered around the
method's mean $p$ by a *task spread* $\tau$ (some episodes are harder than others):

$$\operatorname{Var}(a_e) = \tau^2 + \frac{p(1 - p) - \tau^2}{NQ} \approx \tau^2 + \frac{p(1-p)}{NQ},$$

and the reported half-width is $1.96\,\sqrt{\operatorname{Var}(a_e)/E}$ (the convention of the MAML
and ProtoNets code, `1.96 * std / sqrt(E)`). Accuracies are fractions in [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

Z95 = 1.96
"""Normal quantile of a two-sided 95% interval, as in the papers' code."""


@dataclass(frozen=True)
class Split:
    """Class counts of one benchmark split, as read from a released split file."""

    benchmark: str
    split: str
    train: int
    val: int
    test: int
    images_per_class: int | None
    source: str


SPLITS = (
    Split("miniImageNet", "Ravi & Larochelle", 64, 16, 20, 600,
          "renmengye/few-shot-ssl-public @ 4ce8726, fewshot/data/mini_imagenet_split/Ravi/*.csv"),
    Split("miniImageNet", "'Vinyals' files", 60, 20, 20, 600,
          "renmengye/few-shot-ssl-public @ 4ce8726, fewshot/data/mini_imagenet_split/Vinyals/*.csv"),
    Split("tieredImageNet", "Ren et al. (classes)", 351, 97, 160, None,
          "renmengye/few-shot-ssl-public @ 4ce8726, fewshot/data/tiered_imagenet_split/*.csv"),
    Split("tieredImageNet", "Ren et al. (categories)", 20, 6, 8, None,
          "same files: the second column, the high-level category of each class"),
)  # fmt: skip
IMAGE_SIZE = 84
"""miniImageNet images are resized to 84 x 84 pixels (ProtoNets §3.2, in ../shared/REFERENCES.md)."""
SHARED_MINI_CLASSES = 3
"""Classes that the two miniImageNet split files above have in common (of 100 each)."""
TIERED_CATEGORIES_SHARED = 0
"""High-level categories that appear in more than one tieredImageNet split."""
MINI_IN_TIERED = 58
"""Classes of the Ravi & Larochelle miniImageNet files that are also tieredImageNet classes."""
MINI_TRAIN_IN_TIERED_TEST = 13
"""miniImageNet (Ravi) training classes that are tieredImageNet *test* classes."""
MINI_TEST_IN_TIERED_TRAIN = 5
"""miniImageNet (Ravi) test classes that are tieredImageNet *training* classes."""


# --8<-- [start:interval]
def implied_episode_std(half_width: float, episodes: int) -> float:
    """Per-episode standard deviation implied by a reported 95% half-width over `episodes`."""
    if half_width < 0 or episodes < 1:
        raise ValueError(f"need half_width >= 0 and episodes >= 1, got {half_width}, {episodes}")
    return half_width * math.sqrt(episodes) / Z95


def query_std(accuracy: float, queries: int) -> float:
    r"""Standard deviation of an episode's accuracy from query sampling alone, $\sqrt{p(1-p)/q}$."""
    if not 0.0 <= accuracy <= 1.0 or queries < 1:
        raise ValueError(f"need accuracy in [0, 1] and queries >= 1, got {accuracy}, {queries}")
    return math.sqrt(accuracy * (1 - accuracy) / queries)


def episode_std(accuracy: float, task_spread: float, queries: int) -> float:
    r"""$\sqrt{\tau^2 + p(1-p)/q}$: per-episode spread for `queries` queries per episode."""
    return math.sqrt(task_spread**2 + query_std(accuracy, queries) ** 2)


def half_width(std: float, episodes: int) -> float:
    """95% half-width of a mean over `episodes` episodes with per-episode spread `std`."""
    return Z95 * std / math.sqrt(episodes)


def flip_probability(gap: float, std_a: float, std_b: float, episodes: int) -> float:
    r"""Chance that a fresh, independent evaluation ranks the worse method first.

    Each method is scored on its own `episodes` random episodes; the observed difference is then
    normal with mean `gap` > 0 and variance $(s_a^2 + s_b^2)/E$, and the order flips when it is
    negative: $\Phi\big(-\text{gap}\,/\sqrt{(s_a^2 + s_b^2)/E}\big)$.
    """
    scale = math.sqrt((std_a**2 + std_b**2) / episodes)
    return 0.5 * math.erfc(gap / scale / math.sqrt(2))


# --8<-- [end:interval]
def simulate_flips(
    gap: float,
    accuracy: float,
    task_spread: float,
    queries: int,
    episodes: int,
    paired: bool,
    repeats: int,
    generator: torch.Generator,
) -> float:
    """Monte Carlo share of evaluations whose observed order is wrong.

    Episode difficulties are normal around the methods' accuracies (`accuracy + gap` and
    `accuracy`) with spread `task_spread`, clipped to [0, 1]; every query is a Bernoulli draw.
    With `paired`, both methods see the same episodes (the same difficulty offsets), as in a
    comparison on fixed test episodes; otherwise each draws its own.

    Returns:
        The share of `repeats` evaluations in which the worse method scored higher (ties count
        half).
    """
    shape = (repeats, episodes)
    offset_a = task_spread * torch.randn(shape, generator=generator, dtype=torch.float64)
    offset_b = offset_a if paired else task_spread * torch.randn(shape, generator=generator,
                                                                  dtype=torch.float64)  # fmt: skip
    p_a = (accuracy + gap + offset_a).clamp(0, 1)  # (repeats, E): the better method
    p_b = (accuracy + offset_b).clamp(0, 1)
    score_a = torch.binomial(torch.full(shape, float(queries), dtype=torch.float64), p_a,
                             generator=generator).mean(-1)  # fmt: skip
    score_b = torch.binomial(torch.full(shape, float(queries), dtype=torch.float64), p_b,
                             generator=generator).mean(-1)  # fmt: skip
    return float(((score_b > score_a).double() + 0.5 * (score_b == score_a).double()).mean())
