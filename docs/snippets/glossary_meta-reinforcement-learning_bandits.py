r"""RL$^2$ on two-armed Bernoulli bandits, with Thompson sampling and greedy play as references.

Duan et al. (2016), "RL$^2$: Fast Reinforcement Learning via Slow Reinforcement Learning",
arXiv:1611.02779: a recurrent policy receives its previous action and reward at every step and
is trained by ordinary (slow) reinforcement learning across many tasks to maximise the total
reward of a whole task; its hidden state then carries out a (fast) learning algorithm inside each
task. Here a task is a bandit with arm success probabilities $p \sim U(0, 1)^2$, an episode is
$H$ pulls of the same bandit, the hidden state is reset between bandits, and the slow learner is
REINFORCE with reward-to-go and a per-step baseline (the paper uses TRPO; any policy-gradient
method fits the recipe).

Shapes: `T` bandits (tasks) in a batch, `A` arms, `H` pulls per episode, `S` hidden units.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def sample_bandits(n_bandits: int, arms: int, generator: torch.Generator) -> Tensor:
    """Success probability of every arm, uniform on [0, 1]: shape `(T, A)`."""
    return torch.rand(n_bandits, arms, generator=generator)


def pull(probabilities: Tensor, action: Tensor, uniform: Tensor) -> Tensor:
    """Bernoulli rewards of the chosen arms, given one uniform number per bandit.

    Args:
        probabilities: Arm success probabilities, shape `(T, A)`.
        action: Chosen arm per bandit, shape `(T,)`, integers in `0..A-1`.
        uniform: Uniform numbers on [0, 1), shape `(T,)`.

    Returns:
        Rewards in {0, 1}, shape `(T,)`, dtype of `probabilities`.
    """
    chosen = probabilities.gather(1, action.unsqueeze(1)).squeeze(1)  # (T,)
    return (uniform < chosen).to(probabilities.dtype)


# --8<-- [start:policy]
class RecurrentPolicy(nn.Module):
    r"""A GRU over (previous action, previous reward), with a softmax head over the arms.

    Args:
        arms: Number of arms `A`.
        hidden: Size `S` of the hidden state, the policy's memory within one bandit.
    """

    def __init__(self, arms: int = 2, hidden: int = 16) -> None:
        super().__init__()
        self.arms = arms
        self.cell = nn.GRUCell(arms + 1, hidden)
        self.head = nn.Linear(hidden, arms)


def rollout(
    policy: RecurrentPolicy, probabilities: Tensor, horizon: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Play `horizon` pulls of every bandit with a fresh hidden state per bandit.

    The input at step `t` is the one-hot action and the reward of step `t - 1` (zeros at the
    first step). Actions are sampled with the Gumbel-max trick from noise drawn up front, so the
    whole episode's randomness comes from `generator`.

    Args:
        policy: The recurrent policy.
        probabilities: Arm success probabilities, shape `(T, A)`.
        horizon: Pulls per episode `H`.
        generator: Source of the action and reward noise.

    Returns:
        `(log_probs, rewards)`, each of shape `(T, H)`: the log-probability of each chosen action
        (differentiable in the policy's weights) and the reward it earned.

    Raises:
        ValueError: If `probabilities` is not `(T, A)` with the policy's `A`.
    """
    n_bandits, arms = probabilities.shape
    if probabilities.dim() != 2 or arms != policy.arms:
        raise ValueError(
            f"probabilities must be (T, {policy.arms}), got {tuple(probabilities.shape)}"
        )
    gumbel = -torch.log(-torch.log(torch.rand(horizon, n_bandits, arms, generator=generator)))
    uniform = torch.rand(horizon, n_bandits, generator=generator)  # (H, T): reward noise
    hidden = probabilities.new_zeros(n_bandits, policy.cell.hidden_size)  # (T, S)
    inputs = probabilities.new_zeros(n_bandits, arms + 1)  # (T, A + 1): nothing seen yet
    log_probs, rewards = [], []
    for t in range(horizon):
        hidden = policy.cell(inputs, hidden)
        log_pi = torch.log_softmax(policy.head(hidden), -1)  # (T, A)
        action = (log_pi.detach() + gumbel[t]).argmax(-1)  # (T,): a sample from pi
        log_probs.append(log_pi.gather(1, action.unsqueeze(1)).squeeze(1))
        reward = pull(probabilities, action, uniform[t])
        rewards.append(reward)
        one_hot = nn.functional.one_hot(action, arms).to(probabilities.dtype)  # (T, A)
        inputs = torch.cat([one_hot, reward.unsqueeze(1)], 1)
    return torch.stack(log_probs, 1), torch.stack(rewards, 1)


