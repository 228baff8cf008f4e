"""The files that make the repository usable, copyable and citable: licence, SPDX headers of the
algorithm files, CITATION.cff, CONTRIBUTING.md and the README's pointers to them."""

from __future__ import annotations

import ast
import datetime
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml
from conftest import REPO

ALGORITHM_PAGES = {
    "maml.py": "maml",
    "protonet.py": "prototypical-networks",
    "fast_weights.py": "fast-weights",
    "baseline.py": "transfer-baseline",
}
"""Algorithm file -> its page under docs/algorithms/."""


def test_licence_is_the_mit_text_the_package_declares() -> None:
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License\n\nCopyright (c) ")
    assert "Permission is hereby granted, free of charge, to any person obtaining a copy" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"


@pytest.mark.parametrize("name", sorted(ALGORITHM_PAGES))
def test_algorithm_file_starts_with_spdx_line_and_its_page(name: str) -> None:
    """A reader who copies one file keeps its licence and a way back to its explanation."""
    source = (REPO / "reference_impl" / name).read_text()
    lines = source.splitlines()
    assert lines[0] == "# SPDX-License-Identifier: MIT"
    assert lines[1].startswith("# Copyright (c) ") and "LICENSE" in lines[1]
    page = ALGORITHM_PAGES[name]
    assert f"algorithms/{page}/" in lines[2] and f"docs/algorithms/{page}.md" in lines[3]
    assert (REPO / "docs" / "algorithms" / f"{page}.md").is_file()
    year = re.search(r"Copyright \(c\) (\d{4})", lines[1])
    assert year and 2025 <= int(year.group(1)) <= datetime.date.today().year
    assert ast.get_docstring(ast.parse(source)), "the module docstring still comes first"


def test_citation_cff_parses_with_the_required_keys() -> None:
    """CFF 1.2.0 requires cff-version, message, title and authors (each a person with
    family-names or an entity with a name); references need type, title and authors."""
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title"):
        assert isinstance(cff[key], str) and cff[key].strip()
    assert cff["type"] in {"software", "dataset"}
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert cff["license"] == project["license"] and cff["version"] == project["version"]

    def valid_authors(authors: object) -> bool:
        return (
            isinstance(authors, list)
            and len(authors) > 0
            and all(isinstance(a, dict) and ("family-names" in a or "name" in a) for a in authors)
        )

    assert valid_authors(cff["authors"])
    assert cff["references"], "the papers behind the reproduced numbers are cited"
    for reference in cff["references"]:
        assert reference["type"] and reference["title"] and valid_authors(reference["authors"])
        assert isinstance(reference["year"], int)


def test_readme_points_to_contributing_not_an_outside_style_guide() -> None:
    readme = (REPO / "README.md").read_text()
    assert "STYLE.md" not in readme and "shared folder beside" not in readme
    assert "[CONTRIBUTING.md](CONTRIBUTING.md)" in readme
    assert "(LICENSE)" in readme and "(CITATION.cff)" in readme


def test_contributing_covers_layout_templates_tests_and_adding_a_method() -> None:
    text = (REPO / "CONTRIBUTING.md").read_text()
    for heading in ("## 1. Layout", "### 3.1 Algorithm page template", "## 4. Tests"):
        assert heading in text
    assert "(README.md#adding-a-method)" in text
    assert "(README.md#adding-a-glossary-term)" in text
    readme = (REPO / "README.md").read_text()
    assert "## Adding a glossary term" in readme and "## Adding a method" in readme
    # every file the layout names at the top level exists
    block = text.split("## 1. Layout", 1)[1].split("```", 2)[1]
    for name in re.findall(r"(?<![\w/-])([A-Za-z_.-]+\.(?:py|md|yml|toml|txt|cff))\b", block):
        candidates = [REPO / name, REPO / "reference_impl" / name, REPO / "docs" / name]
        candidates += [REPO / "docs" / "algorithms" / name]
        assert any(path.exists() for path in candidates), name


@pytest.mark.slow
def test_wheel_ships_typed_package_licence_metadata_and_entry_point(tmp_path: Path) -> None:
    """Build the wheel from a copy of the sources (nothing written into the checkout) and read
    what `pip install .` would install: `py.typed`, the SPDX licence, the data command."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(
        REPO / "reference_impl",
        source / "reference_impl",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Deprecat" not in result.stdout + result.stderr, result.stdout + result.stderr
    (wheel,) = (tmp_path / "dist").glob("meta_learning_glossary-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(f"{dist_info}/METADATA").decode()
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
        licence = archive.read(f"{dist_info}/licenses/LICENSE").decode()
    assert "reference_impl/py.typed" in names
    assert {n.split("/")[0] for n in names} == {"reference_impl", dist_info}, "only the library"
    assert "License-Expression: MIT" in metadata.splitlines()
    assert "License-File: LICENSE" in metadata.splitlines()
    assert not [line for line in metadata.splitlines() if line.startswith("Classifier: License")]
    assert "Requires-Python: >=3.11" in metadata.splitlines()
    assert any(line.startswith("Project-URL: ") for line in metadata.splitlines())
    assert licence == (REPO / "LICENSE").read_text()
    assert "mlg-omniglot = reference_impl.omniglot:main" in entry_points


def test_requires_python_matches_what_ci_tests() -> None:
    """The declared minimum is the Python of the hosted CI container and of mypy and ruff."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == ">=3.11"
    ci = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text())
    assert ci["jobs"]["test"]["container"].startswith("python:3.11")
    assert pyproject["tool"]["mypy"]["python_version"] == "3.11"
    assert pyproject["tool"]["ruff"]["target-version"] == "py311"
    assert "ruff" in " ".join(pyproject["project"]["optional-dependencies"]["docs"])
