"""Omniglot by the numbers: counts and splits from `reference_impl.omniglot`, then real pixels.

Part 1 needs no data: the alphabet table and the two splits are part of the package. Part 2
decodes 80 evaluation characters from the official PNGs and compares 5-way 1-shot episodes drawn
within one alphabet with episodes drawn across alphabets, for a learner with no training
(nearest neighbour on raw pixels).
"""

import torch

from reference_impl.omniglot import ALPHABETS, decode_characters, default_root, get_split

print("official parts: characters (alphabets)")
for part, alphabets in ALPHABETS.items():
    print(f"  {part:<18} {sum(n for _, n in alphabets):5d} ({len(alphabets)})")
total = sum(n for alphabets in ALPHABETS.values() for _, n in alphabets)
print(f"  {'all':<18} {total:5d} ({sum(len(a) for a in ALPHABETS.values())}), 20 drawings each")


def alphabet(character: str) -> str:
    """The alphabet folder of a character path `part/alphabet/characterNN`."""
    return character.split("/")[1]


print(
    "\nsplit   train   val  test  train classes x4 rotations  test chars sharing a train alphabet"
)
for name in ("maml", "lake"):
    split = get_split(name)
    seen = {alphabet(c) for c in split.train}
    shared = sum(alphabet(c) in seen for c in split.test)
    print(
        f"{name:<6} {len(split.train):6d} {len(split.val):5d} {len(split.test):5d}"
        f" {4 * len(split.train):27d} {shared:37d}"
    )

root = default_root()
if not (root / "images_evaluation").is_dir():
    print(f"\n(part 2 skipped: no Omniglot data under {root}; set OMNIGLOT_ROOT to run it)")
else:
    names = [a for a, n in ALPHABETS["images_evaluation"] if n >= 25][:8]  # 8 alphabets
    chars = [f"images_evaluation/{a}/character{i:02d}" for a in names for i in range(1, 11)]
    pixels = 1 - decode_characters(chars, root).float().flatten(2) / 255  # (80, 20, 784)
    dist = torch.cdist(pixels.flatten(0, 1), pixels.flatten(0, 1))  # (1600, 1600)
    gen = torch.Generator().manual_seed(0)
    n_episodes = 2000
    print(
        f"\n5-way 1-shot, nearest neighbour on raw pixels, {n_episodes} episodes per row\n"
        f"({len(names)} evaluation alphabets x 10 characters)"
    )
    for label, within in (("classes from one alphabet", True), ("classes from 5 alphabets", False)):
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
        acc = hits.double().mean(1)
        ci = 1.96 * acc.std(correction=0) / n_episodes**0.5
        print(f"  {label:<26} {100 * acc.mean():5.1f}% ± {100 * ci:.1f}")