def reinforce_loss(log_probs: Tensor, rewards: Tensor) -> Tensor:
    r"""Policy-gradient surrogate with reward-to-go and a per-step batch-mean baseline.

    $$\mathcal{L} = -\frac{1}{TH}\sum_{i,t} \log\pi(a_{i,t} \mid h_{i,t})\,
    \big(G_{i,t} - \bar G_{t}\big), \qquad G_{i,t} = \sum_{s \ge t} r_{i,s},$$

    whose gradient is an estimate of $-\nabla_\theta \mathbb{E}[\sum_t r_t] / H$ (the baseline
    $\bar G_t$, the batch mean at step $t$, reduces variance).

    Args:
        log_probs: Log-probabilities of the taken actions, shape `(T, H)`.
        rewards: Rewards, shape `(T, H)`.

    Returns:
        Scalar loss.
    """
    to_go = rewards.flip(1).cumsum(1).flip(1)  # (T, H): G_t
    advantage = to_go - to_go.mean(0, keepdim=True)
    return -(log_probs * advantage.detach()).mean()


def train_rl2(
    policy: RecurrentPolicy,
    steps: int,
    batch: int,
    horizon: int,
    lr: float,
    generator: torch.Generator,
) -> list[float]:
    """Slow reinforcement learning across bandits: one Adam step per batch of fresh bandits.

    Returns:
        The mean reward per pull of every training batch.
    """
    optimiser = torch.optim.Adam(policy.parameters(), lr=lr)
    history = []
    for _ in range(steps):
        probabilities = sample_bandits(batch, policy.arms, generator)
        log_probs, rewards = rollout(policy, probabilities, horizon, generator)
        loss = reinforce_loss(log_probs, rewards)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        history.append(rewards.mean().item())
    return history


# --8<-- [end:policy]
# --8<-- [start:references]
def thompson_sampling(probabilities: Tensor, horizon: int, generator: torch.Generator) -> Tensor:
    r"""Thompson sampling with a uniform Beta(1, 1) prior on every arm.

    Each pull draws $\tilde p_a \sim \mathrm{Beta}(1 + s_a, 1 + f_a)$ from every arm's posterior
    ($s_a$, $f_a$ its successes and failures so far) and pulls the arm with the largest draw.
    `torch.distributions.Beta` samples from the global RNG, so the draws run inside a fork of it
    seeded from `generator`: the result depends on `generator` only, and the caller's global RNG
    state is left as it was.

    Returns:
        Rewards, shape `(T, H)`.
    """
    n_bandits, arms = probabilities.shape
    successes = probabilities.new_zeros(n_bandits, arms)
    failures = probabilities.new_zeros(n_bandits, arms)
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    uniform = torch.rand(horizon, n_bandits, generator=generator)
    rows, rewards = torch.arange(n_bandits), []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for t in range(horizon):
            draw = torch.distributions.Beta(1 + successes, 1 + failures).sample()  # (T, A)
            action = draw.argmax(-1)
            reward = pull(probabilities, action, uniform[t])
            successes[rows, action] += reward
            failures[rows, action] += 1 - reward
            rewards.append(reward)
    return torch.stack(rewards, 1)


def greedy_after_trying_each(
    probabilities: Tensor, horizon: int, generator: torch.Generator
) -> Tensor:
    """Pull every arm once, then always the arm with the best mean reward so far (ties: lowest).

    Returns:
        Rewards, shape `(T, H)`.
    """
    n_bandits, arms = probabilities.shape
    totals = probabilities.new_zeros(n_bandits, arms)
    counts = probabilities.new_zeros(n_bandits, arms)
    uniform = torch.rand(horizon, n_bandits, generator=generator)
    rows, rewards = torch.arange(n_bandits), []
    for t in range(horizon):
        if t < arms:
            action = torch.full((n_bandits,), t, dtype=torch.long)
        else:
            action = (totals / counts).argmax(-1)
        reward = pull(probabilities, action, uniform[t])
        totals[rows, action] += reward
        counts[rows, action] += 1
        rewards.append(reward)
    return torch.stack(rewards, 1)


# --8<-- [end:references]
