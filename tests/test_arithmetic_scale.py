"""Arithmetic & search stay bounded on a set of a few hundred faces (the 10k figures: bench/).

The set has 300 faces made from the real demo faces: each file is a demo photo's bytes
with a unique trailer (a new content hash), and its store rows are the demo face's
detection, preview and thumbnail with the embedding slightly perturbed; they are
written to the default store and deleted afterwards. Its conditions view has 1,500
faces and 6,000 "image - A + B" queries, of which a seeded 2,000 are scored. The
transformed crops are the demo's, already in the store: no model is needed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from facedash import search
from facedash.cli import main
from facedash.search.conditions import CONDITIONS, attribute_view
from facedash.ui.state import FOLDER

ROOT = Path(__file__).resolve().parents[1]
FACES = 300


@pytest.fixture(scope="module")
def big_set(tmp_path_factory, demo, demo_dataset):
    from facedash.data.images import content_hash
    from facedash.data.store import Detection, Store
    from facedash.faces.types import Face

    folder = tmp_path_factory.mktemp("arith-big") / "set"
    store = Store()
    views = store.path.parent / "views"
    kept = set(views.glob("*.npz"))
    rng = np.random.default_rng(0)
    by_name = {item.name: item for item in demo_dataset.items}
    detections, embeddings, hashes = [], [], []
    for j in range(FACES):
        k = j % len(demo.rows)
        row = demo.rows[k]
        data = by_name[row.name].read() + f"\nfacedash-arithmetic-{j}".encode()
        path = folder / row.person / f"a{j:04d}_{Path(row.name).name}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        h = content_hash(data)
        hashes.append(h)
        face = Face(tuple(row.box), np.asarray(row.landmarks), float(row.confidence))
        detections.append(
            Detection(h, row.width, row.height, (face,), demo.previews[row.image_hash])
        )
        v = demo.embeddings[k] + rng.normal(0, 0.02, demo.embeddings.shape[1])
        embeddings.append((h, 0, (v / np.linalg.norm(v)).astype(np.float32), demo.thumbs[k]))
    store.put_detections(detections, demo.det_key)
    store.put_embeddings(
        embeddings, det_key=demo.det_key, align_key=demo.align_key, model_id=demo.model_key
    )
    yield folder
    store.forget(hashes)
    for made in set(views.glob("*.npz")) - kept:  # this set's view, kept beside the store
        made.unlink()


def test_cli_scores_a_bounded_sample_of_analogies(big_set, capsys):
    assert main(["arithmetic", str(big_set), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    n = FACES * len(CONDITIONS)
    assert got["vectors"] == n and got["queries"] == 5 * len(CONDITIONS)
    assert got["analogy_queries_total"] == n * (len(CONDITIONS) - 1)
    assert got["analogy_queries"] == got["analogy_sample"] == search.ANALOGY_SAMPLE
    # The same figures from the library, on the same view and the same seeded sample.
    from facedash.data.datasets import load_folder
    from facedash.data.store import Store
    from facedash.faces.pipeline import embed_dataset

    result = embed_dataset(load_folder(big_set), store=Store())
    assert result.computed == 0
    view = attribute_view(result, None, store=Store())
    assert view.result.computed == 0  # the transformed crops were in the store already
    rep = search.evaluate_arithmetic(
        view.result.embeddings, view.persons, view.values, sources=view.sources
    )
    assert got["analogy_top1"] == pytest.approx(rep.analogy["top1"], abs=1e-4)
    assert got["top1"] == pytest.approx(rep.top1, abs=1e-4)
    assert main(["arithmetic", str(big_set), "--seed", "1", "--json"]) == 0
    other = json.loads(capsys.readouterr().out)
    assert other["analogy_queries"] == search.ANALOGY_SAMPLE  # another sample, the same size
    assert other["top1"] == got["top1"]


def arithmetic_page(folder):
    """The Arithmetic & search page on the set in ``folder`` (sidebar: folder on this server)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.session_state["fd_source"] = FOLDER
    at.session_state["fd_folder"] = str(folder)
    at.run()
    at.switch_page("pages/arithmetic.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_page_pickers_and_figures_stay_bounded(big_set):
    at = arithmetic_page(big_set)
    n = FACES * len(CONDITIONS)
    assert next(m.value for m in at.metric if m.label == "Queries") == "25"
    faces = at.selectbox(key="arithmetic_image")
    assert len(faces.options) == 500  # a seeded sample of the 1,500 faces, not all of them
    assert any(
        f"over {search.ANALOGY_SAMPLE:,} queries (a seeded sample of {n * 4:,})" in c.value
        for c in at.caption
    )
    assert len(at.selectbox(key="arithmetic_probe").options) == FACES
    at.slider(key="arithmetic_k").set_value(7).run()  # a rerun recomputes nothing heavy
    assert not at.exception, at.exception


def test_a_set_larger_than_the_sample_gets_conditions_for_a_per_person_sample(
    big_set, capsys, monkeypatch
):
    """Past ``SAMPLE_FACES`` faces only a seeded per-person sample is transformed: the CLI
    and the page say how many, and the group vectors still cover every person."""
    import facedash.search.conditions

    monkeypatch.setattr(facedash.search.conditions, "SAMPLE_FACES", 120)
    assert main(["arithmetic", str(big_set), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert (got["view_faces"], got["view_faces_total"]) == (120, FACES)
    assert got["vectors"] == 120 * len(CONDITIONS)
    assert got["queries"] == 5 * len(CONDITIONS)  # every person x condition group is there
    assert main(["arithmetic", str(big_set)]) == 0
    assert "a seeded sample of 120 of the set's 300 faces" in capsys.readouterr().out
    # --view-sample asks for another size: still every person x condition group
    assert main(["arithmetic", str(big_set), "--view-sample", "60", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert (got["view_faces"], got["vectors"], got["queries"]) == (60, 60 * 5, 25)

    at = arithmetic_page(big_set)
    assert any("a seeded sample of 120 of the set's 300 faces" in i.value for i in at.info)
    assert next(m.value for m in at.metric if m.label == "Queries") == "25"
