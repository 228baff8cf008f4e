r"""Claims about executed output, checked where they are made.

A page that says "A beats B" or "accuracy grows with K" after an executed block backs the
sentence with a check in that block. A failed check raises `ClaimError`; markdown-exec turns the
exception into a build warning and the strict build fails, so a page cannot keep a sentence its
own output no longer supports.

Checks respect uncertainty. A difference between two methods on the *same* episodes is judged by
the 95% interval of the paired difference $d_e = a_e - b_e$,

$$\bar d \pm 1.96\, s_d / \sqrt{n},$$

the same normal interval with the population standard deviation that
`reference_impl.evaluation.confidence_interval95` uses for every accuracy on the site; a
difference of independent means uses $\sqrt{\mathrm{ci}_a^2 + \mathrm{ci}_b^2}$. "A beats B"
then means the whole interval is above zero, and "A and B are indistinguishable here" means it
contains zero.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from reference_impl.evaluation import confidence_interval95


class ClaimError(AssertionError):
    """A sentence on the page is no longer supported by the output it is drawn from."""


def check(condition: bool, claim: str, evidence: str = "") -> None:
    """Raise `ClaimError` quoting `claim` (and `evidence`) unless `condition` holds.

    Args:
        condition: Whether the output supports the claim.
        claim: The sentence (or its gist) as the page states it.
        evidence: The numbers that decided it, for the build log.

    Raises:
        ClaimError: If `condition` is false.
    """
    if not condition:
        raise ClaimError(
            f"claim no longer holds: {claim!r}" + (f" ({evidence})" if evidence else "")
        )


@dataclass(frozen=True)
class Interval:
    """A mean with the half-width of its 95% interval."""

    mean: float
    ci95: float

    @property
    def low(self) -> float:
        """Lower end of the interval."""
        return self.mean - self.ci95

    @property
    def high(self) -> float:
        """Upper end of the interval."""
        return self.mean + self.ci95

    def __str__(self) -> str:
        return f"{self.mean:.4g} ± {self.ci95:.2g}"


def mean_ci(values: Sequence[float]) -> Interval:
    """Mean and 95% half-width of `values` (population std, as every accuracy on the site).

    Raises:
        ValueError: If `values` is empty.
    """
    values = [float(v) for v in values]
    return Interval(
        math.fsum(values) / len(values) if values else 0.0, confidence_interval95(values)
    )


def paired(a: Sequence[float], b: Sequence[float]) -> Interval:
    """Mean and 95% half-width of the paired difference `a[e] - b[e]` (same episodes or tasks).

    Raises:
        ValueError: If the two sequences differ in length or are empty.
    """
    if len(a) != len(b):
        raise ValueError(f"paired values need equal lengths, got {len(a)} and {len(b)}")
    return mean_ci([float(x) - float(y) for x, y in zip(a, b, strict=True)])


def difference(a: Interval, b: Interval) -> Interval:
    """`a - b` for independent estimates: the half-widths add in quadrature."""
    return Interval(a.mean - b.mean, math.hypot(a.ci95, b.ci95))


def greater(a: Sequence[float], b: Sequence[float], claim: str) -> Interval:
    """Check that `a` beats `b` on the same items: the paired 95% interval lies above zero.

    Returns:
        The paired difference `a - b`, for the page to print.

    Raises:
        ClaimError: If the interval reaches zero or below.
    """
    d = paired(a, b)
    check(d.low > 0, claim, f"paired difference {d}")
    return d


def above(estimate: Interval, threshold: float, claim: str) -> None:
    """Check that the whole interval of `estimate` lies above `threshold`."""
    check(estimate.low > threshold, claim, f"{estimate} against {threshold:.4g}")


def below(estimate: Interval, threshold: float, claim: str) -> None:
    """Check that the whole interval of `estimate` lies below `threshold`."""
    check(estimate.high < threshold, claim, f"{estimate} against {threshold:.4g}")


def overlaps(estimate: Interval, value: float, claim: str) -> None:
    """Check that `value` lies inside the interval (the data cannot tell them apart)."""
    check(estimate.low <= value <= estimate.high, claim, f"{estimate} against {value:.4g}")


def increasing(estimates: Sequence[Interval], claim: str) -> None:
    """Check that each estimate is above the previous one by more than their joint uncertainty.

    Uses the independent-difference interval of each neighbouring pair; use `greater` on paired
    data where the items are shared, which is tighter.
    """
    for left, right in itertools.pairwise(estimates):
        step = difference(right, left)
        check(step.low > 0, claim, f"{left} then {right}")


def decreasing(estimates: Sequence[Interval], claim: str) -> None:
    """Check that each estimate is below the previous one by more than their joint uncertainty."""
    for left, right in itertools.pairwise(estimates):
        step = difference(left, right)
        check(step.low > 0, claim, f"{left} then {right}")
