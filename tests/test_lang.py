"""The session's language through the app (AppTest): ?lang=, the sidebar's picker, the browser's locale.

Runs the real app on the real demo set (the ``demo`` fixture embeds it into the store first).
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from facedash import i18n
from facedash.ui import data as UD
from tests.conftest import ROOT


def _app(query=None, context=None, **state) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.query_params.update(query or {})
    at.context.update(context or {})
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def _choose(at: AppTest, lang: str) -> AppTest:
    """Pick ``lang`` in the sidebar's picker and rerun, as a browser would.

    A browser sends every selectbox's and radio's choice as the text it shows. AppTest
    computes that text with the widget's ``format_func`` in the test's own thread, so it
    must be done in the language the page is shown in (the run itself sets its own).
    """
    with i18n.using(at.selectbox(key="fd_lang").value):
        return at.selectbox(key="fd_lang").select(lang).run()


def _go(at: AppTest, page: str) -> AppTest:
    with i18n.using(at.selectbox(key="fd_lang").value):
        return at.switch_page(page).run()


def _metric_labels(at: AppTest) -> set[str]:
    return {m.label for m in at.metric}


def _sidebar_label(at: AppTest) -> str:
    return at.sidebar.radio(key="fd_source").label


def test_lang_ja_gives_a_japanese_data_page(app_py, demo):
    at = _app({"lang": "ja"})
    assert not at.exception, at.exception
    assert at.title[0].value == "データ"
    assert {"写真", "埋め込んだ顔", "人数", "使われなかったファイル"} <= _metric_labels(at)
    assert _sidebar_label(at) == "顔セット"
    source = at.sidebar.radio(key="fd_source")
    assert source.value == "Demo: 5 celebrities"  # the value stays a key; only its label is shown
    assert "デモ：有名人 5 人" in source.options
    assert at.selectbox(key="fd_lang").value == "ja"


def test_picking_english_turns_the_page_english_and_sets_the_address(app_py, demo):
    at = _app({"lang": "ja"})
    _choose(at, "en")
    assert not at.exception, at.exception
    assert at.query_params.get("lang") == "en"
    assert at.title[0].value == "Data"
    assert {"Photos", "Faces embedded", "People", "Files not used"} <= _metric_labels(at)
    # And back: Japanese again, and the address says so.
    _choose(at, "ja")
    assert at.query_params.get("lang") == "ja"
    assert "写真" in _metric_labels(at)


def test_the_language_survives_a_change_of_page(app_py, demo):
    # Upload mode without files: the pages draw their opening and stop, no model is loaded.
    at = _app({"lang": "en"}, fd_source="Upload photos or a zip")
    _choose(at, "ja")
    _go(at, "pages/verification.py")
    assert not at.exception, at.exception
    assert at.selectbox(key="fd_lang").value == "ja"
    assert _sidebar_label(at) == "顔セット"
    assert any(e.label == "この図の読み方" for e in at.expander)
    assert any("サイドバーで写真または zip をアップロード" in i.value for i in at.info)
    _go(at, "pages/data.py")
    assert at.title[0].value == "データ"


def test_a_page_run_without_app_py_keeps_the_language(demo):
    """A page served as a bare ``pages/`` script (no ``app.py``, so no ``lang.start`` there)."""
    at = _app(fd_source="Upload photos or a zip")
    _choose(at, "ja")
    with i18n.using("ja"):
        at.switch_page("pages/verification.py").run()
    assert not at.exception, at.exception
    assert not at.sidebar.children  # AppTest ran the page alone
    assert any(e.label == "この図の読み方" for e in at.expander)
    assert any("サイドバーで写真または zip をアップロード" in i.value for i in at.info)


def test_an_unknown_language_is_english_silently(app_py, demo):
    at = _app({"lang": "fr"})
    assert not at.exception, at.exception
    assert not at.warning and not at.error
    assert at.title[0].value == "Data"
    assert "Photos" in _metric_labels(at)
    assert at.selectbox(key="fd_lang").value == "en"


@pytest.mark.parametrize(
    ("locale", "expected", "title"),
    [
        ("ja-JP", "ja", "データ"),
        ("ja", "ja", "データ"),
        ("fr-FR", "en", "Data"),
        (None, "en", "Data"),
    ],
)
def test_the_browser_locale_is_used_without_lang(app_py, demo, locale, expected, title):
    at = _app(context={"locale": locale})
    assert not at.exception, at.exception
    assert at.selectbox(key="fd_lang").value == expected
    assert at.title[0].value == title


def test_lang_overrides_the_browser_locale(app_py, demo):
    at = _app({"lang": "en"}, {"locale": "ja-JP"})
    assert at.title[0].value == "Data"
    at = _app({"lang": "ja"}, {"locale": "en-US"})
    assert at.title[0].value == "データ"


def test_a_sidebar_value_survives_a_change_of_language(app_py, demo):
    # Upload mode without files: nothing is embedded, so the margin changes no computation.
    at = _app({"lang": "en"}, fd_source="Upload photos or a zip")
    at.sidebar.slider(key="fd_margin").set_value(0.25).run()
    at.sidebar.checkbox(key="fd_rotate").uncheck().run()
    assert at.sidebar.slider(key="fd_margin").label == "Crop margin around the box"
    _choose(at, "ja")
    assert not at.exception, at.exception
    margin = at.sidebar.slider(key="fd_margin")
    assert margin.label == "枠の周りの切り抜きの余白"
    assert margin.value == pytest.approx(0.25)
    assert at.sidebar.checkbox(key="fd_rotate").value is False
    assert at.sidebar.radio(key="fd_source").value == "Upload photos or a zip"
    _choose(at, "en")
    assert at.sidebar.slider(key="fd_margin").value == pytest.approx(0.25)


def test_the_token_page_has_its_own_picker(app_py, monkeypatch):
    """Classroom mode: the token page (no sidebar) in Japanese, and its picker turns it English."""
    from facedash import classroom

    monkeypatch.setenv(classroom.TOKEN_ENV, "class-token-0123")
    monkeypatch.delenv(classroom.LINK_ENV, raising=False)
    at = _app({"lang": "ja"})
    assert not at.exception, at.exception
    assert not at.sidebar.children
    assert [t.label for t in at.text_input] == ["アクセストークン"]
    assert "このダッシュボードを使うにはアクセストークンが必要です。" in [
        m.value for m in at.markdown
    ]
    _choose(at, "en")
    assert [t.label for t in at.text_input] == ["Access token"]
    assert at.query_params.get("lang") == "en"
    assert not at.metric and "fd_source" not in at.session_state  # still nothing behind it


def test_files_not_used_in_japanese(app_py, demo, tmp_path):
    """A folder with a text file, a faceless photo and a face: the Data page's failures in Japanese."""
    import shutil

    from facedash.assets import demo_path
    from tests.corpus import encode, noise_image
    from tests.test_pages_japanese import english_left

    folder = tmp_path / "awkward" / "ben_afflek"
    folder.mkdir(parents=True)
    shutil.copy(demo_path() / demo.rows[0].name, folder / "a.jpg")
    (folder / "noise.png").write_bytes(encode(noise_image((200, 160), seed=1), "PNG"))
    (folder / "text.jpg").write_bytes(b"not an image")
    where = str(folder.parent)
    at = _app({"lang": "ja"}, fd_source="Folder on this server", fd_folder=where)
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["使われなかったファイル"] == "2"
    table = at.table[0].value
    assert list(table.columns) == ["ファイル", "理由"]
    reasons = dict(zip(table["ファイル"], table["理由"], strict=True))
    assert reasons["ben_afflek/text.jpg"] == "画像ではなくテキストファイルです"
    assert reasons["ben_afflek/noise.png"] == "顔が見つかりません"
    assert any(h.value == "顔が見つからなかった写真（1）" for h in at.subheader)
    assert not english_left(at), english_left(at)
    # The same set in English: the library's own words.
    at = _app({"lang": "en"}, fd_source="Folder on this server", fd_folder=where)
    table = at.table[0].value
    assert list(table.columns) == ["File", "Reason"]
    assert set(table["Reason"]) == {"a text file, not an image", "no face found"}


