r"""A finite environment of tasks in Baxter's sense, its bias learner, and a bound one can compute.

Baxter (2000), "A Model of Inductive Bias Learning", JAIR 12, arXiv:1106.0245: the learner meets
$n$ tasks drawn from an *environment* $Q$ (a distribution over tasks), $m$ examples each, and
chooses a hypothesis *space* $\mathcal{H}$ from a family $\mathbb{H}$; it is judged by how well
that space serves new tasks from $Q$.

The environment here is small enough for every quantity to have a closed form. Inputs are $D$
independent fair $\pm 1$ features. A task picks one feature $j$ from a hidden group $G^\star$ of
$r$ features and labels $y = x_j$, flipped with probability $\eta$. The family
$\mathbb{H}$ holds one space per group $G$ of $r$ features, $\mathcal{H}_G = \{\pm x_i : i \in G\}$,
so $K = \binom{D}{r}$ spaces of $|\mathcal{H}| = 2r$ hypotheses each. The *environment risk* of
a space, the error of its best hypothesis on a new task, averaged over tasks, is

$$\mathrm{er}_Q(\mathcal{H}_G) = \eta\,\frac{|G \cap G^\star|}{r} + \tfrac12\Big(1 - \frac{|G \cap G^\star|}{r}\Big),$$

and the bias learner picks the space with the lowest *empirical* risk
$\hat{\mathrm{er}}(\mathcal{H}) = \frac1n\sum_t \min_{h \in \mathcal{H}} \hat{\mathrm{er}}_t(h)$.

The bound (Hoeffding's inequality and union bounds, in the form of Baxter's finite-family
results; derived in `environment_bound`): with probability at least $1 - \delta$ over the tasks
and their examples, for every space in the family at once,

$$\mathrm{er}_Q(\mathcal{H}) \le \hat{\mathrm{er}}(\mathcal{H})
+ \sqrt{\frac{\ln(2K/\delta)}{2n}} + \sqrt{\frac{n \ln|\mathcal{H}| + \ln(2K/\delta)}{2nm}} .$$

Shapes: `R` independent replicates of the whole experiment, `n` tasks, `D` features, `K` spaces.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Environment:
    """Tasks that copy one feature of a hidden group, with label noise."""

    features: int = 10
    """Input features D."""
    group: tuple[int, ...] = (0, 1, 2)
    r"""The hidden group $G^\star$ of features that tasks copy (size r)."""
    noise: float = 0.1
    r"""Label flip probability $\eta$: every task's Bayes error."""

    def __post_init__(self) -> None:
        if not self.group or len(set(self.group)) != len(self.group):
            raise ValueError(f"group must hold distinct features, got {self.group}")
        if not all(0 <= i < self.features for i in self.group):
            raise ValueError(f"group features must lie in 0..{self.features - 1}, got {self.group}")
        if not 0 <= self.noise < 0.5:
            raise ValueError(f"noise must be in [0, 0.5), got {self.noise}")


def candidate_groups(env: Environment) -> Tensor:
    """Every group of `r` features in lexicographic order, shape `(K, r)`: the family of spaces."""
    return torch.tensor(list(itertools.combinations(range(env.features), len(env.group))))


def environment_risk(env: Environment, groups: Tensor) -> Tensor:
    r"""Closed-form $\mathrm{er}_Q(\mathcal{H}_G)$ of each group in `groups (..., r)`, shape `(...)`."""
    hidden = torch.tensor(env.group)
    overlap = (groups.unsqueeze(-1) == hidden).any(-1).double().mean(-1)  # (...,): |G ∩ G*| / r
    return env.noise * overlap + 0.5 * (1 - overlap)


def feature_errors(
    env: Environment, replicates: int, tasks: int, examples: int, generator: torch.Generator
) -> Tensor:
    r"""Per task and feature, the empirical error of the better sign, $\min_\pm \hat{\mathrm{er}}_t(\pm x_i)$.

    Only counts matter: on task $t$ (copying feature $j_t$), the number of its $m$ examples on
    which $x_i$ agrees with the label is Binomial$(m, 1 - \eta)$ for $i = j_t$ and
    Binomial$(m, \tfrac12)$ for every other feature, independently across features, so the
    counts are drawn directly instead of the examples.

    Args:
        env: The environment.
        replicates: Independent repetitions of the whole experiment (R).
        tasks: Tasks per replicate (n).
        examples: Examples per task (m).
        generator: Source of the tasks and the counts.

    Returns:
        Errors of shape `(R, n, D)`, each a multiple of `1 / m` in `[0, 1/2]`.
    """
    hidden = torch.tensor(env.group)
    copied = hidden[torch.randint(len(env.group), (replicates, tasks), generator=generator)]
    agree_p = torch.full((replicates, tasks, env.features), 0.5, dtype=torch.float64)
    agree_p.scatter_(-1, copied.unsqueeze(-1), 1 - env.noise)  # (R, n, D)
    count = torch.full_like(agree_p, float(examples))
    agree = torch.binomial(count, agree_p, generator=generator)  # (R, n, D)
    return torch.minimum(agree, examples - agree) / examples


