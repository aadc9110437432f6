"""Reading the project's own source: which modules a file imports (for the layer tests).

An import is counted wherever it is written: at the top of a file, inside a function,
relative (``from . import x``), or as a string naming a facedash module (what
``importlib.import_module("facedash.commands.cluster")`` or a loader string such as
``"facedash.models.facenet:load"`` reads), so an import hidden behind a string is still
an import.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "facedash"
# A dotted facedash name, optionally followed by ":attribute" (a loader string).
_DOTTED = re.compile(r"^(facedash(?:\.[A-Za-z_]\w*)+)(?::\w+)?$")


def module_name(path: Path) -> str:
    """The dotted module name of a file under the repository (``facedash/faces/detect.py`` -> ``facedash.faces.detect``)."""
    parts = list(path.resolve().relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _package_of(path: Path) -> str:
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _absolute(node: ast.ImportFrom, path: Path) -> str:
    """The module a from-import names, relative ones (``from . import x``) made absolute."""
    module = node.module or ""
    if not node.level:
        return module
    base = _package_of(path).split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, module] if module else base)


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it (also inside functions), and ``module.name`` for from-imports.

    Relative imports are made absolute; string literals that name a facedash module count too.
    """
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, path)
            names.add(module)
            names.update(f"{module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = _DOTTED.match(node.value.strip())
            if match:
                names.add(match.group(1))
    return names


def library_modules() -> dict[str, Path]:
    """Every module of the facedash package: dotted name -> file."""
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The facedash module (file) an imported name refers to: the longest prefix that is a module."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in modules:
            return candidate
    return None


def imported_files(path: Path, modules: dict[str, Path]) -> set[str]:
    """The facedash modules (files) that ``path`` imports.

    ``from package import submodule`` is an import of the submodule's file: Python runs a
    package's ``__init__`` for any import of a submodule, so that alone is no edge to it.
    ``from module import name`` (a name that is not a submodule) imports ``module``.
    """
    found: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(resolve(a.name, modules) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, path)
            for a in node.names:
                sub = f"{module}.{a.name}"
                found.add(sub if sub in modules else resolve(module, modules))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = _DOTTED.match(node.value.strip())
            if match:
                found.add(resolve(match.group(1), modules))
    return {f for f in found if f is not None}


def import_graph() -> dict[str, set[str]]:
    """Module -> the facedash modules (files) it imports; package ``__init__`` files are modules too.

    The implicit import of a module's parent packages by Python is not an edge: only what a
    file names (in an import statement or a string) is.
    """
    modules = library_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = imported_files(path, modules) - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan): each one an import circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found
