"""A tiny Omniglot in the official layout, generated in a temporary folder for tests.

Import it from tests (`from omniglot_fixture import make_omniglot`); it is a plain module, not a
conftest, so each test file says what it uses. Images are written by Pillow as 1-bit PNGs, like
the official files, so the decoder under test never decodes its own output.
"""

from __future__ import annotations

import io
import random
import shutil
import zipfile
from pathlib import Path

from PIL import Image, ImageDraw

# part -> alphabet -> number of characters; names mimic the official ones (parentheses, hyphens)
FIXTURE_ALPHABETS = {
    "images_background": {"Alpha_(Test)": 3, "Beta-Script": 2},
    "images_evaluation": {"Gamma": 2, "Delta_(Eval)": 2},
}
DRAWINGS = 20
SIZE = 105


def fixture_characters() -> list[str]:
    """Sorted character paths of the fixture, like `omniglot_characters()`."""
    return sorted(
        f"{part}/{alphabet}/character{i:02d}"
        for part, alphabets in FIXTURE_ALPHABETS.items()
        for alphabet, count in alphabets.items()
        for i in range(1, count + 1)
    )


def drawing(character_index: int, drawer: int, size: int = SIZE) -> Image.Image:
    """One deterministic 1-bit drawing: black strokes on white, varying with character and drawer."""
    rng = random.Random(1000 * character_index + drawer)
    image = Image.new("1", (size, size), 1)
    draw = ImageDraw.Draw(image)
    base = random.Random(character_index)  # the character's shape, shared by its drawers
    points = [(base.randrange(10, size - 10), base.randrange(10, size - 10)) for _ in range(4)]
    jittered = [(x + rng.randint(-4, 4), y + rng.randint(-4, 4)) for x, y in points]
    draw.line(jittered, fill=0, width=3 + character_index % 3)
    return image


def png_bytes(image: Image.Image) -> bytes:
    """Encode with Pillow (a 1-bit image gives a 1-bit PNG, like the official files)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def make_omniglot(root: Path, layout: str = "folder") -> Path:
    """Write the fixture under `root` and return the data root to pass to the loader.

    Args:
        root: An empty temporary folder.
        layout: `"folder"` (official extracted layout), `"zip"` (the two official zips) or
            `"torchvision"` (`omniglot-py/images_*` folders).

    Returns:
        The folder to use as the loader's `root`.
    """
    if layout not in ("folder", "zip", "torchvision"):
        raise ValueError(f"unknown layout {layout!r}")
    base = root / "omniglot-py" if layout == "torchvision" else root
    for index, character in enumerate(fixture_characters()):
        folder = base / character
        folder.mkdir(parents=True)
        for drawer in range(1, DRAWINGS + 1):
            name = f"{index + 1:04d}_{drawer:02d}.png"
            (folder / name).write_bytes(png_bytes(drawing(index, drawer)))
    if layout == "zip":
        for part in FIXTURE_ALPHABETS:
            (root / f"{part}.zip").write_bytes(zip_folder(root, part))
            shutil.rmtree(root / part)
    return root


def zip_folder(root: Path, part: str) -> bytes:
    """The bytes of a zip of `root/part` laid out like the official zips (`part/...` entries)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((root / part).rglob("*")):
            archive.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()
