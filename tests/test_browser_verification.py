"""The Verification page in headless Chromium, with a screenshot."""

import pytest

from tests.conftest import ARTIFACTS, screenshot, wait_for_app

pytestmark = pytest.mark.browser


def test_verification_page_renders_and_reacts(page, app_url):
    # Open the app at its root first: Streamlit's first run after start-up goes through its
    # legacy pages/ folder mode when the very first request is a deep link (see report).
    page.goto(app_url)
    wait_for_app(page, "Faces embedded")
    page.goto(app_url + "/verification")
    wait_for_app(page, "ROC-AUC")
    page.locator("[data-testid=stMetric]", has_text="True accepts (TP)").first.wait_for()
    # Four charts at the top (ROC, rates, histograms, confusion matrix) drawn by plotly.
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=stPlotlyChart] .main-svg').length >= 4"
    )
    # A chart is several .main-svg layers: wait for the ROC's own title, drawn by plotly.
    page.get_by_text("ROC: true accepts against false accepts").first.wait_for()

    def tp() -> str:
        metric = page.locator("[data-testid=stMetric]", has_text="True accepts (TP)")
        return metric.locator("[data-testid=stMetricValue]").inner_text()

    before = tp()
    page.get_by_role("button", name="Published default 0.6").click()
    page.wait_for_function(
        "(v) => { const m = [...document.querySelectorAll('[data-testid=stMetric]')]"
        ".find(e => e.innerText.includes('True accepts (TP)'));"
        " return m && !m.innerText.includes(v); }",
        arg=before,
    )
    wait_for_app(page, "Best F1")
    assert tp() != before  # the stricter default accepts fewer genuine pairs
    page.get_by_role("tab", name="False rejects").click()
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=stImage] img').length >= 2"
    )
    assert page.get_by_text("Face set").count() >= 1  # the shared sidebar: app.py ran
    page.set_viewport_size({"width": 1400, "height": 4200})  # the whole page in one picture
    page.evaluate("document.querySelector('[data-testid=stMain]')?.scrollTo(0, 0)")
    page.wait_for_timeout(1500)
    path = screenshot(page, "verification_page")
    assert path.stat().st_size > 50_000


def test_verification_page_compares_two_models(page, app_url):
    page.goto(app_url)
    wait_for_app(page, "Faces embedded")
    page.goto(app_url + "/verification")
    wait_for_app(page, "ROC-AUC")
    page.get_by_text("Compare with a second model").first.scroll_into_view_if_needed()
    page.locator("[data-testid=stSelectbox]", has_text="Second model").click()
    page.get_by_role("option", name="dlib").click()
    wait_for_app(page, "F1 against each model's own threshold")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=stPlotlyChart] .main-svg').length >= 7"
    )
    assert page.get_by_text("dlib: published default 0.6").count() >= 1
    page.get_by_text("F1 against each model's own threshold").first.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    path = screenshot(page, "verification_compare")
    assert path.stat().st_size > 50_000


def test_operating_points_of_private_uploads_stay_off_disk(page, app_url, demo_dataset, tmp_path):
    """'Save' on a private upload keeps the point in the session, never in the shared store."""
    import sqlite3
    import uuid

    from facedash.data.store import default_path
    from tests.corpus import zip_bytes

    photos = [i for i in demo_dataset.items if i.person in ("madonna", "jerry_seinfeld")]
    archive = tmp_path / "private_points.zip"
    archive.write_bytes(zip_bytes({f"{i.person}/{n}.jpg": i.read() for n, i in enumerate(photos)}))
    page.goto(app_url)
    wait_for_app(page, "Faces embedded")
    page.get_by_text("Upload photos or a zip").click()
    wait_for_app(page, "Upload photos or a zip in the sidebar")
    page.locator("input[type=file]").set_input_files(str(archive))
    wait_for_app(page, "jerry_seinfeld")
    page.get_by_role("link", name="Verification").click()  # same session: the upload stays
    wait_for_app(page, "ROC-AUC")
    name = f"private upload point {uuid.uuid4().hex[:8]}"  # unique: the store outlives runs
    page.get_by_label("Name this operating point").fill(name)
    page.get_by_label("Name this operating point").press("Enter")
    page.get_by_role("button", name="Save", exact=True).click()
    wait_for_app(page, f"Saved '{name}'")
    page.locator("[data-testid=stSelectbox]", has_text="Saved points").wait_for()
    assert page.get_by_text(name).count() >= 1  # listed in this session
    screenshot(page, "verification_private_point")
    with sqlite3.connect(default_path()) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        stored = (
            conn.execute("SELECT COUNT(*) FROM operating_points WHERE name=?", (name,)).fetchone()[
                0
            ]
            if "operating_points" in tables
            else 0
        )
    assert stored == 0


def test_verification_dev_eval_panel_and_det(page, app_url):
    """The DET beside the ROC, and the Development -> evaluation panel, in one picture each."""
    page.goto(app_url)
    wait_for_app(page, "Faces embedded")
    page.goto(app_url + "/verification")
    wait_for_app(page, "ROC-AUC")
    wait_for_app(page, "Threshold chosen on train")  # (the gap is also in How to read this)
    # ROC, DET, rates, histograms, confusion; the panel's DET and histogram; subgroups' ROC.
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=stPlotlyChart] .main-svg').length >= 8"
    )
    # A chart is several .main-svg layers: wait for the two DETs' own titles.
    page.get_by_text("DET: false non-matches against false matches").first.wait_for()
    page.get_by_text("DET of train and val (dots: chosen on train)").first.wait_for()
    assert page.get_by_text("Threshold chosen on train").count() >= 1
    out = ARTIFACTS / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    top = "el => el.closest('[data-testid=stPlotlyChart]').scrollIntoView({block: 'start'})"
    page.get_by_text("DET: false non-matches against false matches").first.evaluate(top)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(out / "verification_roc_det.png"))
    heading = page.get_by_text("Development → evaluation: a threshold chosen on one split")
    heading.first.evaluate("el => el.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(1000)
    path = out / "verification_dev_eval.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 50_000
