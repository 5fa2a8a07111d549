"""The sandbox is written from the wire contract alone: it shares no code with the client, the
mapping or the engine. Its one import from the rest of bridge is the generic HTTP/1.1 server
plumbing (bridge.httpserver), which knows nothing of Aurinko; httpx on the other side is an
independent implementation of HTTP, so a framing bug there cannot hide itself."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SANDBOX = Path(__file__).resolve().parents[2] / "bridge" / "sandbox"
ALLOWED = ("bridge.sandbox", "bridge.httpserver")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_sandbox_imports_only_itself_the_http_server_and_the_standard_library() -> None:
    modules = sorted(SANDBOX.glob("*.py"))
    assert len(modules) > 5
    for module in modules:
        for name in _imports(module):
            top = name.split(".")[0]
            if top == "bridge":
                assert name.startswith(ALLOWED), f"{module.name} imports {name}"
            else:
                assert top in sys.stdlib_module_names or top == "__future__", (module.name, name)
