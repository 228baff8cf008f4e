"""The snippets of the zero-shot, Hessian-vector product, task-conditioning and meta-validation pages.

Each snippet under `docs/snippets/glossary_<term>_*.py` that a page includes as a library is loaded
from its file and checked here against an independent oracle (an explicit loop, a closed form,
finite differences in float64) and for the properties the page relies on. The pages' own claims
are asserted inside their executed blocks; these tests protect the code that readers copy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from conftest import load_snippet as load

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


# --- Hessian-vector products ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def hvp() -> dict[str, Any]:
    return load("glossary_hessian-vector-products_hvp.py")


def quartic(a: torch.Tensor, sym: torch.Tensor):
    r"""$\mathcal{L}(\theta) = \sum_i a_i\theta_i^4/4 + \theta^\top S\theta/2$ and its Hessian
    $\operatorname{diag}(3a\theta^2) + S$, the closed-form oracle."""

    def loss(theta: torch.Tensor) -> torch.Tensor:
        return (a * theta**4).sum() / 4 + theta @ sym @ theta / 2

    def hessian(theta: torch.Tensor) -> torch.Tensor:
        return torch.diag(3 * a * theta**2) + sym

    return loss, hessian


def test_hvp_modes_and_explicit_hessian_match_closed_form(hvp: dict[str, Any]):
    g = torch.Generator().manual_seed(0)
    a = torch.rand(6, generator=g, dtype=torch.float64)
    m = torch.randn(6, 6, generator=g, dtype=torch.float64)
    loss, hessian = quartic(a, m + m.T)
    theta, v = torch.randn(2, 6, generator=g, dtype=torch.float64)
    expected = hessian(theta)
    torch.testing.assert_close(hvp["hessian_explicit"](loss, theta), expected, rtol=1e-12, atol=0)
    for name in ("hvp_double_backward", "hvp_forward_over_reverse"):
        torch.testing.assert_close(hvp[name](loss, theta, v), expected @ v, rtol=1e-12, atol=1e-14)


def test_hvp_on_the_network_matches_finite_differences_of_autograd_gradients(hvp: dict[str, Any]):
    """Independent oracle: central differences of plain `torch.autograd.grad` in float64, at a
    step where truncation (h^2) and rounding (eps/h) are both below the tolerance."""
    g = torch.Generator().manual_seed(1)
    loss, theta = hvp["mlp_task"](5, 3, 16, g, torch.float64)
    assert theta.shape == (3 * 5 + 5 + 5 * 5 + 5 + 5 + 1,)
    v = torch.randn(theta.shape, generator=g, dtype=torch.float64)

    def grad_at(point: torch.Tensor) -> torch.Tensor:
        point = point.clone().requires_grad_()
        return torch.autograd.grad(loss(point), point)[0]

    h = 1e-5
    oracle = (grad_at(theta + h * v) - grad_at(theta - h * v)) / (2 * h)
    for name in ("hvp_double_backward", "hvp_forward_over_reverse"):
        torch.testing.assert_close(hvp[name](loss, theta, v), oracle, rtol=1e-7, atol=1e-9)
    hessian = hvp["hessian_explicit"](loss, theta)
    torch.testing.assert_close(hessian, hessian.T, rtol=1e-12, atol=1e-14)


def test_hvp_finite_difference_error_is_second_order_in_the_step(hvp: dict[str, Any]):
    r"""For $\sum_i \sin\theta_i$ the central difference is $-\sin\theta \cdot \sin(hv)/h$ exactly,
    so its error against $-\sin\theta \cdot v$ shrinks by a factor of about 4 when h halves."""
    g = torch.Generator().manual_seed(2)
    theta, v = torch.randn(2, 5, generator=g, dtype=torch.float64)

    def loss(x: torch.Tensor) -> torch.Tensor:
        return x.sin().sum()

    exact = -theta.sin() * v
    errors = [
        (hvp["hvp_finite_difference"](loss, theta, v, h) - exact).norm().item()
        for h in (1e-2, 5e-3)
    ]
    assert 3.9 < errors[0] / errors[1] < 4.1
    closed = -theta.sin() * torch.sin(1e-2 * v) / 1e-2
    torch.testing.assert_close(
        hvp["hvp_finite_difference"](loss, theta, v, 1e-2), closed, rtol=1e-9, atol=1e-12
    )


def test_maml_meta_gradient_matches_closed_form_on_least_squares(hvp: dict[str, Any]):
    r"""On least squares $H_S = \tfrac{2}{n}X_S^\top X_S$, and the meta-gradient is
    $(I - \alpha H_S)\nabla\mathcal{L}_Q(\theta')$ (the oracle of STYLE.md §5)."""
    g = torch.Generator().manual_seed(3)
    xs, xq = (
        torch.randn(5, 3, generator=g, dtype=torch.float64),
        torch.randn(7, 3, generator=g, dtype=torch.float64),
    )
    ys, yq = (
        torch.randn(5, generator=g, dtype=torch.float64),
        torch.randn(7, generator=g, dtype=torch.float64),
    )
    theta = torch.randn(3, generator=g, dtype=torch.float64)
    alpha = 0.1

    def support(w: torch.Tensor) -> torch.Tensor:
        return (xs @ w - ys).pow(2).mean()

    def query(w: torch.Tensor) -> torch.Tensor:
        return (xq @ w - yq).pow(2).mean()

    h_s = 2 / 5 * xs.T @ xs
    adapted = theta - alpha * 2 / 5 * xs.T @ (xs @ theta - ys)
    expected = (torch.eye(3, dtype=torch.float64) - alpha * h_s) @ (
        2 / 7 * xq.T @ (xq @ adapted - yq)
    )
    got = hvp["maml_meta_gradient"](support, query, theta, alpha)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


def test_maml_meta_gradient_matches_autograd_through_the_step_on_the_network(hvp: dict[str, Any]):
    g = torch.Generator().manual_seed(4)
    support, theta = hvp["mlp_task"](4, 3, 12, g, torch.float64)
    query, _ = hvp["mlp_task"](4, 3, 12, g, torch.float64)
    leaf = theta.clone().requires_grad_()
    (inner,) = torch.autograd.grad(support(leaf), leaf, create_graph=True)
    (expected,) = torch.autograd.grad(query(leaf - 0.3 * inner), leaf)
    got = hvp["maml_meta_gradient"](support, query, theta, 0.3)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)
    # The HVP term is not negligible here, so the test could tell first order from second.
    first_order = hvp["gradient"](query, theta - 0.3 * hvp["gradient"](support, theta))
    assert (first_order - expected).norm() > 1e-3 * expected.norm()


