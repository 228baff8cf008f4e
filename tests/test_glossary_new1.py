"""The glossary snippets of the new metric and optimisation terms, against independent oracles.

Each snippet under `docs/snippets/glossary_<term>_*.py` that a page includes as a library (rules,
modules, closed forms) is loaded from its file and checked here: against an explicit loop, a
closed form or finite differences in float64, and for the properties the page relies on. The
pages' own claims are asserted inside their executed blocks; these tests protect the code that
readers copy.
"""

from __future__ import annotations

import contextlib
import io
import math
import runpy
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from conftest import SNIPPETS
from conftest import load_snippet as load


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


# --- Reptile -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reptile() -> dict[str, Any]:
    return load("glossary_reptile_tasks.py")


def test_reptile_gradient_steps_are_affine_in_the_start(reptile: dict[str, Any]):
    tasks = reptile["sample_linear_tasks"](6, 10, torch.Generator().manual_seed(0))
    support_x, support_y = tasks[0], tasks[1]
    theta = torch.tensor([0.3, -0.7], dtype=torch.float64)
    got = reptile["gradient_steps"](theta, support_x, support_y, 4, 0.05)
    solution = torch.linalg.lstsq(support_x, support_y.unsqueeze(-1)).solution.squeeze(-1)
    step = reptile["step_matrices"](support_x, 4, 0.05)  # (T, D, D)
    expected = solution + (step @ (theta - solution).unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)
    for t in range(6):  # and against autograd's gradient of the mean squared error
        phi = theta.clone().requires_grad_()
        for _ in range(4):
            loss = (support_x[t] @ phi - support_y[t]).pow(2).mean()
            (grad,) = torch.autograd.grad(loss, phi)
            phi = (phi - 0.05 * grad).detach().requires_grad_()
        torch.testing.assert_close(got[t], phi.detach(), rtol=1e-10, atol=1e-12)


def test_reptile_fixed_point_zeroes_the_expected_update(reptile: dict[str, Any]):
    support_x, support_y, _, _ = reptile["sample_linear_tasks"](
        50, 10, torch.Generator().manual_seed(1)
    )
    for k in (1, 3, 8):
        fixed = reptile["reptile_fixed_point"](support_x, support_y, k, 0.05)
        update = reptile["gradient_steps"](fixed, support_x, support_y, k, 0.05) - fixed
        torch.testing.assert_close(
            update.mean(0), torch.zeros(2, dtype=torch.float64), atol=1e-12, rtol=0
        )
    joint = torch.linalg.lstsq(support_x.flatten(0, 1), support_y.reshape(-1, 1)).solution
    torch.testing.assert_close(
        reptile["reptile_fixed_point"](support_x, support_y, 1, 0.05),
        joint.squeeze(-1),
        rtol=1e-10,
        atol=1e-12,
    )


def test_reptile_maml_optimum_is_stationary_for_reference_meta_loss(reptile: dict[str, Any]):
    from torch import nn

    from reference_impl.maml import MAMLConfig, meta_loss

    tasks = reptile["sample_linear_tasks"](40, 10, torch.Generator().manual_seed(2))
    optimum = reptile["maml_optimum"](tasks, 5, 0.05)
    model = nn.Linear(2, 1, bias=False).double()
    params = {"weight": optimum.reshape(1, 2).clone().requires_grad_()}
    batch = (tasks[0], tasks[1].unsqueeze(-1), tasks[2], tasks[3].unsqueeze(-1))
    loss = meta_loss(model, params, batch, MAMLConfig(inner_lr=0.05, inner_steps=5))
    (grad,) = torch.autograd.grad(loss, params["weight"])
    assert grad.norm() < 1e-10, grad  # the package's MAML meta-gradient vanishes at the optimum
    shifted = {"weight": (optimum + 0.1).reshape(1, 2).requires_grad_()}
    assert meta_loss(model, shifted, batch, MAMLConfig(inner_lr=0.05, inner_steps=5)) > loss


