"""Two models on the same pairs (#25 item 4, Verification): the library against plain loops, and the page."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from facedash.verification import compare as C
from tests.conftest import ROOT


def test_shared_rows_match_faces_by_photo_and_index():
    a = [("h1", 0), ("h2", 0), ("h3", 0), ("h3", 1)]
    b = [("h3", 1), ("h1", 0), ("h4", 0)]
    ia, ib = C.shared_rows(a, b)
    assert ia.tolist() == [0, 3] and ib.tolist() == [1, 0]


def test_paired_scores_and_disagreements_against_a_plain_loop():
    rng = np.random.default_rng(3)
    people = np.repeat(["a", "b", "c", "d"], 5)
    centres = rng.normal(size=(4, 8))
    emb_a = np.repeat(centres, 5, axis=0) + 0.6 * rng.normal(size=(20, 8))
    emb_b = np.repeat(centres, 5, axis=0) + 0.9 * rng.normal(size=(20, 8))
    rows = (np.arange(20), np.arange(20)[::-1][::-1])
    p = C.paired(emb_a, emb_b, list(people), rows, ("cosine", "euclidean"))
    unit = emb_a / np.linalg.norm(emb_a, axis=1, keepdims=True)
    for k in range(len(p.pairs)):
        i, j = p.pairs.i[k], p.pairs.j[k]
        assert p.pairs.same[k] == (people[i] == people[j])
        assert p.scores[0][k] == pytest.approx(float(unit[i] @ unit[j]), abs=1e-9)
        assert p.scores[1][k] == pytest.approx(float(np.linalg.norm(emb_b[i] - emb_b[j])), rel=1e-6)
    ta, tb = 0.5, 3.5
    a_only, b_only = C.disagreements(p, (ta, tb), limit=10_000)
    plain_a, plain_b = [], []
    for k in range(len(p.pairs)):
        right_a = (p.scores[0][k] >= ta) == p.pairs.same[k]
        right_b = (p.scores[1][k] <= tb) == p.pairs.same[k]
        if right_a and not right_b:
            plain_a.append(k)
        if right_b and not right_a:
            plain_b.append(k)
    assert sorted(a_only.tolist()) == plain_a and sorted(b_only.tolist()) == plain_b
    assert plain_a or plain_b  # the case is not empty
    margins = np.abs(p.scores[1][a_only] - tb)
    assert np.all(np.diff(margins) <= 0)  # the wrong model's worst first


def test_operating_table_gives_each_models_threshold_at_one_fmr():
    rng = np.random.default_rng(0)
    same = np.r_[np.ones(200, bool), np.zeros(2000, bool)]
    s1 = np.where(same, rng.normal(0.7, 0.1, same.size), rng.normal(0.2, 0.1, same.size))
    s2 = 10 * s1 + 3  # the same model on another scale
    from facedash.verification.sweep import sweep

    rows = C.operating_table(["a", "b"], [sweep(s1, same), sweep(s2, same)], 0.01)
    assert rows[0]["tar_at_fmr"] == pytest.approx(rows[1]["tar_at_fmr"])
    assert rows[1]["threshold_at_fmr"] == pytest.approx(10 * rows[0]["threshold_at_fmr"] + 3)
    assert rows[0]["auc"] == pytest.approx(rows[1]["auc"])


def _with_dlib(page: str) -> AppTest:
    """The app with "Compare with" set to dlib, on ``page``."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=400)
    at.session_state["fd_compare"] = "dlib"
    at.run()
    at.switch_page(page)
    return at.run()


def test_compare_with_in_the_sidebar_puts_dlib_beside_facenet(demo):
    at = _with_dlib("pages/verification.py")
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="verification_second").value == "dlib"
    table = next(d.value for d in at.dataframe if "threshold at this FMR" in d.value.columns)
    assert list(table["model"]) == ["facenet", "dlib"]
    assert (table["TAR at this FMR"] > 0.5).all() and (table["AUC"] > 0.95).all()
    assert table["threshold at this FMR"].notna().all()
    tabs = [t.label for t in at.tabs]
    assert "facenet right, dlib wrong" in tabs and "dlib right, facenet wrong" in tabs


def test_procrustes_undoes_a_turn_a_mirror_a_scale_and_a_shift():
    from facedash.projection import procrustes

    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 2))
    angle = 1.1
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    y = 3.0 * (x @ turn) @ np.diag([1.0, -1.0]) + np.array([5.0, -2.0])
    aligned = procrustes(x, y)
    assert np.allclose(aligned.coords, x, atol=1e-9) and aligned.disparity < 1e-9
    noisy = procrustes(x, y + rng.normal(scale=0.3, size=y.shape))
    assert 0 < noisy.disparity < 0.2


def test_the_embedding_map_puts_dlib_beside_facenet_turned_onto_it(demo):
    at = _with_dlib("pages/embedding_map.py")
    assert not at.exception, [e.value for e in at.exception]
    assert any("facenet beside dlib" in h.value for h in at.subheader)
    note = next(c.value for c in at.caption if "orthogonal Procrustes" in c.value)
    assert "faces both models embedded" in note
    left = [c for c in at.get("plotly_chart") if "embedding_map_cmp" in str(c.proto.id)]
    assert len(left) == 2


@pytest.mark.browser
def test_the_report_names_both_models_and_opens_offline_in_chromium(browser, demo, tmp_path):
    """``facedash report --demo --model facenet --compare dlib``: one file, opened from disk."""
    from facedash.cli import main

    out = tmp_path / "r.html"
    argv = ["report", "--demo", "--model", "facenet", "--compare", "dlib", "--subgroups", "split"]
    assert main([*argv, "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "<h2>facenet</h2>" in text and "<h2>dlib</h2>" in text
    body = text.split("<body>")[1].replace("http://www.w3.org", "")
    assert "http://" not in body and "https://" not in body  # nothing to fetch
    assert "Development → evaluation" in text and "False accepts" in text
    context = browser.new_context()  # the session's Chromium (one sync Playwright a thread)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(out.as_uri())
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
    titles = page.locator(".gtitle").all_text_contents()
    (ROOT / "artifacts" / "screenshots").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ROOT / "artifacts" / "screenshots" / "report.png"))
    context.close()
    assert any("ROC" in t for t in titles) and any("DET" in t for t in titles), titles
    assert all(u.startswith(("file:", "data:")) for u in requests), requests


def test_attention_pair_maps_of_both_models_with_compare_with(demo):
    at = _with_dlib("pages/attention.py")
    at.selectbox(key="pairmaps_masks").set_value(200)
    at.toggle(key="pairmaps_on").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    heads = [m.value for m in at.markdown if "masks" in m.value and "cosine" in m.value]
    assert len(heads) == 2 and "**facenet**" in heads[0] and "**dlib**" in heads[1]
    checks = [c.value for c in at.caption if c.value.startswith("Deletion check")]
    assert len(checks) == 2


@pytest.mark.parametrize("page", ["pages/data.py", "pages/live.py", "pages/arithmetic.py"])
def test_the_pages_without_a_second_view_keep_working_with_compare_with(page, demo):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=400)
    at.query_params["compare"] = "dlib"  # a copied link's second model
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["_fd_compare_chosen"] == "dlib"
    assert "_fd_model_chosen" not in at.session_state  # the first model stays the default
