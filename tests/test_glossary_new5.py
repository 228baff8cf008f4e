"""The glossary snippets of the scale-and-theory terms: pretrained backbones, in-context
meta-learning and the theory of learning to learn.

Each snippet that a page includes as a library is loaded from its file and checked here against
an independent computation (an explicit loop, a closed form, a known answer) or for the property
the page relies on. The pages' own claims are asserted inside their executed blocks; these tests
protect the code that readers copy.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from conftest import load_snippet as load

# --- Pretrained backbones ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pipe() -> dict[str, Any]:
    return load("glossary_pretrained-backbones_pipeline.py")


def small_world(pipe: dict[str, Any], seed: int = 0) -> tuple[Any, torch.Tensor, Any]:
    g = torch.Generator().manual_seed(seed)
    domain = pipe["make_domain"](12, 3, 4, g)
    centres = torch.randn(10, 3, generator=g)
    params = pipe["init_embedding"](12, 16, 5, g)
    return domain, centres, params


def test_prototype_logits_match_a_loop_over_classes(pipe: dict[str, Any]) -> None:
    g = torch.Generator().manual_seed(1)
    support = torch.randn(2, 6, 4, generator=g, dtype=torch.float64)
    labels = torch.tensor([[0, 1, 2, 0, 1, 2], [2, 2, 0, 1, 1, 0]])
    query = torch.randn(2, 5, 4, generator=g, dtype=torch.float64)
    logits = pipe["prototype_logits"](support, labels, query, 3)
    for e in range(2):
        for c in range(3):
            mean = support[e][labels[e] == c].mean(0)
            expected = -((query[e] - mean) ** 2).sum(-1)
            torch.testing.assert_close(logits[e, :, c], expected, rtol=1e-10, atol=1e-10)


def test_episodes_have_the_stated_shapes_labels_and_distinct_classes(pipe: dict[str, Any]) -> None:
    domain, centres, _ = small_world(pipe)
    sx, sy, qx, qy = pipe["sample_episodes"](
        domain, centres, 7, 4, 3, 2, torch.Generator().manual_seed(2)
    )
    assert sx.shape == (7, 12, 12) and qx.shape == (7, 8, 12)
    assert torch.equal(sy[0], torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]))
    assert torch.equal(qy[3], torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]))
    with pytest.raises(ValueError, match="at least 11 classes"):
        pipe["sample_episodes"](domain, centres, 1, 11, 1, 1, torch.Generator())


def test_points_have_the_covariance_of_the_linear_world(pipe: dict[str, Any]) -> None:
    """x = (c + s ε) A + n B: covariance s² AᵀA + σ² BᵀB around the class centre."""
    domain, centres, _ = small_world(pipe)
    centre = centres[:1].expand(40_000, -1)
    x = pipe["sample_points"](domain, centre, torch.Generator().manual_seed(3)).double()
    a, b = domain.signal.double(), domain.nuisance.double()
    expected = domain.within_std**2 * a.T @ a + domain.nuisance_std**2 * b.T @ b
    torch.testing.assert_close(x.mean(0), (centres[0].double() @ a), atol=0.05, rtol=0)
    torch.testing.assert_close(torch.cov(x.T), expected, atol=0.05, rtol=0.05)


def test_a_shifted_domain_keeps_the_class_mixing_and_rejects_a_wrong_shape(
    pipe: dict[str, Any],
) -> None:
    domain, _, _ = small_world(pipe)
    shifted = pipe["make_domain"](12, 3, 4, torch.Generator().manual_seed(9), domain.signal)
    assert torch.equal(shifted.signal, domain.signal)
    assert not torch.allclose(shifted.nuisance, domain.nuisance)
    with pytest.raises(ValueError, match=r"shape \(3, 12\)"):
        pipe["make_domain"](12, 3, 4, torch.Generator(), domain.signal.T)


def test_fine_tuning_all_episodes_at_once_equals_fine_tuning_each_alone(
    pipe: dict[str, Any],
) -> None:
    """Summing the episodes' losses gives each copy exactly its own episode's gradient."""
    domain, centres, params = small_world(pipe)
    sx, sy, _, _ = pipe["sample_episodes"](domain, centres, 3, 3, 2, 1, torch.Generator())
    together = pipe["fine_tune"](params, sx, sy, 3, 4, 0.05)
    for e in range(3):
        alone = pipe["fine_tune"](params, sx[e : e + 1], sy[e : e + 1], 3, 4, 0.05)
        for key in params:
            torch.testing.assert_close(together[key][e], alone[key][0], rtol=1e-5, atol=1e-6)


def test_one_fine_tuning_step_is_a_gradient_step_on_the_support_loss(pipe: dict[str, Any]) -> None:
    domain, centres, params = small_world(pipe)
    sx, sy, _, _ = pipe["sample_episodes"](domain, centres, 1, 3, 2, 1, torch.Generator())
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    z = pipe["embed"](leaves, sx[0])
    loss = F.cross_entropy(pipe["prototype_logits"](z[None], sy, z[None], 3)[0], sy[0])
    grads = torch.autograd.grad(loss, list(leaves.values()))
    stepped = pipe["fine_tune"](params, sx, sy, 3, 1, 0.1)
    for (key, value), g in zip(params.items(), grads, strict=True):
        torch.testing.assert_close(stepped[key][0].reshape(value.shape), value - 0.1 * g)


def test_zero_fine_tuning_steps_keep_the_backbone_and_its_accuracy(pipe: dict[str, Any]) -> None:
    domain, centres, params = small_world(pipe)
    episode = pipe["sample_episodes"](domain, centres, 4, 3, 2, 2, torch.Generator())
    copies = pipe["fine_tune"](params, episode[0], episode[1], 3, 0, 0.1)
    assert torch.equal(pipe["accuracy"](copies, episode, 3), pipe["accuracy"](params, episode, 3))


def test_pretraining_learns_to_separate_the_base_classes(pipe: dict[str, Any]) -> None:
    """Seeded learning test: prototype accuracy on base-class episodes rises well above the
    random network's (seeds 0-4 of the episodes tried: the margin held on all)."""
    domain, centres, params = small_world(pipe)
    episode = pipe["sample_episodes"](
        domain, centres, 200, 5, 3, 5, torch.Generator().manual_seed(0)
    )
    before = pipe["accuracy"](params, episode, 5).mean()
    trained = pipe["pretrain"](params, domain, centres, 150, 64, 1e-2, torch.Generator())
    assert set(trained) == set(params)
    assert pipe["accuracy"](trained, episode, 5).mean() > before + 0.1


