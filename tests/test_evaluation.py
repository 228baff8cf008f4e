"""Tests of `reference_impl.evaluation`: the CI formula, accuracy bookkeeping with predictors of
known accuracy, and the reproducibility of `fixed_episodes`."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_impl.episodes import Episode, sample_batch, sample_episode
from reference_impl.evaluation import (
    EvalResult,
    FixedEpisodes,
    confidence_interval95,
    evaluate_predictor,
    fixed_episodes,
)


def coordinates(num_classes: int, examples: int) -> torch.Tensor:
    """Data `(C, E, 2)` with `data[c, e] = (c, e)`: every example names its class."""
    c = torch.arange(num_classes, dtype=torch.float64)[:, None].expand(num_classes, examples)
    e = torch.arange(examples, dtype=torch.float64)[None, :].expand(num_classes, examples)
    return torch.stack([c, e], dim=-1)


def oracle(support_x: torch.Tensor, support_y: torch.Tensor, query_x: torch.Tensor) -> torch.Tensor:
    """Reads each query's class from its first coordinate and matches it to a support label."""
    n_way = int(support_y.max()) + 1
    same = query_x[:, None, 0] == support_x[None, :, 0]  # (N*Q, N*K)
    votes = same.double() @ torch.nn.functional.one_hot(support_y, n_way).double()  # (N*Q, N)
    return votes


def always_zero(
    support_x: torch.Tensor, support_y: torch.Tensor, query_x: torch.Tensor
) -> torch.Tensor:
    logits = query_x.new_zeros(query_x.shape[0], int(support_y.max()) + 1)
    logits[:, 0] = 1
    return logits


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=50))
def test_confidence_interval95_matches_numpy_population_std(values: list[float]) -> None:
    expected = 1.96 * np.std(np.array(values)) / np.sqrt(len(values))
    assert math.isclose(confidence_interval95(values), expected, rel_tol=1e-10, abs_tol=1e-15)


def test_confidence_interval95_rejects_empty() -> None:
    with pytest.raises(ValueError, match="at least one episode accuracy"):
        confidence_interval95([])


def test_evaluate_predictor_oracle_and_constant_predictors() -> None:
    episodes = fixed_episodes(coordinates(20, 10), 5, 2, 3, 40, seed=0)
    perfect = evaluate_predictor(oracle, episodes)
    assert isinstance(perfect, EvalResult)
    assert (perfect.accuracy, perfect.ci95, perfect.episodes) == (1.0, 0.0, 40)
    assert perfect.per_episode == [1.0] * 40
    constant = evaluate_predictor(always_zero, episodes)  # right on exactly the label-0 queries
    assert constant.per_episode == [0.2] * 40
    assert math.isclose(constant.accuracy, 0.2, rel_tol=1e-15) and constant.ci95 < 1e-15


def test_evaluate_predictor_alternating_accuracy_gives_closed_form_ci() -> None:
    """Right on even episodes, wrong on odd ones: mean 1/2, std 1/2, CI 1.96 * 0.5 / sqrt(n)."""
    calls = []

    def flip(
        support_x: torch.Tensor, support_y: torch.Tensor, query_x: torch.Tensor
    ) -> torch.Tensor:
        calls.append(None)
        logits = oracle(support_x, support_y, query_x)
        return logits if len(calls) % 2 == 1 else -logits

    result = evaluate_predictor(flip, fixed_episodes(coordinates(9, 6), 3, 1, 2, 16, seed=1))
    assert result.per_episode == [1.0, 0.0] * 8
    assert result.accuracy == 0.5
    assert math.isclose(result.ci95, 1.96 * 0.5 / 4, rel_tol=1e-12)


def test_evaluate_predictor_counts_meta_batch_as_episodes() -> None:
    batch = sample_batch(coordinates(12, 8), 4, 2, 2, 5, torch.Generator().manual_seed(0))
    result = evaluate_predictor(oracle, [batch])
    assert result.episodes == 5 and result.accuracy == 1.0


