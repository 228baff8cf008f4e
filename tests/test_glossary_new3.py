"""The glossary snippets of the new generalisation, scale-and-theory and learned-optimiser terms.

Each snippet under `docs/snippets/glossary_<term>_*.py` that a page includes as a library is loaded
from its file and checked here against an independent oracle (autograd, a closed form, an explicit
loop, `torch.distributions`) and for the properties its page relies on. The pages' own claims are
asserted inside their executed blocks; these tests protect the code that readers copy.
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


# --- Memorisation problem ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def memorisation() -> dict[str, Any]:
    return load("glossary_memorization-problem_tasks.py")


def test_adapt_head_is_one_exact_cross_entropy_step(memorisation: dict[str, Any]):
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True)
    features = torch.randn(2, 6, 4, generator=g, dtype=torch.float64)
    labels = torch.tensor([[0, 0, 1, 1, 2, 2], [2, 1, 0, 2, 1, 0]])
    got_w, got_b = memorisation["adapt_head"](weight, bias, features, labels, 3, 0.7)
    for t in range(2):  # loop oracle: autograd of the mean cross-entropy of task t
        loss = F.cross_entropy(features[t] @ weight.T + bias, labels[t])
        grad_w, grad_b = torch.autograd.grad(loss, (weight, bias))
        torch.testing.assert_close(got_w[t], weight - 0.7 * grad_w, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(got_b[t], bias - 0.7 * grad_b, rtol=1e-12, atol=1e-12)
    same_w, same_b = memorisation["adapt_head"](weight, bias, features, labels, 3, 0.0)
    torch.testing.assert_close(same_w, weight.expand(2, 3, 4))
    torch.testing.assert_close(same_b, bias.expand(2, 3))


def test_fixed_labels_keep_each_class_on_its_residue(memorisation: dict[str, Any]):
    cfg = memorisation["MemorisationConfig"](n_way=3, k_shot=2, n_query=2, dim=2)
    # Example e of class c is the point (c, e): the first feature names the class.
    data = torch.stack(
        torch.meshgrid(torch.arange(9.0), torch.arange(5.0), indexing="ij"), dim=-1
    )  # (C, E, 2)
    fixed = memorisation["sample_tasks"](data, cfg, 40, True, torch.Generator().manual_seed(1))
    for x, y in ((fixed.support_x, fixed.support_y), (fixed.query_x, fixed.query_y)):
        assert torch.equal(x[..., 0].long() % 3, y)
    shuffled = memorisation["sample_tasks"](data, cfg, 40, False, torch.Generator().manual_seed(1))
    residue_match = shuffled.support_x[..., 0].long() % 3 == shuffled.support_y
    assert 0.1 < residue_match.double().mean() < 0.6  # labels no longer follow the class
    with pytest.raises(ValueError, match="multiple of n_way"):
        memorisation["sample_tasks"](data[:8], cfg, 2, True, torch.Generator())


def test_gaussian_kl_matches_torch_distributions(memorisation: dict[str, Any]):
    g = torch.Generator().manual_seed(2)
    mean = torch.randn(3, 4, generator=g, dtype=torch.float64)
    log_std = 0.5 * torch.randn(3, 4, generator=g, dtype=torch.float64)
    expected = torch.distributions.kl_divergence(
        torch.distributions.Normal(mean, log_std.exp()),
        torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(mean)),
    ).sum()
    torch.testing.assert_close(memorisation["gaussian_kl"](mean, log_std), expected)
    assert memorisation["gaussian_kl"](torch.zeros(5), torch.zeros(5)).item() == 0.0
    assert math.isfinite(memorisation["gaussian_kl"](mean, log_std).item())
