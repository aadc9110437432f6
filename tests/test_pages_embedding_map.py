"""The Embedding map page under Streamlit's AppTest: switch projection, change k, select points."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from facedash.projection import cluster_map

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def at(demo):
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    app.run()
    app.switch_page("pages/embedding_map.py")
    app.run()
    assert not app.exception, app.exception
    return app


def _metric(app, label):
    return next(m.value for m in app.metric if m.label == label)


def test_page_renders_with_defaults(at, demo):
    assert at.title[0].value == "Embedding map"
    assert at.slider(key="embedding_map_k").value == 5  # the number of people
    ref = cluster_map(demo.embeddings, demo.people, method="pca", k=5)
    assert _metric(at, "Accuracy (matched)") == f"{ref.metrics.accuracy:.1%}"
    assert len(at.get("plotly_chart")) == 2
    assert "How to read this" in [e.label for e in at.expander]


def test_switch_projection_and_change_k(at, demo):
    at.selectbox(key="embedding_map_method").select("t-SNE").run()
    assert not at.exception, at.exception
    assert at.slider(key="embedding_map_perplexity").value == 30.0
    ref = cluster_map(demo.embeddings, demo.people, method="tsne", k=5)
    assert _metric(at, "ARI") == f"{ref.metrics.ari:.3f}"
    at.slider(key="embedding_map_k").set_value(3).run()
    assert not at.exception, at.exception
    ref3 = cluster_map(demo.embeddings, demo.people, method="tsne", k=3)
    assert _metric(at, "Accuracy (matched)") == f"{ref3.metrics.accuracy:.1%}"
    assert ref3.metrics.accuracy < 1.0  # three clusters cannot hold five people
    at.radio(key="embedding_map_dims").set_value(3).run()
    assert not at.exception, at.exception
    assert any("3-D shows points only" in c.value for c in at.caption)
    at.radio(key="embedding_map_space").set_value("the full embedding").run()
    at.selectbox(key="embedding_map_method").select("UMAP").run()
    assert not at.exception, at.exception
    assert at.slider(key="embedding_map_neighbors").value == 15


def test_select_points_shows_them_and_click_shows_neighbours(at, demo):
    names = demo.names
    chosen = [0, 1, 40, 41, 90]
    points = [{"customdata": [i, names[i], demo.people[i], 0]} for i in chosen]
    at.session_state["embedding_map_chart"] = {
        "selection": {"points": points, "point_indices": [], "box": [], "lasso": []}
    }
    at.run()
    assert not at.exception, at.exception
    assert any(s.value == "5 selected faces" for s in at.subheader)
    one = [{"customdata": [7, names[7], demo.people[7], 0]}]
    at.session_state["embedding_map_chart"] = {
        "selection": {"points": one, "point_indices": [], "box": [], "lasso": []}
    }
    at.run()
    assert not at.exception, at.exception
    assert any(s.value == f"Nearest faces to {names[7]}" for s in at.subheader)
    captions = " ".join(c.value for c in at.caption)
    assert "d=" in captions and "cos=" in captions


def test_search_highlights_and_ellipses_disabled(at, demo, monkeypatch):
    import facedash.ui.pfe

    monkeypatch.setattr(facedash.ui.pfe, "head_record_for", lambda result: None)  # no head trained
    name = demo.names[12].rsplit("/", 1)[-1]
    at.text_input(key="embedding_map_search").input(name).run()
    assert not at.exception, at.exception
    assert any(s.value == f"Nearest faces to {demo.names[12]}" for s in at.subheader)
    assert at.checkbox(key="embedding_map_ellipses").disabled
    assert any("train the head on the Uncertainty page" in c.value for c in at.caption)
    at.text_input(key="embedding_map_search").input("no-such-face").run()
    assert any("No face's file name" in w.value for w in at.warning)


def _trace_names(app) -> list[str]:
    spec = json.loads(app.get("plotly_chart")[0].proto.spec)
    return [t.get("name") or "" for t in spec["data"]]


def test_uncertainty_ellipses_when_variances_exist(at, demo, saved_head):
    at.run()
    box = at.checkbox(key="embedding_map_ellipses")
    assert not box.disabled
    assert not any("uncertainty" in name for name in _trace_names(at))
    box.check().run()
    assert not at.exception, at.exception
    assert not any("not available" in c.value for c in at.caption)
    assert any("uncertainty" in name for name in _trace_names(at))
