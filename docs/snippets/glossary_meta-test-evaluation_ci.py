"""Meta-test confidence intervals: how they shrink with episodes, and what they do not measure.

A synthetic world of 200 held-out classes (20 examples each) and five "trained models" that differ
only in their training seed: each is a nearest-prototype classifier on a random ReLU feature map
drawn from that seed, so the seeds give genuinely different models. Episodes come from
`reference_impl.episodes.sample_batch` (5-way 1-shot, 15 queries per class), the interval from
`reference_impl.evaluation`, the paired comparison from `reference_impl.signals`.
"""

import torch

from reference_impl.episodes import Episode, sample_batch
from reference_impl.evaluation import confidence_interval95, evaluate_predictor
from reference_impl.signals import paired_difference

SEEDS = 5
world = torch.Generator().manual_seed(0)
mixing = torch.randn(32, 8, generator=world) / 8**0.5
latent = torch.randn(200, 1, 8, generator=world) + 0.9 * torch.randn(200, 20, 8, generator=world)
data = torch.tanh(latent @ mixing.T) + 0.2 * torch.randn(200, 20, 32, generator=world)
episodes = sample_batch(data, 5, 1, 15, 2400, torch.Generator().manual_seed(1))  # T = 2400


def features(seed: int) -> torch.Tensor:
    """The random feature map that stands in for a model trained with `seed`."""
    return torch.randn(32, 32, generator=torch.Generator().manual_seed(100 + seed))


def predict(seed: int):
    """One model as the shared `predict(support_x, support_y, query_x) -> logits` (one episode)."""

    def logits(support_x, support_y, query_x):
        z_support, z_query = (
            torch.relu(support_x @ features(seed)),
            torch.relu(query_x @ features(seed)),
        )
        prototypes = torch.stack([z_support[support_y == k].mean(0) for k in range(5)])
        return -torch.cdist(z_query, prototypes)

    return logits


def per_episode_accuracy(seed: int) -> list[float]:
    """The same predictor, vectorised over all 2400 episodes at once."""
    z_support = torch.relu(episodes.support_x @ features(seed))  # (T, 5, 32); K = 1, class-major
    z_query = torch.relu(episodes.query_x @ features(seed))  # (T, 75, 32)
    # Nearest prototype: |q - s|^2 = |q|^2 - 2 q.s + |s|^2, and |q|^2 does not change the argmin.
    sq_dist = (z_support**2).sum(-1)[:, None] - 2 * z_query @ z_support.mT  # (T, 75, 5)
    hits = sq_dist.argmin(-1) == episodes.query_y  # (T, 75)
    return hits.double().mean(1).tolist()


accs = [per_episode_accuracy(s) for s in range(SEEDS)]  # 5 x 2400 scores
check = evaluate_predictor(predict(0), [Episode(*(t[:100] for t in episodes))])  # T = 100
print(
    f"evaluate_predictor on episodes 1-100 (seed 0): {100 * check.accuracy:.2f}%;"
    f" vectorised: {100 * sum(accs[0][:100]) / 100:.2f}%"
)

print("\nfirst E of 2400 fixed episodes; CI95 = 1.96 std / sqrt(E)")
print("episodes  seed 0: accuracy ± CI95   CI95·sqrt(E)   std over 5 seed means")
for e in (25, 100, 600, 2400):
    mean, ci = sum(accs[0][:e]) / e, confidence_interval95(accs[0][:e])
    seed_std = torch.tensor([sum(a[:e]) / e for a in accs]).std()
    print(
        f"{e:8d} {100 * mean:15.2f}% ± {100 * ci:4.2f} {ci * e**0.5:14.3f} {100 * seed_std:22.2f}"
    )

means = [sum(a) / len(a) for a in accs]
ci0 = confidence_interval95(accs[0])
inside = sum(abs(m - means[0]) <= ci0 for m in means[1:])
print(f"\nat 2400 episodes, seed means: {', '.join(f'{100 * m:.2f}' for m in means)}")
print(f"seeds 1-4 whose mean lies inside seed 0's CI95: {inside} of 4")

best, worst = max(range(SEEDS), key=means.__getitem__), min(range(SEEDS), key=means.__getitem__)
paired = paired_difference(accs[best][:600], accs[worst][:600])
unpaired = (
    confidence_interval95(accs[best][:600]) ** 2 + confidence_interval95(accs[worst][:600]) ** 2
) ** 0.5
print(
    f"\nseed {best} - seed {worst} on the same 600 episodes: {100 * paired.mean:+.2f} points,"
    f" paired CI95 ±{100 * paired.ci95:.2f}, unpaired ±{100 * unpaired:.2f}"
)
