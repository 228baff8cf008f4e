"""Tests of `reference_impl.omniglot`: decoding and resizing (Pillow), sources, cache, splits,
download.

Real-data tests read `default_root()` (`../shared/data/omniglot`, present on CI); everything
else uses the generated fixture of `omniglot_fixture.py`.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import random
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from omniglot_fixture import fixture_characters, make_omniglot, png_bytes, zip_folder
from PIL import Image

from reference_impl import checkpoints
from reference_impl import omniglot as og

REAL_ROOT = og.default_root()
SPLITS_DIR = Path(__file__).resolve().parents[1] / "benchmarks" / "splits"


def fixture_split() -> og.Split:
    """A small `maml`-style split of the fixture's 9 characters."""
    return og.maml_split(fixture_characters(), num_train=5, num_val=2)


def pillow_thumbnail(path: Path) -> np.ndarray:
    """The learn2learn/torchvision preprocessing: grayscale, then Lanczos resize to 28x28."""
    return np.array(Image.open(path).convert("L").resize((28, 28), Image.LANCZOS))


# ---------------------------------------------------------------- decoding and resizing
def test_decode_characters_equal_the_learn2learn_pillow_pipeline_on_real_files() -> None:
    """Exact equality with grayscale-then-Lanczos on 400 real drawings read from their paths."""
    characters = random.Random(1).sample(og.omniglot_characters(), 20)
    ours = og.decode_characters(characters, REAL_ROOT)
    assert ours.shape == (20, 20, 28, 28) and ours.dtype == torch.uint8
    compared = 0
    for c, character in enumerate(characters):
        for d, path in enumerate(sorted((REAL_ROOT / character).glob("*.png"))):
            np.testing.assert_array_equal(ours[c, d].numpy(), pillow_thumbnail(path))
            compared += 1
    assert compared == 400, f"compared {compared} drawings; is {REAL_ROOT} extracted?"


def test_decode_thumbnail_antialiases_where_a_1_bit_resize_would_not() -> None:
    """The official PNGs are 1-bit; Pillow resizes 1-bit images by nearest neighbour, so only
    converting to grey levels first gives antialiased thumbnails (intermediate grey levels),
    whose mean ink follows the drawing's (the Lanczos weights of each pixel sum to 1)."""
    path = sorted(REAL_ROOT.glob("images_background/Latin/character01/*.png"))[0]
    with Image.open(path) as image:
        assert image.mode == "1"
        nearest = np.array(image.resize((28, 28), Image.LANCZOS).convert("L"))
        source_mean = np.array(image.convert("L"), dtype=float).mean()
    ours = og.decode_thumbnail(path.read_bytes(), name=str(path)).numpy()
    assert set(np.unique(nearest)) <= {0, 255}
    assert len(np.unique(ours)) > 20
    assert abs(ours.astype(float).mean() - source_mean) < 2.0  # grey levels of 255


def test_decode_thumbnail_keeps_constant_images_constant() -> None:
    for level in (0, 255):
        data = png_bytes(Image.new("L", (105, 105), level))
        assert torch.equal(
            og.decode_thumbnail(data), torch.full((28, 28), level, dtype=torch.uint8)
        )


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("idat", "corrupt or truncated PNG (broken PNG file (bad header checksum in b'IDAT'))"),
        ("truncate", "corrupt or truncated PNG"),
        ("gif", "not a PNG file (Pillow cannot identify it)"),
        ("empty", "not a PNG file (Pillow cannot identify it)"),
    ],
)
def test_decode_thumbnail_refuses_damaged_data_naming_it(damage: str, message: str) -> None:
    data = bytearray(png_bytes(Image.new("1", (105, 105), 1)))
    if damage == "idat":
        data[-20] ^= 0xFF  # inside the IDAT body: only the chunk's CRC-32 shows it
    elif damage == "truncate":
        data = data[:-5]
    elif damage == "gif":
        data = bytearray(b"GIF89a" + data[6:])
    else:
        data = bytearray()
    with pytest.raises(ValueError, match=r"^glyph\.png: " + re.escape(message)):
        og.decode_thumbnail(bytes(data), name="glyph.png")


# ---------------------------------------------------------------- real data, full load
@pytest.fixture(scope="module")
def real_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("omniglot-cache")


