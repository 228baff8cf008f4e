"""The house drawn from the imports: layers, no cycles, every algorithm file reached through the
method table.

Every `import` and `from ... import` in `reference_impl/` and `benchmarks/` counts, at module
level or inside a function (a deferred import is still an arrow), so the graph is the one a
reader would draw. Enforced:

* no import cycles among the project's modules;
* algorithm files import no project module (the copy-alone rule, also in `test_standalone.py`);
* every algorithm file is imported by `reference_impl.methods`;
* on the infrastructure side only `reference_impl.methods` imports algorithm files, apart from
  the listed modules that are about one algorithm by design (its benchmarks).
"""

from __future__ import annotations

import ast
from pathlib import Path

from reference_impl import methods

REPO = Path(__file__).resolve().parents[1]
ALGORITHMS = {m.module.__name__ for m in methods.METHODS.values()}
ABOUT_ONE_ALGORITHM = {
    "benchmarks.bench_maml": {"reference_impl.maml"},  # MAML's speed benchmark
    "benchmarks.bench_protonet": {"reference_impl.protonet"},  # ProtoNets' speed benchmark
    "benchmarks.sinusoid": {"reference_impl.maml"},  # the MAML paper's sinusoid experiment
}
"""Modules allowed to import these algorithm files by name: each is about that one algorithm."""


def project_modules() -> dict[str, Path]:
    paths = [*REPO.glob("reference_impl/*.py"), *REPO.glob("benchmarks/*.py")]
    return {
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p
        for p in paths
    }


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Project modules `path` imports, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in modules}
    return found


GRAPH = {name: imports_of(path, set(project_modules())) for name, path in project_modules().items()}
GRAPH = {name: targets - {name} for name, targets in GRAPH.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of `graph` (first module repeated at the end), or None."""
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> list[str] | None:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return None
        for target in sorted(graph[name]):
            if cycle := visit(target, (*path, name)):
                return cycle
        done.add(name)
        return None

    return next((c for name in sorted(graph) if (c := visit(name, ()))), None)


def test_import_graph_has_no_cycles() -> None:
    assert find_cycle(GRAPH) is None, " -> ".join(find_cycle(GRAPH) or [])


def test_algorithm_files_import_no_project_module() -> None:
    assert {name: GRAPH[name] for name in ALGORITHMS} == {name: set() for name in ALGORITHMS}


def test_every_algorithm_file_is_connected_through_the_method_table() -> None:
    assert ALGORITHMS <= GRAPH["reference_impl.methods"]
    importers = {
        name: targets & ALGORITHMS
        for name, targets in GRAPH.items()
        if targets & ALGORITHMS and name != "reference_impl.methods"
    }
    for name, targets in importers.items():
        assert targets <= ABOUT_ONE_ALGORITHM.get(name, set()), (
            f"{name} imports {sorted(targets)} by name; find methods through reference_impl.methods"
        )


def test_cycle_check_finds_a_cycle_and_the_parser_sees_deferred_imports(tmp_path: Path) -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    source = tmp_path / "m.py"
    source.write_text(
        "def f():\n    from reference_impl import maml\n    import benchmarks.common\n"
    )
    assert imports_of(source, set(project_modules())) == {
        "reference_impl",
        "reference_impl.maml",
        "benchmarks.common",
    }