def test_top_curvature_finds_the_signed_eigenvalue_of_largest_magnitude(hvp: dict[str, Any]):
    """A quadratic with known spectrum whose extreme eigenvalue is negative: the sign is kept."""
    g = torch.Generator().manual_seed(5)
    q, _ = torch.linalg.qr(torch.randn(4, 4, generator=g, dtype=torch.float64))
    eigenvalues = torch.tensor([-5.0, 1.0, 2.0, 3.0], dtype=torch.float64)
    hessian = q @ torch.diag(eigenvalues) @ q.T

    def loss(theta: torch.Tensor) -> torch.Tensor:
        return theta @ hessian @ theta / 2

    theta = torch.randn(4, generator=g, dtype=torch.float64)
    # (3/5)^(2*60) is far below the tolerance
    assert hvp["top_curvature"](loss, theta, 60, g) == pytest.approx(-5.0, rel=1e-12)


def test_hvp_functions_reject_bad_input(hvp: dict[str, Any]):
    loss, theta = hvp["mlp_task"](2, 2, 3, torch.Generator().manual_seed(0), torch.float64)
    with pytest.raises(ValueError, match=r"shape \(P,\)"):
        hvp["hvp_double_backward"](loss, theta, torch.zeros(3))
    with pytest.raises(ValueError, match=r"shape \(P,\)"):
        hvp["hvp_forward_over_reverse"](loss, theta.reshape(1, -1), theta.reshape(1, -1))
    with pytest.raises(ValueError, match="step must be positive"):
        hvp["hvp_finite_difference"](loss, theta, theta, 0.0)
    with pytest.raises(ValueError, match="iterations must be at least 1"):
        hvp["top_curvature"](loss, theta, 0, torch.Generator())
    with pytest.raises(ValueError, match="sizes must be positive"):
        hvp["mlp_task"](0, 2, 3, torch.Generator(), torch.float64)


