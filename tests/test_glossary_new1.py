"""The glossary snippets of the new metric and optimisation terms, against independent oracles.

Each snippet under `docs/snippets/glossary_<term>_*.py` that a page includes as a library (rules,
modules, closed forms) is loaded from its file and checked here: against an explicit loop, a
closed form or finite differences in float64, and for the properties the page relies on. The
pages' own claims are asserted inside their executed blocks; these tests protect the code that
readers copy.
"""

from __future__ import annotations

import math
import runpy
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

SNIPPETS = Path(__file__).resolve().parents[1] / "docs" / "snippets"


def load(name: str) -> dict[str, Any]:
    """Namespace of one snippet file (they define functions only; nothing runs on load)."""
    return runpy.run_path(str(SNIPPETS / name), run_name=name.removesuffix(".py"))


def episode(t: int, n: int, k: int, m: int, d: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """A random float64 episode batch: support (T, N*K, D), labels (T, N*K), queries (T, M, D)."""
    g = torch.Generator().manual_seed(seed)
    support = torch.randn(t, n * k, d, generator=g, dtype=torch.float64)
    labels = torch.arange(n).repeat_interleave(k).expand(t, -1)
    query = torch.randn(t, m, d, generator=g, dtype=torch.float64)
    return support, labels, query


# --- Matching Networks ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def matching() -> dict[str, Any]:
    return load("glossary_matching-networks_rule.py")


@pytest.mark.parametrize("similarity", ["cosine", "sq_euclidean"])
def test_matching_probabilities_equal_explicit_loop(matching: dict[str, Any], similarity: str):
    support, labels, query = episode(2, 3, 4, 5, 6)
    got = matching["matching_probabilities"](query, support, labels, 3, similarity, 0.5)
    expected = torch.zeros(2, 5, 3, dtype=torch.float64)
    for t in range(2):
        for m in range(5):
            if similarity == "cosine":
                c = torch.stack([F.cosine_similarity(query[t, m], s, dim=0) for s in support[t]])
            else:
                c = torch.stack([-((query[t, m] - s) ** 2).sum() for s in support[t]])
            weights = torch.exp(c / 0.5) / torch.exp(c / 0.5).sum()
            for i in range(12):
                expected[t, m, labels[t, i]] += weights[i]
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(got.sum(-1), torch.ones(2, 5, dtype=torch.float64))


def test_matching_equals_prototypes_with_one_shot(matching: dict[str, Any]):
    support, labels, query = episode(3, 5, 1, 7, 4, seed=1)
    attention = matching["matching_probabilities"](query, support, labels, 5, "sq_euclidean", 2.0)
    prototypes = matching["prototype_probabilities"](query, support, labels, 5, 2.0)
    torch.testing.assert_close(attention, prototypes, rtol=1e-12, atol=1e-14)


def test_prototype_probabilities_use_class_means(matching: dict[str, Any]):
    support, labels, query = episode(1, 2, 3, 4, 5, seed=2)
    means = support[0].reshape(2, 3, 5).mean(1)  # (N, D): class-major labels
    logits = -((query[0].unsqueeze(1) - means.unsqueeze(0)) ** 2).sum(-1)
    got = matching["prototype_probabilities"](query, support, labels, 2)
    torch.testing.assert_close(got[0], torch.softmax(logits, -1), rtol=1e-10, atol=1e-12)


def test_matching_probabilities_invariant_to_support_order(matching: dict[str, Any]):
    support, labels, query = episode(2, 4, 3, 5, 6, seed=3)
    order = torch.randperm(12, generator=torch.Generator().manual_seed(0))
    before = matching["matching_probabilities"](query, support, labels, 4)
    after = matching["matching_probabilities"](query, support[:, order], labels[:, order], 4)
    torch.testing.assert_close(before, after, rtol=1e-12, atol=1e-14)


def test_matching_nll_is_negative_log_of_attention_sum(matching: dict[str, Any]):
    probabilities = torch.tensor([[[0.7, 0.2, 0.1], [0.25, 0.25, 0.5]]], dtype=torch.float64)
    query_y = torch.tensor([[0, 2]])
    expected = -(math.log(0.7) + math.log(0.5)) / 2
    got = matching["matching_nll"](probabilities, query_y)
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64), rtol=1e-12, atol=0)