def _many_failures(lang: str) -> None:
    from facedash import i18n
    from facedash.data.datasets import Failure
    from facedash.ui import data as UD

    i18n.set_language(lang)
    reasons = ["no face found", "a text file, not an image", "empty file (0 bytes)"]
    UD.failures_panel([Failure(f"p/{k}.jpg", reasons[k % 3]) for k in range(250)])


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_paged_failures_table_in_both_languages(lang):
    """Past 200 files: the pager, the caption and the page of the table translated; the CSV English."""
    at = AppTest.from_function(_many_failures, args=(lang,), default_timeout=60).run()
    assert not at.exception, at.exception
    frame = at.dataframe[0].value
    assert len(frame) == 200
    if lang == "ja":
        assert list(frame.columns) == ["ファイル", "理由"]
        assert set(frame["理由"]) == {
            "顔が見つかりません",
            "画像ではなくテキストファイルです",
            "空のファイルです（0 バイト）",
        }
        assert at.number_input(key="data_failures_page").label == "ページ（全 2 ページ）"
        assert any(c.value.startswith("250 件、1 ページに 200 件。多い理由：") for c in at.caption)
        assert at.get("download_button")[0].proto.label == "すべて CSV で保存"
    else:
        assert list(frame.columns) == ["File", "Reason"]
        assert at.number_input(key="data_failures_page").label == "Page (of 2)"
        assert any(c.value.startswith("250 files, 200 per page;") for c in at.caption)


