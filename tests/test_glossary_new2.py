"""The glossary snippets of the new model-based, probabilistic, protocol and hypergradient terms.

Each snippet under `docs/snippets/glossary_<term>_*.py` that a page includes as a library (models,
closed forms, samplers) is loaded from its file and checked here: against an independent
formula, an explicit loop or finite differences in float64, and for the properties the page relies
on. The pages' own claims are asserted inside their executed blocks; these tests protect the code
that readers copy.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from conftest import load_snippet as load


def episode_batch(
    t: int, n: int, k: int, m: int, d: int, seed: int = 0
) -> tuple[torch.Tensor, ...]:
    """A random float64 episode batch: support (T, N*K, D), labels (T, N*K), queries (T, M, D)."""
    g = torch.Generator().manual_seed(seed)
    support = torch.randn(t, n * k, d, generator=g, dtype=torch.float64)
    labels = torch.arange(n).repeat_interleave(k).expand(t, -1)
    query = torch.randn(t, m, d, generator=g, dtype=torch.float64)
    return support, labels, query


# --- Neural processes ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cnp() -> dict[str, Any]:
    return load("glossary_neural-processes_cnp.py")


def test_gp_predictive_equals_bayesian_linear_regression(cnp: dict[str, Any]):
    """Function-space GP posterior = weight-space posterior of y = a x + b + noise (float64)."""
    tasks = cnp["LineTasks"](slope_std=0.7, intercept_std=1.3, noise_std=0.3)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 9, generator=g, dtype=torch.float64) * 4 - 2
    y = torch.randn(3, 9, generator=g, dtype=torch.float64)
    xc, yc, xt = x[:, :5], y[:, :5], x[:, 5:]
    mean, std = cnp["gp_predictive"](xc, yc, xt, tasks)
    prior_cov = torch.diag(torch.tensor([0.7**2, 1.3**2], dtype=torch.float64))
    for t in range(3):
        features = torch.stack([xc[t], torch.ones(5, dtype=torch.float64)], -1)  # (n, 2)
        precision = torch.linalg.inv(prior_cov) + features.T @ features / 0.3**2
        cov = torch.linalg.inv(precision)
        w = cov @ features.T @ yc[t] / 0.3**2
        phi = torch.stack([xt[t], torch.ones(4, dtype=torch.float64)], -1)  # (M, 2)
        torch.testing.assert_close(mean[t], phi @ w, rtol=1e-10, atol=1e-12)
        var = (phi @ cov * phi).sum(-1) + 0.3**2
        torch.testing.assert_close(std[t], var.sqrt(), rtol=1e-10, atol=1e-12)


def test_gp_predictive_with_empty_context_is_the_prior(cnp: dict[str, Any]):
    tasks = cnp["LineTasks"]()
    xt = torch.tensor([[-1.0, 0.0, 2.0]], dtype=torch.float64)
    empty = xt.new_zeros(1, 0)
    mean, std = cnp["gp_predictive"](empty, empty, xt, tasks)
    assert torch.equal(mean, torch.zeros_like(xt))
    expected = (tasks.slope_std**2 * xt**2 + tasks.intercept_std**2 + tasks.noise_std**2).sqrt()
    torch.testing.assert_close(std, expected, rtol=1e-12, atol=0)


def test_sample_functions_are_lines_with_the_stated_noise(cnp: dict[str, Any]):
    """Residuals around each line's least-squares fit have the configured noise variance."""
    tasks = cnp["LineTasks"](noise_std=0.25)
    x, y = cnp["sample_functions"](tasks, 400, 50, torch.Generator().manual_seed(3))
    assert x.shape == y.shape == (400, 50)
    assert float(x.min()) >= tasks.x_low and float(x.max()) <= tasks.x_high
    design = torch.stack([x, torch.ones_like(x)], -1)  # (T, P, 2)
    coef = torch.linalg.lstsq(design, y.unsqueeze(-1)).solution
    residual = y - (design @ coef).squeeze(-1)
    noise_var = residual.pow(2).sum() / (400 * (50 - 2))
    assert abs(float(noise_var.sqrt()) - 0.25) < 0.01  # 20,000 residuals: sd error ~0.0013