def test_evaluate_predictor_accepts_plain_tuples() -> None:
    episodes = fixed_episodes(coordinates(12, 8), 4, 2, 2, 6, seed=3)
    as_tuples = [tuple(e) for e in episodes]
    assert evaluate_predictor(oracle, as_tuples) == evaluate_predictor(oracle, episodes)


def test_evaluate_predictor_keeps_autograd_for_optimisation_based_methods() -> None:
    weight = torch.zeros(3, 2, requires_grad=True)

    def one_step(
        support_x: torch.Tensor, support_y: torch.Tensor, query_x: torch.Tensor
    ) -> torch.Tensor:
        loss = torch.nn.functional.cross_entropy(support_x.float() @ weight.T, support_y)
        (g,) = torch.autograd.grad(loss, weight)  # fails under torch.no_grad()
        return query_x.float() @ (weight - g).T

    episodes = list(fixed_episodes(coordinates(5, 6), 3, 1, 1, 2, seed=0))
    result = evaluate_predictor(one_step, episodes)
    by_hand = [
        (one_step(sx, sy, qx).argmax(-1) == qy).double().mean().item()
        for sx, sy, qx, qy in episodes
    ]
    assert result.episodes == 2 and result.accuracy == pytest.approx(sum(by_hand) / 2, abs=1e-12)


def test_evaluate_predictor_rejects_bad_logits_and_empty_input() -> None:
    episodes = fixed_episodes(coordinates(10, 6), 5, 1, 3, 2, seed=0)

    def wrong(
        support_x: torch.Tensor, support_y: torch.Tensor, query_x: torch.Tensor
    ) -> torch.Tensor:
        return torch.zeros(15, 4)

    with pytest.raises(
        ValueError, match=re.escape("logits of shape (15, 4); expected (15, 5) (N*Q, N)")
    ):
        evaluate_predictor(wrong, episodes)
    with pytest.raises(ValueError, match="no episodes to evaluate"):
        evaluate_predictor(oracle, [])
    one = next(iter(episodes))  # a single episode is four tensors, not a list of episodes
    with pytest.raises(ValueError, match=re.escape("wrap it in a list: [episode]")):
        evaluate_predictor(oracle, one)
    assert evaluate_predictor(oracle, [one]).episodes == 1


def test_fixed_episodes_repeat_extend_and_match_sequential_sampling() -> None:
    data = coordinates(30, 20)
    first = fixed_episodes(data, 5, 1, 5, 12, seed=7)
    again = fixed_episodes(data, 5, 1, 5, 12, seed=7)
    longer = fixed_episodes(data, 5, 1, 5, 30, seed=7)
    other = fixed_episodes(data, 5, 1, 5, 12, seed=8)
    assert isinstance(first, FixedEpisodes) and len(first) == 12 and len(longer) == 30
    generator = torch.Generator().manual_seed(7)
    for i in range(12):
        expected = sample_episode(data, 5, 1, 5, generator)
        for got in (first[i], again[i], longer[i]):
            assert isinstance(got, Episode)
            assert all(torch.equal(a, b) for a, b in zip(got, expected, strict=True))
    assert not torch.equal(first[0].support_x, other[0].support_x)
    assert torch.equal(first[-1].query_x, first[11].query_x)
    assert [e.query_x.shape for e in first[2:5]] == [(25, 2)] * 3
    with pytest.raises(IndexError):
        first[12]


def test_fixed_episodes_rejects_bad_requests() -> None:
    with pytest.raises(ValueError, match="num_episodes must be a positive int, got 0"):
        fixed_episodes(coordinates(10, 5), 5, 1, 1, 0, seed=0)
    with pytest.raises(
        ValueError, match=re.escape("k_shot + n_query = 1 + 5 = 6 exceeds the 5 examples")
    ):
        fixed_episodes(coordinates(10, 5), 5, 1, 5, 3, seed=0)