def test_matching_low_temperature_is_one_nearest_neighbour(matching: dict[str, Any]):
    support, labels, query = episode(4, 5, 3, 6, 8, seed=4)
    probabilities = matching["matching_probabilities"](
        query, support, labels, 5, "sq_euclidean", 1e-6
    )
    nearest = labels.gather(1, torch.cdist(query, support).argmin(-1))  # (T, M)
    assert torch.equal(probabilities.argmax(-1), nearest)


def test_matching_rejects_bad_input(matching: dict[str, Any]):
    support, labels, query = episode(2, 3, 2, 4, 5)
    with pytest.raises(ValueError, match=r"\(T, M, D\) and \(T, N\*K, D\)"):
        matching["matching_probabilities"](query[:, :, :4], support, labels, 3)
    with pytest.raises(ValueError, match=r"support_y must be \(T, N\*K\)"):
        matching["matching_probabilities"](query, support, labels[:, :5], 3)
    with pytest.raises(ValueError, match="similarity must be"):
        matching["matching_probabilities"](query, support, labels, 3, "l1")


# --- Siamese networks ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def siamese() -> dict[str, Any]:
    return load("glossary_siamese-networks_twin.py")


def test_siamese_score_is_symmetric_and_predict_matches_loop(siamese: dict[str, Any]):
    torch.manual_seed(0)
    model = siamese["SiameseNetwork"](6, 8, 4).double()
    support, labels, query = episode(2, 3, 2, 5, 6, seed=5)
    a, b = support[0, :5], query[0]
    torch.testing.assert_close(model(a, b), model(b, a), rtol=1e-12, atol=1e-14)
    predicted = siamese["one_shot_predict"](model, support, labels, query)
    for t in range(2):
        for m in range(5):
            scores = torch.stack([model(query[t, m], s) for s in support[t]])
            assert predicted[t, m] == labels[t, scores.argmax()]


def test_sample_pairs_labels_and_balance(siamese: dict[str, Any]):
    classes, examples = 10, 6
    ids = torch.arange(classes * examples, dtype=torch.float64).reshape(classes, examples, 1)
    x1, x2, same = siamese["sample_pairs"](ids, 4000, torch.Generator().manual_seed(0))
    class1, class2 = x1[:, 0] // examples, x2[:, 0] // examples
    assert torch.equal(same.bool(), class1 == class2)
    assert not torch.any(x1 == x2), "an example was paired with itself"
    # Same-class share ~ Binomial(4000, 1/2)/4000: std 0.008; a margin of 5 std cannot flake.
    assert abs(same.mean().item() - 0.5) < 0.04


def test_sample_pairs_rejects_single_class(siamese: dict[str, Any]):
    with pytest.raises(ValueError, match="num_classes >= 2"):
        siamese["sample_pairs"](torch.zeros(1, 5, 3), 4, torch.Generator())


# --- Relation Networks ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def relation() -> dict[str, Any]:
    return load("glossary_relation-networks_module.py")


def test_relation_scores_equal_explicit_pairs(relation: dict[str, Any]):
    torch.manual_seed(0)
    model = relation["RelationNetwork"](4, 16).double()
    support, labels, query = episode(2, 3, 2, 5, 4, seed=6)
    scores = model(support, labels, query, 3)
    for t in range(2):
        for n in range(3):
            class_feature = support[t][labels[t] == n].sum(0)  # sum over the class's shots
            for m in range(5):
                pair = torch.cat([class_feature, query[t, m]])
                expected = torch.sigmoid(model.relation(pair)).squeeze()
                torch.testing.assert_close(scores[t, m, n], expected, rtol=1e-12, atol=1e-14)


def test_relation_loss_is_squared_error_to_one_hot(relation: dict[str, Any]):
    scores = torch.tensor([[[0.9, 0.2], [0.4, 0.6]]], dtype=torch.float64)
    query_y = torch.tensor([[0, 0]])
    expected = ((0.9 - 1) ** 2 + 0.2**2 + (0.4 - 1) ** 2 + 0.6**2) / 4
    got = relation["relation_loss"](scores, query_y)
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64))


def test_relation_rejects_mismatched_labels(relation: dict[str, Any]):
    model = relation["RelationNetwork"](4, 8)
    support, labels, query = episode(1, 2, 2, 3, 4)
    with pytest.raises(ValueError, match=r"support_y must be \(T, N\*K\)"):
        model(support.float(), labels[:, :3], query.float(), 2)