def test_hvp_benchmark_writes_ratios_and_rejects_bad_flags(tmp_path: Path, capsys):
    from benchmarks import hvp as bench

    threads = torch.get_num_threads()
    out = tmp_path / "hvp_speed.json"
    try:
        argv = ["--widths", "2", "6", "--hessian-max-width", "2", "--rounds", "2", "--batch", "4"]
        assert bench.main([*argv, "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    report = json.loads(out.read_text())
    assert [r["width"] for r in report["rows"]] == [2, 6]
    assert [r["parameters"] for r in report["rows"]] == [
        8 * 2 + 2 + 4 + 2 + 2 + 1,
        8 * 6 + 6 + 36 + 6 + 6 + 1,
    ]
    small, large = (r["ratio_to_gradient"] for r in report["rows"])
    assert "explicit_hessian" in small and "explicit_hessian" not in large
    assert small["gradient"] == 1.0 and all(x > 0 for x in small.values())
    assert all(r["modes_max_rel_diff"] < 1e-4 for r in report["rows"])  # float32, same product
    capsys.readouterr()
    assert bench.main(["--rounds", "0", "--out", str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--rounds must be at least 1" in err and "Traceback" not in err
    assert not (tmp_path / "bad.json").exists()


# --- Task conditioning ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tc() -> dict[str, Any]:
    return load("glossary_task-conditioning_film.py")


def test_film_equals_an_explicit_per_task_affine_map(tc: dict[str, Any]):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 2, 4, 5, generator=g, dtype=torch.float64)  # (T, N, K, D)
    z = torch.randn(3, 5, generator=g, dtype=torch.float64)
    shared = {
        "a": torch.randn(5, generator=g, dtype=torch.float64),
        "b": torch.randn(5, generator=g, dtype=torch.float64),
    }
    gen = {
        "A": torch.randn(5, 5, generator=g, dtype=torch.float64),
        "B": torch.randn(5, 5, generator=g, dtype=torch.float64),
    }
    got = tc["film"](x, z, gen, shared)
    for t in range(3):
        gamma = torch.exp(gen["A"] @ z[t] + shared["a"])
        beta = gen["B"] @ z[t] + shared["b"]
        torch.testing.assert_close(got[t], gamma * x[t] + beta, rtol=1e-12, atol=1e-12)
    unconditioned = tc["film"](x, z, None, shared)
    torch.testing.assert_close(
        unconditioned, shared["a"].exp() * x + shared["b"], rtol=1e-12, atol=0
    )
    zero = {k: torch.zeros_like(v) for k, v in gen.items()}  # zero generator = the shared metric
    torch.testing.assert_close(tc["film"](x, z, zero, shared), unconditioned, rtol=0, atol=0)


def test_prototype_logits_equal_an_explicit_double_loop(tc: dict[str, Any]):
    g = torch.Generator().manual_seed(1)
    support = torch.randn(2, 3, 4, 5, generator=g, dtype=torch.float64)
    query = torch.randn(2, 3, 2, 5, generator=g, dtype=torch.float64)
    logits = tc["prototype_logits"](support, query)
    assert logits.shape == (2, 6, 3)
    for t in range(2):
        for i, q in enumerate(query[t].reshape(-1, 5)):
            for n in range(3):
                expected = -((q - support[t, n].mean(0)) ** 2).sum()
                torch.testing.assert_close(logits[t, i, n], expected, rtol=1e-10, atol=1e-10)
    labels = tc["query_labels"](2, 3, 2)
    assert labels.tolist() == [[0, 0, 1, 1, 2, 2]] * 2


def test_sample_tasks_puts_class_information_in_the_kind_s_half_only(tc: dict[str, Any]):
    family = tc["TaskFamily"]()
    support, query, kind = tc["sample_tasks"](
        family, 4, 5, 400, 3, torch.Generator().manual_seed(2)
    )
    assert support.shape == (4, 5, 400, family.features) and query.shape == (
        4,
        5,
        3,
        family.features,
    )
    assert kind.tolist() == [0, 1, 0, 1]
    h = family.half
    between = support.mean(2).var(1)  # (T, D): spread of the class means per feature
    for t, k in enumerate(kind.tolist()):
        own, other = (slice(0, h), slice(h, 2 * h)) if k == 0 else (slice(h, 2 * h), slice(0, h))
        assert between[t, own].min() > 0.1 and between[t, other].max() < 0.05
        context = support[t, ..., -1].mean().item()
        assert context == pytest.approx(family.context_offset * (1 - 2 * k), abs=0.05)
    torch.testing.assert_close(tc["task_embedding"](support), support.mean(dim=(1, 2)))


def test_conditioned_metric_beats_shared_on_held_out_tasks(tc: dict[str, Any]):
    """Learning test. Training seeds 0-4 tried (held-out seed 9 + seed): conditioned minus shared
    accuracy on 200 held-out 5-way 1-shot tasks was 0.356 to 0.370 after 80 steps; the threshold
    0.2 leaves a wide margin."""
    family = tc["TaskFamily"]()
    g = torch.Generator().manual_seed(0)
    gen, sh_c = tc["meta_train"](family, True, 80, 16, (5, 1, 5), 0.05, g)
    _, sh_u = tc["meta_train"](family, False, 80, 16, (5, 1, 5), 0.05, g)
    support, query, _ = tc["sample_tasks"](family, 200, 5, 1, 10, torch.Generator().manual_seed(9))
    conditioned = tc["episode_accuracy"](support, query, gen, sh_c).mean().item()
    shared = tc["episode_accuracy"](support, query, None, sh_u).mean().item()
    assert conditioned - shared > 0.2


def test_task_conditioning_rejects_bad_input(tc: dict[str, Any]):
    family = tc["TaskFamily"]()
    with pytest.raises(ValueError, match="counts must be positive"):
        tc["sample_tasks"](family, 2, 0, 1, 1, torch.Generator())
    with pytest.raises(ValueError, match="steps must be at least 1"):
        tc["meta_train"](family, True, 0, 4, (5, 1, 5), 0.05, torch.Generator())


# --- Meta-validation -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mv() -> dict[str, Any]:
    return load("glossary_meta-validation_selection.py")


def test_meta_validation_episode_accuracy_equals_an_explicit_loop(mv: dict[str, Any]):
    g = torch.Generator().manual_seed(0)
    support, query = mv["sample_episodes"](3, 4, 2, 3, 8, g)
    weights = torch.randn(8, 5, generator=g)
    got = mv["episode_accuracy"](weights, support, query)
    for e in range(3):
        prototypes = [(support[e, n] @ weights).mean(0) for n in range(4)]
        correct = 0
        for n in range(4):
            for q in query[e, n]:
                distances = [((q @ weights - p) ** 2).sum().item() for p in prototypes]
                correct += int(min(range(4), key=distances.__getitem__) == n)
        assert got[e].item() == pytest.approx(correct / 12)


def test_sample_episodes_puts_class_means_in_the_first_quarter(mv: dict[str, Any]):
    support, _ = mv["sample_episodes"](2, 5, 500, 1, 16, torch.Generator().manual_seed(1))
    class_means = support.mean(2)  # (E, N, D)
    between = class_means.var(1)  # (E, D)
    assert between[:, :4].min() > 0.05 and between[:, 4:].max() < 0.02
    within = support.std(2).mean((0, 1))  # (D,)
    assert within[:4].tolist() == pytest.approx([mv["SIGNAL_SPREAD"]] * 4, abs=0.05)
    assert within[4:].tolist() == pytest.approx([mv["NUISANCE_SPREAD"]] * 12, abs=0.1)


def test_select_and_report_matches_an_explicit_repeat(mv: dict[str, Any]):
    """Independent re-implementation of one repeat, with the same random draw."""
    scores = torch.rand(4, 40, generator=torch.Generator().manual_seed(2))
    got = mv["select_and_report"](scores, 7, 3, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    truth = scores.mean(1)
    for r in range(3):
        drawn = torch.randperm(40, generator=g)[:14]
        val = [scores[c, drawn[:7]].mean().item() for c in range(4)]
        chosen = max(range(4), key=lambda c: (val[c], -c))  # first maximum
        assert got["chosen"][r].item() == chosen
        assert got["optimism"][r].item() == pytest.approx(val[chosen] - truth[chosen].item())
        test = scores[chosen, drawn[7:]].mean().item()
        assert got["test_bias"][r].item() == pytest.approx(test - truth[chosen].item())
        assert got["regret"][r].item() == pytest.approx((truth.max() - truth[chosen]).item())
        assert got["final_bias"][r].item() == pytest.approx(val[3] - truth[3].item())


def test_select_and_report_properties(mv: dict[str, Any]):
    """A dominant candidate is always chosen with no optimism or regret. Among 5 candidates with
    equal truth (per-episode Bernoulli(1/2) scores, 20 validation episodes) the winner's optimism
    is about E[max of 5 standard normals] * 0.5 / sqrt(20) = 1.163 * 0.112 = 0.130; seeds 4-8
    tried gave 0.123 to 0.133 (threshold 0.1), and the fresh-test bias stayed within +-0.012
    (threshold 0.03, about 4.6 standard errors over 300 repeats)."""
    scores = torch.zeros(3, 50)
    scores[1] = 1.0
    r = mv["select_and_report"](scores, 10, 20, torch.Generator().manual_seed(0))
    assert (r["chosen"] == 1).all() and r["optimism"].abs().max() == 0 and r["regret"].max() == 0
    g = torch.Generator().manual_seed(4)
    coins = (torch.rand(5, 4000, generator=g) < 0.5).float()
    r = mv["select_and_report"](coins, 20, 300, g)
    assert r["optimism"].mean() > 0.1
    assert abs(r["test_bias"].mean()) < 0.03  # fresh episodes: no selection, no bias


def test_meta_train_checkpoints_improve_on_the_identity(mv: dict[str, Any]):
    """Learning test. Training seeds 0-4 tried (test episodes seed 7 + seed): accuracy of the
    last of 80 updates minus the identity's was 0.367 to 0.373 on 500 episodes; threshold 0.2."""
    ck = mv["meta_train_checkpoints"](
        16, 80, 20, (5, 1, 5), 8, 0.02, torch.Generator().manual_seed(0)
    )
    assert len(ck) == 5 and torch.equal(ck[0], torch.eye(16))
    support, query = mv["sample_episodes"](500, 5, 1, 5, 16, torch.Generator().manual_seed(7))
    gain = mv["episode_accuracy"](ck[-1], support, query) - mv["episode_accuracy"](
        ck[0], support, query
    )
    assert gain.mean() > 0.2


def test_meta_validation_rejects_bad_input(mv: dict[str, Any]):
    with pytest.raises(ValueError, match="features at least 4"):
        mv["sample_episodes"](2, 5, 1, 1, 3, torch.Generator())
    with pytest.raises(ValueError, match="steps and every must be positive"):
        mv["meta_train_checkpoints"](8, 10, 0, (5, 1, 5), 2, 0.01, torch.Generator())
    with pytest.raises(ValueError, match=r"n_validation must be in \[1, 5\]"):
        mv["select_and_report"](torch.zeros(2, 10), 6, 1, torch.Generator())
