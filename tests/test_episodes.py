"""Tests of `reference_impl.episodes`: format, an independent loop re-implementation, sampling
statistics and every bad input.

The synthetic dataset stores its own coordinates, `data[c, e] = (c, e)`, so each sampled example
says which class and which example it came from.
"""

from __future__ import annotations

import re

import pytest
import torch

from reference_impl.episodes import (
    Episode,
    gather_episodes,
    make_batch_sampler,
    sample_batch,
    sample_episode,
    sample_indices,
)


def coordinates(num_classes: int, examples: int) -> torch.Tensor:
    """Data of shape `(C, E, 2)` with `data[c, e] = (c, e)` in float64."""
    c = torch.arange(num_classes, dtype=torch.float64)[:, None].expand(num_classes, examples)
    e = torch.arange(examples, dtype=torch.float64)[None, :].expand(num_classes, examples)
    return torch.stack([c, e], dim=-1)


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_sample_episode_format_labels_and_disjoint_sets() -> None:
    data = coordinates(30, 20)
    n_way, k_shot, n_query = 5, 3, 4
    episode = sample_episode(data, n_way, k_shot, n_query, generator(0))
    assert isinstance(episode, Episode)
    assert episode.support_x.shape == (15, 2) and episode.query_x.shape == (20, 2)
    assert torch.equal(episode.support_y, torch.arange(5).repeat_interleave(3))
    assert torch.equal(episode.query_y, torch.arange(5).repeat_interleave(4))
    assert episode.support_y.dtype == torch.int64
    support_class = episode.support_x[:, 0].view(n_way, k_shot)
    query_class = episode.query_x[:, 0].view(n_way, n_query)
    assert torch.all(support_class == support_class[:, :1])  # one class per label
    assert torch.equal(query_class, support_class[:, :1].expand(n_way, n_query))
    assert len(set(support_class[:, 0].tolist())) == n_way  # N distinct classes
    for label in range(n_way):  # support and query examples of a class never overlap
        shown = set(episode.support_x[episode.support_y == label, 1].tolist())
        asked = set(episode.query_x[episode.query_y == label, 1].tolist())
        assert len(shown) == k_shot and len(asked) == n_query and not shown & asked


@pytest.mark.parametrize("contiguous", [True, False])
def test_gather_episodes_matches_python_loop(contiguous: bool) -> None:
    """Independent loop over episodes, labels and examples against the one-gather version, for
    contiguous data (flattened-row gather) and a strided view (indexing path)."""
    data = torch.randn(12, 9, 1, 3, 3, generator=generator(1), dtype=torch.float64)
    if not contiguous:
        data = torch.randn(9, 12, 1, 3, 3, generator=generator(1), dtype=torch.float64).transpose(
            0, 1
        )
        assert not data.is_contiguous()
    classes, examples = sample_indices(12, 9, 4, 2, 3, 6, generator(2))
    batch = gather_episodes(data, classes, examples, k_shot=2)
    for t in range(6):
        support, query, s_labels, q_labels = [], [], [], []
        for label in range(4):
            chosen = [int(i) for i in examples[t, label]]
            support += [data[int(classes[t, label]), i] for i in chosen[:2]]
            query += [data[int(classes[t, label]), i] for i in chosen[2:]]
            s_labels += [label] * 2
            q_labels += [label] * 3
        assert torch.equal(batch.support_x[t], torch.stack(support))
        assert torch.equal(batch.query_x[t], torch.stack(query))
        assert batch.support_y[t].tolist() == s_labels and batch.query_y[t].tolist() == q_labels


def test_sample_batch_shapes_and_episode_is_batch_of_one() -> None:
    data = torch.rand(40, 20, 1, 28, 28, generator=generator(3))
    batch = sample_batch(data, 20, 5, 15, 7, generator(4))
    assert batch.support_x.shape == (7, 100, 1, 28, 28)
    assert batch.support_y.shape == (7, 100)
    assert batch.query_x.shape == (7, 300, 1, 28, 28)
    assert batch.query_y.shape == (7, 300)
    one = sample_batch(data, 20, 5, 15, 1, generator(5))
    single = sample_episode(data, 20, 5, 15, generator(5))
    for a, b in zip(one, single, strict=True):
        assert torch.equal(a[0], b)


def test_sample_batch_is_reproducible_from_the_generator() -> None:
    data = coordinates(50, 20)
    a = sample_batch(data, 5, 1, 5, 4, generator(9))
    b = sample_batch(data, 5, 1, 5, 4, generator(9))
    c = sample_batch(data, 5, 1, 5, 4, generator(10))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a.support_x, c.support_x)


