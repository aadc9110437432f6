"""The verification package stands below PFE: PFE registers ``mls`` there, never the reverse."""

from __future__ import annotations

import numpy as np
import pytest

from facedash import verification as V
from tests.fresh_process import ROOT, run
from tests.sources import imported_modules


def test_no_verification_module_imports_pfe_even_lazily():
    files = sorted((ROOT / "facedash" / "verification").glob("*.py"))
    assert len(files) >= 7
    for f in files:
        assert not any(n.startswith("facedash.pfe") for n in imported_modules(f)), f.name
        assert len(f.read_text().splitlines()) <= 320, f.name


def test_mls_is_known_only_once_pfe_is_imported_and_keeps_its_place():
    code = (
        "import json, sys\n"
        "from facedash import verification as V\n"
        "before = list(V.SCORES)\n"
        "try:\n"
        "    V.score_kind('mls')\n"
        "    err = ''\n"
        "except ValueError as exc:\n"
        "    err = str(exc)\n"
        "pfe_loaded = 'facedash.pfe' in sys.modules\n"
        "import facedash.pfe\n"
        "import importlib\n"
        "importlib.reload(facedash.pfe)  # registering again keeps the order\n"
        "print('@@' + json.dumps({'before': before, 'err': err, 'pfe_loaded': pfe_loaded,\n"
        "    'after': list(V.SCORES), 'rule': V.score_kind('mls').rule,\n"
        "    'tf': 'tensorflow' in sys.modules}))\n"
    )
    report, _ = run(code)
    assert report["before"] == ["cosine", "euclidean"] and not report["pfe_loaded"]
    assert "unknown score 'mls'" in report["err"] and "import facedash.pfe" in report["err"]
    assert report["after"] == ["cosine", "euclidean", "mls"]
    assert report["rule"] == "score ≥ t means same"
    assert not report["tf"]  # registering the score loads no model


def test_register_score_adds_a_score_the_sweep_uses(demo):
    def manhattan(es, i, j):
        return np.abs(es.embeddings[i] - es.embeddings[j]).sum(1)

    kind = V.register_score(V.ScoreKind("l1", "Manhattan distance", False, manhattan))
    try:
        assert list(V.SCORES)[-1] == "l1" and V.score_kind("l1") is kind
        p = V.all_pairs(demo.people)
        sw = V.sweep(V.pair_scores(demo, p, "l1"), p.same, score="l1")
        assert sw.auc > 0.95 and not sw.higher_is_same
    finally:
        del V.SCORES["l1"]
    with pytest.raises(TypeError, match="ScoreKind"):
        V.register_score("l1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown score 'l1'; known: cosine, euclidean"):
        V.score_kind("l1")


def test_the_verification_page_offers_mls_in_a_fresh_app_process(demo):
    # The page's own imports must register MLS: in a fresh process nothing else does.
    code = (
        "import json, sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        "at = AppTest.from_file('app.py', default_timeout=300)\n"
        "at.run()\n"
        "at.switch_page('pages/verification.py')\n"
        "at.run()\n"
        "box = at.selectbox(key='verification_score')\n"
        "print('@@' + json.dumps({'options': list(box.options), 'errors': len(at.exception),\n"
        "    'tf': 'tensorflow' in sys.modules}))\n"
    )
    report, _ = run(code)
    assert report["errors"] == 0
    assert report["options"] == [
        "Cosine similarity",
        "Euclidean distance",
        "Mutual likelihood score (PFE)",
    ]
    assert not report["tf"]  # a stored set's Verification page loads no model