def test_cnp_is_invariant_to_context_order_and_ignores_padding(cnp: dict[str, Any]):
    torch.manual_seed(0)
    model = cnp["ConditionalNeuralProcess"](hidden=8).double()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 6, generator=g, dtype=torch.float64)
    y = torch.randn(2, 6, generator=g, dtype=torch.float64)
    xt = torch.randn(2, 4, generator=g, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.float64)
    mean, std = model(x, y, mask, xt)
    order = torch.tensor([3, 1, 0, 2, 5, 4])  # permutes the context, keeps padding at the end
    mean_p, std_p = model(x[:, order], y[:, order], mask[:, order], xt)
    torch.testing.assert_close(mean_p, mean, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(std_p, std, rtol=1e-12, atol=1e-12)
    junk_x, junk_y = x.clone(), y.clone()
    junk_x[0, 4:], junk_y[0, 4:] = 1e3, -1e3  # padded points of the first function change
    mean_j, std_j = model(junk_x, junk_y, mask, xt)
    torch.testing.assert_close(mean_j, mean, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(std_j, std, rtol=1e-12, atol=1e-12)
    assert bool((std > model.min_std).all())


def test_cnp_rejects_bad_shapes_and_empty_contexts(cnp: dict[str, Any]):
    model = cnp["ConditionalNeuralProcess"](hidden=4)
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"\(T, P\)"):
        model(x, torch.zeros(2, 4), torch.ones(2, 3), torch.zeros(2, 1))
    with pytest.raises(ValueError, match=r"target_x must be \(T, M\)"):
        model(x, x, torch.ones(2, 3), torch.zeros(3, 1))
    with pytest.raises(ValueError, match="at least one context point"):
        model(x, x, torch.tensor([[1.0, 0, 0], [0, 0, 0]]), torch.zeros(2, 1))


def test_gaussian_nll_equals_torch_normal(cnp: dict[str, Any]):
    g = torch.Generator().manual_seed(2)
    mean, y = torch.randn(2, 5, generator=g, dtype=torch.float64).unbind()
    std = torch.rand(5, generator=g, dtype=torch.float64) + 0.1
    expected = -torch.distributions.Normal(mean, std).log_prob(y)
    torch.testing.assert_close(cnp["gaussian_nll"](mean, std, y), expected, rtol=1e-12, atol=1e-12)


def test_train_cnp_lowers_the_training_loss(cnp: dict[str, Any]):
    """Seeds 0-4 tried: the last 50 steps' mean loss is 0.9-1.2 below the first 50 steps'."""
    torch.manual_seed(0)
    model = cnp["ConditionalNeuralProcess"](hidden=16)
    losses = cnp["train_cnp"](
        model, cnp["LineTasks"](), 300, 16, 16, 8, 3e-3, torch.Generator().manual_seed(0)
    )
    assert sum(losses[-50:]) / 50 < sum(losses[:50]) / 50 - 0.5


# --- Bayesian meta-learning ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def bayes() -> dict[str, Any]:
    return load("glossary_bayesian-meta-learning_model.py")


def test_posterior_equals_product_of_gaussians(bayes: dict[str, Any]):
    """Multiply the prior density by each likelihood term on a grid and read off mean and std."""
    support = torch.tensor([[0.3, 2.9, 1.4]], dtype=torch.float64)
    m, tau, sigma = 1.0, 0.8, 1.5
    mean, std = bayes["posterior"](support, m, tau, sigma)
    grid = torch.linspace(-6, 8, 200_001, dtype=torch.float64)
    log_density = -0.5 * ((grid - m) / tau) ** 2
    for x in support[0]:
        log_density = log_density - 0.5 * ((x - grid) / sigma) ** 2
    weights = torch.softmax(log_density, 0)
    grid_mean = (weights * grid).sum()
    grid_std = (weights * (grid - grid_mean) ** 2).sum().sqrt()
    torch.testing.assert_close(mean[0], grid_mean, rtol=1e-8, atol=1e-9)
    torch.testing.assert_close(std[0], grid_std, rtol=1e-6, atol=1e-8)
    w = bayes["shrinkage"](3, tau, sigma)
    torch.testing.assert_close(mean[0], w * support.mean() + (1 - w) * m, rtol=1e-12, atol=0)


def test_posterior_limits_are_support_mean_and_prior(bayes: dict[str, Any]):
    support = torch.tensor([[4.0, 6.0], [-1.0, 1.0]], dtype=torch.float64)
    flat, _ = bayes["posterior"](support, 0.0, 1e6, 1.0)  # a flat prior: the support mean
    torch.testing.assert_close(flat, support.mean(-1), rtol=1e-9, atol=1e-9)
    sharp, std = bayes["posterior"](support, 3.0, 1e-6, 1.0)  # a point prior: the prior mean
    torch.testing.assert_close(sharp, torch.full((2,), 3.0, dtype=torch.float64), rtol=0, atol=1e-9)
    assert float(std.max()) < 1e-5
    with pytest.raises(ValueError, match=r"\(T, K\) with K >= 1"):
        bayes["posterior"](support[:, :0], 0.0, 1.0, 1.0)


def test_learned_prior_weight_is_its_implied_shrinkage(bayes: dict[str, Any]):
    learner = bayes["LearnedPrior"]()
    with torch.no_grad():
        learner.prior_mean.fill_(0.5)
        learner.log_prior_std.fill_(0.3)
        learner.log_noise_std.fill_(-0.2)
    tau, sigma = float(torch.tensor(0.3).exp()), float(torch.tensor(-0.2).exp())
    for k in (1, 3, 10):
        got = bayes["support_weight"](learner, k, 0.5)
        assert abs(got - bayes["shrinkage"](k, tau, sigma)) < 1e-6
    support = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    mean, std = learner(support)
    post_mean, post_std = bayes["posterior"](support, 0.5, tau, sigma)
    torch.testing.assert_close(mean, post_mean.float(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(std, (post_std**2 + sigma**2).sqrt().float(), rtol=1e-5, atol=1e-6)


def test_predictive_nll_equals_torch_normal(bayes: dict[str, Any]):
    g = torch.Generator().manual_seed(1)
    query = torch.randn(3, 4, generator=g, dtype=torch.float64)
    mean = torch.randn(3, generator=g, dtype=torch.float64)
    std = torch.rand(3, generator=g, dtype=torch.float64) + 0.5
    expected = -torch.distributions.Normal(mean.unsqueeze(-1), std.unsqueeze(-1)).log_prob(query)
    got = bayes["predictive_nll"](mean, std, query)
    torch.testing.assert_close(got, expected.mean(-1), rtol=1e-12, atol=1e-12)


def test_meta_train_recovers_the_prior(bayes: dict[str, Any]):
    """Empirical Bayes by gradient: seeds 0-4 tried, every parameter within 0.05 of the truth."""
    tasks = bayes["GaussianTasks"](prior_mean=-1.0, prior_std=0.5, noise_std=1.0)
    learner = bayes["LearnedPrior"]()
    bayes["meta_train"](
        learner, tasks, (1, 4), 400, 128, 10, 0.03, torch.Generator().manual_seed(0)
    )
    assert abs(learner.prior_mean.item() + 1.0) < 0.15
    assert abs(learner.log_prior_std.exp().item() - 0.5) < 0.15
    assert abs(learner.log_noise_std.exp().item() - 1.0) < 0.15


def test_amortised_posterior_rejects_empty_support(bayes: dict[str, Any]):
    with pytest.raises(ValueError, match=r"\(T, K\) with K >= 1"):
        bayes["AmortisedPosterior"](hidden=4)(torch.zeros(2, 0))


# --- Hypergradients ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ridge() -> dict[str, Any]:
    return load("glossary_hypergradients_ridge.py")


@pytest.fixture(scope="module")
def ridge_problem(ridge: dict[str, Any]) -> Any:
    return ridge["make_problem"](12, 9, 5, 0.3, torch.Generator().manual_seed(4))


def test_unrolled_solution_equals_closed_form_of_gradient_descent(ridge, ridge_problem):
    """From zero, T steps on a quadratic: w_T = [I - (I - 2 lr A)^T] A^{-1} b, A = X'X/n + lam I."""
    log_penalty, steps, lr = torch.tensor(-1.3, dtype=torch.float64), 17, 0.2
    a = ridge_problem.gram + log_penalty.exp() * torch.eye(5, dtype=torch.float64)
    contraction = torch.eye(5, dtype=torch.float64) - 2 * lr * a
    expected = (
        torch.eye(5, dtype=torch.float64) - torch.linalg.matrix_power(contraction, steps)
    ) @ (torch.linalg.solve(a, ridge_problem.moment))
    got = ridge["unrolled_solution"](ridge_problem, log_penalty, steps, lr)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)
    zero = ridge["unrolled_solution"](ridge_problem, log_penalty, 0, lr)
    assert torch.equal(zero, torch.zeros(5, dtype=torch.float64))
    long = ridge["unrolled_solution"](ridge_problem, log_penalty, 5000, lr)
    torch.testing.assert_close(long, ridge["exact_solution"](ridge_problem, log_penalty))


@pytest.mark.parametrize("log_penalty", [-3.0, 0.5])
def test_implicit_hypergradient_at_the_minimiser_equals_finite_differences(
    ridge, ridge_problem, log_penalty
):
    def converged(t: float) -> float:
        w = ridge["exact_solution"](ridge_problem, torch.tensor(t, dtype=torch.float64))
        return float(ridge["validation_loss"](ridge_problem, w))

    w = ridge["exact_solution"](ridge_problem, torch.tensor(log_penalty, dtype=torch.float64))
    got = ridge["hypergradient_implicit"](ridge_problem, log_penalty, w)
    expected = ridge["finite_difference"](converged, log_penalty, 1e-5)
    assert abs(got - expected) <= 1e-7 * abs(expected)


def test_unrolled_hypergradient_equals_finite_differences_of_the_truncated_objective(
    ridge, ridge_problem
):
    def truncated(t: float) -> float:
        theta = torch.tensor(t, dtype=torch.float64)
        w = ridge["unrolled_solution"](ridge_problem, theta, 25, 0.3)
        return float(ridge["validation_loss"](ridge_problem, w))

    got = ridge["hypergradient_unrolled"](ridge_problem, -0.7, 25, 0.3)
    expected = ridge["finite_difference"](truncated, -0.7, 1e-5)
    assert abs(got - expected) <= 1e-7 * abs(expected)


def test_unrolled_memory_grows_by_the_same_bytes_every_step(ridge, ridge_problem):
    counts = [
        ridge["saved_bytes_unrolled"](ridge_problem, -1.0, steps, 0.1) for steps in (4, 5, 6, 9)
    ]
    per_step = counts[1] - counts[0]
    assert per_step > 0
    assert counts[2] - counts[1] == per_step and counts[3] - counts[2] == 3 * per_step


def test_ridge_problem_rejects_mismatched_shapes(ridge):
    x = torch.zeros(4, 3)
    with pytest.raises(ValueError, match=r"train_x \(n, D\)"):
        ridge["RidgeProblem"](x, torch.zeros(5), x, torch.zeros(4))
    with pytest.raises(ValueError, match=r"val_y must be \(m,\)"):
        ridge["RidgeProblem"](x, torch.zeros(4), x, torch.zeros(3))


# --- Meta-reinforcement learning -----------------------------------------------------------------


@pytest.fixture(scope="module")
def bandits() -> dict[str, Any]:
    return load("glossary_meta-reinforcement-learning_bandits.py")


def test_pull_pays_when_the_uniform_is_below_the_arm_probability(bandits):
    probabilities = torch.tensor([[0.2, 0.7], [0.9, 0.1]])
    action = torch.tensor([1, 0])
    rewards = bandits["pull"](probabilities, action, torch.tensor([0.69, 0.91]))
    assert rewards.tolist() == [1.0, 0.0]


def test_reinforce_loss_equals_explicit_reward_to_go_loop(bandits):
    g = torch.Generator().manual_seed(0)
    log_probs = torch.randn(3, 4, generator=g, dtype=torch.float64)
    rewards = (torch.rand(3, 4, generator=g) < 0.5).double()
    to_go = torch.zeros(3, 4, dtype=torch.float64)
    for i in range(3):
        for t in range(4):
            to_go[i, t] = rewards[i, t:].sum()
    baseline = to_go.mean(0)
    expected = (
        -sum(log_probs[i, t] * (to_go[i, t] - baseline[t]) for i in range(3) for t in range(4)) / 12
    )
    torch.testing.assert_close(bandits["reinforce_loss"](log_probs, rewards), expected)


def test_reinforce_gradient_matches_the_exact_policy_gradient_of_one_pull(bandits):
    """One pull, softmax policy: dE[r]/dtheta_k = pi_k (p_k - sum_a pi_a p_a); 200,000 samples."""
    theta = torch.tensor([0.3, -0.4], dtype=torch.float64, requires_grad=True)
    p = torch.tensor([0.2, 0.9], dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    n = 200_000
    log_pi = torch.log_softmax(theta, 0)
    action = torch.multinomial(log_pi.exp().detach(), n, replacement=True, generator=g)
    reward = (torch.rand(n, generator=g, dtype=torch.float64) < p[action]).double()
    loss = bandits["reinforce_loss"](log_pi[action].unsqueeze(1), reward.unsqueeze(1))
    (grad,) = torch.autograd.grad(loss, theta)
    pi = log_pi.exp().detach()
    exact = pi * (p - (pi * p).sum())
    torch.testing.assert_close(-grad, exact, rtol=0, atol=4e-3)  # sampling sd about 1e-3


def test_rollout_keeps_bandits_independent_and_checks_shapes(bandits):
    torch.manual_seed(0)
    policy = bandits["RecurrentPolicy"](arms=2, hidden=8)
    first = torch.tensor([[0.3, 0.8], [0.5, 0.5]])
    second = torch.tensor([[0.3, 0.8], [0.95, 0.01]])
    lp_a, r_a = bandits["rollout"](policy, first, 6, torch.Generator().manual_seed(2))
    lp_b, r_b = bandits["rollout"](policy, second, 6, torch.Generator().manual_seed(2))
    assert lp_a.shape == r_a.shape == (2, 6)
    torch.testing.assert_close(lp_a[0], lp_b[0], rtol=0, atol=0)  # bandit 0 saw the same noise
    assert torch.equal(r_a[0], r_b[0])
    with pytest.raises(ValueError, match=r"\(T, 2\)"):
        bandits["rollout"](policy, torch.rand(4, 3), 5, torch.Generator())


def test_greedy_tries_each_arm_then_exploits(bandits):
    probabilities = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    rewards = bandits["greedy_after_trying_each"](
        probabilities, 6, torch.Generator().manual_seed(0)
    )
    assert rewards.tolist() == [[0, 1, 1, 1, 1, 1], [1, 0, 1, 1, 1, 1]]


def test_thompson_sampling_settles_on_the_better_arm(bandits):
    """p = (0.05, 0.95): the posterior concentrates within a few pulls; seeds 0-4 give >= 0.9."""
    probabilities = torch.tensor([[0.05, 0.95]]).expand(500, -1)
    rewards = bandits["thompson_sampling"](probabilities, 30, torch.Generator().manual_seed(0))
    assert float(rewards[:, 20:].mean()) > 0.85
    state = torch.random.get_rng_state()
    bandits["thompson_sampling"](probabilities, 3, torch.Generator().manual_seed(1))
    assert torch.equal(state, torch.random.get_rng_state())  # the global RNG is left alone


# --- SNAIL ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def snail() -> dict[str, Any]:
    return load("glossary_snail_model.py")


def test_snail_blocks_are_causal(snail):
    """Changing positions t..L-1 leaves every output at positions < t unchanged."""
    torch.manual_seed(0)
    blocks = [snail["CausalConvBlock"](6, 3, dilation=2), snail["CausalAttentionBlock"](6, 4, 5)]
    h = torch.randn(2, 7, 6, dtype=torch.float64)
    changed = h.clone()
    changed[:, 4:] = torch.randn(2, 3, 6, dtype=torch.float64)
    for block in blocks:
        block.double()
        torch.testing.assert_close(block(changed)[:, :4], block(h)[:, :4], rtol=0, atol=0)
        assert not torch.allclose(block(changed)[:, 4:], block(h)[:, 4:])
        torch.testing.assert_close(block(h)[..., :6], h, rtol=0, atol=0)  # dense: input kept
    weights = blocks[1].weights
    assert torch.equal(weights.triu(1), torch.zeros_like(weights))  # nothing read from later


def test_causal_conv_equals_explicit_taps(snail):
    torch.manual_seed(1)
    block = snail["CausalConvBlock"](3, 2, dilation=2).double()
    h = torch.randn(1, 5, 3, dtype=torch.float64)
    out = block(h)[0, :, 3:]  # (L, filters)
    for t in range(5):
        past = h[0, t - 2] if t >= 2 else torch.zeros(3, dtype=torch.float64)
        taps = [past, h[0, t]]  # kernel tap 0 reads t - d, tap 1 reads t
        f = block.filter.bias + sum(block.filter.weight[:, :, j] @ taps[j] for j in range(2))
        g = block.gate.bias + sum(block.gate.weight[:, :, j] @ taps[j] for j in range(2))
        torch.testing.assert_close(out[t], torch.tanh(f) * torch.sigmoid(g), rtol=1e-12, atol=1e-12)


def test_hand_set_attention_block_computes_the_read_rule(snail):
    g = torch.Generator().manual_seed(2)
    n_way, dim = 3, 4
    support_x = torch.randn(2, 6, dim, generator=g, dtype=torch.float64)
    support_y = torch.tensor([[0, 1, 2, 0, 1, 2], [2, 2, 1, 1, 0, 0]])
    query_x = torch.randn(2, 1, dim, generator=g, dtype=torch.float64)
    block = snail["CausalAttentionBlock"](dim + n_way, key_size=dim, value_size=n_way).double()
    snail["set_attention_to_read_rule"](block, dim, n_way, scale=0.7)
    labels = torch.nn.functional.one_hot(support_y, n_way).double()
    sequence = torch.cat(
        [torch.cat([support_x, labels], -1), torch.cat([query_x, torch.zeros(2, 1, n_way)], -1)], 1
    )
    read = block(sequence)[:, -1, dim + n_way :]  # (T, N): the attention read of the query
    expected = snail["attention_read_rule"](support_x, support_y, query_x, n_way, 0.7)[:, 0]
    torch.testing.assert_close(read, expected, rtol=1e-12, atol=1e-12)


def test_episode_sequences_layout(snail):
    g = torch.Generator().manual_seed(3)
    support_x = torch.randn(2, 4, 3, generator=g)
    support_y = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1]])
    query_x, query_y = torch.randn(2, 2, 3, generator=g), torch.tensor([[0, 1], [1, 0]])
    sequences, targets, order = snail["episode_sequences"](
        support_x, support_y, query_x, query_y, 2, torch.Generator().manual_seed(0)
    )
    assert sequences.shape == (4, 5, 5) and targets.tolist() == [0, 1, 1, 0]
    for row in range(4):
        episode, query = divmod(row, 2)
        torch.testing.assert_close(sequences[row, :4, :3], support_x[episode, order[episode]])
        labels = sequences[row, :4, 3:].argmax(-1)
        assert torch.equal(labels, support_y[episode, order[episode]])
        torch.testing.assert_close(sequences[row, 4, :3], query_x[episode, query])
        assert torch.equal(sequences[row, 4, 3:], torch.zeros(2))
    with pytest.raises(ValueError, match=r"support_x \(T, N\*K, D\)"):
        snail["episode_sequences"](support_x, support_y[:, :3], query_x, query_y, 2, g)


