"""Getting Omniglot: the lookup order, the download command and its failure modes, offline.

No test touches the network: a local HTTP server on 127.0.0.1 serves small fake zips (the
generated fixture of `omniglot_fixture.py`), and the expected MD5s and the character list are
patched to the fixture's. A closed local port stands in for "offline".
"""

from __future__ import annotations

import hashlib
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from omniglot_fixture import fixture_characters, make_omniglot, zip_folder

from benchmarks import train
from reference_impl import omniglot as og

REPO = Path(__file__).resolve().parents[1]


class _Server:
    """Serves `routes` (URL path -> payload, mode); "stall" sends half and then hangs."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[bytes, str]] = {}
        self.requests: list[str] = []
        self.release = threading.Event()
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
                if mode == "stall":
                    self.wfile.write(payload[: len(payload) // 2])
                    self.wfile.flush()
                    server.release.wait(30)
                elif mode == "cut":
                    self.wfile.write(payload[: len(payload) // 2])
                else:
                    self.wfile.write(payload)
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
    running.release.set()
    running.httpd.shutdown()
    running.httpd.server_close()


@pytest.fixture
def zips(tmp_path: Path) -> dict[str, bytes]:
    root = make_omniglot(tmp_path / "source")
    return {f"{part}.zip": zip_folder(root, part) for part in og.PARTS}


@pytest.fixture
def fixture_is_official(monkeypatch: pytest.MonkeyPatch, zips: dict[str, bytes]) -> None:
    """Make the fixture's zips and characters the "official" ones for this test."""
    md5 = {name: hashlib.md5(data).hexdigest() for name, data in zips.items()}
    monkeypatch.setattr(og, "OFFICIAL_MD5", md5)
    monkeypatch.setattr(og, "omniglot_characters", fixture_characters)


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connecting fails at once, like being offline."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/python"


# ---------------------------------------------------------------- lookup order
def fake_checkout(tmp_path: Path, *, with_shared: bool) -> Path:
    """`<tmp>/repo/{pyproject.toml,reference_impl/}` and, optionally, `<tmp>/shared/data/omniglot`."""
    repo = tmp_path / "repo"
    (repo / "reference_impl").mkdir(parents=True)
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    if with_shared:
        (tmp_path / "shared" / "data" / "omniglot").mkdir(parents=True)
    return repo


def test_lookup_order_root_then_env_then_checkout_then_user_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(og, "_REPO_ROOT", fake_checkout(tmp_path, with_shared=True))
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("OMNIGLOT_ROOT", str(tmp_path / "env"))
    assert og.resolve_root(tmp_path / "given") == (tmp_path / "given", "--root")
    assert og.resolve_root() == (tmp_path / "env", "OMNIGLOT_ROOT")
    monkeypatch.setenv("OMNIGLOT_ROOT", "")  # empty counts as unset
    shared = tmp_path / "shared" / "data" / "omniglot"
    assert og.resolve_root() == (shared, "checkout")
    assert og.default_root() == shared
    monkeypatch.delenv("OMNIGLOT_ROOT")
    shared.rmdir()  # the checkout rule applies only when the folder exists
    cache = tmp_path / "xdg" / "meta-learning-glossary"
    assert og.resolve_root() == (cache / "omniglot", "user cache")
    assert og.default_cache_dir() == cache  # thumbnails sit beside the data, not in the repo


def test_user_cache_follows_xdg_and_ignores_a_relative_xdg_cache_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert og.user_cache_dir() == tmp_path / "home" / ".cache" / "meta-learning-glossary"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert (
        og.user_cache_dir() == tmp_path / "home" / "Library" / "Caches" / "meta-learning-glossary"
    )


