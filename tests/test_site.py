"""The site's own conventions: every page in the nav (new glossary pages included without a nav
edit), footer and progress features, edit/view links, downloadable algorithm files, API pages in
source order without attribute labels, Python types linked from the offline inventory."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, build_site

pytestmark = pytest.mark.xdist_group("site")

DOCS = REPO / "docs"


def _hooks():
    spec = importlib.util.spec_from_file_location("site_hooks", DOCS / "hooks.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("site_hooks", module)
    spec.loader.exec_module(module)
    return module


class _Loader(yaml.SafeLoader):
    """mkdocs.yml with `!ENV [NAME, default]` read as its default (None without one)."""


_Loader.add_constructor(
    "!ENV",
    lambda loader, node: (
        loader.construct_sequence(node)[1:] or [None]  # type: ignore[arg-type]
    )[-1],
)


def _config() -> dict:
    return yaml.load((REPO / "mkdocs.yml").read_text(), Loader=_Loader)


def _pages() -> set[str]:
    """Every Markdown page MkDocs builds: not hidden, not under an excluded folder."""
    excluded = ("snippets/", "inventories/")
    return {
        p.relative_to(DOCS).as_posix()
        for p in DOCS.rglob("*.md")
        if not p.name.startswith(".") and not p.relative_to(DOCS).as_posix().startswith(excluded)
    }


def test_every_page_under_docs_is_in_the_nav_and_the_nav_starts_at_home() -> None:
    hooks = _hooks()
    config = _config()
    nav = hooks.complete_nav(config["nav"], DOCS)
    listed = hooks.nav_paths(nav)
    assert nav[0] == {"Home": "index.md"}
    assert len(listed) == len(set(listed)), "a page is listed twice"
    assert set(listed) == _pages()
    glossary = next(e["Glossary"] for e in nav if isinstance(e, dict) and "Glossary" in e)
    assert glossary[0] == "glossary/index.md" and len(glossary) == len(
        list(DOCS.glob("glossary/*.md"))
    )


def test_a_new_glossary_page_joins_the_nav_without_a_nav_edit(tmp_path: Path) -> None:
    (tmp_path / "glossary").mkdir()
    for name in ("index.md", "b-term.md", "a-term.md"):
        (tmp_path / "glossary" / name).write_text(f"# {name}\n")
    (tmp_path / "guides").mkdir()
    (tmp_path / "guides" / "index.md").write_text("# Guides\n")
    (tmp_path / "guides" / "listed.md").write_text("# Listed\n")
    nav = [
        {"Home": "index.md"},
        {"Glossary": ["glossary/index.md"]},
        {"Guides": ["guides/index.md", "guides/listed.md"]},
    ]
    hooks = _hooks()
    assert hooks.complete_nav(nav, tmp_path)[1] == {
        "Glossary": ["glossary/index.md", "glossary/a-term.md", "glossary/b-term.md"]
    }
    assert nav[2] == {"Guides": ["guides/index.md", "guides/listed.md"]}, "listed pages stay once"


def test_theme_features_and_api_options() -> None:
    config = _config()
    features = set(config["theme"]["features"])
    assert {
        "navigation.footer", "content.tooltips", "navigation.instant.progress",
        "navigation.indexes", "content.action.edit", "content.action.view",
    } <= features  # fmt: skip
    assert config["edit_uri"] == "edit/main/docs/"
    handler = next(p for p in config["plugins"] if isinstance(p, dict) and "mkdocstrings" in p)
    python = handler["mkdocstrings"]["handlers"]["python"]
    assert python["options"]["members_order"] == "source"
    assert python["options"]["group_by_category"] is False
    assert python["options"]["show_labels"] is False
    for inventory in python["inventories"]:
        assert (REPO / inventory["url"]).read_bytes().startswith(b"# Sphinx inventory version 2")
        assert (
            inventory["url"].rsplit("/", 1)[1] in (DOCS / "inventories" / "README.md").read_text()
        )


def test_pages_workflow_gives_the_build_its_repository_address() -> None:
    pages = yaml.safe_load((REPO / ".github" / "workflows" / "pages.yml").read_text())
    build = next(s for s in pages["jobs"]["build"]["steps"] if "mkdocs build" in s.get("run", ""))
    assert build["env"]["REPO_URL"] == "${{ github.server_url }}/${{ github.repository }}"


def test_edit_and_view_links_point_at_the_page_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_docs import _mini_project

    config_path = _mini_project(tmp_path, "")
    config = yaml.safe_load(config_path.read_text())
    config["repo_url"] = "https://github.com/example-owner/meta-learning-glossary"
    config_path.write_text(yaml.safe_dump(config))
    result = build_site(tmp_path / "site", config_path)
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "site" / "gate" / "index.html").read_text()
    base = "https://github.com/example-owner/meta-learning-glossary"
    assert f'href="{base}/edit/main/docs/gate.md"' in html
    assert f'href="{base}/raw/main/docs/gate.md"' in html


# ---------------------------------------------------------------- the built site
ALGORITHM_PAGES = {
    "maml.py": "maml",
    "protonet.py": "prototypical-networks",
    "fast_weights.py": "fast-weights",
    "baseline.py": "transfer-baseline",
}


@pytest.mark.parametrize("name", sorted(ALGORITHM_PAGES))
def test_algorithm_page_offers_its_file_for_download_byte_for_byte(
    name: str, built_site: tuple[Path, float]
) -> None:
    site, _ = built_site
    served = site / "downloads" / name
    assert served.read_bytes() == (REPO / "reference_impl" / name).read_bytes()
    html = (site / "algorithms" / ALGORITHM_PAGES[name] / "index.html").read_text()
    link = re.search(rf'<a download="{re.escape(name)}" href="([^"]+)"', html) or re.search(
        rf'<a href="([^"]+)" download="{re.escape(name)}"', html
    )
    assert link, "no download link"
    target = (site / "algorithms" / ALGORITHM_PAGES[name] / link.group(1)).resolve()
    assert target == served.resolve()
    position = html.index(link.group(0))
    heading, summary = html.index('id="full-source"'), html.index("<summary>Full source</summary>")
    assert heading < position < summary, "beside the collapsed source, under its heading"


def test_pages_have_previous_next_footer(built_site: tuple[Path, float]) -> None:
    site, _ = built_site
    html = (site / "algorithms" / "maml" / "index.html").read_text()
    assert "md-footer__link--prev" in html and "md-footer__link--next" in html


def _public_names_in_source_order(module: str) -> list[str]:
    tree = ast.parse((REPO / "reference_impl" / f"{module}.py").read_text())
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_")
    ]


@pytest.mark.parametrize("module", ["omniglot", "maml", "evaluation"])
def test_api_page_lists_members_in_source_order_without_attribute_labels(
    module: str, built_site: tuple[Path, float]
) -> None:
    site, _ = built_site
    html = (site / "reference" / module / "index.html").read_text()
    names = _public_names_in_source_order(module)
    positions = [html.find(f'id="reference_impl.{module}.{name}"') for name in names]
    assert all(p >= 0 for p in positions), dict(zip(names, positions, strict=True))
    assert positions == sorted(positions), "members are not in source order"
    assert "instance-attribute" not in html and "class-attribute" not in html


def test_python_types_link_to_the_python_docs(built_site: tuple[Path, float]) -> None:
    site, _ = built_site
    html = (site / "reference" / "omniglot" / "index.html").read_text()
    assert 'href="https://docs.python.org/3.11/library/pathlib.html#pathlib.Path"' in html


def test_rendered_error_scan_flags_tracebacks_and_leftover_directives(tmp_path: Path) -> None:
    """`make docs-zensical` fails on what a failed block leaves in a page (Zensical's strict
    build exits 0 there), and passes a clean site."""
    spec = importlib.util.spec_from_file_location(
        "rendered_errors", REPO / "tools" / "rendered_errors.py"
    )
    assert spec and spec.loader
    scan = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scan)
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "index.html").write_text("<p>2</p><pre>Traceback-free</pre>")
    assert scan.main([str(tmp_path)]) == 0
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "index.html").write_text(
        '<pre><code>Traceback (most recent call last):\n  File "x"</code></pre>'
    )
    (tmp_path / "api.html").write_text('<p>::: reference_impl.nothing</p><p>--8&lt;-- "x.py"</p>')
    assert scan.scan(tmp_path) == [
        "api.html: an unprocessed mkdocstrings directive ('<p>::: reference_impl.nothing</p><p>--8<-- \"x.py\"</p>')",
        "api.html: an unresolved snippet include ('--8<-- \"x.py\"</p>')",
        "bad/index.html: a Python traceback ('Traceback (most recent call last):')",
    ]
    assert scan.main([str(tmp_path)]) == 1
    assert scan.main([str(tmp_path / "missing")]) == 2
    makefile = (REPO / "Makefile").read_text()
    target = makefile.split("\ndocs-zensical:", 1)[1].split("\n\n", 1)[0]
    assert "zensical build" in target and "tools/rendered_errors.py site" in target