# --- Memory-augmented networks -------------------------------------------------------------------


@pytest.fixture(scope="module")
def mann() -> dict[str, Any]:
    return load("glossary_memory-augmented-networks_memory.py")


def test_content_read_equals_explicit_softmax_over_cosines(mann):
    g = torch.Generator().manual_seed(0)
    memory = mann["Memory"](
        torch.randn(2, 4, 3, generator=g), torch.rand(2, 4, 5, generator=g),
        torch.zeros(2, 4), torch.zeros(2, 4),
    )  # fmt: skip
    key = torch.randn(2, 3, generator=g)
    weights, read = mann["content_read"](memory, key, 3.0)
    for e in range(2):
        cos = torch.stack(
            [torch.dot(key[e], k) / (key[e].norm() * k.norm()) for k in memory.keys[e]]
        )
        w = torch.softmax(3.0 * cos, 0)
        torch.testing.assert_close(weights[e], w)
        torch.testing.assert_close(read[e], (w[:, None] * memory.values[e]).sum(0))


def test_lrua_write_at_both_gate_extremes(mann):
    keys = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])
    values = torch.eye(3).unsqueeze(0)
    usage = torch.tensor([[0.5, 0.1, 0.9]])  # slot 1 is the least used
    last_read = torch.tensor([[0.0, 0.0, 1.0]])  # the previous step read slot 2
    memory = mann["Memory"](keys, values, usage, last_read)
    key, value, read = (
        torch.tensor([[3.0, 4.0]]),
        torch.tensor([[0.0, 0.0, 1.0]]),
        torch.tensor([[0.2, 0.3, 0.5]]),
    )
    fresh = mann["lrua_write"](memory, key, value, read, gate=0.0, decay=0.9)
    assert torch.equal(fresh.keys[0, 1], key[0]) and torch.equal(fresh.values[0, 1], value[0])
    assert torch.equal(fresh.keys[0, [0, 2]], keys[0, [0, 2]])  # other slots untouched
    torch.testing.assert_close(fresh.usage, 0.9 * usage + read + torch.tensor([[0.0, 1.0, 0.0]]))
    assert torch.equal(fresh.last_read, read)
    merged = mann["lrua_write"](memory, key, value, read, gate=1.0, decay=0.9)
    torch.testing.assert_close(merged.keys[0, 2], keys[0, 2] + key[0])  # added to the read slot
    assert torch.equal(merged.keys[0, 1], torch.zeros(2))  # the least-used slot is still cleared
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        mann["lrua_write"](memory, key, value, read, gate=1.5, decay=0.9)


