"""The simulator's modules import each other without a cycle, read from the sources (every import, also
those inside functions): ``responses`` is a leaf, and the hooks ``http.api_view`` calls never reach
``http``."""

from __future__ import annotations

import ast
from pathlib import Path

import ksef_simulator

PACKAGE = Path(ksef_simulator.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    """Module → the simulator modules it imports (``from pkg import mod`` counts as importing ``pkg.mod``)."""
    sources = {_module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}
    graph: dict[str, set[str]] = {}
    for name, path in sources.items():
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    imported.add(submodule if submodule in sources else node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
        graph[name] = {m for m in imported if m in sources and m != name}
    return graph


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph[module])
    return seen


def test_the_graph_is_read_from_the_sources() -> None:
    graph = _graph()
    assert "ksef_simulator.hooks" in graph["ksef_simulator.http"]
    assert {"ksef_simulator.faults", "ksef_simulator.limits"} <= graph["ksef_simulator.hooks"]
    assert "ksef_simulator.responses" in graph["ksef_simulator.security"]


def test_responses_is_a_leaf() -> None:
    assert _graph()["ksef_simulator.responses"] == set()


def test_the_hooks_never_reach_http() -> None:
    graph = _graph()
    for module in ("hooks", "faults", "limits", "security", "responses", "paging", "storage"):
        reached = _reachable(graph, f"ksef_simulator.{module}")
        assert "ksef_simulator.http" not in reached, module


def test_no_import_cycles() -> None:
    graph = _graph()
    in_cycle = sorted(m for m in graph if m in _reachable(graph, m))
    assert in_cycle == []
