"""``facedash cluster``: the JSON contract and the human summary."""

from __future__ import annotations

import json

import numpy as np

from facedash.cli import main
from facedash.projection import cluster_map

KEYS = {"projection", "dims", "k", "space", "accuracy", "ari", "nmi", "silhouette", "confusion"}


def test_cluster_json_matches_the_library(demo, capsys):
    code = main(
        [
            "cluster",
            "--demo",
            "--projection",
            "pca",
            "--space",
            "full",
            "--k",
            "4",
            "--seed",
            "1",
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert KEYS <= set(out)
    assert (out["projection"], out["dims"], out["k"], out["space"]) == ("pca", 2, 4, "full")
    ref = cluster_map(demo.embeddings, demo.people, method="pca", k=4, space="full", seed=1)
    assert out["accuracy"] == ref.metrics.accuracy
    assert out["ari"] == ref.metrics.ari
    assert np.asarray(out["confusion"]).shape == (5, 4)
    assert np.asarray(out["confusion"]).sum() == len(demo.rows)
    # Four clusters for five people: at least one person's faces cannot all be matched.
    assert out["accuracy"] < 1.0


def test_cluster_text_and_3d(demo, capsys):
    assert main(["cluster", "--demo", "--projection", "pca", "--dims", "3"]) == 0
    text = capsys.readouterr().out
    assert "PCA 3-D, KMeans k=5" in text and "accuracy" in text
    assert all(person in text for person in set(demo.people.tolist()))


def test_cluster_bad_parameter_is_one_line(demo, capsys):
    code = main(["cluster", "--demo", "--projection", "tsne", "--perplexity", "500"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("facedash: error:") and "perplexity" in err and "\n" not in err
