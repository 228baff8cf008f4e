r"""Omniglot for few-shot learning: reading, preprocessing, caching and the two standard splits.

Omniglot (Lake et al. (2015), "Human-level concept learning through probabilistic program
induction", Science 350(6266)) holds 1623 handwritten characters from 50 alphabets, each drawn
once by 20 people, as 105x105 1-bit PNGs. The official release splits it by alphabet into
`images_background` (30 alphabets, 964 characters) and `images_evaluation` (20 alphabets, 659).

`load_omniglot` returns one part of a split as a tensor `(classes, 20, 1, 28, 28)`, float in
[0, 1] with strokes = 1, and by default every character four times (rotated by 0, 90, 180, 270
degrees), the preprocessing of the MAML and ProtoNets papers. It reads any of

* the extracted official layout `<root>/images_background/<Alphabet>/characterNN/*.png` (and
  `images_evaluation`),
* the two official zips `<root>/images_background.zip`, `<root>/images_evaluation.zip`,
* a torchvision-style root, `<root>/omniglot-py/images_background/...` or its zips,

and can fetch the zips itself (`download=True`, MD5-checked, written atomically). From a shell:

    python -m reference_impl.omniglot download [--root DIR]   # fetch, check MD5, unpack
    python -m reference_impl.omniglot where                    # the folder the lookup order picks

Without an explicit folder, data is looked up in this order (`resolve_root`): `$OMNIGLOT_ROOT`,
then `../shared/data/omniglot` beside a source checkout when it exists, then `omniglot/` in the
per-user cache folder (`user_cache_dir()`, e.g. `~/.cache/meta-learning-glossary/omniglot`). An
installed package never looks inside, or writes into, its environment.

| Step | Function |
|---|---|
| read a PNG and resize it 105 -> 28 with Pillow's antialiased Lanczos filter | `decode_thumbnail` |
| every character as uint8 thumbnails, cached on disk | `load_thumbnails` |
| a few characters, no cache | `decode_characters` |
| the splits | `maml_split`, `lake_split`, `get_split` |
| where the data is, fetching it | `resolve_root`, `download_omniglot`, `extract_omniglot`, `main` |
| a split part as a float tensor | `load_omniglot` |

Deliberate choices:

1. **Pillow decodes and resizes**, the library of the MAML code's resize script and of the
   torchvision and learn2learn pipelines: grey levels first (`convert("L")`), then
   `resize((28, 28), LANCZOS)`, as learn2learn does. Pillow resizes a 1-bit image by nearest
   neighbour whatever filter is asked for, so converting first is what makes the antialiased
   Lanczos filter apply.
2. **Cache key from file metadata.** A cache entry is keyed by every source file's relative path,
   size and modification time (for zips: size and CRC-32 from the central directory) plus the
   preprocessing parameters. Hashing file contents would mean reading all 32,460 files on every
   load, which is the work the cache exists to avoid; any ordinary edit changes size or mtime.
3. **Splits are functions of the official character list**, which this module carries
   (`ALPHABETS`), so a split never depends on a directory listing order (the MAML code shuffled
   `os.listdir` order, which differs between file systems).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import io
import json
import os
import random
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NamedTuple, NoReturn

import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from reference_impl import checkpoints
from reference_impl.files import atomic_write

# --8<-- [start:constants]
SOURCE_SIZE = 105
"""Side of an official Omniglot PNG in pixels."""
IMAGE_SIZE = 28
"""Side of a thumbnail after resizing, as in the MAML and ProtoNets papers."""
DRAWINGS = 20
"""Drawings (one per drawer) of every character."""
PARTS = ("images_background", "images_evaluation")
"""Folder names of the official background and evaluation sets."""
SPLIT_PARTS = ("train", "val", "test", "trainval")
"""Parts of a split that `load_omniglot` accepts (`trainval` = train + val)."""
OFFICIAL_BASE_URL = "https://raw.githubusercontent.com/brendenlake/omniglot/master/python"
"""Where the authors publish `images_background.zip` and `images_evaluation.zip`."""
OFFICIAL_MD5 = {
    "images_background.zip": "68d2efa1b9178cc56df9314c21c6e718",
    "images_evaluation.zip": "6b91aef0f799c5bb55b94e3f2daec811",
}
"""Published MD5 of each official zip."""
ALPHABETS: dict[str, tuple[tuple[str, int], ...]] = {
    "images_background": (
        ("Alphabet_of_the_Magi", 20), ("Anglo-Saxon_Futhorc", 29), ("Arcadian", 26),
        ("Armenian", 41), ("Asomtavruli_(Georgian)", 40), ("Balinese", 24), ("Bengali", 46),
        ("Blackfoot_(Canadian_Aboriginal_Syllabics)", 14), ("Braille", 26),
        ("Burmese_(Myanmar)", 34), ("Cyrillic", 33), ("Early_Aramaic", 22), ("Futurama", 26),
        ("Grantha", 43), ("Greek", 24), ("Gujarati", 48), ("Hebrew", 22),
        ("Inuktitut_(Canadian_Aboriginal_Syllabics)", 16), ("Japanese_(hiragana)", 52),
        ("Japanese_(katakana)", 47), ("Korean", 40), ("Latin", 26), ("Malay_(Jawi_-_Arabic)", 40),
        ("Mkhedruli_(Georgian)", 41), ("N_Ko", 33),
        ("Ojibwe_(Canadian_Aboriginal_Syllabics)", 14), ("Sanskrit", 42),
        ("Syriac_(Estrangelo)", 23), ("Tagalog", 17), ("Tifinagh", 55),
    ),
    "images_evaluation": (
        ("Angelic", 20), ("Atemayar_Qelisayer", 26), ("Atlantean", 26), ("Aurek-Besh", 26),
        ("Avesta", 26), ("Ge_ez", 26), ("Glagolitic", 45), ("Gurmukhi", 45), ("Kannada", 41),
        ("Keble", 26), ("Malayalam", 47), ("Manipuri", 40), ("Mongolian", 30),
        ("Old_Church_Slavonic_(Cyrillic)", 45), ("Oriya", 46), ("Sylheti", 28),
        ("Syriac_(Serto)", 23), ("Tengwar", 25), ("Tibetan", 42), ("ULOG", 26),
    ),
}  # fmt: skip
"""Every official alphabet and its number of characters, per part (1623 characters in all)."""
# --8<-- [end:constants]

_REPO_ROOT = Path(__file__).resolve().parents[1]
_CACHE_FORMAT = 2  # bump when decoding or resizing changes, so old cache entries go stale
_CHUNK_CHARACTERS = 100  # characters decoded per batch: bounds peak memory near 0.6 GB


def user_cache_dir() -> Path:
    """This project's per-user cache folder, as `platformdirs.user_cache_dir` would place it.

    Returns:
        `$XDG_CACHE_HOME/meta-learning-glossary` (default `~/.cache/...`) on Linux and other
        Unix systems, `~/Library/Caches/meta-learning-glossary` on macOS and
        `%LOCALAPPDATA%/meta-learning-glossary` on Windows.
    """
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:  # the XDG base directory spec ignores a relative XDG_CACHE_HOME
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "meta-learning-glossary"


def source_checkout() -> Path | None:
    """The repository this package runs from, or `None` when it is installed (site-packages).

    Returns:
        The folder holding `pyproject.toml` and `reference_impl/` for a clone or an editable
        install; `None` for a wheel installed into an environment, so that nothing is looked up
        beside, or written into, the environment.
    """
    installed = {"site-packages", "dist-packages"} & set(_REPO_ROOT.parts)
    return None if installed or not (_REPO_ROOT / "pyproject.toml").is_file() else _REPO_ROOT


class DataRoot(NamedTuple):
    """Where Omniglot is looked for, and which rule of the lookup order chose it."""

    path: Path
    """The data folder."""
    rule: str
    """`--root`, `OMNIGLOT_ROOT`, `checkout` (`../shared/data/omniglot`) or `user cache`."""


def resolve_root(root: str | Path | None = None) -> DataRoot:
    """Apply the data folder lookup order; the first rule that applies wins.

    1. `root` (the command lines' `--root` / `--data-root`), if given;
    2. `$OMNIGLOT_ROOT`, if set and not empty;
    3. `../shared/data/omniglot` beside the repository, when running from a source checkout and
       that folder exists;
    4. `omniglot/` in the per-user cache folder (`user_cache_dir()`), where
       `python -m reference_impl.omniglot download` puts it by default.

    Never a folder inside the installed package or its environment.

    Args:
        root: An explicit folder.

    Returns:
        The folder (which may not exist yet) and the rule that chose it.
    """
    if root is not None:
        return DataRoot(Path(root), "--root")
    if env := os.environ.get("OMNIGLOT_ROOT"):
        return DataRoot(Path(env), "OMNIGLOT_ROOT")
    checkout = source_checkout()
    if (
        checkout is not None
        and (shared := checkout.parent / "shared" / "data" / "omniglot").is_dir()
    ):
        return DataRoot(shared, "checkout")
    return DataRoot(user_cache_dir() / "omniglot", "user cache")


def default_root() -> Path:
    """Folder that holds Omniglot when no `root` is given: `resolve_root().path`.

    Returns:
        `$OMNIGLOT_ROOT` if set, else `../shared/data/omniglot` beside a source checkout if it
        exists, else `omniglot/` in `user_cache_dir()`.
    """
    return resolve_root().path


def default_cache_dir() -> Path:
    """Folder for the decoded-thumbnail cache when no `cache_dir` is given.

    Returns:
        `$MLG_CACHE_DIR` if set, else `user_cache_dir()`.
    """
    env = os.environ.get("MLG_CACHE_DIR")
    return Path(env) if env else user_cache_dir()


def omniglot_characters() -> list[str]:
    """All 1623 official character paths, sorted.

    Returns:
        Paths relative to the data root, e.g. `images_background/Arcadian/character01`.
    """
    return sorted(
        f"{part}/{alphabet}/character{i:02d}"
        for part, alphabets in ALPHABETS.items()
        for alphabet, count in alphabets
        for i in range(1, count + 1)
    )


# --8<-- [start:resize]
def decode_thumbnail(data: bytes, *, name: str = "<bytes>") -> Tensor:
    """Decode one official PNG with Pillow and resize it to a 28x28 thumbnail.

    Pillow is the reference the literature uses (the MAML code's `resize_images.py`, torchvision
    and learn2learn). The 1-bit drawing is converted to grey levels first (`convert("L")`,
    0 or 255), so the antialiased Lanczos filter of `resize((28, 28), LANCZOS)` applies; Pillow
    resizes 1-bit images by nearest neighbour, whatever filter is asked for. Every chunk's
    CRC-32 is checked (`verify()`) before decoding, so a flipped byte is refused rather than
    decoded into wrong pixels.

    Args:
        data: The PNG file's bytes.
        name: Path or label used in error messages.

    Returns:
        Grey levels with dark strokes, shape `(28, 28)`, dtype uint8.

    Raises:
        ValueError: If the data is not a PNG Pillow can read, is truncated or corrupt, or is not
            105x105; the message names `name`.
    """
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            image.verify()  # CRC of every chunk up to IEND
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            if image.size != (SOURCE_SIZE, SOURCE_SIZE):
                width, height = image.size
                raise ValueError(
                    f"{name}: image is {width}x{height}; expected {SOURCE_SIZE}x{SOURCE_SIZE}"
                )
            small = image.convert("L").resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)
    except UnidentifiedImageError as err:
        raise ValueError(f"{name}: not a PNG file (Pillow cannot identify it)") from err
    except (OSError, SyntaxError, EOFError, Image.DecompressionBombError) as err:
        raise ValueError(f"{name}: corrupt or truncated PNG ({err})") from err
    return torch.frombuffer(bytearray(small.tobytes()), dtype=torch.uint8).view(
        IMAGE_SIZE, IMAGE_SIZE
    )


# --8<-- [end:resize]


# --8<-- [start:sources]
@dataclass(frozen=True)
class _Part:
    """Where one official part (`images_background` or `images_evaluation`) lives."""

    name: str
    location: Path
    is_zip: bool
    files: dict[str, list[tuple[str, int, int]]] = field(default_factory=dict)
    """Character path -> sorted (file name, size, mtime or CRC-32) of its PNGs."""

    def path_of(self, character: str, file: str) -> str:
        inner = character.split("/", 1)[1]
        return (
            f"{self.location}/{self.name}/{inner}/{file}"
            if self.is_zip
            else str(self.location / inner / file)
        )

    def read(self, characters: Sequence[str]) -> list[tuple[str, bytes]]:
        """Path and bytes of every PNG of `characters`, in order (a zip is opened once)."""
        wanted = [(c, f) for c in characters for f, _, _ in self.files[c]]
        if not self.is_zip:
            return [(p, _read_file(p)) for p in (self.path_of(c, f) for c, f in wanted)]
        with zipfile.ZipFile(self.location) as archive:
            return [(self.path_of(c, f), archive.read(f"{c}/{f}")) for c, f in wanted]


def _read_file(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY)  # plain syscalls: buffered file objects cost more per file
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def _find_part(root: Path, name: str, only: Sequence[str] | None) -> _Part:
    candidates = [root / name, root / "omniglot-py" / name]
    zips = [root / f"{name}.zip", root / "omniglot-py" / f"{name}.zip"]
    for folder in candidates:
        if folder.is_dir():
            return _Part(name, folder, False, _list_folder(folder, name, only))
    for path in zips:
        if path.is_file():
            return _Part(name, path, True, _list_zip(path, name))
    tried = ", ".join(str(p) for p in candidates + zips)
    raise FileNotFoundError(
        f"Omniglot part {name!r} not found; expected one of: {tried}. {fetch_advice(root)}"
    )


def _list_folder(
    folder: Path, name: str, only: Sequence[str] | None
) -> dict[str, list[tuple[str, int, int]]]:
    """PNG files per character folder; with `only`, just those characters (if they exist)."""
    if only is None:
        found = [
            (f"{name}/{alphabet.name}/{character.name}", character.path)
            for alphabet in os.scandir(folder)
            if alphabet.is_dir()
            for character in os.scandir(alphabet.path)
            if character.is_dir()
        ]
    else:
        inner = [c.split("/", 1)[1] for c in only if c.startswith(f"{name}/")]
        found = [(f"{name}/{c}", str(folder / c)) for c in inner if (folder / c).is_dir()]
    listing = {}
    for character, path in found:
        files = []
        for entry in os.scandir(path):
            if entry.name.endswith(".png") and entry.is_file():
                stat = entry.stat()
                files.append((entry.name, stat.st_size, stat.st_mtime_ns))
        listing[character] = sorted(files)
    return listing


def _list_zip(path: Path, name: str) -> dict[str, list[tuple[str, int, int]]]:
    listing: dict[str, list[tuple[str, int, int]]] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile as err:
        raise ValueError(f"{path}: not a readable zip file ({err})") from err
    for info in infos:
        parts = info.filename.split("/")
        if len(parts) == 4 and parts[0] == name and parts[3].endswith(".png"):
            listing.setdefault("/".join(parts[:3]), []).append((parts[3], info.file_size, info.CRC))
    return {character: sorted(files) for character, files in listing.items()}


def _locate(root: Path, only: Sequence[str] | None = None) -> dict[str, _Part]:
    """Find both official parts under `root` and list their characters (all, or `only`)."""
    if not root.is_dir():
        raise FileNotFoundError(
            f"Omniglot root {root} does not exist; expected a folder holding images_background/ "
            f"and images_evaluation/ (or their official .zip files, or omniglot-py/). {fetch_advice(root)}"
        )
    parts = {name: _find_part(root, name, only) for name in PARTS}
    for part in parts.values():
        for character, files in part.files.items():
            if len(files) != DRAWINGS:
                where = part.path_of(character, "").rstrip("/")
                raise ValueError(f"{where}: {len(files)} PNG files; expected {DRAWINGS}")
    return parts


# --8<-- [end:sources]


# --8<-- [start:download]
OFFICIAL_PAGE = "https://github.com/brendenlake/omniglot/tree/master/python"
"""The folder of the official repository that holds the two zips, for downloading by hand."""
DOWNLOAD_COMMAND = "python -m reference_impl.omniglot download"
"""The command that fetches Omniglot into the default data folder."""


def fetch_advice(root: str | Path, *, offline: bool = False) -> str:
    """The sentence an error message ends with: how to get Omniglot into `root`.

    Args:
        root: The data folder that was looked in.
        offline: Advice for a failed download (fetch the zips by hand) instead.

    Returns:
        One sentence naming the command or the files to fetch.
    """
    if offline:
        return (
            f"Offline? Download images_background.zip and images_evaluation.zip from "
            f"{OFFICIAL_PAGE} into {root} by hand and rerun `{DOWNLOAD_COMMAND} --root {root}` "
            "(it checks their MD5), or set OMNIGLOT_ROOT to an existing copy."
        )
    return (
        f"Get it with `{DOWNLOAD_COMMAND} --root {root}` (the official zips, MD5-checked), or "
        "point --data-root / OMNIGLOT_ROOT at an existing copy."
    )


def omniglot_present(root: str | Path) -> bool:
    """Whether `root` holds all 1623 official characters with 20 drawings each (any layout).

    Args:
        root: A data folder.

    Returns:
        True when both parts are found (folders or zips) and list exactly the official
        characters; False when something is missing or incomplete.
    """
    try:
        parts = _locate(Path(root))
    except (FileNotFoundError, ValueError):
        return False
    found = sorted(c for part in parts.values() for c in part.files)
    return found == omniglot_characters()


def _size(count: float) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 1e6 else f"{count / 1e3:.1f} kB"


class _TransferProgress:
    """Bytes received, percentage, rate and ETA on stderr: redrawn in place on a terminal at
    most 10 times a second, otherwise one line every `every` seconds and one at the end."""

    def __init__(self, label: str, total: int | None, stream: IO[str], every: float = 2.0):
        self.label, self.total, self.stream = label, total, stream
        self.tty = stream.isatty()
        self.every = 0.1 if self.tty else every
        self.start = self.last = time.monotonic()

    def line(self, received: int) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = received / elapsed
        text = f"{self.label}: {_size(received)}"
        if self.total:
            eta = (self.total - received) / rate if rate > 0 else float("inf")
            text += f" of {_size(self.total)} ({100 * received / self.total:.0f}%)"
            text += f", {_size(rate)}/s" + (f", ETA {eta:.0f} s" if eta < 1e9 else "")
        else:
            text += f", {_size(rate)}/s"
        return text

    def update(self, received: int) -> None:
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self._write(self.line(received), final=False)

    def close(self, received: int) -> None:
        self._write(self.line(received), final=True)

    def _write(self, text: str, *, final: bool) -> None:
        if self.tty:
            self.stream.write("\r\033[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def download_omniglot(
    root: str | Path,
    *,
    base_url: str | None = None,
    md5: dict[str, str] | None = None,
    timeout: float = 60.0,
    progress: bool = True,
) -> list[Path]:
    """Fetch the two official zips into `root`, verify their MD5 and write them atomically.

    Nothing is fetched when `root` already holds the whole dataset (extracted folders, or zips
    with the expected MD5; see `omniglot_present`), nor for a zip with the expected MD5. Each download streams into
    `<root>/.<name>.part` and is renamed into place only after its length and MD5 check out, so
    an interrupted or corrupted transfer never leaves a usable-looking file; a download that was
    killed leaves only that `.part` file, which the next call overwrites (restartable).

    Args:
        root: Destination folder (created if missing).
        base_url: Folder URL holding `images_background.zip` and `images_evaluation.zip`;
            default `OFFICIAL_BASE_URL`.
        md5: Expected hex MD5 per file name; defaults to `OFFICIAL_MD5`.
        timeout: Socket timeout in seconds.
        progress: Report bytes, rate and ETA on stderr.

    Returns:
        Where the two parts are: the zips, or the folders when already extracted.

    Raises:
        ValueError: If a download's MD5 differs from the expected one (nothing is written).
        ConnectionError: If a transfer fails or ends early, e.g. offline (nothing is written).
    """
    expected = OFFICIAL_MD5 if md5 is None else md5
    folder = Path(root)
    if omniglot_present(folder):
        located = [_find_part(folder, name, ()) for name in PARTS]
        if not any(
            p.is_zip
            and p.location.parent == folder
            and _md5_of(p.location) != expected[p.location.name]
            for p in located
        ):  # extracted folders, or the official zips with their published MD5
            return [p.location for p in located]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for file_name in (f"{name}.zip" for name in PARTS):
        dest = folder / file_name
        paths.append(dest)
        if dest.is_file() and _md5_of(dest) == expected[file_name]:
            continue
        url = f"{(base_url or OFFICIAL_BASE_URL).rstrip('/')}/{file_name}"
        part = folder / f".{file_name}.part"
        try:
            with open(part, "wb") as out:
                digest = _stream(url, out, timeout, file_name if progress else None)
                out.flush()
                os.fsync(out.fileno())
            if digest != expected[file_name]:
                raise ValueError(
                    f"{url}: MD5 {digest}; expected {expected[file_name]} (nothing written)"
                )
            os.replace(part, dest)
        finally:
            part.unlink(missing_ok=True)
    return paths


def extract_omniglot(root: str | Path) -> list[Path]:
    """Unpack the official zips in `root` into `images_background/` and `images_evaluation/`.

    Each zip is extracted into a temporary folder inside `root` and its part folder renamed into
    place, so an interrupted extraction never leaves a half-filled part folder. A part folder that
    already exists is kept.

    Args:
        root: Folder holding the zips (as `download_omniglot` leaves it).

    Returns:
        The two part folders.

    Raises:
        FileNotFoundError: If a part has neither a folder nor a zip in `root`.
        ValueError: If a zip is unreadable or lacks its part folder.
    """
    folder = Path(root)
    out = []
    for name in PARTS:
        target = folder / name
        out.append(target)
        if target.is_dir():
            continue
        archive = folder / f"{name}.zip"
        if not archive.is_file():
            raise FileNotFoundError(f"{archive} not found. {fetch_advice(folder)}")
        scratch = Path(tempfile.mkdtemp(dir=folder, prefix=f".{name}.extract."))
        try:
            try:
                with zipfile.ZipFile(archive) as zipped:
                    zipped.extractall(scratch)  # strips absolute paths and ".." components
            except zipfile.BadZipFile as err:
                raise ValueError(f"{archive}: not a readable zip file ({err})") from err
            if not (scratch / name).is_dir():
                raise ValueError(f"{archive}: no {name}/ folder inside")
            os.replace(scratch / name, target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return out


def _stream(url: str, out: IO[bytes], timeout: float, label: str | None = None) -> str:
    digest, received = hashlib.md5(), 0
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except OSError as err:  # URLError, refused connections and timeouts are OSErrors
        plain = isinstance(err, urllib.error.URLError) and not isinstance(
            err, urllib.error.HTTPError
        )
        reason = err.reason if isinstance(err, urllib.error.URLError) and plain else err
        raise ConnectionError(f"{url}: download failed ({reason})") from err
    with response:
        length = response.headers.get("Content-Length")
        bar = (
            _TransferProgress(label, int(length) if length else None, sys.stderr) if label else None
        )
        while True:
            try:
                chunk = response.read1(1 << 16)  # what has arrived, up to 64 KiB
            except (OSError, http.client.HTTPException) as err:
                raise ConnectionError(f"{url}: download failed after {received} bytes") from err
            if not chunk:
                break
            digest.update(chunk)
            out.write(chunk)
            received += len(chunk)
            if bar is not None:
                bar.update(received)
        if bar is not None:
            bar.close(received)
    if length is not None and received != int(length):
        raise ConnectionError(f"{url}: download stopped after {received} of {length} bytes")
    return digest.hexdigest()


def _md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --8<-- [end:download]


# --8<-- [start:thumbnails]
def _thumbnails(blobs: list[tuple[str, bytes]]) -> Tensor:
    """Decode official PNGs and resize them to `(B, 28, 28)` uint8 grey levels (strokes dark)."""
    if not blobs:
        return torch.zeros(0, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.uint8)
    return torch.stack([decode_thumbnail(data, name=path) for path, data in blobs])


def decode_characters(characters: Sequence[str], root: str | Path | None = None) -> Tensor:
    """Decode and resize the drawings of a few characters, bypassing the cache.

    Args:
        characters: Character paths, e.g. `images_background/Arcadian/character01`.
        root: Data root; defaults to `default_root()`.

    Returns:
        Grey levels with dark strokes, shape `(len(characters), 20, 28, 28)`, uint8, drawings
        in file-name order.

    Raises:
        FileNotFoundError: If the root or an official part is missing.
        ValueError: If a character is not under `root`, or a PNG is corrupt or not 105x105.
    """
    root_path = Path(root) if root is not None else default_root()
    parts = _locate(root_path, only=characters)  # lists only these folders: fast for a few
    blobs = []
    for character in characters:
        part = parts.get(character.split("/", 1)[0])
        if part is None or character not in part.files:
            raise ValueError(
                f"character {character!r} not found under {root_path}; expected a "
                "path like 'images_background/Arcadian/character01'"
            )
        blobs.extend(part.read([character]))
    return _thumbnails(blobs).view(len(characters), DRAWINGS, IMAGE_SIZE, IMAGE_SIZE)


class Thumbnails(NamedTuple):
    """Every character of a data root, decoded and resized."""

    images: Tensor
    """Grey levels with dark strokes, shape `(characters, 20, 28, 28)`, uint8."""
    characters: list[str]
    """Character path of each row of `images`, sorted."""


def load_thumbnails(
    root: str | Path | None = None, *, cache_dir: str | Path | None = None, cache: bool = True
) -> Thumbnails:
    """All characters under `root` as uint8 thumbnails, from the on-disk cache when it is fresh.

    The cache file `omniglot-<key>.safetensors` is named by a SHA-256 over the preprocessing
    parameters and every source file's path, size and mtime (CRC-32 for zips). It is written
    by `reference_impl.checkpoints.save_tensors`: one `images` tensor and the full key in the
    description, under a SHA-256 of both. A cache file that is damaged, fails its SHA-256 or
    holds another key or shape is rebuilt; writes go to a temporary file that is then renamed,
    so a crash never leaves a half-written cache.

    Args:
        root: Data root; defaults to `default_root()`.
        cache_dir: Cache folder; defaults to `default_cache_dir()`.
        cache: If False, decode everything and neither read nor write the cache.

    Returns:
        The thumbnails and their character paths.

    Raises:
        FileNotFoundError: If the root or an official part is missing.
        ValueError: If a character folder does not hold 20 PNGs, a PNG is corrupt or not
            105x105 (nothing is written to the cache), or the cache cannot be written.
    """
    root_path = Path(root) if root is not None else default_root()
    parts = _locate(root_path)
    characters = sorted(c for part in parts.values() for c in part.files)
    key = _cache_key(parts, characters)
    path = (
        Path(cache_dir if cache_dir is not None else default_cache_dir())
        / f"omniglot-{key[:24]}.safetensors"
    )
    if cache and (hit := _read_cache(path, key, len(characters))) is not None:
        return Thumbnails(hit, characters)
    chunks = []
    for start in range(0, len(characters), _CHUNK_CHARACTERS):
        batch = characters[start : start + _CHUNK_CHARACTERS]
        blobs = [
            blob
            for name, part in parts.items()
            for blob in part.read([c for c in batch if c.startswith(f"{name}/")])
        ]
        chunks.append(_thumbnails(blobs).view(len(batch), DRAWINGS, IMAGE_SIZE, IMAGE_SIZE))
    images = (
        torch.cat(chunks)
        if chunks
        else torch.zeros(0, DRAWINGS, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.uint8)
    )
    if cache:
        _write_cache(path, key, images)
    return Thumbnails(images, characters)


def _cache_key(parts: dict[str, _Part], characters: list[str]) -> str:
    params = {"format": _CACHE_FORMAT, "source": SOURCE_SIZE, "size": IMAGE_SIZE,
              "filter": f"pillow-{Image.__version__}-L-lanczos", "dtype": "uint8"}  # fmt: skip
    lines = [json.dumps(params, sort_keys=True)]
    for character in characters:
        part = parts[character.split("/", 1)[0]]
        kind = "zip" if part.is_zip else "dir"
        lines.extend(
            f"{kind}:{character}/{f}:{size}:{stamp}" for f, size, stamp in part.files[character]
        )
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _read_cache(path: Path, key: str, count: int) -> Tensor | None:
    """The cached thumbnails, or None if the file is missing, damaged, stale or of another shape."""
    try:
        tensors, description = checkpoints.load_tensors(path)
    except (OSError, ValueError):  # missing, unreadable, or failing its SHA-256: rebuild it
        return None
    images = tensors.get("images")
    shape = (count, DRAWINGS, IMAGE_SIZE, IMAGE_SIZE)
    if description.get("key") != key or images is None or images.dtype != torch.uint8:
        return None
    return images if tuple(images.shape) == shape and set(tensors) == {"images"} else None


def _write_cache(path: Path, key: str, images: Tensor) -> None:
    try:
        checkpoints.save_tensors(path, {"images": images}, {"key": key})
    except OSError as err:
        raise ValueError(
            f"cannot write the thumbnail cache {path} ({err}); set MLG_CACHE_DIR to a writable "
            "folder or pass cache=False"
        ) from err


# --8<-- [end:thumbnails]


# --8<-- [start:splits]
@dataclass(frozen=True)
class Split:
    """A partition of Omniglot characters into train, validation and test parts."""

    name: str
    """Short name, also the JSON file name under `benchmarks/splits/`."""
    description: str
    """How the split was made, in one or two sentences."""
    seed: int
    """Seed of the `random.Random` that made it."""
    train: tuple[str, ...]
    """Character paths for meta-training."""
    val: tuple[str, ...]
    """Character paths for model selection."""
    test: tuple[str, ...]
    """Character paths for the reported numbers."""

    def part(self, part: str) -> tuple[str, ...]:
        """Character paths of `part` (`train`, `val`, `test` or `trainval`).

        Raises:
            ValueError: If `part` is not one of those names.
        """
        if part not in SPLIT_PARTS:
            raise ValueError(f"unknown part {part!r}; expected one of {SPLIT_PARTS}")
        return self.train + self.val if part == "trainval" else getattr(self, part)

    def to_json(self) -> str:
        """The split as the JSON text committed under `benchmarks/splits/`."""
        counts = {p: len(self.part(p)) for p in ("train", "val", "test")}
        body = {"name": self.name, "description": self.description, "seed": self.seed,
                "counts": counts, "train": self.train, "val": self.val, "test": self.test}  # fmt: skip
        return json.dumps(body, indent=1) + "\n"

    def write_json(self, out_dir: str | Path) -> Path:
        """Write `to_json()` to `<out_dir>/<name>.json` atomically and return the path."""
        path = Path(out_dir) / f"{self.name}.json"
        atomic_write(path, self.to_json().encode("utf-8"))
        return path


def maml_split(
    characters: Sequence[str] | None = None,
    *,
    seed: int = 1,
    num_train: int = 1100,
    num_val: int = 100,
    out_dir: str | Path | None = None,
) -> Split:
    """The MAML protocol: a seeded shuffle of all characters, alphabets ignored.

    Sorts the characters, shuffles them with `random.Random(seed)` (the MAML code calls
    `random.seed(1)` before `random.shuffle`), and cuts the result into `num_train` train,
    `num_val` validation and the rest (423 of 1623) test characters.

    Args:
        characters: Character paths; defaults to the 1623 official ones.
        seed: Shuffle seed.
        num_train: Train characters.
        num_val: Validation characters.
        out_dir: If given, also write `<out_dir>/maml.json`.

    Returns:
        The split.

    Raises:
        ValueError: If the counts are negative or leave no test characters.
    """
    chars = sorted(omniglot_characters() if characters is None else characters)
    if num_train < 0 or num_val < 0 or num_train + num_val >= len(chars):
        raise ValueError(
            f"need 0 <= num_train ({num_train}) and num_val ({num_val}) with "
            f"num_train + num_val < {len(chars)} characters"
        )
    random.Random(seed).shuffle(chars)
    split = Split(
        "maml",
        f"Seeded shuffle (random.Random({seed})) of all {len(chars)} characters sorted by path, "
        "alphabets ignored: the first part trains, the next validates, the rest tests.",
        seed, tuple(chars[:num_train]), tuple(chars[num_train : num_train + num_val]),
        tuple(chars[num_train + num_val :]),
    )  # fmt: skip
    if out_dir is not None:
        split.write_json(out_dir)
    return split


def lake_split(
    characters: Sequence[str] | None = None,
    *,
    seed: int = 1,
    val_fraction: float = 0.15,
    out_dir: str | Path | None = None,
) -> Split:
    """The official background/evaluation split, by alphabet, with in-domain validation.

    Test is every `images_evaluation` character (20 alphabets never seen in training).
    Validation holds out `round(val_fraction * n)` characters (at least one) of each of the 30
    background alphabets, drawn with `random.Random(seed)`; train is the rest of the background.
    Validation is therefore *in-domain* (new characters of training alphabets) and test is
    *out-of-domain* (new alphabets): the gap between the two measures the alphabet shift, and
    the validation characters calibrate the task-shift score of `reference_impl.signals`.

    Args:
        characters: Character paths; defaults to the 1623 official ones.
        seed: Seed for choosing the validation characters.
        val_fraction: Share of each background alphabet held out for validation, in [0, 1);
            0 trains on all 964 background characters.
        out_dir: If given, also write `<out_dir>/lake.json`.

    Returns:
        The split.

    Raises:
        ValueError: If `val_fraction` is outside [0, 1).
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    chars = sorted(omniglot_characters() if characters is None else characters)
    background = [c for c in chars if c.startswith(f"{PARTS[0]}/")]
    rng = random.Random(seed)
    held_out: set[str] = set()
    for name in sorted({c.split("/")[1] for c in background}):
        members = [c for c in background if c.split("/")[1] == name]
        count = max(1, round(val_fraction * len(members))) if val_fraction > 0 else 0
        held_out.update(rng.sample(members, min(count, len(members) - 1)))
    split = Split(
        "lake",
        f"Official split by alphabet: test = {PARTS[1]} (unseen alphabets); validation = "
        f"{val_fraction:.0%} of the characters of every background alphabet "
        f"(random.Random({seed}).sample, alphabet by alphabet); train = the other background "
        "characters.",
        seed, tuple(c for c in background if c not in held_out),
        tuple(c for c in background if c in held_out),
        tuple(c for c in chars if not c.startswith(f"{PARTS[0]}/")),
    )  # fmt: skip
    if out_dir is not None:
        split.write_json(out_dir)
    return split


def get_split(name: str) -> Split:
    """The split called `name` with its documented defaults.

    Raises:
        ValueError: If `name` is not `"maml"` or `"lake"`.
    """
    if name == "maml":
        return maml_split()
    if name == "lake":
        return lake_split()
    raise ValueError(f"unknown split {name!r}; expected 'maml' or 'lake'")


def write_splits(out_dir: str | Path | None = None) -> list[Path]:
    """Write `maml.json` and `lake.json` (default folder: `benchmarks/splits/` of the checkout).

    Raises:
        ValueError: If `out_dir` is not given and the package is installed rather than run from
            a source checkout (nothing is written into the environment).
    """
    if out_dir is None:
        checkout = source_checkout()
        if checkout is None:
            raise ValueError(
                "reference_impl is installed, not run from a source checkout: give an output "
                "folder (--out DIR) for the split files"
            )
        out_dir = checkout / "benchmarks" / "splits"
    folder = Path(out_dir)
    return [maml_split().write_json(folder), lake_split().write_json(folder)]


# --8<-- [end:splits]


# --8<-- [start:load]
def load_omniglot(
    root: str | Path | None = None,
    *,
    split: str | Split = "maml",
    part: str = "train",
    rotations: bool = True,
    download: bool = False,
    cache_dir: str | Path | None = None,
    base_url: str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """One part of an Omniglot split as an episode-ready tensor.

    Pixels are `1 - grey / 255`, so strokes are 1 and background 0. With `rotations`, class
    `4 * c + r` is character `c` rotated counter-clockwise by `90 * r` degrees.

    Args:
        root: Data root; defaults to `default_root()`.
        split: `"maml"`, `"lake"` or a `Split`.
        part: `"train"`, `"val"`, `"test"` or `"trainval"`.
        rotations: Add the 90, 180 and 270 degree rotations as new classes.
        download: Fetch the official zips into `root` first if they are missing.
        cache_dir: Thumbnail cache folder; defaults to `default_cache_dir()`.
        base_url: Download location (for mirrors and tests); default `OFFICIAL_BASE_URL`.
        dtype: Floating dtype of the result.

    Returns:
        Images, shape `(classes, 20, 1, 28, 28)`, values in [0, 1]; `classes` is the part's
        character count, times 4 with `rotations`.

    Raises:
        FileNotFoundError: If the root or an official part is missing.
        ValueError: If `split` or `part` is unknown, a split character is not under `root`, or
            a PNG is corrupt or not 105x105.
    """
    chosen = get_split(split) if isinstance(split, str) else split
    wanted = chosen.part(part)
    root_path = Path(root) if root is not None else default_root()
    if download:
        download_omniglot(root_path, base_url=base_url)
    thumbs = load_thumbnails(root_path, cache_dir=cache_dir)
    row = {c: i for i, c in enumerate(thumbs.characters)}
    missing = [c for c in wanted if c not in row]
    if missing:
        raise ValueError(
            f"{len(missing)} characters of split {chosen.name!r} part {part!r} are "
            f"not under {root_path}, e.g. {missing[0]!r}"
        )
    images = thumbs.images[
        torch.tensor([row[c] for c in wanted], dtype=torch.long)
    ]  # (C, 20, 28, 28)
    if rotations:
        turned = [torch.rot90(images, k, dims=(-2, -1)) for k in range(4)]
        images = torch.stack(turned, dim=1).flatten(0, 1)  # (4C, 20, 28, 28), rotation fastest
    return (255 - images).to(dtype).div_(255).unsqueeze(2)  # (classes, 20, 1, 28, 28)


# --8<-- [end:load]


class _UsageError(ValueError):
    """A command-line usage error (argparse's), reported by `main` in one line with status 2."""


class _ArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors raise `_UsageError` instead of printing the whole usage."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    """The command line of `python -m reference_impl.omniglot`."""
    parser = _ArgumentParser(
        prog="python -m reference_impl.omniglot",
        description="Get the Omniglot data, show where it is looked up, or write the split files.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    download = commands.add_parser(
        "download",
        help="fetch the official zips (MD5-checked, atomic) and unpack them",
        description="Fetch images_background.zip and images_evaluation.zip from the authors' "
        "repository into the data folder, check their MD5, and unpack them (nothing is fetched "
        "when the folder already holds the whole dataset).",
    )
    download.add_argument(
        "--root",
        type=_path_arg,
        default=None,
        help="data folder (default: the lookup order, see `where`)",
    )
    download.add_argument(
        "--no-extract", action="store_true", help="keep only the zips (the loader reads them too)"
    )
    download.add_argument(
        "--base-url", default=None, help=f"mirror of the zips' folder (default {OFFICIAL_BASE_URL})"
    )
    download.add_argument("--quiet", action="store_true", help="no progress lines")
    where = commands.add_parser("where", help="print the data folder the lookup order chooses")
    where.add_argument("--root", type=_path_arg, default=None, help="an explicit data folder")
    splits = commands.add_parser("splits", help="write maml.json and lake.json")
    splits.add_argument(
        "--out",
        type=_path_arg,
        default=None,
        help="folder (default: benchmarks/splits/ of the checkout)",
    )
    return parser


def _path_arg(text: str) -> Path:
    """An argparse `type`: a path, not an empty string (which would mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    return Path(text)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; errors print one line on stderr and return 1.

    * `download [--root DIR]`: `download_omniglot`, then `extract_omniglot`, into `DIR` or the
      folder `resolve_root` chooses;
    * `where [--root DIR]`: that folder, the rule that chose it, and whether the data is there;
    * `splits [--out DIR]`: `write_splits`.
    """
    prog = "reference_impl.omniglot"
    try:
        args = build_parser().parse_args(argv)
        for flag in ("root", "out"):  # a file where the data or split folder belongs
            folder = getattr(args, flag, None)
            if folder is not None and folder.exists() and not folder.is_dir():
                raise ValueError(f"--{flag} {folder} is a file; expected a folder")
        if args.command == "where":
            found = resolve_root(args.root)
            state = "complete" if omniglot_present(found.path) else "missing"
            print(f"{found.path} (rule: {found.rule}; data {state})")
        elif args.command == "splits":
            for path in write_splits(args.out):
                print(path)
        else:
            found = resolve_root(args.root)
            if not args.quiet:
                state = "complete, nothing to fetch" if omniglot_present(found.path) else "fetching"
                print(
                    f"Omniglot folder: {found.path} (rule: {found.rule}; {state})", file=sys.stderr
                )
            download_omniglot(found.path, base_url=args.base_url, progress=not args.quiet)
            places = (
                [_find_part(found.path, name, ()).location for name in PARTS]
                if args.no_extract
                else extract_omniglot(found.path)
            )
            if not omniglot_present(found.path):
                raise ValueError(f"{found.path}: the data is incomplete after downloading")
            print("\n".join(str(p) for p in places))
    except ConnectionError as err:
        print(f"{prog}: error: {err}. {fetch_advice(found.path, offline=True)}", file=sys.stderr)
        return 1
    except _UsageError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as err:
        print(f"{prog}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
