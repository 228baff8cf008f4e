"""The strict docs build is the gate that keeps pages and code in step; these tests prove it holds.

* The real site builds with `--strict` (markdown-exec blocks ran, snippets resolved, links valid).
* The gate can fail: a raising exec block, a missing snippet section and a broken link each fail a
  build that passes without them.
* Every public function and class of `reference_impl` is in the API inventory.
* Every snippet section marker is opened and closed once per file.
"""

from __future__ import annotations

import ast
import re
import zlib
from pathlib import Path

import pytest
import yaml
from conftest import REPO, build_site

pytestmark = pytest.mark.xdist_group("site")

MARKER = re.compile(r"--8<-- \[(start|end):([A-Za-z0-9_-]+)\]")


def _inventory_names(site_dir: Path) -> set[str]:
    """Object names from a Sphinx v2 inventory (`objects.inv`) written by mkdocstrings."""
    raw = (site_dir / "objects.inv").read_bytes()
    header_end = 0
    for _ in range(4):  # four plain-text header lines, then zlib-compressed entries
        header_end = raw.index(b"\n", header_end) + 1
    body = zlib.decompress(raw[header_end:]).decode()
    return {line.split(" ", 1)[0] for line in body.splitlines() if line.strip()}


def _public_api() -> dict[str, list[str]]:
    """Top-level public functions and classes of every `reference_impl` module."""
    api: dict[str, list[str]] = {}
    for path in sorted((REPO / "reference_impl").glob("*.py")):
        if path.name.startswith("_"):
            continue
        tree = ast.parse(path.read_text())
        api[path.stem] = [
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_")
        ]
    return api


def test_strict_build_passes_and_renders_every_section(built_site: tuple[Path, float]) -> None:
    site_dir, seconds = built_site
    for section in ["glossary", "algorithms", "guides", "results", "reference"]:
        page = site_dir / section / "index.html"
        assert page.is_file(), f"missing section index {page}"
    index = (site_dir / "index.html").read_text()
    assert "Meta-Learning Glossary" in index
    print(f"strict build took {seconds:.1f} s")


def test_inventory_lists_every_public_function(built_site: tuple[Path, float]) -> None:
    site_dir, _ = built_site
    names = _inventory_names(site_dir)
    missing = [
        f"reference_impl.{module}.{name}"
        for module, public in _public_api().items()
        for name in public
        if f"reference_impl.{module}.{name}" not in names
    ]
    assert not missing, f"public API missing from the docs (add a docs/reference page): {missing}"


def test_snippet_markers_are_paired_and_unique() -> None:
    files = [
        *REPO.glob("reference_impl/*.py"),
        *REPO.glob("benchmarks/**/*.py"),
        *REPO.glob("docs/snippets/*.py"),
    ]
    checked = 0
    for path in files:
        opened: dict[str, int] = {}
        closed: set[str] = set()
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            for kind, name in MARKER.findall(line):
                where = f"{path.relative_to(REPO)}:{lineno}"
                if kind == "start":
                    assert name not in opened, f"section {name!r} opened twice ({where})"
                    opened[name] = lineno
                else:
                    assert name in opened, f"section {name!r} closed before it opens ({where})"
                    assert name not in closed, f"section {name!r} closed twice ({where})"
                    closed.add(name)
                checked += 1
        assert set(opened) == closed, f"{path}: unclosed sections {set(opened) - closed}"
    assert checked > 0, "no snippet markers found at all"


# --- the gate can fail -------------------------------------------------------------------------

GOOD_PAGE = """# Gate check

Some text with math $a^2$.

```python exec="on" session="gate" title="gate-ok"
print(1 + 1)
```

```python title="reference_impl/__init__.py"
--8<-- "reference_impl/__init__.py"
```

[Home](index.md)
"""

# fault -> (text added to a page that builds cleanly, what the failed build must say)
FAULTS = {
    "raising exec block": (
        '```python exec="on" session="gate" title="boom"\nraise RuntimeError("boom")\n```\n',
        "code block 'boom' exited with errors",
    ),
    "missing snippet section": (
        '```python\n--8<-- "reference_impl/__init__.py:no-such-section"\n```\n',
        "Snippet section 'no-such-section' could not be located",
    ),
    "broken link": (
        "[nowhere](no-such-page.md)\n",
        "'no-such-page.md', but the target is not found",
    ),
    "missing snippet file": (
        '```python\n--8<-- "reference_impl/no_such_file.py"\n```\n',
        "'reference_impl/no_such_file.py' could not be found",
    ),
}


class _ConfigLoader(yaml.SafeLoader):
    """Reads mkdocs.yml, keeping MkDocs' `!ENV [NAME, default]` tag as its default value."""


_ConfigLoader.add_constructor(
    "!ENV",
    lambda loader, node: loader.construct_sequence(node)[-1],  # type: ignore[arg-type]
)


def _mini_project(tmp_path: Path, extra: str) -> Path:
    """A copy of the real mkdocs.yml pointed at a two-page docs dir, with `extra` on one page."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\n[Gate](gate.md)\n")
    (docs / "gate.md").write_text(GOOD_PAGE + "\n" + extra)
    config = yaml.load((REPO / "mkdocs.yml").read_text(), Loader=_ConfigLoader)
    config["docs_dir"] = str(docs)
    for key in ("watch", "nav", "repo_url"):  # the site's pages, an unset environment variable
        config.pop(key, None)
    config["hooks"] = [str(REPO / hook) for hook in config.get("hooks", [])]
    snippets = next(
        ext["pymdownx.snippets"]
        for ext in config["markdown_extensions"]
        if isinstance(ext, dict) and "pymdownx.snippets" in ext
    )
    snippets["base_path"] = [str(REPO), str(REPO / "docs" / "snippets")]
    snippets["auto_append"] = [str(REPO / "docs" / ".abbreviations.md")]
    for plugin in config["plugins"]:
        if isinstance(plugin, dict) and "mkdocstrings" in plugin:
            handler = plugin["mkdocstrings"]["handlers"]["python"]
            handler["paths"] = [str(REPO)]
            for inventory in handler.get("inventories", []):
                inventory["url"] = str(REPO / inventory["url"])
    path = tmp_path / "mkdocs.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_gate_passes_without_a_fault(tmp_path: Path) -> None:
    result = build_site(tmp_path / "site", _mini_project(tmp_path, ""))
    assert result.returncode == 0, result.stderr
    assert "<p>2</p>" in (tmp_path / "site" / "gate" / "index.html").read_text()


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_gate_fails_on(fault: str, tmp_path: Path) -> None:
    extra, expected = FAULTS[fault]
    result = build_site(tmp_path / "site", _mini_project(tmp_path, extra))
    assert result.returncode != 0, f"strict build passed despite a {fault}:\n{result.stderr}"
    assert expected in result.stderr, result.stderr