def test_instance_index_counts_earlier_presentations(mann):
    y = torch.tensor([[2, 0, 2, 2, 1, 0]])
    assert mann["instance_index"](y, 3).tolist() == [[0, 0, 1, 2, 0, 1]]


def test_binding_is_perfect_after_one_example_without_noise_or_eviction(mann):
    x, y = mann["binding_episodes"](4, 5, 12, 0.0, 50, torch.Generator().manual_seed(1))
    correct = mann["run_binding"](x, y, 4, 20, 5.0, 0.0, 0.95)
    first = mann["instance_index"](y, 4) == 0
    assert not bool(correct[first].any())
    assert bool(correct[~first].all())
    ring = mann["run_binding_fifo"](x, y, 4, 20, 5.0)
    assert torch.equal(ring, correct)  # nothing evicted: the write rule does not matter


# --- Hypernetworks and LEO -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def hyper() -> dict[str, Any]:
    return load("glossary_hypernetworks_heads.py")


def test_class_means_equal_explicit_averages(hyper):
    support, labels, _ = episode_batch(2, 3, 4, 1, 5)
    means = hyper["class_means"](support, labels, 3)
    for t in range(2):
        for n in range(3):
            torch.testing.assert_close(means[t, n], support[t][labels[t] == n].mean(0))


