"""AppTest of the Arithmetic & search page, driven by widget keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def at(demo):
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    app.run()
    app.switch_page("pages/arithmetic.py")
    app.run()
    assert not app.exception, app.exception
    return app


def metric(app, label):
    return next(m.value for m in app.metric if m.label == label)


def test_page_renders_the_demo_conditions(at):
    assert at.title[0].value == "Arithmetic & search"
    assert any("synthetic photographic conditions" in i.value for i in at.info)
    assert metric(at, "Queries") == "25"
    assert at.selectbox(key="arithmetic_attribute").value == "conditions"
    # One neighbours figure per query, the heatmap and the CMC.
    assert len(at.get("plotly_chart")) >= 5
    assert metric(at, "Rank-1").endswith("%")


def test_widgets_change_the_query_and_the_table(at):
    at.radio(key="arithmetic_method").set_value("mean").run()
    assert not at.exception
    at.radio(key="arithmetic_index").set_value("ngt").run()
    assert not at.exception
    at.selectbox(key="arithmetic_person").select("madonna").run()
    at.selectbox(key="arithmetic_value").select("grayscale").run()
    assert not at.exception
    assert metric(at, "Queries") == "25"
    # The first figure is now the query the pickers name.
    assert "madonna + grayscale" in at.get("plotly_chart")[0].proto.spec
    at.slider(key="arithmetic_search_k").set_value(3).run()
    assert not at.exception
    assert len(at.dataframe[-1].value) == 3


def test_training_button_adds_the_head_rows_and_its_search_space(at):
    at.slider(key="arithmetic_epochs").set_value(10).run()
    at.button(key="arithmetic_train").click().run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value  # the head table comes before the search table
    assert list(table["embedding"]) == ["plain embedding", "features, no head", "triplet head"]
    assert list(table["features"]) == ["embedding", "block17", "block17"]
    assert ((table["top-1"] >= 0) & (table["top-1"] <= table["top-5"])).all()
    # Before / after on held-out photos: the head on mid-level features sees the conditions.
    before, after = table["top-1"].iloc[0], table["top-1"].iloc[2]
    assert after >= 0.6 > before
    # The arithmetic can now run in the head's space: every person x attribute is rescored.
    plain_top1 = metric(at, "Top-1")
    at.radio(key="arithmetic_space").set_value("head").run()
    assert not at.exception, at.exception
    assert int(metric(at, "Top-1").rstrip("%")) >= 60 > int(plain_top1.rstrip("%"))
