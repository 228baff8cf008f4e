"""Suite-wide fixtures: the built site, a loopback HTTP server for it, and Debian's Chromium;
`load_snippet` for the tests of the docs' snippet files.

Everything that consumes the built site is grouped on one xdist worker (`xdist_group("site")`),
so the strict build runs once per test session.
"""

from __future__ import annotations

import functools
import http.server
import os
import runpy
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SNIPPETS = REPO / "docs" / "snippets"
# The docs' helpers (figures, claims) are imported by executed blocks from docs/snippets.
if str(SNIPPETS) not in sys.path:
    sys.path.insert(0, str(SNIPPETS))


def load_snippet(name: str) -> dict[str, Any]:
    """Namespace of one snippet file of docs/snippets (they define functions only; nothing runs
    on load)."""
    return runpy.run_path(str(SNIPPETS / name), run_name=name.removesuffix(".py"))


def in_ci() -> bool:
    """True under CI, where a missing tool is a failure rather than a skip."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_tool(path: str | None, what: str) -> str:
    """Return `path` if it is executable; otherwise skip, or fail under CI=true."""
    if path and Path(path).is_file() and os.access(path, os.X_OK):
        return path
    message = f"{what} not found (looked for {path!r})"
    if in_ci():
        pytest.fail(f"{message}; CI=true requires it (.ci/run installs it from Debian's packages)")
    pytest.skip(message)


def build_site(site_dir: Path, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the strict MkDocs build into `site_dir` from the repository root."""
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)]
    if config is not None:
        cmd += ["--config-file", str(config)]
    env = {
        **os.environ,
        "NO_MKDOCS_2_WARNING": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """The whole site built with `--strict` into a temporary directory, and the build's seconds."""
    site_dir = tmp_path_factory.mktemp("site")
    start = time.perf_counter()
    result = build_site(site_dir)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        pytest.fail(f"strict docs build failed:\n{result.stdout}\n{result.stderr}")
    return site_dir, seconds


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def site_url(built_site: tuple[Path, float]) -> Iterator[str]:
    """Serve the built site on 127.0.0.1 (a free port) for the duration of the session."""
    site_dir, _ = built_site
    handler = functools.partial(_QuietHandler, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium (`/usr/bin/chromium`, or `$CHROMIUM`)."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return require_tool(path, "Chromium")
