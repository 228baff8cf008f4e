"""Meta-test confidence intervals: how they shrink with episodes, and what they do not measure.

A synthetic world of 200 held-out classes (20 examples each) and five "trained models" that differ
only in their training seed: each is a nearest-prototype classifier on a random ReLU feature map
drawn from that seed, so the seeds give genuinely different models. Episodes come from
`reference_impl.episodes.sample_batch` (5-way 1-shot, 15 queries per class), the interval from
`reference_impl.evaluation`, the paired comparison from `reference_impl.signals`.
"""

import claims
import figures
import matplotlib.ticker
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
claims.check(
    abs(check.accuracy - sum(accs[0][:100]) / 100) < 1e-9,
    "the vectorised scoring agrees with evaluate_predictor",
)

COUNTS = (25, 50, 100, 200, 400, 600, 1200, 2400)
half_width, seed_spread = [], []  # per first-E prefix: seed 0's CI95, std of the 5 seed means
for e in COUNTS:
    half_width.append(confidence_interval95(accs[0][:e]))
    seed_spread.append(torch.tensor([sum(a[:e]) / e for a in accs]).std().item())
means = [sum(a) / len(a) for a in accs]
inside = sum(abs(m - means[0]) <= half_width[-1] for m in means[1:])

# Two models that really differ: picked on the first half of the episodes, tested on the second.
half = len(accs[0]) // 2
first = [sum(a[:half]) / half for a in accs]
best, worst = first.index(max(first)), first.index(min(first))
held_out = claims.greater(accs[best][half:], accs[worst][half:], "the seeds differ genuinely")
paired = paired_difference(accs[best][:600], accs[worst][:600])
unpaired = (
    confidence_interval95(accs[best][:600]) ** 2 + confidence_interval95(accs[worst][:600]) ** 2
) ** 0.5

# The page's sentences:
quarter = half_width[COUNTS.index(2400)] / half_width[COUNTS.index(600)]
claims.check(0.4 < quarter < 0.6, "four times the episodes halve the interval", f"{quarter:.2f}")
claims.check(
    half_width[-1] < seed_spread[-1], "at 2400 episodes one run's CI is below the seed spread"
)
claims.check(inside < (SEEDS - 1) / 2, "most other seeds' means fall outside seed 0's CI")
claims.check(
    seed_spread[-1] > 0.5 * seed_spread[COUNTS.index(600)],
    "the seed spread does not halve from 600 to 2400 episodes, as pure episode noise would",
)
claims.check(paired.ci95 < 0.7 * unpaired, "the paired interval is much narrower than the unpaired")

fig = figures.line(
    [
        figures.Series("CI95 half-width of one run (seed 0)", COUNTS, half_width),
        figures.Series("std of the five seeds' means", COUNTS, seed_spread),
    ],
    x_label="test episodes E (log scale)",
    y_label="spread of the accuracy",
    x_scale="log",
    y_scale="log",
)
fig.axes[0].set_yticks([0.005, 0.01, 0.02, 0.04], ["0.5%", "1%", "2%", "4%"])
fig.axes[0].yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
rows = [
    [e, f"{sum(accs[0][:e]) / e:.2%} ± {ci:.2%}", f"{ci * e**0.5:.3f}", f"{spread:.2%}"]
    for e, ci, spread in zip(COUNTS, half_width, seed_spread, strict=True)
]
print(
    figures.render(
        fig,
        alt="Two lines against the number of test episodes on log-log axes: the confidence "
        "interval of one run falls steadily, like one over the square root of the episodes; the "
        "spread between training seeds falls at first and then levels off, so the two cross.",
        caption=f"{SEEDS} models that differ only in their training seed, scored on the first E of "
        f"{len(accs[0])} fixed 5-way 1-shot episodes. At {COUNTS[-1]} episodes {inside} of the "
        f"other {SEEDS - 1} seeds' means lie inside seed 0's interval. In the numbers, CI95·√E stays "
        "near 1.96 times the per-episode standard deviation.",
        numbers=figures.table(["E", "seed 0: accuracy ± CI95", "CI95·√E", "seed spread"], rows),
    )
)