def test_omniglot_characters_match_real_folders() -> None:
    folders = sorted(p.relative_to(REAL_ROOT).as_posix() for p in REAL_ROOT.glob("images_*/*/*"))
    assert folders == og.omniglot_characters()
    assert len(folders) == 1623


def test_load_thumbnails_real_data_second_load_reads_cache(real_cache: Path) -> None:
    """The one full load of all 32,460 real drawings, then a cache hit with identical pixels."""
    first = og.load_thumbnails(REAL_ROOT, cache_dir=real_cache)
    assert first.images.shape == (1623, 20, 28, 28)
    assert first.characters == og.omniglot_characters()
    (cache_file,) = real_cache.iterdir()
    stamp = (cache_file.stat().st_ino, cache_file.stat().st_mtime_ns)
    second = og.load_thumbnails(REAL_ROOT, cache_dir=real_cache)
    assert (cache_file.stat().st_ino, cache_file.stat().st_mtime_ns) == stamp  # not rewritten
    assert torch.equal(first.images, second.images)
    picks = [0, 500, 964, 1622]
    direct = og.decode_characters([first.characters[i] for i in picks], REAL_ROOT)
    assert torch.equal(direct, first.images[picks])


@pytest.mark.parametrize(
    ("split", "part", "classes"),
    [("maml", "train", 4400), ("maml", "val", 400), ("maml", "test", 1692),
     ("lake", "test", 659 * 4)],
)  # fmt: skip
def test_load_omniglot_real_parts_have_documented_sizes(
    real_cache: Path, split: str, part: str, classes: int
) -> None:
    x = og.load_omniglot(REAL_ROOT, split=split, part=part, cache_dir=real_cache)
    assert x.shape == (classes, 20, 1, 28, 28) and x.dtype == torch.float32
    assert x.min() == 0 and x.max() == 1
    assert 0.02 < x.mean() < 0.3  # strokes = 1 cover a minority of pixels


# ---------------------------------------------------------------- fixture: sources and values
@pytest.fixture
def fixture_root(tmp_path: Path) -> Path:
    return make_omniglot(tmp_path / "data")


@pytest.mark.parametrize("layout", ["zip", "torchvision"])
def test_load_omniglot_layouts_agree_with_extracted_folders(tmp_path: Path, layout: str) -> None:
    split = fixture_split()
    reference = og.load_omniglot(make_omniglot(tmp_path / "a"), split=split, part="test",
                                 cache_dir=tmp_path / "c1")  # fmt: skip
    other = og.load_omniglot(make_omniglot(tmp_path / "b", layout), split=split, part="test",
                             cache_dir=tmp_path / "c2")  # fmt: skip
    assert torch.equal(reference, other)


def test_load_omniglot_inverts_resizes_and_rotates(fixture_root: Path, tmp_path: Path) -> None:
    split = fixture_split()
    x = og.load_omniglot(
        fixture_root, split=split, part="train", cache_dir=tmp_path, dtype=torch.float64
    )
    assert x.shape == (4 * 5, 20, 1, 28, 28) and x.dtype == torch.float64
    grey = og.decode_characters(split.train, fixture_root).to(torch.float64)
    for c, character in enumerate(split.train):
        torch.testing.assert_close(x[4 * c, :, 0], 1 - grey[c] / 255, rtol=1e-15, atol=1e-15)
        for k in range(1, 4):  # class 4c + k: rotated by 90k degrees counter-clockwise
            assert torch.equal(x[4 * c + k], torch.rot90(x[4 * c], k, dims=(-2, -1)))
        path = sorted((fixture_root / character).glob("*.png"))[3]
        expected = 1 - pillow_thumbnail(path) / 255
        assert np.abs(x[4 * c, 3, 0].numpy() - expected).max() <= 1 / 255 + 1e-12
    plain = og.load_omniglot(
        fixture_root, split=split, part="train", cache_dir=tmp_path, rotations=False
    )
    assert plain.shape == (5, 20, 1, 28, 28)
    torch.testing.assert_close(plain, x[::4].float())


def test_load_omniglot_trainval_is_train_then_val(fixture_root: Path, tmp_path: Path) -> None:
    split = fixture_split()
    parts = [
        og.load_omniglot(fixture_root, split=split, part=p, cache_dir=tmp_path)
        for p in ("train", "val", "trainval")
    ]
    assert torch.equal(parts[2], torch.cat(parts[:2]))