# --- In-context meta-learning --------------------------------------------------------------------


@pytest.fixture(scope="module")
def icl() -> dict[str, Any]:
    return load("glossary_in-context-meta-learning_lsa.py")


def test_linear_attention_equals_the_token_by_token_update(icl: dict[str, Any]) -> None:
    """Moment-matrix form = z_t + (1/n) Σ_j P z_j (z_jᵀ Q z_t), layer by layer, in float64."""
    g = torch.Generator().manual_seed(0)
    params = {k: v.double() for k, v in icl["init_lsa"](2, 2, 3, g, scale=0.5).items()}
    x = torch.randn(4, 5, 3, generator=g, dtype=torch.float64)
    y = torch.randn(4, 5, generator=g, dtype=torch.float64)
    qx = torch.randn(4, 2, 3, generator=g, dtype=torch.float64)
    got = icl["lsa_predict"](params, x, y, qx)
    assert got.shape == (2, 4, 2)
    for r in range(2):
        for b in range(4):
            tokens = [torch.cat([x[b, j], y[b, j : j + 1]]) for j in range(5)]
            tokens += [torch.cat([qx[b, i], qx.new_zeros(1)]) for i in range(2)]
            for layer in range(2):
                p, q = params["P"][r, layer], params["Q"][r, layer]
                context = tokens[:5]
                tokens = [t + sum(p @ z * (z @ q @ t) for z in context) / 5 for t in tokens]
            expected = torch.stack([tokens[5][-1], tokens[6][-1]])
            torch.testing.assert_close(got[r, b], expected, rtol=1e-10, atol=1e-12)


def test_linear_attention_rejects_an_empty_context_or_wrong_features(icl: dict[str, Any]) -> None:
    params = icl["init_lsa"](1, 1, 3, torch.Generator())
    with pytest.raises(ValueError, match="non-empty context"):
        icl["lsa_predict"](params, torch.zeros(2, 0, 3), torch.zeros(2, 0), torch.zeros(2, 1, 3))
    with pytest.raises(ValueError, match="3 features"):
        icl["lsa_predict"](params, torch.zeros(2, 4, 2), torch.zeros(2, 4), torch.zeros(2, 1, 2))
    with pytest.raises(ValueError, match="1 models but 2 pools"):
        icl["train_lsa"](params, icl["RegressionTasks"](dim=3), [None, None], 1, 2, 3, 1, 0.1,
                         torch.Generator())  # fmt: skip