def test_library_reasons_are_translated_for_display_only():
    """The Data page's reasons for files not used: Japanese on screen, the library's English kept."""
    from facedash.data.datasets import load_zip
    from facedash.data.images import decode
    from facedash.errors import ImageError

    reasons = []
    for data in (b"", b"%PDF-1.4 ...", b"PK\x03\x04rest", b"hello, world", b"\x00\x01\x02\xff" * 8):
        with pytest.raises(ImageError) as err:
            decode(data)
        reasons.append(str(err.value))
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("alice/notes.txt", "x")
        zf.writestr("../evil.jpg", "x")
        zf.writestr("inner.zip", "x")
    reasons += [p.reason for p in load_zip(buf.getvalue(), name="t.zip").problems]
    reasons += [
        "no face found",
        "face 2 could not be embedded",
        "cannot read file (No such file or directory)",
    ]
    assert len(set(reasons)) == len(reasons) >= 11
    with i18n.using("en"):
        assert [UD.reason(r) for r in reasons] == reasons  # English: exactly the library's text
    with i18n.using("ja"):
        shown = [UD.reason(r) for r in reasons]
    for english, japanese in zip(reasons, shown, strict=True):
        assert japanese != english, english
        assert any("\u3040" <= c <= "\u9fff" for c in japanese), japanese
    # The variable parts are kept, and an inner known text is translated too.
    with i18n.using("ja"):
        assert "no extension" not in UD.reason("not an image file (no extension), skipped")
        assert "拡張子なし" in UD.reason("not an image file (no extension), skipped")
        assert "123x45" in UD.reason("123x45 pixels is too small to hold a face")
        assert "そのようなファイル" in UD.reason("cannot read file (No such file or directory)")
        assert UD.reason("something the table does not know") == "something the table does not know"


@pytest.mark.browser
def test_the_language_in_a_browser(page, app_url):
    """The real server: ?lang=ja, a page change and a rerun there keep it; the picker turns it English."""
    from tests.conftest import screenshot, wait_for_app

    page.goto(app_url + "/?lang=ja")
    wait_for_app(page, "埋め込んだ顔")
    sidebar = page.get_by_test_id("stSidebar")
    assert sidebar.get_by_text("顔セット").count() == 1
    sidebar.get_by_role("link", name="照合").click()
    wait_for_app(page, "この図の読み方")
    assert "/verification" in page.url
    # A rerun on that page (a sidebar choice): the shared sidebar and the language stay.
    sidebar.get_by_text("写真または zip をアップロード").click()
    wait_for_app(page, "サイドバーで写真または zip をアップロードすると始まります。")
    # A face setting changed in Japanese keeps its value in English.
    sidebar.get_by_text("顔の設定").click()
    margin = sidebar.get_by_role("slider")
    margin.focus()
    margin.press("ArrowRight")
    margin.press("ArrowRight")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=stSidebar] input[type=range]')"
        "?.getAttribute('aria-valuetext') === '0.20'"
    )
    wait_for_app(page, "サイドバーで写真または zip をアップロードすると始まります。")
    screenshot(page, "lang_ja_verification")
    sidebar.get_by_test_id("stSelectbox").filter(has_text="Language / 言語").click()
    page.get_by_role("option", name="English").click()
    wait_for_app(page, "Upload photos or a zip in the sidebar to start.")
    assert "lang=en" in page.url and "/verification" in page.url
    assert sidebar.get_by_text("Face settings").count() == 1
    if not sidebar.get_by_role("slider").is_visible():
        sidebar.get_by_text("Face settings").click()
    assert sidebar.get_by_role("slider").get_attribute("aria-valuetext") == "0.20"
    assert sidebar.get_by_text("Crop margin around the box").count() == 1
