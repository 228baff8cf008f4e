"""The two splits, counted live from `maml_split()` and `lake_split()` (no image data needed)."""

from reference_impl.omniglot import ALPHABETS, lake_split, maml_split


def alphabet(character: str) -> str:
    return character.split("/")[1]


rows = []
for split in (maml_split(), lake_split()):
    train_alphabets = {alphabet(c) for c in split.train}
    seen = sum(alphabet(c) in train_alphabets for c in split.test)
    rows.append(
        f"| `{split.name}` | {len(split.train)} | {len(split.val)} | {len(split.test)} "
        f"| {4 * len(split.train)} | {len({alphabet(c) for c in split.test})} "
        f"| {seen} of {len(split.test)} |"
    )
print(
    "| split | train chars | val chars | test chars | train classes (x4 rotations) "
    "| test alphabets | test chars whose alphabet is in train |"
)
print("|---|---|---|---|---|---|---|")
print("\n".join(rows))
lake = lake_split()
counts = {part: sum(n for _, n in alphabets) for part, alphabets in ALPHABETS.items()}
print(
    f"\nOfficial parts: `images_background` {counts['images_background']} characters in "
    f"{len(ALPHABETS['images_background'])} alphabets, `images_evaluation` "
    f"{counts['images_evaluation']} in {len(ALPHABETS['images_evaluation'])}. "
    f"`lake` validation: {len(lake.val)} characters from all "
    f"{len({alphabet(c) for c in lake.val})} background alphabets."
)
