"""The Verification page (AppTest) and its figure builders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from facedash import verification as V
from facedash.figures import verification as F

ROOT = Path(__file__).resolve().parents[1]
COUNTS = {
    "True accepts (TP)": "tp",
    "False accepts (FP)": "fp",
    "True rejects (TN)": "tn",
    "False rejects (FN)": "fn",
}


def _counts(at: AppTest) -> dict[str, int]:
    return {COUNTS[m.label]: int(m.value) for m in at.metric if m.label in COUNTS}


@pytest.fixture(scope="module")
def demo_sweep(demo):
    p = V.all_pairs(demo.people)
    s = V.pair_scores(demo, p, "cosine")
    return p, s, V.sweep(s, p.same, score="cosine")


@pytest.fixture(scope="module")
def page(demo):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("pages/verification.py")
    at.run()
    assert not at.exception
    return at


def test_slider_moves_the_confusion_matrix(page, demo_sweep):
    at = page
    _, _, sw = demo_sweep
    start = at.slider(key="verification_threshold").value
    assert start == pytest.approx(sw.best_f1().threshold)  # opens at max F1
    assert _counts(at) == {k: v for k, v in sw.at(start).as_dict().items() if k in COUNTS.values()}
    before = _counts(at)
    at.slider(key="verification_threshold").set_value(0.55).run()
    assert not at.exception
    after = _counts(at)
    expected = sw.at(0.55)
    assert after == {"tp": expected.tp, "fp": expected.fp, "tn": expected.tn, "fn": expected.fn}
    # A stricter threshold accepts fewer pairs: fewer true and false accepts.
    assert after["tp"] < before["tp"] and after["fp"] <= before["fp"] and after["fn"] > before["fn"]
    assert sum(after.values()) == sum(before.values()) == len(sw.key)


def test_jump_buttons_set_the_threshold(page, demo_sweep):
    at = page
    _, _, sw = demo_sweep
    at.button(key="verification_go_eer").click().run()
    assert at.slider(key="verification_threshold").value == pytest.approx(sw.eer()[1])
    at.button(key="verification_go_far").click().run()  # target FAR 1% by default
    t = at.slider(key="verification_threshold").value
    assert t == pytest.approx(sw.threshold_at_far(0.01))
    assert _counts(at)["fp"] <= 0.01 * sw.negatives
    at.button(key="verification_go_default").click().run()
    assert at.slider(key="verification_threshold").value == pytest.approx(0.6)
    at.button(key="verification_go_f1").click().run()
    assert at.slider(key="verification_threshold").value == pytest.approx(sw.best_f1().threshold)
    assert not at.exception


def test_second_model_subgroups_and_intervals(page):
    at = page
    at.selectbox(key="verification_second").select("dlib").run()
    assert not at.exception
    assert at.slider(key="verification_threshold_2").value > 0.3  # a Euclidean threshold
    at.toggle(key="verification_boot_on").set_value(True).run()
    assert not at.exception
    figures = [df.value for df in at.dataframe]
    assert any("95% interval" in f.columns for f in figures)
    assert any("group" in f.columns and set(f["group"]) == {"train", "val"} for f in figures)


def test_euclidean_score_resets_to_its_own_range(page, demo_sweep):
    at = page
    at.selectbox(key="verification_score").select("euclidean").run()
    assert not at.exception
    t = at.slider(key="verification_threshold").value
    p, s, sw = demo_sweep
    d = np.sqrt(np.maximum(2 - 2 * s, 0))
    assert t == pytest.approx(np.sqrt(2 - 2 * sw.best_f1().threshold), abs=1e-5)
    expected = {"tp": int((p.same & (d <= t)).sum()), "fp": int((~p.same & (d <= t)).sum())}
    got = _counts(at)
    assert abs(got["tp"] - expected["tp"]) <= 1 and abs(got["fp"] - expected["fp"]) <= 1
    at.selectbox(key="verification_score").select("cosine").run()


def _charts(at: AppTest) -> list[dict]:
    import json

    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _titles(at: AppTest) -> list[str]:
    return [c["layout"].get("title", {}).get("text", "") for c in _charts(at)]


def test_det_sits_next_to_the_roc_and_fta_is_counted(page, demo):
    at = page
    titles = _titles(at)
    assert titles.index("DET: false non-matches against false matches") == 1 + titles.index(
        "ROC: true accepts against false accepts"
    )
    fta = next(df.value for df in at.dataframe if "rates" in df.value.columns)
    assert list(fta["rates"]) == ["acquired faces only", "transaction (FTA counted)"]
    text = " ".join(m.value for m in at.markdown)
    assert f"no face found in {len(demo.no_face)} of 118 photos" in text
    assert "FMR (FAR)" in text and "FNMR (FRR)" in text  # both vocabularies beside the matrix


def test_dev_eval_panel_chooses_on_train_and_reports_on_val(page, demo):
    at = page
    assert at.selectbox(key="verification_split_by").value == "split"
    assert at.selectbox(key="verification_dev").value == "train"
    assert at.selectbox(key="verification_eval").value == "val"
    groups = [r.attributes["split"] for r in demo.rows]
    for name, widget, value, criterion in (
        ("target_fmr", None, None, V.Criterion("target_fmr", target_fmr=0.01)),
        ("cost", "verification_dev_cost", 4.0, V.Criterion("cost", cost=4.0)),
        ("eer", None, None, V.Criterion("eer")),
    ):
        at.selectbox(key="verification_criterion").select(name).run()
        if widget:
            at.number_input(key=widget).set_value(value).run()
        assert not at.exception, at.exception
        de = V.dev_eval(demo, demo.people, groups, "train", "val", criterion, replicates=0)
        table = next(df.value for df in at.dataframe if "figures" in df.value.columns)
        assert list(table["split"]) == ["train", "val", "val"]
        assert table["threshold"][0] == pytest.approx(de.threshold)
        assert table["FMR (FAR)"][1] == pytest.approx(de.reported.far)
        assert table["FNMR (FRR)"][1] == pytest.approx(de.reported.frr)
        assert table["threshold"][2] == pytest.approx(de.in_sample_threshold)
        assert "95% interval (FMR · FNMR · F1)" in table.columns
        metrics = {m.label: m.value for m in at.metric}
        assert float(metrics["Threshold chosen on train"]) == pytest.approx(de.threshold, abs=1e-4)
        assert "DET of train and val (dots: chosen on train)" in _titles(at)
    captions = " ".join(c.value for c in at.caption)
    assert "The gap is the lesson" in captions and "bootstrap over 5 people of val" in captions
    # The other way round: a threshold chosen on 25 faces, reported on the 93 others.
    at.selectbox(key="verification_dev").select("val").run()
    at.selectbox(key="verification_eval").select("train").run()
    assert not at.exception
    table = next(df.value for df in at.dataframe if "figures" in df.value.columns)
    assert list(table["split"]) == ["val", "train", "train"]
    at.selectbox(key="verification_dev").select("train").run()
    at.selectbox(key="verification_eval").select("val").run()


def test_a_photo_without_a_face_raises_the_transaction_fnmr(tmp_path, demo_dataset, demo):
    import shutil

    from PIL import Image

    for person in ("madonna", "elton_john", "ben_afflek"):
        folder = tmp_path / person
        folder.mkdir()
        for k, item in enumerate([i for i in demo_dataset.items if i.person == person][:4]):
            shutil.copy(item.path, folder / f"{k}.jpg")
    Image.new("RGB", (200, 160), (128, 128, 128)).save(tmp_path / "madonna" / "grey.png")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["fd_source"] = "Folder on this server"
    at.session_state["fd_folder"] = str(tmp_path)
    at.run()
    at.switch_page("pages/verification.py")
    at.run()
    assert not at.exception, at.exception
    assert "no face found in 1 of 13 photos (**7.69%**)" in " ".join(m.value for m in at.markdown)
    fta = next(df.value for df in at.dataframe if "rates" in df.value.columns)
    acquired, transaction = fta.iloc[0], fta.iloc[1]
    counts = _counts(at)
    # 12 faces: 18 genuine and 48 impostor pairs; the grey madonna adds 4 genuine, 8 impostor.
    assert acquired["FNMR (FRR)"] == pytest.approx(counts["fn"] / 18)
    assert transaction["FNMR (FRR)"] == pytest.approx((counts["fn"] + 4) / 22)
    assert transaction["FMR (FAR)"] == pytest.approx(counts["fp"] / 56)
    assert transaction["genuine + impostor pairs"] == "22 + 56"
    assert "no attribute to split it by" in " ".join(c.value for c in at.caption)


# -- figures ---------------------------------------------------------------------------------------
def test_figures_mark_the_threshold(demo_sweep):
    p, s, sw = demo_sweep
    curve = F.Curve("facenet", sw, 0.3, 0.6)
    roc = F.roc_figure([curve])
    assert isinstance(roc, go.Figure)
    marker = next(t for t in roc.data if "threshold 0.3" in (t.name or ""))
    c = sw.at(0.3)
    assert marker.x[0] == pytest.approx(c.far) and marker.y[0] == pytest.approx(c.recall)
    assert any("AUC 0.99" in (t.name or "") for t in roc.data)
    assert any("published default 0.6" in (t.name or "") for t in roc.data)
    metrics = F.metrics_figure(curve)
    assert {t.name for t in metrics.data} == {"precision", "recall (TAR)", "F1", "accuracy"}
    assert any(sh.x0 == 0.3 for sh in metrics.layout.shapes)
    hist = F.score_histogram(s, p.same)
    assert hist.genuine.sum() == p.genuine and hist.impostor.sum() == p.impostor
    assert any(sh.x0 == 0.3 for sh in F.histogram_figure(hist, curve).layout.shapes)
    conf = F.confusion_figure(c)
    assert (
        f"<b>{c.tp}</b>" in conf.data[0].text[0][0] and f"<b>{c.fp}</b>" in conf.data[0].text[1][0]
    )
    overlay = F.f1_overlay_figure([curve, F.Curve("other", sw, 0.2)])
    assert overlay.layout.xaxis2.side == "top"
    groups = np.array([r.split("/")[0] for r in ["a/x", "b/y"] * 59])
    subs = V.subgroups(s, p, groups, 0.3)
    assert len(F.subgroup_roc_figure(subs, "half").data) >= len(subs)


def test_figures_thin_long_curves():
    rng = np.random.default_rng(0)
    y = rng.random(50_000) < 0.2
    s = rng.normal(size=50_000) + y
    sw = V.sweep(s, y)
    fig = F.roc_figure([F.Curve("m", sw, 0.5)])
    assert len(fig.data[0].x) <= F.MAX_POINTS + 2


def test_mls_score_with_cosine_side_by_side(saved_head, demo):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page("pages/verification.py")
    at.session_state["verification_score"] = "mls"
    at.run()
    assert not at.exception, at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "ROC-AUC cosine" in captions and "vs MLS" in captions
    mls_auc = float(captions.split("vs MLS ")[1].split(";")[0])
    assert 0.95 < mls_auc <= 1.0  # MLS separates the demo set's people about as well as cosine