def test_ridge_is_least_squares_on_the_augmented_system(icl: dict[str, Any]) -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 6, 4, generator=g, dtype=torch.float64)
    y = torch.randn(3, 6, generator=g, dtype=torch.float64)
    qx = torch.randn(3, 2, 4, generator=g, dtype=torch.float64)
    got = icl["ridge_predict"](x, y, qx, 0.7)
    for b in range(3):
        design = torch.cat([x[b], 0.7**0.5 * torch.eye(4, dtype=torch.float64)])
        target = torch.cat([y[b], torch.zeros(4, dtype=torch.float64)])
        w = torch.linalg.lstsq(design, target.unsqueeze(-1)).solution.squeeze(-1)
        torch.testing.assert_close(got[b], qx[b] @ w, rtol=1e-9, atol=1e-10)


def test_least_squares_interpolates_short_contexts_and_nearest_neighbour_recalls(
    icl: dict[str, Any],
) -> None:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 5, generator=g, dtype=torch.float64)  # n = 3 < d = 5
    y = torch.randn(2, 3, generator=g, dtype=torch.float64)
    torch.testing.assert_close(icl["least_squares_predict"](x, y, x), y)
    assert torch.equal(icl["nearest_neighbour_predict"](x, y, x), y)


def test_pool_posterior_matches_bayes_rule_by_hand(icl: dict[str, Any]) -> None:
    g = torch.Generator().manual_seed(3)
    pool = torch.randn(3, 2, generator=g, dtype=torch.float64)
    x = torch.randn(1, 4, 2, generator=g, dtype=torch.float64)
    y = x[0] @ pool[1] + 0.3 * torch.randn(4, generator=g, dtype=torch.float64)
    qx = torch.randn(1, 2, 2, generator=g, dtype=torch.float64)
    got = icl["pool_posterior_predict"](x, y[None], qx, pool, 0.3)
    likelihood = torch.stack([torch.exp(-((y - x[0] @ w) ** 2).sum() / (2 * 0.3**2)) for w in pool])
    posterior = likelihood / likelihood.sum()
    expected = sum(posterior[k] * (qx[0] @ pool[k]) for k in range(3))
    torch.testing.assert_close(got[0], expected, rtol=1e-9, atol=1e-12)
    single = icl["pool_posterior_predict"](x, y[None], qx, pool[:1], 0.3)
    torch.testing.assert_close(single[0], qx[0] @ pool[0])


def test_one_step_risk_matches_monte_carlo_and_its_best_gain_is_the_minimum(
    icl: dict[str, Any],
) -> None:
    """Closed-form risk of one gradient step against 200k simulated tasks (float64)."""
    tasks = icl["RegressionTasks"](dim=3, weight_std=0.8, noise_std=0.4)
    g = torch.Generator().manual_seed(4)
    w = 0.8 * torch.randn(200_000, 3, generator=g, dtype=torch.float64)
    x = torch.randn(200_000, 6, 3, generator=g, dtype=torch.float64)
    y = (x @ w.unsqueeze(-1)).squeeze(-1) + 0.4 * torch.randn(
        200_000, 6, generator=g, dtype=torch.float64
    )
    xq = x[:, 5]
    yq = y[:, 5]
    step = (x[:, :5].mT @ y[:, :5].unsqueeze(-1)).squeeze(-1) / 5  # (B, d)
    for gain in (0.3, 0.6):
        simulated = ((gain * (xq * step).sum(-1) - yq) ** 2).mean().item()
        assert simulated == pytest.approx(icl["one_step_risk"](5, gain, tasks), rel=0.02)
    best = icl["best_one_step_gain"](5, tasks)
    risk = icl["one_step_risk"]
    assert risk(5, best, tasks) < min(risk(5, best - 1e-3, tasks), risk(5, best + 1e-3, tasks))


# --- Learning-to-learn theory --------------------------------------------------------------------


@pytest.fixture(scope="module")
def l2l() -> dict[str, Any]:
    return load("glossary_learning-to-learn-theory_environment.py")


def test_environment_risk_matches_the_best_hypothesis_by_simulation(l2l: dict[str, Any]) -> None:
    """Closed form er_Q(H_G) against the best hypothesis's error estimated on explicit examples."""
    env = l2l["Environment"](features=6, group=(1, 3, 4), noise=0.2)
    g = torch.Generator().manual_seed(0)
    groups = torch.tensor([[1, 3, 4], [0, 1, 3], [0, 2, 5]])
    for group, expected in zip(groups, l2l["environment_risk"](env, groups), strict=True):
        risks = []
        for j in env.group:  # each task of the environment, equally likely
            x = torch.randint(0, 2, (100_000, 6), generator=g) * 2 - 1
            flip = torch.rand(100_000, generator=g) < 0.2
            y = torch.where(flip, -x[:, j], x[:, j])
            errors = [min((x[:, i] != y).double().mean(), (-x[:, i] != y).double().mean())
                      for i in group.tolist()]  # fmt: skip
            risks.append(min(errors).item())
        assert sum(risks) / 3 == pytest.approx(expected.item(), abs=0.005)