# --- Meta-SGD ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def meta_sgd() -> dict[str, Any]:
    return load("glossary_meta-sgd_steps.py")


def quadratic_tasks(meta_sgd: dict[str, Any]) -> Any:
    return meta_sgd["QuadraticTasks"](
        curvature=torch.tensor([0.5, 1.0, 3.0], dtype=torch.float64),
        centre=torch.tensor([1.0, -1.0, 0.5], dtype=torch.float64),
        spread=torch.tensor([1.0, 0.5, 2.0], dtype=torch.float64),
        noise=torch.tensor([0.3, 1.0, 0.5], dtype=torch.float64),
    )


def expected_loss(tasks: Any, step_sizes: torch.Tensor) -> torch.Tensor:
    """The closed-form expected query loss after one step from the centre (module docstring)."""
    h, spread2, noise2 = tasks.curvature, tasks.spread**2, tasks.noise**2
    return (
        0.5
        * (h * ((1 - step_sizes * h) ** 2 * spread2 + step_sizes**2 * h**2 * noise2 + noise2)).sum()
    )


def test_meta_sgd_optimal_step_sizes_minimise_the_expected_loss(meta_sgd: dict[str, Any]):
    tasks = quadratic_tasks(meta_sgd)
    optimal = tasks.optimal_step_sizes().clone().requires_grad_()
    (grad,) = torch.autograd.grad(expected_loss(tasks, optimal), optimal)
    torch.testing.assert_close(grad, torch.zeros(3, dtype=torch.float64), atol=1e-12, rtol=0)
    single = tasks.best_single_step_size().clone().requires_grad_()
    (grad,) = torch.autograd.grad(expected_loss(tasks, single.expand(3)), single)
    assert abs(grad.item()) < 1e-12


def test_meta_sgd_sampled_loss_matches_closed_form(meta_sgd: dict[str, Any]):
    tasks = quadratic_tasks(meta_sgd)
    support, query = tasks.sample(40_000, torch.Generator().manual_seed(0))
    step = tasks.optimal_step_sizes()
    losses = tasks.loss(meta_sgd["adapt"](tasks, tasks.centre, step, support), query)
    half_width = 1.96 * losses.std().item() / 40_000**0.5
    # Monte Carlo mean against the closed form; 3 half-widths keeps a false alarm below 0.3%.
    assert abs(losses.mean().item() - expected_loss(tasks, step).item()) < 3 * half_width


def test_meta_sgd_step_size_gradient_is_product_of_support_and_query_gradients(
    meta_sgd: dict[str, Any],
):
    tasks = quadratic_tasks(meta_sgd)
    support, query = tasks.sample(5, torch.Generator().manual_seed(1))
    params = torch.tensor([0.2, 0.1, -0.3], dtype=torch.float64)
    step = torch.tensor([0.4, 0.2, 0.1], dtype=torch.float64, requires_grad=True)
    adapted = meta_sgd["adapt"](tasks, params, step, support)
    (grad,) = torch.autograd.grad(tasks.loss(adapted, query).sum(), step)
    support_grad = tasks.curvature * (params - support)
    query_grad = tasks.curvature * (adapted.detach() - query)
    torch.testing.assert_close(grad, -(support_grad * query_grad).sum(0), rtol=1e-12, atol=1e-14)