# ---------------------------------------------------------------- fixture: cache
def cache_files(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.exists() else []


def test_load_thumbnails_uses_cache_until_a_file_changes(
    fixture_root: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = og.load_thumbnails(fixture_root, cache_dir=cache)
    victim = sorted(fixture_root.glob("images_background/*/*/*.png"))[0]
    info = victim.stat()
    victim.write_bytes(b"x" * info.st_size)  # same size and mtime: the cache still answers
    os.utime(victim, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert torch.equal(og.load_thumbnails(fixture_root, cache_dir=cache).images, first.images)
    os.utime(victim, ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))  # now the key changes
    with pytest.raises(ValueError, match=re.escape(f"{victim.name}: not a PNG file")):
        og.load_thumbnails(fixture_root, cache_dir=cache)
    assert len(cache_files(cache)) == 1  # the failed rebuild wrote nothing


def test_load_thumbnails_cache_follows_new_content(fixture_root: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = og.load_thumbnails(fixture_root, cache_dir=cache)
    victim = sorted(fixture_root.glob("images_evaluation/*/*/*.png"))[0]
    victim.write_bytes(png_bytes(Image.new("1", (105, 105), 1)))  # a blank drawing
    os.utime(victim, ns=(1, 1))
    second = og.load_thumbnails(fixture_root, cache_dir=cache)
    row = second.characters.index(victim.parent.relative_to(fixture_root).as_posix())
    assert torch.all(second.images[row, 0] == 255)
    assert not torch.equal(first.images[row, 0], second.images[row, 0])
    assert len(cache_files(cache)) == 2


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage"])
def test_load_thumbnails_rebuilds_corrupt_cache(
    fixture_root: Path, tmp_path: Path, damage: str
) -> None:
    cache = tmp_path / "cache"
    first = og.load_thumbnails(fixture_root, cache_dir=cache)
    (path,) = cache_files(cache)
    blob = bytearray(path.read_bytes())
    if damage == "flip":
        blob[-100] ^= 0x01
    elif damage == "truncate":
        blob = blob[: len(blob) // 2]
    else:
        blob = bytearray(b"not a cache")
    path.write_bytes(bytes(blob))
    assert torch.equal(og.load_thumbnails(fixture_root, cache_dir=cache).images, first.images)
    tensors, description = checkpoints.load_tensors(path)  # rebuilt in place, SHA-256 verified
    assert torch.equal(tensors["images"], first.images) and len(description["key"]) == 64


def test_load_thumbnails_honours_cache_env_var(
    fixture_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLG_CACHE_DIR", str(tmp_path / "env-cache"))
    og.load_thumbnails(fixture_root)
    assert len(cache_files(tmp_path / "env-cache")) == 1
    og.load_thumbnails(fixture_root, cache=False)
    assert len(cache_files(tmp_path / "env-cache")) == 1


# ---------------------------------------------------------------- fixture: errors
def test_load_omniglot_missing_root_names_path(tmp_path: Path) -> None:
    with pytest.raises(
        FileNotFoundError, match=r"Omniglot root .*nowhere does not exist; expected"
    ):
        og.load_omniglot(tmp_path / "nowhere", cache_dir=tmp_path)


def test_load_omniglot_missing_part_names_folder(fixture_root: Path, tmp_path: Path) -> None:
    for png in (fixture_root / "images_evaluation").rglob("*.png"):
        png.unlink()
    for folder in sorted((fixture_root / "images_evaluation").rglob("*"), reverse=True):
        folder.rmdir()
    (fixture_root / "images_evaluation").rmdir()
    with pytest.raises(
        FileNotFoundError,
        match=r"part 'images_evaluation' not found; expected one of: .*images_evaluation",
    ):
        og.load_omniglot(fixture_root, split=fixture_split(), cache_dir=tmp_path / "cache")
    assert cache_files(tmp_path / "cache") == []


def test_load_omniglot_corrupt_png_names_path_and_writes_nothing(
    fixture_root: Path, tmp_path: Path
) -> None:
    victim = sorted(fixture_root.glob("images_evaluation/*/*/*.png"))[5]
    data = bytearray(victim.read_bytes())
    data[-20] ^= 0xFF  # inside the IDAT body
    victim.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=re.escape(f"{victim}: corrupt or truncated PNG")):
        og.load_omniglot(fixture_root, split=fixture_split(), cache_dir=tmp_path / "cache")
    assert cache_files(tmp_path / "cache") == []


def test_load_omniglot_wrong_size_png_names_path_and_size(
    fixture_root: Path, tmp_path: Path
) -> None:
    victim = sorted(fixture_root.glob("images_background/*/*/*.png"))[7]
    victim.write_bytes(png_bytes(Image.new("1", (50, 60), 1)))
    with pytest.raises(ValueError, match=re.escape(f"{victim}: image is 50x60; expected 105x105")):
        og.load_omniglot(fixture_root, split=fixture_split(), cache_dir=tmp_path / "cache")
    assert cache_files(tmp_path / "cache") == []


def test_load_omniglot_missing_drawing_names_character(fixture_root: Path, tmp_path: Path) -> None:
    victim = sorted(fixture_root.glob("images_background/*/*/*.png"))[0]
    victim.unlink()
    with pytest.raises(ValueError, match=re.escape(f"{victim.parent}: 19 PNG files; expected 20")):
        og.load_omniglot(fixture_root, split=fixture_split(), cache_dir=tmp_path)


def test_load_omniglot_unknown_split_and_part_name_the_value(
    fixture_root: Path, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=r"unknown split 'vinyals'; expected 'maml' or 'lake'"):
        og.load_omniglot(fixture_root, split="vinyals", cache_dir=tmp_path)
    with pytest.raises(ValueError, match=r"unknown part 'testing'; expected one of"):
        og.load_omniglot(fixture_root, split=fixture_split(), part="testing", cache_dir=tmp_path)


def test_load_omniglot_official_split_on_partial_data_names_missing_character(
    fixture_root: Path, tmp_path: Path
) -> None:
    with pytest.raises(
        ValueError, match=r"characters of split 'maml' part 'train' are not under .*e\.g\. 'images_"
    ):
        og.load_omniglot(fixture_root, split="maml", cache_dir=tmp_path)


def test_decode_characters_unknown_character_names_it(fixture_root: Path) -> None:
    with pytest.raises(
        ValueError, match=r"character 'images_background/Nope/character01' not found"
    ):
        og.decode_characters(["images_background/Nope/character01"], fixture_root)


# ---------------------------------------------------------------- splits
def test_maml_split_counts_and_disjoint_parts() -> None:
    split = og.maml_split()
    assert (len(split.train), len(split.val), len(split.test)) == (1100, 100, 423)
    assert len(set(split.train) | set(split.val) | set(split.test)) == 1623
    assert set(split.train + split.val + split.test) == set(og.omniglot_characters())


def test_maml_split_is_seeded_shuffle_of_sorted_characters() -> None:
    characters = og.omniglot_characters()
    shuffled = sorted(characters)
    random.seed(1)  # the MAML code's call sequence, on a sorted list
    random.shuffle(shuffled)
    split = og.maml_split(list(reversed(characters)))  # input order must not matter
    assert list(split.train + split.val + split.test) == shuffled
    assert og.maml_split(seed=2).train != split.train


def test_lake_split_validation_is_in_domain_and_test_alphabets_are_unseen() -> None:
    split = og.lake_split()
    assert len(split.train) + len(split.val) == 964 and len(split.test) == 659
    assert not set(split.train) & set(split.val)
    alphabets = [{c.split("/")[1] for c in part} for part in (split.train, split.val, split.test)]
    assert [len(a) for a in alphabets] == [30, 30, 20]
    assert alphabets[1] == alphabets[0] and not alphabets[0] & alphabets[2]
    assert all(c.startswith("images_evaluation/") for c in split.test)
    for name, size in og.ALPHABETS["images_background"]:  # 15% of each alphabet, rounded
        held = sum(c.split("/")[1] == name for c in split.val)
        assert held == max(1, round(0.15 * size)), name
    assert og.lake_split(val_fraction=0).train == tuple(
        c for c in og.omniglot_characters() if c.startswith("images_background/")
    )
    assert og.lake_split(seed=2).val != split.val


@pytest.mark.parametrize("name", ["maml", "lake"])
def test_committed_split_json_equals_function_output(name: str, tmp_path: Path) -> None:
    committed = (SPLITS_DIR / f"{name}.json").read_text(encoding="utf-8")
    split = og.get_split(name)
    assert committed == split.to_json()
    loaded = json.loads(committed)
    assert loaded["seed"] == 1 and loaded["counts"]["test"] == len(split.test)
    written = getattr(og, f"{name}_split")(out_dir=tmp_path)
    assert (tmp_path / f"{name}.json").read_text(encoding="utf-8") == written.to_json()


def test_split_functions_reject_impossible_counts() -> None:
    with pytest.raises(ValueError, match=r"num_train \(1600\) and num_val \(100\).*< 1623"):
        og.maml_split(num_train=1600)
    with pytest.raises(ValueError, match=r"val_fraction must be in \[0, 1\), got 1"):
        og.lake_split(val_fraction=1)


# ---------------------------------------------------------------- download
class _Server:
    """A local HTTP server: `routes` maps a URL path to (payload, mode); mode "cut" stops halfway."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[bytes, str]] = {}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                if self.path not in server.routes:
                    self.send_error(404)
                    return
                payload, mode = server.routes[self.path]
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload[: len(payload) // 2] if mode == "cut" else payload)
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/python"


@pytest.fixture
def server() -> Iterator[_Server]:
    running = _Server()
    yield running
    running.httpd.shutdown()
    running.httpd.server_close()


@pytest.fixture
def zips(tmp_path: Path) -> dict[str, bytes]:
    root = make_omniglot(tmp_path / "source")
    return {f"{part}.zip": zip_folder(root, part) for part in og.PARTS}


def md5s(zips: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.md5(data).hexdigest() for name, data in zips.items()}


def test_download_omniglot_fetches_verifies_and_loads(
    server: _Server, zips: dict[str, bytes], tmp_path: Path
) -> None:
    for name, data in zips.items():
        server.routes[f"/python/{name}"] = (data, "ok")
    root = tmp_path / "root"
    paths = og.download_omniglot(root, base_url=server.url, md5=md5s(zips))
    assert [p.read_bytes() for p in paths] == [zips[p.name] for p in paths]
    assert sorted(p.name for p in root.iterdir()) == sorted(zips)
    og.download_omniglot(root, base_url=server.url, md5=md5s(zips))  # present and valid: no request
    assert len(server.requests) == 2
    x = og.load_omniglot(root, split=fixture_split(), part="val", cache_dir=tmp_path / "cache")
    assert x.shape == (8, 20, 1, 28, 28)


def test_download_omniglot_wrong_md5_leaves_no_file(
    server: _Server, zips: dict[str, bytes], tmp_path: Path
) -> None:
    for name, data in zips.items():
        server.routes[f"/python/{name}"] = (data, "ok")
    root = tmp_path / "root"
    with pytest.raises(
        ValueError,
        match=r"images_background\.zip: MD5 [0-9a-f]{32}; expected 68d2efa1b9178cc56df9314c21c6e718",
    ):
        og.load_omniglot(root, download=True, base_url=server.url, cache_dir=tmp_path / "cache")
    assert list(root.iterdir()) == []
    assert cache_files(tmp_path / "cache") == []


def test_download_omniglot_cut_connection_leaves_no_file(
    server: _Server, zips: dict[str, bytes], tmp_path: Path
) -> None:
    server.routes["/python/images_background.zip"] = (zips["images_background.zip"], "ok")
    server.routes["/python/images_evaluation.zip"] = (zips["images_evaluation.zip"], "cut")
    root = tmp_path / "root"
    size = len(zips["images_evaluation.zip"])
    with pytest.raises(
        ConnectionError,
        match=rf"images_evaluation\.zip: download stopped after {size // 2} of {size} bytes",
    ):
        og.download_omniglot(root, base_url=server.url, md5=md5s(zips))
    assert [p.name for p in root.iterdir()] == ["images_background.zip"]  # the complete one stays


def test_download_omniglot_missing_file_raises_connection_error(
    server: _Server, tmp_path: Path
) -> None:
    with pytest.raises(
        ConnectionError, match=r"images_background\.zip: download failed \(HTTP Error 404"
    ):
        og.download_omniglot(tmp_path / "root", base_url=server.url)
    assert list((tmp_path / "root").iterdir()) == []
