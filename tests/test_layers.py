"""The house rules, checked on the source.

The library is laid out along the way data flows, and each layer imports only the
layers before it (and itself):

    base (errors, paths, i18n, assets, faces.types) -> data -> models -> faces
    -> analyses (explain, projection, verification, pfe, search, quality) -> scale -> figures
    -> app (classroom, ui, commands, cli)

No import circle between files, counting imports inside functions and strings that
name a facedash module (``importlib``, loader strings). Pages are thin, modules small,
Streamlit only in ``facedash/ui``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sources import (
    PACKAGE,
    ROOT,
    cycles,
    import_graph,
    imported_modules,
    library_modules,
)

PAGES = sorted((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]
LIBRARY = sorted(PACKAGE.rglob("*.py"))
# What a page may not import: it reaches files, faces, models and the cluster through facedash/ui/.
NOT_FOR_PAGES = ("facedash.data", "facedash.faces", "facedash.models", "facedash.scale")
TOP_LEVEL = {"errors", "paths", "i18n", "assets", "classroom", "cli"}

BASE, DATA, MODELS, FACES, ANALYSES, SCALE, FIGURES, APP = range(8)
LAYER_NAMES = ["base", "data", "models", "faces", "analyses", "scale", "figures", "app"]
PACKAGES = {
    "data": DATA,
    "models": MODELS,
    "faces": FACES,
    "explain": ANALYSES,
    "projection": ANALYSES,
    "verification": ANALYSES,
    "pfe": ANALYSES,
    "search": ANALYSES,
    "quality": ANALYSES,
    "scale": SCALE,
    "figures": FIGURES,
    "ui": APP,
    "commands": APP,
}
BASE_MODULES = {
    "facedash",
    "facedash.errors",
    "facedash.paths",
    "facedash.i18n",
    "facedash.assets",
    "facedash.faces.types",
}
APP_MODULES = {"facedash.classroom", "facedash.cli"}


def layer(module: str) -> int:
    """The layer of a facedash module, by its package."""
    if module in BASE_MODULES:
        return BASE
    if module in APP_MODULES:
        return APP
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in PACKAGES:
        return PACKAGES[parts[1]]
    raise AssertionError(f"{module} belongs to no layer: add it to tests/test_layers.py")


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_the_top_of_the_package_holds_at_most_eight_modules():
    top = sorted(p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert len(top) <= 8, top
    assert set(top) <= TOP_LEVEL, f"new top-level modules: {sorted(set(top) - TOP_LEVEL)}"


def test_every_module_has_a_layer():
    for module in library_modules():
        layer(module)


def test_each_layer_imports_only_those_before_it(graph):
    bad = [
        f"{m} ({LAYER_NAMES[layer(m)]}) imports {d} ({LAYER_NAMES[layer(d)]})"
        for m, deps in graph.items()
        for d in sorted(deps)
        if layer(d) > layer(m)
    ]
    assert not bad, "\n".join(bad)


def test_the_app_layer_keeps_its_parts_apart(graph):
    """ui and commands never import each other; nothing imports the cli but nothing."""
    bad = []
    for m, deps in graph.items():
        for d in deps:
            if d == "facedash.cli":
                bad.append(f"{m} imports the cli")
            if m.startswith("facedash.ui") and d.startswith("facedash.commands"):
                bad.append(f"{m} imports {d}")
            if m.startswith("facedash.commands") and d.startswith("facedash.ui"):
                bad.append(f"{m} imports {d}")
    assert not bad, bad


def test_the_model_layer_imports_only_base_and_itself(graph):
    bad = [
        f"{m} imports {d}"
        for m, deps in graph.items()
        if m.startswith("facedash.models")
        for d in sorted(deps)
        if not (d in BASE_MODULES or d.startswith("facedash.models"))
    ]
    assert not bad, bad


def test_the_types_module_imports_nothing_of_facedash(graph):
    assert graph["facedash.faces.types"] == set()


def test_no_import_circle_between_files(graph):
    assert not cycles(graph), cycles(graph)


def test_the_circle_finder_sees_string_imports(tmp_path, monkeypatch):
    """The checker itself: a circle closed only by a loader string is found."""
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(g) == [["a", "b", "c"]]
    source = tmp_path / "m.py"
    source.write_text(
        'LOADER = "facedash.models.facenet:load"\nNAME = "facedash.commands.cluster"\n'
    )
    found = imported_modules(source)
    assert {"facedash.models.facenet", "facedash.commands.cluster"} <= found


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_pages_are_thin(page):
    text = page.read_text()
    assert len(text.splitlines()) <= 300, "a page (or app.py) over 300 lines"
    assert "cache_data" not in text and "cache_resource" not in text, "caches live in facedash/ui/"
    bad = {n for n in imported_modules(page) if n.startswith(NOT_FOR_PAGES)}
    assert not bad, f"pages ask facedash/ui/ instead of importing {sorted(bad)}"


def test_library_modules_stay_small_and_streamlit_free():
    long = [_rel(m) for m in LIBRARY if len(m.read_text().splitlines()) > 450]
    assert not long, f"facedash/ modules over 450 lines: {long}"
    outside_ui = [m for m in LIBRARY if "ui" not in m.relative_to(PACKAGE).parts]
    streamlit = [
        _rel(m)
        for m in outside_ui
        if any(n.split(".")[0] == "streamlit" for n in imported_modules(m))
    ]
    assert not streamlit, f"Streamlit imported outside facedash/ui/: {streamlit}"


def test_every_page_is_listed_in_the_navigation():
    app = (ROOT / "app.py").read_text()
    for page in (ROOT / "pages").glob("*.py"):
        assert f'"pages/{page.name}"' in app, page.name
