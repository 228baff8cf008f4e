"""The docs' claim checks (docs/snippets/claims.py) against closed forms and constructed cases."""

from __future__ import annotations

import math

import claims
import pytest


def test_paired_interval_is_the_mean_and_normal_interval_of_the_differences() -> None:
    a, b = [0.9, 0.8, 0.7, 1.0], [0.8, 0.8, 0.5, 0.9]
    d = [0.1, 0.0, 0.2, 0.1]
    mean = sum(d) / 4
    std = math.sqrt(sum((x - mean) ** 2 for x in d) / 4)  # population std, as the site uses
    got = claims.paired(a, b)
    assert got.mean == pytest.approx(mean, abs=1e-15)
    assert got.ci95 == pytest.approx(1.96 * std / 2, abs=1e-15)


def test_greater_passes_when_the_paired_interval_is_above_zero_and_fails_otherwise() -> None:
    better = [0.9, 0.8, 0.85, 0.95, 0.9]
    worse = [0.8, 0.7, 0.8, 0.85, 0.8]
    assert claims.greater(better, worse, "A beats B").low > 0
    with pytest.raises(claims.ClaimError, match="A beats B"):
        claims.greater(worse, better, "A beats B")
    noisy = [0.9, 0.6, 0.9, 0.6]
    with pytest.raises(claims.ClaimError):  # mean difference 0, the interval contains zero
        claims.greater(noisy, list(reversed(noisy)), "A beats B")


def test_difference_of_independent_estimates_adds_half_widths_in_quadrature() -> None:
    d = claims.difference(claims.Interval(0.8, 0.03), claims.Interval(0.7, 0.04))
    assert d.mean == pytest.approx(0.1) and d.ci95 == pytest.approx(0.05)


def test_increasing_needs_every_step_to_clear_the_joint_interval() -> None:
    steady = [claims.Interval(0.5, 0.01), claims.Interval(0.6, 0.01), claims.Interval(0.7, 0.01)]
    claims.increasing(steady, "rises")
    claims.decreasing(list(reversed(steady)), "falls")
    overlapping = [claims.Interval(0.5, 0.05), claims.Interval(0.52, 0.05)]
    with pytest.raises(claims.ClaimError, match="rises"):
        claims.increasing(overlapping, "rises")


def test_above_below_and_overlaps_use_the_whole_interval() -> None:
    estimate = claims.Interval(0.5, 0.1)
    claims.above(estimate, 0.35, "above")
    claims.below(estimate, 0.65, "below")
    claims.overlaps(estimate, 0.45, "same")
    for check, threshold in ((claims.above, 0.45), (claims.below, 0.55), (claims.overlaps, 0.7)):
        with pytest.raises(claims.ClaimError):
            check(estimate, threshold, "x")


def test_paired_refuses_unequal_lengths_and_mean_ci_refuses_empty_input() -> None:
    with pytest.raises(ValueError, match="equal lengths"):
        claims.paired([1.0], [1.0, 2.0])
    with pytest.raises(ValueError):
        claims.mean_ci([])