def choose_space(
    errors: Tensor, groups: Tensor, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    r"""The bias learner: the group with the lowest $\hat{\mathrm{er}}(\mathcal{H}_G)$ per replicate.

    Ties are broken uniformly at random: with few tasks many groups tie (any group holding the
    features seen so far), and a fixed order would hand the learner the hidden group whenever it
    comes first.

    Args:
        errors: Per-task feature errors `(R, n, D)` from `feature_errors`.
        groups: The family, `(K, r)`.
        generator: Draws the order in which tied groups are preferred, per replicate.

    Returns:
        The chosen groups `(R, r)` and their empirical risks `(R,)`.
    """
    per_task = errors[..., groups].amin(-1)  # (R, n, K): best hypothesis of each space, per task
    empirical = per_task.mean(1)  # (R, K)
    order = torch.rand(empirical.shape, generator=generator).argsort(-1)  # (R, K) random order
    best = order.gather(-1, empirical.gather(-1, order).argmin(-1, keepdim=True))  # (R, 1)
    return groups[best.squeeze(-1)], empirical.gather(-1, best).squeeze(-1)


# --8<-- [start:bound]
def environment_bound(
    empirical: Tensor, tasks: int, examples: int, spaces: int, space_size: int, delta: float
) -> Tensor:
    r"""The right-hand side of the bound for empirical risks `empirical (...)`, same shape.

    Two events, each of probability at least $1 - \delta/2$, both union-bounded over the $K$
    spaces:

    * *tasks*: for a fixed space, $\min_h \mathrm{er}_P(h) \in [0, 1]$ is i.i.d. over tasks, so
      by Hoeffding its environment mean exceeds the average over the $n$ tasks by more than
      $\sqrt{\ln(2K/\delta)/2n}$ with probability at most $\delta / 2K$;
    * *examples*: for a fixed space and a fixed choice $(h_1, \dots, h_n)$ of one hypothesis per
      task, $\frac1n\sum_t \mathrm{er}_t(h_t) - \hat{\mathrm{er}}_t(h_t)$ is an average of $nm$
      independent bounded terms; a union over the $|\mathcal{H}|^n$ choices gives the second
      square root, which therefore covers the empirical minimisers.

    Args:
        empirical: $\hat{\mathrm{er}}(\mathcal{H})$ of the chosen spaces.
        tasks: n.
        examples: m.
        spaces: K.
        space_size: $|\mathcal{H}|$.
        delta: Failure probability $\delta$.

    Returns:
        The bound on $\mathrm{er}_Q(\mathcal{H})$ (not clipped at 1).

    Raises:
        ValueError: If `delta` is not in `(0, 1)` or a count is not positive.
    """
    if not 0 < delta < 1 or min(tasks, examples, spaces, space_size) < 1:
        raise ValueError(
            f"need 0 < delta < 1 and positive counts, got delta={delta}, n={tasks}, "
            f"m={examples}, K={spaces}, |H|={space_size}"
        )
    confidence = math.log(2 * spaces / delta)
    task_term = math.sqrt(confidence / (2 * tasks))
    example_term = math.sqrt((tasks * math.log(space_size) + confidence) / (2 * tasks * examples))
    return empirical + task_term + example_term


# --8<-- [end:bound]


def new_task_error(
    env: Environment, groups: Tensor, examples: int, trials: int, generator: torch.Generator
) -> Tensor:
    r"""Expected error on a new task of ERM restricted to each group's space, by simulation.

    For each of `trials` new tasks, the learner picks the feature and sign in its group with the
    most agreements among `examples` examples (ties: first feature, then $+$); its true error is
    $\eta$ for the copied feature with sign $+$, $1 - \eta$ with sign $-$, and $\tfrac12$ for any
    other feature.

    Args:
        env: The environment.
        groups: Spaces to evaluate, `(S, r')` (any size r', e.g. all D features for no bias).
        examples: Examples of the new task.
        trials: New tasks simulated per space.
        generator: Source of the tasks and counts.

    Returns:
        The true error of the chosen hypothesis per space and trial, `(S, trials)`.
    """
    hidden = torch.tensor(env.group)
    copied = hidden[torch.randint(len(env.group), (trials,), generator=generator)]  # (trials,)
    p = torch.where(groups.unsqueeze(-1) == copied, 1 - env.noise, 0.5).double()  # (S, r', T)
    agree = torch.binomial(torch.full_like(p, float(examples)), p, generator=generator)
    score = torch.maximum(agree, examples - agree)  # (S, r', T): agreements of the better sign
    pick = score.argmax(1)  # (S, T): first feature on ties
    chosen = groups.gather(1, pick)  # (S, T)
    plus = agree.gather(1, pick.unsqueeze(1)).squeeze(1) * 2 >= examples  # sign + on ties
    right = chosen == copied
    return torch.where(right, torch.where(plus, env.noise, 1 - env.noise), 0.5)
