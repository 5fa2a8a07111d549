"""The layers of docs/ARCHITECTURE.md hold, read from the source.

``bridge`` never imports Radicale (``serve`` alone loads the CardDAV application, inside
the function that builds it), and ``radicale_plugin`` knows nothing of the bridge's own
doors (the status page, webhooks, WebDAV-Push) or of the front that composes them: it is
handed a login check and answer hooks defined in ``bridge.front.seams``. All SQL is in the
store, no module of the bridge imports itself through others, and psycopg is loaded only
for a PostgreSQL store."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import TypeGuard

ROOT = Path(__file__).resolve().parents[1]
DOORS = ("bridge.statuspage", "bridge.webhooks", "bridge.push")
# The front's own modules that build the doors; the seams and WSGI shapes are the plugin's to use.
COMPOSITION = ("bridge.front.app", "bridge.front.compose", "bridge.front.server")


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    """The absolute names ``path`` imports (relative imports resolved within its package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            module = node.module or ""
            name = module if node.level == 0 else ".".join(p for p in (base, module) if p)
            names.add(name)
            names |= {f"{name}.{alias.name}" for alias in node.names}
    return names


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def test_bridge_imports_no_radicale_and_the_plugin_only_where_serve_builds_it() -> None:
    modules = _files("bridge")
    assert len(modules) > 50
    found = []
    for path in modules:
        for name in _imports(path):
            if _within(name, ("radicale",)):
                found.append((path.relative_to(ROOT).as_posix(), name))
            elif _within(name, ("radicale_plugin",)):
                serve = path == ROOT / "bridge" / "commands" / "serve.py"
                if not serve or name in _imports(path, top_level_only=True):
                    found.append((path.relative_to(ROOT).as_posix(), name))
    assert found == []


def test_the_plugin_imports_none_of_the_doors_nor_the_front_that_composes_them() -> None:
    modules = _files("radicale_plugin")
    assert len(modules) > 10
    found = [
        (path.name, name)
        for path in modules
        for name in _imports(path)
        if _within(name, DOORS + COMPOSITION)
    ]
    assert found == []


def test_importing_either_side_loads_nothing_of_the_other() -> None:
    """At run time too: no import of another module brings them in."""
    script = f"""
import importlib, pkgutil, sys
import bridge
for module in pkgutil.walk_packages(bridge.__path__, "bridge."):
    if not module.name.endswith("__main__"):
        importlib.import_module(module.name)
assert not [m for m in sys.modules if m.split(".")[0] in ("radicale", "radicale_plugin")]
for name in [m for m in sys.modules if m == "bridge" or m.startswith("bridge.")]:
    del sys.modules[name]
import radicale_plugin
for module in pkgutil.walk_packages(radicale_plugin.__path__, "radicale_plugin."):
    importlib.import_module(module.name)
doors = {DOORS + COMPOSITION!r}
loaded = [m for m in sys.modules if any(m == d or m.startswith(d + ".") for d in doors)]
assert not loaded, loaded
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


# -- the import graph, SQL and psycopg -------------------------------------------------
PACKAGES = ("bridge", "radicale_plugin")
# Where SQL may be written: the store, and the sandbox (a stand-in for Aurinko with an
# SQLite database of its own, which shares no code with the bridge on purpose).
SQL_HOMES = (ROOT / "bridge" / "store", ROOT / "bridge" / "sandbox")
SQL = re.compile(
    r"\b(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX)"
    # BEGIN alone is a vCard's first line.
    r"|ALTER\s+TABLE|DROP\s+TABLE|PRAGMA|BEGIN\s+(IMMEDIATE|DEFERRED|ISOLATION)|COMMIT|ROLLBACK"
    r"|LISTEN|NOTIFY)\b|\bpg_\w+\("
)


def modules() -> dict[str, tuple[Path, bool]]:
    """Every module of the packages: its dotted name -> (file, whether it is a package)."""
    found: dict[str, tuple[Path, bool]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _runtime_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports that run: those under ``if TYPE_CHECKING:`` are for the type checker only
    (imports inside functions do run, later, and count)."""
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(inner) for inner in ast.walk(node))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in typing_only:
            yield node


def imported(name: str, path: Path, is_package: bool, known: set[str]) -> set[str]:
    """The package modules ``name`` imports: ``from a import b`` is module ``a.b`` when
    that is one, else ``a``."""
    package = name if is_package else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names if alias.name in known)
            continue
        base = node.module or ""
        if node.level:
            parts = package.split(".")
            parts = parts[: len(parts) - node.level + 1]
            base = ".".join([*parts, *([node.module] if node.module else [])])
        for alias in node.names:
            full = f"{base}.{alias.name}"
            if full in known:
                targets.add(full)
            elif base in known:
                targets.add(base)
    targets.discard(name)
    return targets


@lru_cache(maxsize=1)
def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imported(name, path, is_pkg, known) for name, (path, is_pkg) in found.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm,
    iterative): each is a set of modules that import each other, directly or not."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            step = next(edges, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph[step]))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_the_graph_sees_relative_and_local_imports() -> None:
    graph = import_graph()
    assert "bridge.store.interface" in graph["bridge.store.sqlite"]
    assert "bridge.store.postgres" in graph["bridge.store.database"]  # inside a function


def test_no_module_of_the_bridge_imports_itself_through_others() -> None:
    assert cycles(import_graph()) == []


def test_psycopg_is_not_loaded_for_a_sqlite_store(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "import bridge.cli, bridge.commands.serve, bridge.commands.store, bridge.folder\n"
        "import bridge.store, bridge.sync, radicale_plugin.storage\n"
        "from bridge.sync import SyncEngine\n"
        f"engine = SyncEngine({str(tmp_path)!r})\n"
        "engine.store.ensure_book('alice', 'work', 'local')\n"
        "engine.close()\n"
        "print('psycopg' in sys.modules, 'psycopg_pool' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False", "False"]


def _docstrings(tree: ast.Module) -> set[int]:
    """The docstrings' nodes: prose, which may name a statement."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _is_text(node: ast.AST) -> TypeGuard[ast.Constant]:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def sql_outside_the_store() -> list[str]:
    """``file:line: what`` for each statement run (``.execute(``, ``.executemany(``) and
    each string holding SQL outside the store and the sandbox."""
    found = []
    for path, _ in modules().values():
        if any(path.is_relative_to(home) for home in SQL_HOMES):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        prose = _docstrings(tree)
        for node in ast.walk(tree):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Attribute) and node.attr in ("execute", "executemany"):
                found.append(f"{where}: .{node.attr}(")
            elif _is_text(node) and id(node) not in prose and SQL.search(node.value):
                found.append(f"{where}: {node.value!r}")
    return found


def test_the_sql_finder_finds_sql() -> None:
    assert SQL.search("SELECT MAX(last_modified) FROM contacts")
    assert SQL.search('LISTEN "bridge_books"') and SQL.search("SELECT pg_notify(?, ?)")
    assert SQL.search("DELETE FROM folder_files WHERE folder = ?")
    assert SQL.search("BEGIN IMMEDIATE") and not SQL.search("BEGIN:VCARD")
    assert not SQL.search("Select an address book") and not SQL.search("update the card")


def test_all_sql_is_in_the_store() -> None:
    assert sql_outside_the_store() == []