def chi_square(counts: torch.Tensor) -> float:
    expected = counts.double().mean()
    return float(((counts.double() - expected) ** 2 / expected).sum())


def test_sample_batch_class_label_and_example_choice_uniform() -> None:
    """Over 12,000 seeded episodes, every class, every (class, label) pair and every example
    position is equally likely.

    Chi-square statistics are compared with the 1e-6 upper quantile of their distribution (df
    9: 44.8; df 29: 80.4; df 19: 63.7). Seeds 0-4 gave at most 11.7, 34.3, 14.4 and 16.7 for the
    four statistics. A sampler that favoured low indices or kept class order (label i always the
    smaller class) exceeds the bounds by orders of magnitude.
    """
    num_classes, examples, n_way, k_shot, n_query, episodes = 10, 20, 3, 2, 3, 12_000
    batch = sample_batch(
        coordinates(num_classes, examples), n_way, k_shot, n_query, episodes, generator(0)
    )
    classes = batch.support_x[:, ::k_shot, 0].long()  # (T, N): class behind each label
    class_counts = torch.bincount(classes.flatten(), minlength=num_classes)
    assert chi_square(class_counts) < 44.8
    pair_counts = torch.bincount(
        (classes * n_way + torch.arange(n_way)).flatten(), minlength=num_classes * n_way
    )
    assert chi_square(pair_counts) < 80.4  # label -> class is a uniformly random injection
    example_index = torch.cat([batch.support_x[..., 1], batch.query_x[..., 1]], dim=1).long()
    assert chi_square(torch.bincount(example_index.flatten(), minlength=examples)) < 63.7
    query_index = batch.query_x[..., 1].long()  # query examples are also uniform
    assert chi_square(torch.bincount(query_index.flatten(), minlength=examples)) < 63.7


def test_sample_batch_support_query_disjoint_in_every_episode() -> None:
    batch = sample_batch(coordinates(8, 6), 8, 3, 3, 500, generator(11))
    support = batch.support_x[..., 1].view(500, 8, 3)
    query = batch.query_x[..., 1].view(500, 8, 3)
    together = torch.cat([support, query], dim=2).sort(dim=2).values  # (T, N, K+Q)
    assert torch.equal(together, torch.arange(6.0, dtype=torch.float64).expand(500, 8, 6))


def test_make_batch_sampler_draws_like_sample_batch() -> None:
    data = coordinates(20, 20)
    sampler = make_batch_sampler(data, 5, 1, 2, 3)
    for a, b in zip(
        sampler(generator(1)), sample_batch(data, 5, 1, 2, 3, generator(1)), strict=True
    ):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="n_way=21 exceeds the 20 classes"):
        make_batch_sampler(data, 21, 1, 2, 3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((31, 1, 1, 1), "n_way=31 exceeds the 30 classes in data"),
        ((5, 15, 6, 1), "k_shot + n_query = 15 + 6 = 21 exceeds the 20 examples per class"),
        ((0, 1, 1, 1), "n_way must be a positive int, got 0"),
        ((5, -1, 1, 1), "k_shot must be a positive int, got -1"),
        ((5, 1, 0, 1), "n_query must be a positive int, got 0"),
        ((5, 1, 1, 0), "meta_batch_size must be a positive int, got 0"),
        ((5, 1.0, 1, 1), "k_shot must be a positive int, got 1.0"),
        ((True, 1, 1, 1), "n_way must be a positive int, got True"),
    ],
)
def test_sample_batch_bad_counts_name_the_numbers(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        sample_batch(coordinates(30, 20), *args, generator(0))


def test_sample_batch_rejects_flat_data_and_missing_generator() -> None:
    with pytest.raises(
        ValueError, match=re.escape("(num_classes, examples_per_class, *x_shape), got (30,)")
    ):
        sample_episode(torch.zeros(30), 5, 1, 1, generator(0))
    with pytest.raises(ValueError, match=r"generator must be a torch\.Generator, got int"):
        sample_episode(coordinates(30, 20), 5, 1, 1, 0)  # type: ignore[arg-type]


def test_sample_batch_rejects_generator_on_another_device() -> None:
    data = torch.empty(30, 20, 1, 28, 28, device="meta")  # a device other than the CPU generator's
    with pytest.raises(ValueError, match="generator is on cpu but data is on meta"):
        sample_batch(data, 5, 1, 1, 2, generator(0))