def test_meta_sgd_rejects_bad_task_distribution(meta_sgd: dict[str, Any]):
    one = torch.ones(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="one shape"):
        meta_sgd["QuadraticTasks"](one, one, one, torch.ones(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="curvature must be positive"):
        meta_sgd["QuadraticTasks"](-one, one, one, one)


# --- Implicit MAML -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def imaml() -> dict[str, Any]:
    return load("glossary_implicit-maml_gradients.py")


def least_squares_task(seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    xs, xq = (torch.randn(n, 6, generator=g, dtype=torch.float64) for n in (4, 9))
    ys, yq = (torch.randn(n, generator=g, dtype=torch.float64) for n in (4, 9))
    return xs, ys, xq, yq


def test_conjugate_gradient_solves_spd_system(imaml: dict[str, Any]):
    g = torch.Generator().manual_seed(0)
    basis = torch.randn(7, 7, generator=g, dtype=torch.float64)
    matrix = basis @ basis.T + 0.5 * torch.eye(7, dtype=torch.float64)
    rhs = torch.randn(7, generator=g, dtype=torch.float64)
    x = imaml["conjugate_gradient"](lambda v: matrix @ v, rhs, 7)
    torch.testing.assert_close(x, torch.linalg.solve(matrix, rhs), rtol=1e-8, atol=1e-10)
    assert torch.equal(
        imaml["conjugate_gradient"](lambda v: matrix @ v, torch.zeros(7), 3), torch.zeros(7)
    )


def test_implicit_and_unrolled_meta_gradients_match_closed_forms(imaml: dict[str, Any]):
    xs, ys, xq, yq = least_squares_task()
    lam, lr, steps = 0.7, 0.05, 12
    theta = torch.linspace(-1, 1, 6, dtype=torch.float64)

    def support_loss(p: torch.Tensor) -> torch.Tensor:
        return (xs @ p - ys).pow(2).mean()

    def query_loss(p: torch.Tensor) -> torch.Tensor:
        return (xq @ p - yq).pow(2).mean()

    hessian = 2 / 4 * xs.T @ xs
    eye = torch.eye(6, dtype=torch.float64)
    regularised = hessian + lam * eye
    solution = torch.linalg.solve(regularised, 2 / 4 * xs.T @ ys + lam * theta)
    query_grad = lambda p: 2 / 9 * xq.T @ (xq @ p - yq)  # noqa: E731
    implicit = imaml["implicit_meta_gradient"](support_loss, query_loss, solution, lam, 6)
    expected = torch.linalg.solve(eye + hessian / lam, query_grad(solution))
    torch.testing.assert_close(implicit, expected, rtol=1e-9, atol=1e-12)
    # phi_j - phi* = (I - lr A)^j (theta - phi*), phi* = A^{-1}(b + lam theta): differentiate in theta.
    contraction = torch.linalg.matrix_power(eye - lr * regularised, steps)
    phi = imaml["inner_steps"](support_loss, theta, lam, steps, lr, False)
    torch.testing.assert_close(
        phi, solution + contraction @ (theta - solution), rtol=1e-10, atol=1e-12
    )
    jacobian = contraction + (eye - contraction) @ (lam * torch.linalg.inv(regularised))
    unrolled = imaml["unrolled_meta_gradient"](support_loss, query_loss, theta, lam, steps, lr)
    torch.testing.assert_close(unrolled, jacobian.T @ query_grad(phi), rtol=1e-9, atol=1e-12)


# --- MAML++ --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def maml_pp() -> dict[str, Any]:
    return load("glossary_maml-plus-plus_steps.py")


def test_maml_pp_step_losses_match_closed_form_and_commute(maml_pp: dict[str, Any]):
    curvature = torch.tensor([0.2, 1.0, 4.0], dtype=torch.float64)
    support, query = maml_pp["sample_tasks"](7, curvature, 0.1, torch.Generator().manual_seed(0))
    steps = torch.tensor([0.1, 0.6, 0.3], dtype=torch.float64)
    losses = maml_pp["step_losses"](steps, curvature, support, query)  # (T, K+1)
    factor = torch.ones(3, dtype=torch.float64)
    for j in range(4):
        phi = support - factor * support  # phi_j = v_s + prod(1 - a h)(0 - v_s)
        expected = 0.5 * (curvature * (phi - query) ** 2).sum(-1)
        torch.testing.assert_close(losses[:, j], expected, rtol=1e-12, atol=1e-14)
        if j < 3:
            factor = factor * (1 - steps[j] * curvature)
    reordered = maml_pp["step_losses"](steps.flip(0), curvature, support, query)
    torch.testing.assert_close(reordered[:, -1], losses[:, -1], rtol=1e-12, atol=1e-14)
    assert not torch.allclose(reordered[:, 1], losses[:, 1])  # the order only moves the middle


def test_maml_pp_multi_step_weights_anneal_to_the_last_step(maml_pp: dict[str, Any]):
    start = maml_pp["multi_step_weights"](5, 0.0, floor=0.03)
    torch.testing.assert_close(start, torch.full((5,), 0.2, dtype=torch.float64))
    end = maml_pp["multi_step_weights"](5, 1.0, floor=0.03)
    torch.testing.assert_close(end[:-1], torch.full((4,), 0.006, dtype=torch.float64))
    for progress in (0.0, 0.3, 0.9, 1.0):
        weights = maml_pp["multi_step_weights"](5, progress, floor=0.03)
        assert abs(weights.sum().item() - 1) < 1e-12 and bool((weights > 0).all())


# --- Bilevel optimisation ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bilevel() -> dict[str, Any]:
    return load("glossary_bilevel-optimization_ridge.py")


def test_bilevel_hypergradient_matches_finite_differences(bilevel: dict[str, Any]):
    prior = torch.tensor([0.5, 1.0, 2.0, 0.3], dtype=torch.float64)
    tasks = bilevel["sample_regression_tasks"](
        20, 6, 15, prior, 0.4, torch.Generator().manual_seed(0)
    )
    penalty = torch.tensor([0.02, 0.1, 0.5, 0.05], dtype=torch.float64)
    implicit = bilevel["hypergradient"](penalty, tasks)
    eye = torch.eye(4, dtype=torch.float64)
    finite = torch.stack([
        (bilevel["outer_loss"](penalty + 1e-6 * e, tasks).mean()
         - bilevel["outer_loss"](penalty - 1e-6 * e, tasks).mean()) / 2e-6
        for e in eye
    ])  # fmt: skip
    torch.testing.assert_close(implicit, finite, rtol=1e-6, atol=1e-9)
    weights = bilevel["inner_solution"](
        penalty, tasks[0], tasks[1]
    )  # stationarity of the inner problem
    residual = (
        2
        / 6
        * torch.einsum(
            "tnd,tn->td", tasks[0], torch.einsum("tnd,td->tn", tasks[0], weights) - tasks[1]
        )
    )
    torch.testing.assert_close(
        residual + 2 * penalty * weights, torch.zeros_like(weights), atol=1e-12, rtol=0
    )


def test_bilevel_shared_penalty_descends_the_shared_loss(bilevel: dict[str, Any]):
    prior = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    tasks = bilevel["sample_regression_tasks"](
        30, 5, 20, prior, 0.4, torch.Generator().manual_seed(1)
    )
    start = torch.tensor([-6.0], dtype=torch.float64)
    _final, path = bilevel["hypergradient_descent"](start, tasks, 60, 0.1)
    assert path.shape == (61, 1)
    losses = [bilevel["outer_loss"](p.expand(3), tasks).mean().item() for p in path]
    assert losses[-1] < losses[0]
    grid = torch.logspace(-4, 1, 200, dtype=torch.float64)
    best = min(bilevel["outer_loss"](v.expand(3), tasks).mean().item() for v in grid)
    assert losses[-1] <= best * (1 + 1e-3)  # reaches the minimum a fine grid finds


# --- MetaOptNet / R2-D2 --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def metaoptnet() -> dict[str, Any]:
    return load("glossary_metaoptnet_heads.py")


def test_ridge_weights_equal_primal_solution_and_gradcheck(metaoptnet: dict[str, Any]):
    support, labels, _query = episode(2, 3, 2, 4, 9, seed=7)  # N*K = 6 < D = 9
    weights = metaoptnet["ridge_weights"](support, labels, 3, 0.8)
    targets = F.one_hot(labels, 3).double()
    gram = support.transpose(1, 2) @ support + 0.8 * torch.eye(9, dtype=torch.float64)
    torch.testing.assert_close(
        weights, torch.linalg.solve(gram, support.transpose(1, 2) @ targets), rtol=1e-10, atol=1e-12
    )
    lam = torch.tensor(0.8, dtype=torch.float64, requires_grad=True)
    x = support[:1].clone().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda s, a: metaoptnet["ridge_weights"](s, labels[:1], 3, a), (x, lam)
    )


def test_ridge_head_large_lambda_scores_class_sums(metaoptnet: dict[str, Any]):
    support, labels, query = episode(3, 4, 3, 5, 6, seed=8)
    head = metaoptnet["RidgeHead"](lam=1e10, scale=1e10).double()  # scale/lam = 1 exactly
    logits = head(support, labels, query, 4)
    sums = F.one_hot(labels, 4).double().transpose(1, 2) @ support  # (T, N, D)
    torch.testing.assert_close(logits, query @ sums.transpose(1, 2), rtol=1e-6, atol=1e-8)


def test_ridge_head_rejects_bad_shapes(metaoptnet: dict[str, Any]):
    support, labels, query = episode(1, 2, 2, 3, 4)
    head = metaoptnet["RidgeHead"]().double()
    with pytest.raises(ValueError, match=r"\(T, N\*K, D\) and \(T, M, D\)"):
        head(support, labels, query[..., :3], 2)
    with pytest.raises(ValueError, match=r"support_y must be \(T, N\*K\)"):
        head(support, labels[:, :3], query, 2)


def test_glossary_index_strips_an_explicit_heading_id(tmp_path: Path):
    """`# MAML++ {#id}` (the slug of "MAML++" would be "maml", MAML's anchor) lists as "MAML++"."""
    page = tmp_path / "x.md"
    page.write_text(
        "---\nfamily: optimisation\n---\n\n# MAML++ {#x-title}\n\n[](){#x}\n\n## Definition\n\nText.\n"
    )
    with contextlib.redirect_stdout(io.StringIO()):
        namespace = runpy.run_path(str(SNIPPETS / "glossary_index.py"), run_name="glossary_index")
    assert namespace["read_entry"](page).title == "MAML++"


def test_figure_survives_markdown_inside_a_tab():
    """A figure printed into a Result tab keeps "MAML" and "*" (no <abbr> or <em> in the SVG).

    Inside a tab the figure is nested Markdown: the text between its tags is inline-processed,
    so without `figures.inert` the site's abbreviation list hides "MAML" in legends and the
    SVG's `*{...}` CSS pairs with a later `*` into emphasis (both seen on the built pages).
    """
    import html as html_module

    import figures
    import markdown

    def rendered(figure_html: str) -> str:
        tab = "\n".join("    " + line for line in figure_html.splitlines())
        source = f'=== "Result"\n\n{tab}\n\n*[MAML]: Model-Agnostic Meta-Learning\n'
        md = markdown.Markdown(extensions=["abbr", "pymdownx.tabbed", "pymdownx.superfences"])
        return md.convert(source)

    def svg_part(page: str) -> str:
        return page[page.index("<svg") : page.index("</svg>")]

    def figure() -> Any:
        return figures.line(
            [figures.Series("MAML, a_b", [1, 2], [1, 2]), figures.Series("λ*", [1, 2], [2, 1])],
            x_label="x",
            y_label="y",
        )

    raw = rendered(figures.svg(figure(), "raw"))
    assert "<abbr" in svg_part(raw) or "<em>" in svg_part(raw), "the failure mode is no longer real"
    page = rendered(figures.render(figure(), alt="two lines", caption="MAML and λ*"))
    inside = svg_part(page)
    assert "<abbr" not in inside and "<em>" not in inside
    assert "MAML, a_b" in html_module.unescape(inside) and "λ*" in html_module.unescape(inside)
