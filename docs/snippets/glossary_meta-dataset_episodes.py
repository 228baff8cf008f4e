# ruff: noqa: F821  (EpisodeRules and sample_episode come from glossary_meta-dataset_sampler.py,
# included in the same executed block just before this file)
# What Meta-Dataset's episodes look like: the ways each test split allows (exact, from the
# recorded class counts), and the shots the sampler draws under two assumed class-size profiles.
import math

import claims
import figures
import torch

# Class counts (train/valid/test) of the ten datasets, as listed in the README of
# google-research/meta-dataset @ 1676095 ("Dataset summary").
DATASETS = {
    "ILSVRC": (712, 158, 130), "Omniglot": (883, 81, 659), "Aircraft": (70, 15, 15),
    "Birds": (140, 30, 30), "Textures": (33, 7, 7), "Quick Draw": (241, 52, 52),
    "Fungi": (994, 200, 200), "VGG Flower": (71, 15, 16), "Traffic Signs": (0, 0, 43),
    "MSCOCO": (0, 40, 40),
}  # fmt: skip
RULES, EPISODES, SPLIT_CLASSES = EpisodeRules(), 1000, 50
# Two assumed class-size profiles for a 50-class split (the sampler needs images per class; these
# are illustrations, not any dataset's real counts): equal sizes, and sizes spread log-uniformly.
size_generator = torch.Generator().manual_seed(0)
profiles = {
    "every class 100 images": torch.full((SPLIT_CLASSES,), 100, dtype=torch.long),
    "class sizes 20 to 1000 (log-uniform)": torch.exp(
        torch.empty(SPLIT_CLASSES, dtype=torch.float64).uniform_(
            math.log(20), math.log(1000), generator=size_generator
        )
    ).long(),
}

upper = {name: min(RULES.max_ways, test) for name, (_, _, test) in DATASETS.items()}
mean_ways = {name: (RULES.min_ways + u) / 2 for name, u in upper.items()}  # uniform on [5, u]
five_way = {name: 1 / (u - RULES.min_ways + 1) for name, u in upper.items()}

stats = {}  # profile -> per-episode (ways, support size, max/min shots, share of 1-shot classes)
shots_seen = {}  # profile -> every class's shots, pooled over episodes
generator = torch.Generator().manual_seed(1)
for profile, sizes in profiles.items():
    rows, pooled = [], []
    for _ in range(EPISODES):
        episode = sample_episode(sizes, RULES, generator)
        shots = episode.shots.double()
        rows.append((episode.classes.numel(), float(shots.sum()),
                     float(shots.max() / shots.min()), float((shots == 1).double().mean())))  # fmt: skip
        pooled.append(shots)
    stats[profile] = rows
    shots_seen[profile] = torch.cat(pooled)


def column(profile: str, i: int) -> list[float]:
    return [row[i] for row in stats[profile]]


# The page's sentences, checked against this output:
claims.check(sum(1 for u in upper.values() if u < RULES.max_ways) >= 1,
             "some test splits have fewer than 50 classes, which caps their ways")  # fmt: skip
claims.check(max(five_way.values()) < 0.5, "5-way episodes are a minority on every test split")
equal, spread = profiles
for profile in profiles:
    ways = claims.mean_ci(column(profile, 0))
    claims.overlaps(ways, (RULES.min_ways + min(RULES.max_ways, SPLIT_CLASSES)) / 2,
                    f"sampled ways average (5 + 50) / 2 ({profile})")  # fmt: skip
    claims.check(max(column(profile, 1)) <= RULES.max_support_size,
                 f"no support set exceeds {RULES.max_support_size} ({profile})")  # fmt: skip
    claims.above(claims.mean_ci(column(profile, 3)), 0.0,
                 f"some classes get a single shot ({profile})")  # fmt: skip
claims.check(max(column(equal, 2)) <= 4 + 1e-9,
             "with equal class sizes, shots within an episode differ by at most four times")  # fmt: skip
ratio = claims.difference(claims.mean_ci(column(spread, 2)), claims.mean_ci(column(equal, 2)))
claims.above(ratio, 0.0, "spread class sizes make the support set more imbalanced")

fig, (left, right) = figures.canvas(size=(7.6, 3.8), ncols=2)
with figures.style():  # custom drawing: text and lines follow the page's palette
    names = sorted(DATASETS, key=lambda n: DATASETS[n][2])
    positions = range(len(names))
    left.vlines(list(positions), RULES.min_ways, [upper[n] for n in names], color=figures.color(0),
                lw=3, label="ways a test episode can have")  # fmt: skip
    left.plot(list(positions), [mean_ways[n] for n in names], ls="none", marker="o",
              color=figures.color(1), label="mean ways")  # fmt: skip
    left.axhline(RULES.min_ways, color=figures.FOREGROUND, lw=1, ls=":", label="5-way benchmarks")
    left.set_xticks(list(positions), [f"{n} ({DATASETS[n][2]})" for n in names], rotation=60,
                    ha="right", fontsize=7)  # fmt: skip
    left.grid(False, axis="x")
    left.set_ylabel("classes per test episode")
    left.legend(loc="upper left", fontsize=7)
    for i, (profile, shots) in enumerate(shots_seen.items()):
        values = torch.sort(shots).values
        cdf = torch.arange(1, values.numel() + 1, dtype=torch.float64) / values.numel()
        right.step(values.tolist(), cdf.tolist(), where="post", color=figures.color(i),
                   ls=("-", "--")[i], label=profile)  # fmt: skip
    right.set_xscale("log")
    right.set_xticks([1, 3, 10, 30, 100], ["1", "3", "10", "30", "100"])
    right.minorticks_off()
    right.set_xlabel("shots of a class in an episode (log scale)")
    right.set_ylabel("share of classes with at most that many")
    right.legend(loc="upper left", fontsize=7)

rows = [
    [n, *DATASETS[n], f"5-{upper[n]}", f"{mean_ways[n]:.1f}", f"{five_way[n]:.1%}"] for n in names
]
summary = {
    profile: [claims.mean_ci(column(profile, i)) for i in range(4)] for profile in profiles
}  # fmt: skip
print(
    figures.render(
        fig,
        alt="Left: the range and mean of the number of classes in a Meta-Dataset test episode "
        "for each of the ten datasets, most far above five. Right: the distribution of shots per "
        "class in sampled episodes, for equal and for spread class sizes.",
        caption=f"Left: exact, from the recorded test-class counts (in brackets). Right: "
        f"{EPISODES} episodes of an assumed {SPLIT_CLASSES}-class split per profile, drawn with "
        "Meta-Dataset's default rules.",
        numbers=figures.table(
            ["dataset", "train", "valid", "test", "ways", "mean ways", "5-way share"], rows
        ),
    )
)
print(
    "Sampled episodes (mean ± 95% interval over episodes): "
    + "; ".join(
        f"{profile}: {s[0].mean:.1f} ways, support set {s[1].mean:.0f} ± {s[1].ci95:.0f} images, "
        f"largest/smallest shots {s[2].mean:.1f}, {s[3].mean:.0%} of classes with one shot"
        for profile, s in summary.items()
    )
    + f". The spread profile's mean shot ratio is higher by {ratio.mean:.1f} ± {ratio.ci95:.1f} "
    "(independent episodes)."
)
