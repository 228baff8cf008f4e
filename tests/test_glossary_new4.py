"""The snippets of the zero-shot, Hessian-vector product, task-conditioning and meta-validation pages.

Each snippet under `docs/snippets/glossary_<term>_*.py` that a page includes as a library is loaded
from its file and checked here against an independent oracle (an explicit loop, a closed form,
finite differences in float64) and for the properties the page relies on. The pages' own claims
are asserted inside their executed blocks; these tests protect the code that readers copy.
"""

from __future__ import annotations

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


# --- Zero-shot learning --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zsl() -> dict[str, Any]:
    return load("glossary_zero-shot-learning_attributes.py")


def test_fit_attribute_map_equals_augmented_least_squares(zsl: dict[str, Any]):
    """Ridge regression is least squares on `[X; sqrt(lam) I] W = [A; 0]` (an independent solver)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, 6, generator=g, dtype=torch.float64)
    a = torch.randn(30, 4, generator=g, dtype=torch.float64)
    lam = 0.7
    stacked_x = torch.cat([x, lam**0.5 * torch.eye(6, dtype=torch.float64)])  # (M + D, D)
    stacked_a = torch.cat([a, torch.zeros(6, 4, dtype=torch.float64)])  # (M + D, A)
    expected = torch.linalg.lstsq(stacked_x, stacked_a).solution
    got = zsl["fit_attribute_map"](x, a, lam)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


def test_zero_shot_predict_equals_explicit_loop(zsl: dict[str, Any]):
    g = torch.Generator().manual_seed(1)
    inputs = torch.randn(2, 7, 5, generator=g, dtype=torch.float64)  # (T, M, D)
    attribute_map = torch.randn(5, 3, generator=g, dtype=torch.float64)  # (D, A)
    descriptions = torch.randn(2, 4, 3, generator=g, dtype=torch.float64)  # (T, N, A)
    got = zsl["zero_shot_predict"](inputs, attribute_map, descriptions)
    for t in range(2):
        for m in range(7):
            predicted = inputs[t, m] @ attribute_map
            scores = [F.cosine_similarity(predicted, d, dim=0) for d in descriptions[t]]
            assert got[t, m].item() == int(torch.stack(scores).argmax())


def test_one_shot_predict_is_nearest_example(zsl: dict[str, Any]):
    g = torch.Generator().manual_seed(2)
    inputs = torch.randn(3, 6, 4, generator=g, dtype=torch.float64)
    support = torch.randn(3, 5, 4, generator=g, dtype=torch.float64)
    got = zsl["one_shot_predict"](inputs, support)
    for t in range(3):
        for m in range(6):
            distances = [((inputs[t, m] - s) ** 2).sum() for s in support[t]]
            assert got[t, m].item() == int(torch.stack(distances).argmin())


def test_zero_shot_is_exact_when_attributes_describe_noiseless_classes(zsl: dict[str, Any]):
    """With no undescribed part, no input noise and a full-rank map, every unseen input is right.

    Appearance is then exactly `a_c M` with `M` of full row rank, so a nearly unregularised ridge
    map recovers `a_c` up to a positive scale and the cosine picks the true description.
    """
    g = torch.Generator().manual_seed(3)
    w = zsl["world"](50, 10, 16, undescribed=0.0, example_noise=0.0, generator=g)
    seen, unseen = torch.arange(30), torch.arange(30, 50)
    attribute_map = zsl["fit_attribute_map"](w.appearance[seen], w.attributes[seen], 1e-8)
    distinct = torch.unique(w.attributes[unseen], dim=0)
    assert len(distinct) == len(unseen)  # no two unseen classes share a description
    inputs = zsl["draw_inputs"](w, unseen, g).unsqueeze(0)  # (1, 20, D)
    predicted = zsl["zero_shot_predict"](inputs, attribute_map, w.attributes[unseen].unsqueeze(0))
    assert torch.equal(predicted[0], torch.arange(20))


def test_world_draws_binary_attributes_and_class_appearance(zsl: dict[str, Any]):
    g = torch.Generator().manual_seed(4)
    w = zsl["world"](10, 5, 8, undescribed=0.2, example_noise=0.5, generator=g)
    assert w.attributes.shape == (10, 5) and w.appearance.shape == (10, 8)
    assert set(w.attributes.unique().tolist()) <= {-1.0, 1.0}
    many = zsl["draw_inputs"](w, torch.full((4000,), 3), g)  # (4000, D) inputs of class 3
    torch.testing.assert_close(many.mean(0), w.appearance[3], atol=0.05, rtol=0)  # 4 sigma/sqrt(n)
    torch.testing.assert_close(many.std(0), torch.full((8,), 0.5), atol=0.03, rtol=0)


@pytest.mark.parametrize(
    ("inputs", "attributes", "ridge", "message"),
    [
        (torch.zeros(5, 3), torch.zeros(4, 2), 1.0, "same M"),
        (torch.zeros(5), torch.zeros(5, 2), 1.0, r"\(M, D\)"),
        (torch.zeros(5, 3), torch.zeros(5, 2), 0.0, "ridge must be positive"),
    ],
)
def test_fit_attribute_map_rejects_bad_input(
    zsl: dict[str, Any], inputs: torch.Tensor, attributes: torch.Tensor, ridge: float, message: str
):
    with pytest.raises(ValueError, match=message):
        zsl["fit_attribute_map"](inputs, attributes, ridge)
