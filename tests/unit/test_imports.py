"""The import graph keeps the processes apart and the server free of cycles. Every import under
ckrv/ counts: at module level, under TYPE_CHECKING and inside functions.

- the server never imports the CLI, the client or the worker;
- the worker never imports the server, the client or the CLI;
- the client never imports the server;
- ckrv/contracts imports nothing from the server, worker, client or CLI, and nothing outside
  the standard library and ckrv.contracts itself (the CLI's fast paths import it);
- a route module imports no other route module: shared lookups live in web/ or a store, and
  the OpenAPI description of routes/X.py is apidocs/paths/X.py, which no route imports; only
  the composition root (server/app.py) imports route modules;
- the modules of ckrv import each other without a cycle;
- inside a function, the server imports a ckrv module only to keep a heavy one lazy (the
  kubernetes executor), never to break a cycle.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "ckrv"
# Lazy on purpose: importing them costs what most server processes never need.
LAZY_IN_SERVER = {"ckrv.server.executors.kubernetes"}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    in_function: bool

    def __str__(self) -> str:
        where = " (inside a function)" if self.in_function else ""
        return f"{self.importer}:{self.line} imports {self.imported}{where}"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(name: str) -> str:
    """The ckrv module an import names: `from a.b import c` is module a.b.c when that exists."""
    return name if name in MODULES or not name.startswith("ckrv") else name.rpartition(".")[0]


def imports_of(module: str, path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST, in_function: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(module, alias.name, child.lineno, in_function)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.rsplit(".", child.level - 1)[0] if child.level > 1 else package
                    base = f"{anchor}.{base}" if base else anchor
                for alias in child.names:
                    target = f"{base}.{alias.name}"
                    name = target if target in MODULES else base
                    yield Import(module, name, child.lineno, in_function)
            yield from visit(child, nested)

    yield from visit(tree, False)


ALL_IMPORTS = [imp for module, path in MODULES.items() for imp in imports_of(module, path)]


def within(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def violations(importers: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        str(imp)
        for imp in ALL_IMPORTS
        if within(imp.importer, importers) and within(imp.imported, *forbidden)
    ]


@pytest.mark.parametrize(
    ("importers", "forbidden"),
    [
        ("ckrv.server", ("ckrv.cli", "ckrv.client", "ckrv.worker")),
        ("ckrv.worker", ("ckrv.server", "ckrv.client", "ckrv.cli")),
        ("ckrv.client", ("ckrv.server",)),
        ("ckrv.contracts", ("ckrv.server", "ckrv.worker", "ckrv.client", "ckrv.cli")),
    ],
    ids=["server", "worker", "client", "contracts"],
)
def test_a_process_does_not_import_another_ones_code(importers: str, forbidden: tuple[str]) -> None:
    assert not violations(importers, forbidden)


def test_contracts_import_only_the_standard_library_and_each_other() -> None:
    found = [
        str(imp)
        for imp in ALL_IMPORTS
        if within(imp.importer, "ckrv.contracts")
        and not within(imp.imported, "ckrv.contracts", "__future__")
        and imp.imported.partition(".")[0] not in sys.stdlib_module_names
    ]
    assert not found


def test_route_modules_do_not_import_each_other() -> None:
    routes = "ckrv.server.routes"
    found = [
        str(imp)
        for imp in ALL_IMPORTS
        if within(imp.imported, routes) and imp.importer != "ckrv.server.app"
    ]
    assert not found


def dependency_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for imp in ALL_IMPORTS:
        target = resolve(imp.imported)
        if target in MODULES and target != imp.importer:
            graph[imp.importer].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, as the modules along it, or None (an iterative depth-first
    search: white, grey on the current path, black when done)."""
    state: dict[str, int] = dict.fromkeys(graph, 0)
    for start in graph:
        if state[start]:
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            child = next(stack[-1], None)
            if child is None:
                state[path.pop()] = 2
                stack.pop()
            elif state[child] == 1:
                return [*path[path.index(child) :], child]
            elif state[child] == 0:
                state[child] = 1
                path.append(child)
                stack.append(iter(sorted(graph[child])))
    return None


def test_no_module_of_ckrv_takes_part_in_an_import_cycle() -> None:
    cycle = find_cycle(dependency_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_search_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_server_imports_its_own_modules_inside_functions_only_to_stay_light() -> None:
    found = [
        str(imp)
        for imp in ALL_IMPORTS
        if imp.in_function
        and within(imp.importer, "ckrv.server")
        and within(imp.imported, "ckrv")
        and resolve(imp.imported) not in LAZY_IN_SERVER
    ]
    assert not found


def test_the_walk_sees_imports_inside_functions() -> None:
    lazy = [imp for imp in ALL_IMPORTS if imp.importer == "ckrv.server.app" and imp.in_function]
    assert [resolve(imp.imported) for imp in lazy] == ["ckrv.server.executors.kubernetes"]