def test_hypernetwork_at_its_prototype_weights_is_the_prototype_rule(hyper):
    """A = 2I, v = -1: logits = 2 c.x - |c|^2 = -|x - c|^2 + |x|^2 (the same for every class)."""
    support, labels, query = episode_batch(2, 3, 4, 6, 5)
    generator = hyper["HeadGenerator"](5).double()
    with torch.no_grad():
        generator.weight_map.weight.copy_(2 * torch.eye(5, dtype=torch.float64))
        generator.weight_map.bias.zero_()
        generator.bias_map.weight.zero_()
        generator.bias_map.weight[0, -1] = -1.0
        generator.bias_map.bias.zero_()
    generated = generator(support, labels, query, 3)
    prototypes = hyper["prototype_logits"](support, labels, query, 3)
    shift = query.pow(2).sum(-1, keepdim=True)  # (T, M, 1)
    torch.testing.assert_close(generated, prototypes + shift, rtol=1e-10, atol=1e-10)


def test_latent_step_equals_the_chain_rule_through_the_decoder(hyper):
    """One latent step: z - lr * dL/dW @ G with dL/dW = (softmax - onehot)^T X / (N K)."""
    torch.manual_seed(0)
    model = hyper["LatentHeads"](5, 2, inner_steps=1, inner_lr=0.7).double()
    support, labels, _ = episode_batch(2, 3, 2, 1, 5)
    z0 = model.adapt(support, labels, 3, 0, 0.7, create_graph=False)
    z1 = model.adapt(support, labels, 3, 1, 0.7, create_graph=False)
    weights = model.decoder(z0).detach()  # (T, N, D)
    probs = torch.softmax(support @ weights.transpose(1, 2), -1)  # (T, N*K, N)
    residual = probs - torch.nn.functional.one_hot(labels, 3).double()
    grad_w = residual.transpose(1, 2) @ support / labels.shape[1]  # (T, N, D)
    expected = z0.detach() - 0.7 * grad_w @ model.decoder.weight  # decoder weight (D, R)
    torch.testing.assert_close(z1.detach(), expected, rtol=1e-10, atol=1e-12)
    same = hyper["adapt_weights"](weights, support, labels, 0, 0.7)
    assert torch.equal(same, weights)


