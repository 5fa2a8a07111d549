"""The layers of docs/ARCHITECTURE.md hold: ``bridge`` never imports Radicale (``serve``
alone loads the CardDAV application, inside the function that builds it), and
``radicale_plugin`` knows nothing of the bridge's own doors (the status page, webhooks,
WebDAV-Push) or of the front that composes them: it is handed a login check and answer
hooks defined in ``bridge.front.seams``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOORS = ("bridge.statuspage", "bridge.webhooks", "bridge.push")
# The front's own modules that build the doors; the seams and WSGI shapes are the plugin's to use.
COMPOSITION = ("bridge.front.app", "bridge.front.compose", "bridge.front.server")


def _modules(package: str) -> list[Path]:
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
    modules = _modules("bridge")
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
    modules = _modules("radicale_plugin")
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
