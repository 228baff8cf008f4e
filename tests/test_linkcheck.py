"""linkchecker over the built site: zero broken internal links, anchors or missing assets."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("site")

# Anchors (`page/#section`) are checked by the strict build itself (mkdocs `validation.anchors`),
# which is much faster than linkchecker's AnchorCheck plugin on this site (minutes, measured);
# linkchecker covers what the build cannot see: every served URL, asset and font answers 200.
CONFIG = "[checking]\nthreads=4\n[filtering]\ncheckextern=0\n"


def _run(url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("linkchecker", path=os.path.dirname(sys.executable)) or shutil.which(
        "linkchecker"
    )
    assert exe, "linkchecker is a test dependency (pip install -e '.[test]')"
    config = tmp_path / "linkcheckerrc"
    config.write_text(CONFIG)
    cmd = [exe, "--config", str(config), "--no-status", "--ignore-url=^mailto:", url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path)


@pytest.fixture
def broken_site(tmp_path: Path) -> Iterator[str]:
    """A two-page site with a missing page and a missing image, on 127.0.0.1."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.html").write_text(
        '<html><body><a href="missing.html">x</a><img src="gone.png">'
        '<a href="ok.html#there">ok</a><link rel="stylesheet" href="css/gone.css"></body></html>'
    )
    (root / "ok.html").write_text('<html><body><h2 id="there">ok</h2></body></html>')
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_linkchecker_catches_missing_pages_and_assets(broken_site: str, tmp_path: Path) -> None:
    result = _run(broken_site, tmp_path)
    assert result.returncode == 1, result.stdout
    assert "3 errors found" in result.stdout, result.stdout
    for target in ["missing.html", "gone.png", "css/gone.css"]:
        assert target in result.stdout, f"{target} not reported:\n{result.stdout}"


def test_site_has_no_broken_internal_links(site_url: str, tmp_path: Path) -> None:
    result = _run(site_url, tmp_path)
    tail = result.stdout[-8000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    assert "0 errors found" in result.stdout, tail
