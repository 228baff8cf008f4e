# How many different tasks episodic training actually sees: the class sets of 5-way episodes
# drawn by the project's sampler (reference_impl.episodes.sample_indices) from a pool of 20
# classes and from the MAML split's training classes (characters x 4 rotations).
import math

import claims
import figures
import matplotlib.ticker
import torch

from reference_impl.episodes import sample_indices
from reference_impl.omniglot import get_split

N_WAY, EPISODES, CHUNK = 5, 10_000, 1_000
CHECKPOINTS = (10, 100, 1_000, 3_000, 10_000)
pools = {"20 classes": 20, "MAML split, 4 rotations": 4 * len(get_split("maml").train)}
generator = torch.Generator().manual_seed(0)
distinct = {}  # pool -> distinct class sets seen after each checkpoint
for name, num_classes in pools.items():
    seen, counts = set(), []
    for start in range(0, EPISODES, CHUNK):
        classes, _ = sample_indices(num_classes, 2, N_WAY, 1, 1, CHUNK, generator)  # (T, N)
        for done, episode in enumerate(classes.sort(dim=1).values.tolist(), start + 1):
            seen.add(tuple(episode))
            if done in CHECKPOINTS:
                counts.append(len(seen))
    distinct[name] = counts

small, large = pools
possible = {name: math.comb(n, N_WAY) for name, n in pools.items()}
expected = possible[small] * (1 - math.exp(-EPISODES / possible[small]))  # coupon collector
repeated = 1 - distinct[small][-1] / EPISODES
claims.check(distinct[large][-1] == EPISODES, "from the large pool no class set repeats")
claims.check(repeated > 0.2, "from 20 classes a sizeable share of episodes repeats a class set")
claims.check(
    abs(distinct[small][-1] - expected) < 0.02 * expected,
    "the small pool's count matches the coupon-collector expectation",
)


def repeat_share(name):
    return [1 - d / e for d, e in zip(distinct[name], CHECKPOINTS, strict=True)]


fig = figures.line(
    [figures.Series(f"pool of {name}", CHECKPOINTS, repeat_share(name)) for name in pools],
    x_label="episodes drawn (log scale)",
    y_label="share of episodes repeating a class set",
    x_scale="log",
)
fig.axes[0].yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
rows = [[e, *(distinct[name][i] for name in pools)] for i, e in enumerate(CHECKPOINTS)]
header = ["episodes", *(f"distinct class sets, pool of {name}" for name in pools)]
print(
    figures.render(
        fig,
        alt="Share of 5-way episodes whose class set was already drawn, against the number of "
        "episodes, for a pool of 20 classes and for the MAML split's training classes: it stays at "
        "zero for the large pool and climbs steadily for the 20-class pool.",
        caption=f"{EPISODES:,} episodes from each pool. The MAML split's {pools[large]:,} classes "
        f"allow {possible[large]:.1e} class sets, and none repeated; the 20 classes allow "
        f"{possible[small]:,}, and "
        f"{repeated:.0%} of the episodes repeat a class set already drawn (the coupon-collector "
        f"formula expects {1 - expected / EPISODES:.0%}).",
        numbers=figures.table(header, rows),
    )
)