def test_feature_errors_have_the_distribution_of_explicit_examples(l2l: dict[str, Any]) -> None:
    """Mean of min(a, m - a) / m for the copied feature and the others, against the binomial."""
    env = l2l["Environment"](features=4, group=(2,), noise=0.25)
    errors = l2l["feature_errors"](env, 4000, 5, 6, torch.Generator().manual_seed(1))
    assert errors.shape == (4000, 5, 4)
    assert torch.all((errors * 6).round() == errors * 6) and errors.max() <= 0.5

    def expected(p: float) -> float:
        a = torch.arange(7, dtype=torch.float64)
        pmf = torch.exp(torch.lgamma(torch.tensor(7.0)) - torch.lgamma(a + 1)
                        - torch.lgamma(7 - a)) * p**a * (1 - p) ** (6 - a)  # fmt: skip
        return (pmf * torch.minimum(a, 6 - a) / 6).sum().item()

    assert errors[..., 2].mean().item() == pytest.approx(expected(0.75), abs=0.004)
    assert errors[..., 0].mean().item() == pytest.approx(expected(0.5), abs=0.004)


def test_bias_learner_takes_the_lowest_empirical_risk_and_breaks_ties_at_random(
    l2l: dict[str, Any],
) -> None:
    groups = torch.tensor([[0, 1], [0, 2], [1, 2]])
    errors = torch.tensor([[[0.1, 0.4, 0.3], [0.2, 0.5, 0.0]]])  # (R=1, n=2, D=3)
    chosen, empirical = l2l["choose_space"](errors, groups, torch.Generator())
    # per task best: group01 -> (0.1, 0.2), group02 -> (0.1, 0.0), group12 -> (0.3, 0.0)
    assert chosen.tolist() == [[0, 2]] and empirical.item() == pytest.approx(0.05)
    tied = torch.zeros(500, 1, 3)  # every group ties
    picked, _ = l2l["choose_space"](tied, groups, torch.Generator().manual_seed(2))
    counts = [(picked == groups[k]).all(-1).sum().item() for k in range(3)]
    assert min(counts) > 120  # each of three tied groups about a third of 500 times


def test_bound_formula_and_its_arguments(l2l: dict[str, Any]) -> None:
    bound = l2l["environment_bound"](torch.tensor([0.1], dtype=torch.float64), 8, 20, 50, 4, 0.1)
    c = math.log(2 * 50 / 0.1)
    expected = 0.1 + math.sqrt(c / 16) + math.sqrt((8 * math.log(4) + c) / (2 * 8 * 20))
    assert bound.item() == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="0 < delta < 1"):
        l2l["environment_bound"](torch.tensor([0.1]), 8, 20, 50, 4, 1.0)
    with pytest.raises(ValueError, match="distinct features"):
        l2l["Environment"](group=(1, 1))
    with pytest.raises(ValueError, match="noise"):
        l2l["Environment"](noise=0.5)


def test_new_task_error_matches_exact_enumeration(l2l: dict[str, Any]) -> None:
    """ERM over the hidden group with m = 2: exact expectation by enumerating all counts."""
    env = l2l["Environment"](features=5, group=(0, 3), noise=0.2)
    m, group = 2, [0, 3]
    pmf = {
        p: [math.comb(m, a) * p**a * (1 - p) ** (m - a) for a in range(m + 1)] for p in (0.8, 0.5)
    }
    exact = 0.0
    for copied in env.group:  # each new task equally likely
        for counts in itertools.product(range(m + 1), repeat=2):
            prob = math.prod(
                pmf[0.8 if f == copied else 0.5][a] for f, a in zip(group, counts, strict=True)
            )
            scores = [max(a, m - a) for a in counts]
            pick = scores.index(max(scores))  # first feature on ties
            plus = 2 * counts[pick] >= m
            if group[pick] == copied:
                exact += prob * (0.2 if plus else 0.8) / 2
            else:
                exact += prob * 0.5 / 2
    simulated = l2l["new_task_error"](env, torch.tensor([group]), m, 200_000, torch.Generator())
    assert simulated.mean().item() == pytest.approx(exact, abs=0.004)