def test_nuisance_classes_differ_only_in_the_signal_subspace(hyper):
    data = hyper["nuisance_classes"](60, 400, 12, 3, torch.Generator().manual_seed(1))
    assert data.shape == (60, 400, 12)
    means = data.mean(1)
    spread = torch.linalg.svdvals(means - means.mean(0))  # between-class directions
    assert float((spread[:3] ** 2).sum() / (spread**2).sum()) > 0.9


# --- Meta-Dataset ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def meta_dataset() -> dict[str, Any]:
    return load("glossary_meta-dataset_sampler.py")


@pytest.mark.parametrize("n_classes", [5, 7, 50, 300])
def test_meta_dataset_episodes_obey_the_rules(meta_dataset, n_classes: int):
    rules = meta_dataset["EpisodeRules"]()
    g = torch.Generator().manual_seed(n_classes)
    sizes = torch.randint(2, 700, (n_classes,), generator=g)
    seen_ways = set()
    for _ in range(300):
        episode = meta_dataset["sample_episode"](sizes, rules, g)
        ways = episode.classes.numel()
        seen_ways.add(ways)
        assert rules.min_ways <= ways <= min(rules.max_ways, n_classes)
        assert episode.classes.unique().numel() == ways  # no class twice
        chosen = sizes[episode.classes]
        assert episode.queries == min(rules.max_query, int((chosen // 2).min()))
        assert bool((episode.shots >= 1).all())
        assert bool((episode.shots + episode.queries <= chosen).all())
        assert int(episode.shots.sum()) <= rules.max_support_size
    assert seen_ways == set(range(rules.min_ways, min(rules.max_ways, n_classes) + 1))


def test_meta_dataset_support_size_follows_the_beta_rule(meta_dataset):
    """Equal class sizes and weights: shots are floor((S - N)/N) + 1 with S the drawn size."""
    rules = meta_dataset["EpisodeRules"](min_log_weight=0.0, max_log_weight=0.0)
    sizes = torch.full((20,), 60, dtype=torch.long)
    episode = meta_dataset["sample_episode"](sizes, rules, torch.Generator().manual_seed(3))
    ways = episode.classes.numel()
    assert episode.queries == 10
    # Every class contributes floor(beta * 50 + 1) to S, so S = ways * that, and each class gets
    # floor(S/ways - 1) + 1 = S/ways shots: the support is balanced and a multiple of the ways.
    assert episode.shots.unique().numel() == 1
    assert int(episode.shots.sum()) % ways == 0


def test_meta_dataset_sampler_rejects_small_splits(meta_dataset):
    rules = meta_dataset["EpisodeRules"]()
    with pytest.raises(ValueError, match="at least 5 classes"):
        meta_dataset["sample_episode"](torch.full((4,), 10), rules, torch.Generator())
    with pytest.raises(ValueError, match="at least 2 images"):
        meta_dataset["sample_episode"](torch.tensor([1, 9, 9, 9, 9]), rules, torch.Generator())


# --- miniImageNet protocol -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def protocol() -> dict[str, Any]:
    return load("glossary_miniimagenet_protocol.py")


def test_implied_std_inverts_the_half_width(protocol):
    std = protocol["implied_episode_std"](0.0184, 600)
    assert abs(protocol["half_width"](std, 600) - 0.0184) < 1e-15
    assert abs(std - 0.0184 * 600**0.5 / 1.96) < 1e-15
    with pytest.raises(ValueError, match="episodes >= 1"):
        protocol["implied_episode_std"](0.01, 0)


def test_query_std_is_the_binomial_share_std(protocol):
    assert protocol["query_std"](0.5, 25) == pytest.approx(0.1, rel=1e-12)
    assert protocol["episode_std"](0.5, 0.0, 25) == pytest.approx(0.1, rel=1e-12)
    assert protocol["episode_std"](0.5, 0.3, 25) == pytest.approx((0.09 + 0.01) ** 0.5, rel=1e-12)
    with pytest.raises(ValueError, match="accuracy in"):
        protocol["query_std"](1.5, 5)


def test_flip_probability_is_half_at_no_gap_and_matches_the_normal_tail(protocol):
    assert protocol["flip_probability"](0.0, 0.2, 0.2, 600) == pytest.approx(0.5)
    # gap of one standard deviation of the difference: Phi(-1)
    scale = ((0.2**2 + 0.1**2) / 600) ** 0.5
    assert protocol["flip_probability"](scale, 0.2, 0.1, 600) == pytest.approx(0.158655, abs=1e-6)


def test_simulated_flips_match_the_closed_form(protocol):
    """No task spread, 20 queries: the flip share of 4000 simulated evaluations within 3 sd."""
    std = protocol["query_std"](0.6, 20)
    expected = protocol["flip_probability"](0.01, std, std, 100)
    got = protocol["simulate_flips"](
        0.01, 0.6, 0.0, 20, 100, False, 4000, torch.Generator().manual_seed(0)
    )
    assert abs(got - expected) < 3 * (expected * (1 - expected) / 4000) ** 0.5 + 0.005


def test_recorded_splits_partition_their_classes(protocol):
    mini = [s for s in protocol["SPLITS"] if s.benchmark == "miniImageNet"]
    assert all(s.train + s.val + s.test == 100 and s.images_per_class == 600 for s in mini)
    tiered = [s for s in protocol["SPLITS"] if s.benchmark == "tieredImageNet"]
    assert (
        tiered[0].train + tiered[0].val + tiered[0].test,
        sum((tiered[1].train, tiered[1].val, tiered[1].test)),
    ) == (608, 34)
