"""Meta-test confidence intervals: how they shrink with episodes, and what they do not measure.

A synthetic world of 200 held-out classes (20 examples each) and five "trained models" that differ
only in their training seed: each is a nearest-prototype classifier on a random ReLU feature map
drawn from that seed, so the seeds give genuinely different models. Every model is scored on the
same fixed 5-way 1-shot episodes (15 queries per class); statistics come from
`reference_impl.signals` (`mean_ci95`, `paired_difference`).
"""

import torch

from reference_impl.signals import mean_ci95, paired_difference

N_WAY, K_SHOT, N_QUERY, SEEDS = 5, 1, 15, 5
world = torch.Generator().manual_seed(0)
mixing = torch.randn(32, 8, generator=world) / 8**0.5
means = torch.randn(200, 1, 8, generator=world)  # (classes, 1, latent)
latent = means + 0.9 * torch.randn(200, 20, 8, generator=world)  # (classes, 20, latent)
data = torch.tanh(latent @ mixing.T) + 0.2 * torch.randn(200, 20, 32, generator=world)


def fixed_episodes(num_episodes: int, seed: int) -> torch.Tensor:
    """Inputs of `num_episodes` episodes, shape (E, N, K+Q, 32); labels are the class index."""
    g = torch.Generator().manual_seed(seed)
    classes = torch.rand(num_episodes, 200, generator=g).argsort(1)[:, :N_WAY]  # (E, N)
    picks = torch.rand(num_episodes, N_WAY, 20, generator=g).argsort(2)[..., : K_SHOT + N_QUERY]
    return data[classes[..., None], picks]  # (E, N, K+Q, 32)


def episode_accuracy(model_seed: int, episodes: torch.Tensor) -> list[float]:
    """Query accuracy per episode of the nearest-prototype model trained with `model_seed`."""
    features = torch.randn(32, 64, generator=torch.Generator().manual_seed(100 + model_seed))
    z = torch.relu(episodes @ features)  # (E, N, K+Q, 64)
    prototypes = z[:, :, :K_SHOT].mean(2)  # (E, N, 64)
    queries = z[:, :, K_SHOT:].flatten(1, 2)  # (E, N*Q, 64)
    predicted = torch.cdist(queries, prototypes).argmin(-1)  # (E, N*Q)
    truth = torch.arange(N_WAY).repeat_interleave(N_QUERY)
    return (predicted == truth).double().mean(1).tolist()


all_episodes = fixed_episodes(2400, seed=1)
accs = [episode_accuracy(s, all_episodes) for s in range(SEEDS)]  # 5 x 2400 scores

print("first E of a fixed list of 2400 episodes; CI95 = 1.96 std / sqrt(E)")
print("episodes  seed 0: accuracy ± CI95   CI95·sqrt(E)   std over 5 seed means")
for e in (25, 100, 600, 2400):
    mean, ci = mean_ci95(accs[0][:e])
    seed_std = torch.tensor([sum(a[:e]) / e for a in accs]).std()
    print(
        f"{e:8d} {100 * mean:15.2f}% ± {100 * ci:4.2f} {ci * e**0.5:14.3f} {100 * seed_std:22.2f}"
    )

stats = [mean_ci95(a) for a in accs]
inside = sum(abs(m - stats[0][0]) <= stats[0][1] for m, _ in stats[1:])
print(f"\nat 2400 episodes, seed means: {', '.join(f'{100 * m:.2f}' for m, _ in stats)}")
print(f"seeds 1-4 whose mean lies inside seed 0's CI95: {inside} of 4")

best = max(range(SEEDS), key=lambda s: stats[s][0])
worst = min(range(SEEDS), key=lambda s: stats[s][0])
paired = paired_difference(accs[best][:600], accs[worst][:600])
unpaired = (mean_ci95(accs[best][:600])[1] ** 2 + mean_ci95(accs[worst][:600])[1] ** 2) ** 0.5
print(
    f"\nseed {best} - seed {worst} on the same 600 episodes: {100 * paired.mean:+.2f} points,"
    f" paired CI95 ±{100 * paired.ci95:.2f}, unpaired ±{100 * unpaired:.2f}"
)
