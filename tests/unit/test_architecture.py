"""The shape of the code (docs/architecture.md), checked on the source itself.

Every `import` counts — at the top of a module or inside a function — except those under
`if TYPE_CHECKING:`, which never run.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "eirc"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> set[str]:
    """Every module `path` imports at run time (absolute names; `from a import b` counts a and a.b)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imports(path):
            # the module itself, or the package whose attribute was imported
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name and not name.startswith(imported + "."):
                targets.add(imported)
        graph[name] = targets
    return graph


def test_the_import_graph_has_no_cycles() -> None:
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []
    cycles: list[list[str]] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                walk(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node)
    assert not cycles, "import cycles:\n" + "\n".join(" → ".join(c) for c in cycles)


def test_services_hold_no_sql() -> None:
    """SQL lives in eirc/storage/: a use case reaches the database through the unit of work's repositories."""
    offenders = {
        _module_name(p): sorted(i for i in _imports(p) if i.split(".")[0] == "sqlalchemy")
        for p in (PACKAGE / "services").rglob("*.py")
    }
    assert {m: i for m, i in offenders.items() if i} == {}


def test_services_do_not_take_the_container() -> None:
    """Use cases get the few dependencies they use (services/deps.py), never the whole Container."""
    offenders = []
    for path in (PACKAGE / "services").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):  # TYPE_CHECKING imports too
            if isinstance(node, ast.ImportFrom) and node.module == "eirc.bootstrap":
                offenders.append(_module_name(path))
    assert offenders == []


def test_one_postgresql_driver() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = [d.split(">")[0].split("=")[0].split("[")[0].strip().lower() for d in project["dependencies"]]
    assert "asyncpg" not in names and "psycopg" in names
    everything = set().union(*(_imports(p) for p in PACKAGE.rglob("*.py")))
    assert not {i for i in everything if i.split(".")[0] == "asyncpg"}


def test_graphql_runs_on_strawberrys_own_execution() -> None:
    everything = set().union(*(_imports(p) for p in PACKAGE.rglob("*.py")))
    private = {
        i
        for i in everything
        if i.startswith("graphql.execution")
        or i.endswith("StrawberryGraphQLCoreExecutionContext")
        or i == "strawberry.schema.schema"
    }
    assert private == set()