def test_installed_package_never_looks_or_writes_inside_its_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wheel in site-packages: `../shared` beside it is ignored and split files need --out."""
    venv_lib = tmp_path / "venv" / "lib" / "python3.11"
    site = venv_lib / "site-packages"
    (site / "reference_impl").mkdir(parents=True)
    (site / "pyproject.toml").write_text("")  # even a stray pyproject.toml does not count
    (venv_lib / "shared" / "data" / "omniglot").mkdir(parents=True)
    monkeypatch.setattr(og, "_REPO_ROOT", site)
    monkeypatch.delenv("OMNIGLOT_ROOT", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert og.source_checkout() is None
    found = og.resolve_root()
    assert found.rule == "user cache" and venv_lib not in found.path.parents
    with pytest.raises(ValueError, match=r"installed, not run from a source checkout.*--out"):
        og.write_splits()
    assert og.main(["splits"]) == 1
    assert not (site / "benchmarks").exists()
    assert og.main(["splits", "--out", str(tmp_path / "splits")]) == 0
    assert sorted(p.name for p in (tmp_path / "splits").iterdir()) == ["lake.json", "maml.json"]


def test_where_prints_the_folder_and_the_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OMNIGLOT_ROOT", str(tmp_path / "data"))
    assert og.main(["where"]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'data'} (rule: OMNIGLOT_ROOT; data missing)\n"


# ---------------------------------------------------------------- the download command
@pytest.mark.usefixtures("fixture_is_official")
def test_download_command_fetches_checks_unpacks_and_shows_progress(
    server: _Server, zips: dict[str, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, data in zips.items():
        server.routes[f"/python/{name}"] = (data, "ok")
    root = tmp_path / "data"
    assert og.main(["download", "--root", str(root), "--base-url", server.url]) == 0
    captured = capsys.readouterr()
    assert captured.out.split() == [str(root / part) for part in og.PARTS]
    for name, data in zips.items():
        size = f"{len(data) / 1e3:.1f} kB of {len(data) / 1e3:.1f} kB (100%)"  # tens of kB
        assert f"{name}: {size}" in captured.err, captured.err
        assert (root / name).read_bytes() == data
    assert og.omniglot_present(root)
    assert sorted(p.name for p in root.iterdir()) == sorted([*og.PARTS, *zips])  # no leftovers
    x = og.load_omniglot(
        root, split=og.maml_split(num_train=5, num_val=2), part="val", cache_dir=tmp_path / "c"
    )
    assert x.shape == (8, 20, 1, 28, 28)

    assert og.main(["download", "--root", str(root), "--base-url", server.url]) == 0
    assert len(server.requests) == 2, "a complete folder is not fetched again"
    assert "complete, nothing to fetch" in capsys.readouterr().err


@pytest.mark.usefixtures("fixture_is_official")
def test_zips_already_present_are_md5_checked_and_a_changed_one_fetched_again(
    server: _Server, zips: dict[str, bytes], tmp_path: Path
) -> None:
    for name, data in zips.items():
        server.routes[f"/python/{name}"] = (data, "ok")
    root = tmp_path / "data"
    og.download_omniglot(root, base_url=server.url, progress=False)
    og.download_omniglot(root, base_url=server.url, progress=False)
    assert len(server.requests) == 2, "valid zips are not fetched again"
    changed = root / "images_evaluation.zip"
    changed.write_bytes(zips["images_evaluation.zip"] + b"trailing bytes")  # still a readable zip
    assert og.omniglot_present(root)
    og.download_omniglot(root, base_url=server.url, progress=False)
    assert server.requests[2:] == ["/python/images_evaluation.zip"]
    assert changed.read_bytes() == zips["images_evaluation.zip"]


@pytest.mark.usefixtures("fixture_is_official")
def test_download_command_md5_mismatch_is_one_line_and_writes_nothing(
    server: _Server, zips: dict[str, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, data in zips.items():
        server.routes[f"/python/{name}"] = (data[:-1] + bytes([data[-1] ^ 1]), "ok")
    root = tmp_path / "data"
    assert og.main(["download", "--root", str(root), "--base-url", server.url, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    expected = og.OFFICIAL_MD5["images_background.zip"]
    assert "images_background.zip: MD5 " in err and f"expected {expected}" in err
    assert list(root.iterdir()) == []


def test_download_offline_fails_in_one_line_that_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "data"
    assert og.main(["download", "--root", str(root), "--base-url", closed_port_url()]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"Omniglot folder: {root} (rule: --root; fetching)"
    assert len(err) == 2, err
    assert err[1].startswith("reference_impl.omniglot: error: http://127.0.0.1:")
    assert "download failed (" in err[1] and "Offline? Download images_background.zip" in err[1]
    assert og.OFFICIAL_PAGE in err[1] and f"rerun `{og.DOWNLOAD_COMMAND} --root {root}`" in err[1]
    assert list(root.iterdir()) == []


def test_cut_connection_leaves_no_file_and_a_rerun_completes(
    server: _Server, zips: dict[str, bytes], tmp_path: Path
) -> None:
    md5 = {name: hashlib.md5(data).hexdigest() for name, data in zips.items()}
    server.routes["/python/images_background.zip"] = (zips["images_background.zip"], "cut")
    server.routes["/python/images_evaluation.zip"] = (zips["images_evaluation.zip"], "ok")
    root = tmp_path / "data"
    with pytest.raises(ConnectionError, match="download stopped after"):
        og.download_omniglot(root, base_url=server.url, md5=md5, progress=False)
    assert list(root.iterdir()) == []
    server.routes["/python/images_background.zip"] = (zips["images_background.zip"], "ok")
    paths = og.download_omniglot(root, base_url=server.url, md5=md5, progress=False)
    assert [p.read_bytes() for p in paths] == [zips[p.name] for p in paths]


@pytest.mark.slow
def test_download_killed_mid_transfer_restarts_cleanly(
    server: _Server, zips: dict[str, bytes], tmp_path: Path
) -> None:
    """SIGKILL while half a zip has arrived: only the hidden `.part` file is left (no zip under
    its real name), and the next download overwrites it and finishes."""
    md5 = {name: hashlib.md5(data).hexdigest() for name, data in zips.items()}
    background = zips["images_background.zip"]
    server.routes["/python/images_background.zip"] = (background, "stall")
    server.routes["/python/images_evaluation.zip"] = (zips["images_evaluation.zip"], "ok")
    root = tmp_path / "data"
    code = (
        "import sys; from reference_impl import omniglot as og; "
        "og.download_omniglot(sys.argv[1], base_url=sys.argv[2], md5=eval(sys.argv[3]))"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(root), server.url, repr(md5)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    part = root / ".images_background.zip.part"
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and child.poll() is None:
            if part.is_file() and part.stat().st_size > 0:
                break
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        server.release.set()
    assert child.returncode == -signal.SIGKILL
    assert [p.name for p in root.iterdir()] == [part.name]
    assert 0 < part.stat().st_size < len(background)

    server.routes["/python/images_background.zip"] = (background, "ok")
    og.download_omniglot(root, base_url=server.url, md5=md5, progress=False)
    assert sorted(p.name for p in root.iterdir()) == sorted(zips)
    assert (root / "images_background.zip").read_bytes() == background


def test_extract_is_atomic_per_part(zips: dict[str, bytes], tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    (root / "images_background.zip").write_bytes(zips["images_background.zip"])
    (root / "images_evaluation.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match=r"images_evaluation\.zip: not a readable zip file"):
        og.extract_omniglot(root)
    assert sorted(p.name for p in root.iterdir()) == [
        "images_background", "images_background.zip", "images_evaluation.zip",
    ]  # fmt: skip
    assert len(list((root / "images_background").rglob("*.png"))) == 5 * 20


# ---------------------------------------------------------------- the harness
def test_harness_missing_data_names_the_command_that_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "nowhere"
    assert train.main(["protonet", "5w1s", "--quiet", "--data-root", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"`python -m reference_impl.omniglot download --root {root}`" in err
    assert "rerun with --download" in err


def test_harness_download_offline_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(og, "OFFICIAL_BASE_URL", closed_port_url())
    root = tmp_path / "data"
    assert train.main(["protonet", "5w1s", "--quiet", "--data-root", str(root), "--download"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("benchmarks.train: error: cannot download")
    assert "Offline? Download images_background.zip" in err


@pytest.mark.usefixtures("fixture_is_official")
def test_harness_download_fetches_into_the_data_root(
    server: _Server, zips: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--download` fills an empty data root before loading (here the fixture, under the patched
    "official" MD5s; its 9 characters then fail the real split with the loader's own error)."""
    for name, data in zips.items():
        server.routes[f"/python/{name}"] = (data, "ok")
    monkeypatch.setattr(og, "OFFICIAL_BASE_URL", server.url)
    root = tmp_path / "data"
    args = train.build_parser().parse_args(
        ["protonet", "5w1s", "--data-root", str(root), "--download"]
    )
    with pytest.raises(train.HarnessError, match=r"need 0 <= num_train \(1100\).*< 9 characters$"):
        train.load_part(args, "train", torch.float32)
    assert {p.name for p in root.iterdir()} == set(zips)
    assert [(root / name).read_bytes() for name in zips] == list(zips.values())
