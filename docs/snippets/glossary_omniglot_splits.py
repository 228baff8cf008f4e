"""Omniglot by the numbers: counts and splits from `reference_impl.omniglot`, then real pixels.

Part 1 needs no data: the alphabet table and the two splits are part of the package. Part 2
decodes 80 evaluation characters from the official PNGs and compares 5-way 1-shot episodes drawn
within one alphabet with episodes drawn across alphabets, for a learner with no training
(nearest neighbour on raw pixels). Without the data, part 2 prints a note instead of its figure.
"""

import claims
import figures
import torch

from reference_impl.omniglot import ALPHABETS, decode_characters, default_root, get_split

parts = {part: (sum(n for _, n in a), len(a)) for part, a in ALPHABETS.items()}
total = sum(n for n, _ in parts.values())


def alphabet(character: str) -> str:
    """The alphabet folder of a character path `part/alphabet/characterNN`."""
    return character.split("/")[1]


splits = {}
for name in ("maml", "lake"):
    split = get_split(name)
    seen = {alphabet(c) for c in split.train}
    shared = sum(alphabet(c) in seen for c in split.test)
    splits[name] = (len(split.train), len(split.val), len(split.test), shared)

# The page's sentences about the splits, checked against the package's split files:
claims.check(
    splits["maml"][3] == splits["maml"][2],
    "every maml test character has alphabet-mates among the training characters",
)
claims.check(splits["lake"][3] == 0, "the lake split holds out whole alphabets")
claims.check(
    all(sum(s[:3]) == total for s in splits.values()), "both splits partition all characters"
)

fig, ax = figures.canvas((6.4, 2.6))
with figures.style():  # legends, text and bars take the site's style when created
    for row, (train, val, test, shared) in enumerate(splits.values()):
        left = 0
        for i, (label, width) in enumerate((("train", train), ("validation", val), ("test", test))):
            ax.barh(
                row, width, left=left, color=figures.color(i), label=label if row == 0 else None
            )
            left += width
        ax.barh(
            row, shared, left=train + val, color="none", edgecolor=figures.FOREGROUND,
            hatch="///", lw=0.8,
            label="test characters whose alphabet is in train" if row == 0 else None,
        )  # fmt: skip
    ax.set_yticks([0, 1], [f"{n} split" for n in splits])
    ax.invert_yaxis()
    ax.set_xlim(0, total)
    ax.set_xlabel(f"characters (of {total}; each becomes 4 classes with rotations)")
    ax.grid(False, axis="y")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)


print(
    figures.render(
        fig,
        alt="Two stacked bars of Omniglot characters split into train, validation and test: in "
        "the maml split every test character shares its alphabet with training characters; in "
        "the lake split none does.",
        caption="The two splits shipped with the package (benchmarks/splits/). The hatched band "
        "marks test characters whose alphabet also appears in training: all of the maml test "
        "set, none of the lake test set.",
        numbers=figures.table(
            [
                "split",
                "train",
                "val",
                "test",
                "train classes with rotations",
                "test characters sharing a train alphabet",
            ],
            [[n, t, v, te, 4 * t, sh] for n, (t, v, te, sh) in splits.items()],
        ),
        name="omniglot splits",
    )
)
print(
    "Official parts: "
    + "; ".join(f"{part}, {n} characters in {a} alphabets" for part, (n, a) in parts.items())
    + f"; {total} characters in all, 20 drawings each."
)

root = default_root()
if not (root / "images_evaluation").is_dir():
    print(f"\n(Part 2 skipped: no Omniglot data under {root}; set OMNIGLOT_ROOT to run it.)")
else:
    names = [a for a, n in ALPHABETS["images_evaluation"] if n >= 25][:8]  # 8 alphabets
    chars = [f"images_evaluation/{a}/character{i:02d}" for a in names for i in range(1, 11)]
    pixels = 1 - decode_characters(chars, root).float().flatten(2) / 255  # (80, 20, 784)
    dist = torch.cdist(pixels.flatten(0, 1), pixels.flatten(0, 1))  # (1600, 1600)
    gen = torch.Generator().manual_seed(0)
    n_episodes = 2000
    result = {}
    for label, within in (("one alphabet", True), ("five alphabets", False)):
        if within:  # 5 characters of one alphabet
            a = torch.randint(len(names), (n_episodes, 1), generator=gen).expand(-1, 5)
            c = torch.rand(n_episodes, 10, generator=gen).argsort(1)[:, :5]
        else:  # one character from each of 5 alphabets
            a = torch.rand(n_episodes, len(names), generator=gen).argsort(1)[:, :5]
            c = torch.randint(10, (n_episodes, 5), generator=gen)
        drawings = torch.rand(n_episodes, 5, 20, generator=gen).argsort(2)[..., :16]  # 1 + 15
        rows = ((a * 10 + c)[..., None] * 20 + drawings).flatten(1)  # (E, 5 * 16) image rows
        rows = rows.view(n_episodes, 5, 16)
        support, query = rows[:, :, 0], rows[:, :, 1:].flatten(1)  # (E, 5), (E, 75)
        d = dist[query[:, :, None], support[:, None, :]]  # (E, 75, 5)
        hits = d.argmin(-1) == torch.arange(5).repeat_interleave(15)
        result[label] = claims.mean_ci(hits.double().mean(1).tolist())
    harder = claims.difference(result["five alphabets"], result["one alphabet"])
    claims.above(harder, 0, "episodes within one alphabet are harder, even for raw pixels")
    labels = list(result)
    episode_fig = figures.intervals(
        [f"classes from\n{label}" for label in labels],
        [
            figures.Series(
                "nearest neighbour on raw pixels",
                range(2),
                [result[k].mean for k in labels],
                ci=[result[k].ci95 for k in labels],
            )
        ],
        y_label="5-way 1-shot accuracy",
        y_lim=(0, 0.6),
        reference=1 / 5,
        size=(6.4, 2.8),
    )
    episode_fig.axes[0].set_xlim(-0.8, 1.8)
    print(
        figures.render(
            episode_fig,
            alt="5-way 1-shot accuracy of nearest neighbour on raw Omniglot pixels: lower when the "
            "five classes come from one alphabet than when they come from five alphabets.",
            caption=f"{n_episodes} episodes per point from {len(names)} evaluation alphabets, "
            "10 characters each; bars are 95% confidence intervals over episodes, the dotted "
            "line is chance. Compare the two points: same learner, same data, different "
            "episode construction.",
            numbers=figures.table(
                ["episode classes", "accuracy", "across minus within"],
                [
                    [labels[0], f"{result[labels[0]].mean:.1%} ± {result[labels[0]].ci95:.1%}", ""],
                    [
                        labels[1],
                        f"{result[labels[1]].mean:.1%} ± {result[labels[1]].ci95:.1%}",
                        f"{harder.mean:+.1%} ± {harder.ci95:.1%}",
                    ],
                ],
            ),
            name="omniglot episodes",
        )
    )
