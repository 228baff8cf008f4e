"""Each algorithm file is copyable alone: stdlib + torch imports only, and it runs by itself.

The file is copied into an empty directory (no package beside it) and imported from there, then
its `main` runs with the smallest configuration its module offers and must return finite numbers.
"""

from __future__ import annotations

import ast
import io
import json
import math
import os
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest
from conftest import REPO

from reference_impl import methods

ALGORITHM_FILES = sorted({Path(m.module.__file__ or "").name for m in methods.METHODS.values()})
"""Every algorithm file in the method table."""
ALLOWED_THIRD_PARTY = {"torch"}

# The smallest configuration of each file's `main`: a Python expression over the module `m`.
SMALLEST = {
    "maml": "m.MAMLConfig(train_steps=5, meta_batch_size=2, eval_tasks=4)",
    "protonet": "replace(m.ProtoNetConfig.synthetic(), train_steps=5, test_episodes=4)",
    "fast_weights": "m.FastWeightsConfig(train_steps=5, meta_batch_size=2, eval_tasks=4)",
    "baseline": "m.BaselineConfig(train_steps=5, eval_tasks=3)",
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                names.add("." * node.level + (node.module or ""))
            elif node.module:
                names.add(node.module.split(".")[0])
    return names


def test_every_algorithm_file_has_a_smallest_config() -> None:
    assert sorted(f"{name}.py" for name in SMALLEST) == ALGORITHM_FILES


@pytest.mark.parametrize("name", ALGORITHM_FILES)
def test_algorithm_file_imports_only_stdlib_and_torch(name: str) -> None:
    imports = _imports(REPO / "reference_impl" / name)
    foreign = {
        module
        for module in imports
        if module not in sys.stdlib_module_names and module not in ALLOWED_THIRD_PARTY
    }
    assert not foreign, f"{name} imports {sorted(foreign)}; algorithm files use stdlib + torch only"
    assert "torch" in imports


def test_import_checker_rejects_a_sibling_import(tmp_path: Path) -> None:
    path = tmp_path / "x.py"
    path.write_text("import math\nimport torch\nfrom . import episodes\nimport numpy as np\n")
    imports = _imports(path)
    assert {".", "numpy"} <= imports and "math" in imports


@pytest.mark.parametrize("name", ALGORITHM_FILES)
def test_algorithm_file_runs_alone_with_its_smallest_config(name: str, tmp_path: Path) -> None:
    source = (REPO / "reference_impl" / name).read_text()
    (tmp_path / name).write_text(source)
    module = name.removesuffix(".py")
    code = (
        "import json, torch\n"
        "from dataclasses import replace\n"
        f"import {module} as m\n"
        "torch.manual_seed(0)\n"
        f"print(json.dumps(m.main({SMALLEST[module]})))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert metrics and all(
        isinstance(v, int | float) and math.isfinite(v) for v in metrics.values()
    ), metrics


CODE_LINE_BUDGET = 345
"""The house style's "about 300" code lines per algorithm file: a tenth of slack, plus the
progress line of `main` (issue 24: one line every few seconds, never silence), which each file
carries on its own because it is copied alone."""


def code_lines(source: str) -> int:
    """Lines holding code: docstrings (module, class, function, attribute), comments and blank
    lines do not count."""
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            if isinstance(node.value.value, str):
                docstrings.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    layout = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in layout | {tokenize.ENDMARKER}:
            lines.update(set(range(token.start[0], token.end[0] + 1)) - docstrings)
    return len(lines)


def test_code_lines_skip_docstrings_comments_and_blank_lines() -> None:
    source = '"""Module\n\ndoc."""\n\n# a comment\nx = (\n    1  # why\n)\n\n\ndef f():\n    """Doc."""\n    return x\n'
    assert code_lines(source) == 5  # x = (, 1, ), def f():, return x


@pytest.mark.parametrize("name", ALGORITHM_FILES)
def test_algorithm_file_code_stays_within_about_300_lines(name: str) -> None:
    count = code_lines((REPO / "reference_impl" / name).read_text())
    assert count <= CODE_LINE_BUDGET, (
        f"{name}: {count} code lines; the budget is {CODE_LINE_BUDGET}"
    )
