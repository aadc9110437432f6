"""``facedash arithmetic`` and ``facedash search``: the JSON contract, checked against the library."""

from __future__ import annotations

import json

import numpy as np
import pytest

from facedash import search
from facedash.cli import main
from facedash.data.store import Store
from facedash.search.conditions import CONDITIONS, attribute_view
from tests.test_search import write_jaffe_set


def run_json(capsys, argv):
    rc = main([*argv, "--json"])
    out = capsys.readouterr().out
    assert rc == 0, out
    return json.loads(out)


def test_arithmetic_demo_json_matches_the_library(capsys, demo):
    got = run_json(capsys, ["arithmetic", "--demo"])
    assert {"queries", "top1", "top5", "vectors"} <= set(got)
    assert got["attribute"] == "condition" and got["synthetic"] is True
    view = attribute_view(demo, None, store=Store())
    report = search.evaluate_arithmetic(view.result.embeddings, view.persons, view.values)
    assert got["queries"] == len(report.queries) == 5 * len(CONDITIONS)
    assert got["vectors"] == len(demo.rows) * len(CONDITIONS)
    assert got["top1"] == pytest.approx(report.top1, abs=1e-4)
    assert got["top5"] == pytest.approx(report.top5, abs=1e-4)
    mean = run_json(capsys, ["arithmetic", "--demo", "--method", "mean", "--index", "ngt"])
    assert mean["method"] == "mean" and mean["index"] == "ngt"


def test_arithmetic_reports_its_analogy_sample_and_the_head(capsys, demo):
    view = attribute_view(demo, None, store=Store())
    full = search.evaluate_arithmetic(
        view.result.embeddings, view.persons, view.values, sources=view.sources, analogy_sample=0
    )
    total = int(full.analogy["queries_total"])  # 590 faces x 4 other conditions
    assert total == 590 * 4
    got = run_json(capsys, ["arithmetic", "--demo"])
    assert got["analogy_queries"] == search.ANALOGY_SAMPLE < total == got["analogy_queries_total"]
    assert got["analogy_sample"] == search.ANALOGY_SAMPLE
    every = run_json(capsys, ["arithmetic", "--demo", "--analogy-sample", "0"])
    assert every["analogy_queries"] == total
    assert every["analogy_top1"] == pytest.approx(full.analogy["top1"], abs=1e-4)
    # "person + attribute" does not depend on the analogy sample.
    assert (every["top1"], every["top5"]) == (got["top1"], got["top5"])
    assert main(["arithmetic", "--demo"]) == 0
    assert "(2,000 of 2,360 queries, a seeded sample)" in capsys.readouterr().out

    head = run_json(capsys, ["arithmetic", "--demo", "--train-head", "10"])
    assert head["head_features"] == "block17"
    rows = {r["embedding"]: r for r in head["head"]}
    assert set(rows) == {"plain embedding", "features, no head", "triplet head"}
    assert rows["triplet head"]["features"] == "block17"
    assert rows["triplet head"]["top-1"] > rows["plain embedding"]["top-1"]
    with pytest.raises(SystemExit):
        main(["arithmetic", "--demo", "--analogy-sample", "-1"])


def test_arithmetic_on_a_jaffe_folder_and_a_manifest(capsys, tmp_path, demo_dataset, facenet):
    folder = tmp_path / "jaffe"
    folder.mkdir()
    write_jaffe_set(demo_dataset, folder)
    store = str(tmp_path / "s.sqlite3")
    got = run_json(
        capsys, ["arithmetic", str(folder), "--attribute-pattern", "jaffe", "--store", store]
    )
    assert got["attribute"] == "expression" and got["synthetic"] is False
    assert got["queries"] == 25 and got["vectors"] == 25
    assert got["top5"] == 1.0 and got["top1"] > 0.2

    # The same files through a manifest column.
    rows = ["path,person,light"]
    for f in sorted(folder.iterdir()):
        rows.append(f"{f.name},{f.name[:2]},{f.name.split('.')[1][:2].lower()}")
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
    by_column = run_json(
        capsys,
        [
            "arithmetic",
            str(folder / "manifest.csv"),
            "--attribute-pattern",
            "light",
            "--store",
            store,
        ],
    )
    assert by_column["attribute"] == "light"
    assert by_column["top1"] == got["top1"] and by_column["top5"] == got["top5"]

    rc = main(
        [
            "arithmetic",
            str(folder / "manifest.csv"),
            "--attribute-pattern",
            "pose",
            "--store",
            store,
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "no attribute column 'pose'" in err and "light" in err


def test_search_finds_the_photo_and_its_person(capsys, demo, demo_dataset):
    item = demo_dataset.items[-1]
    got = run_json(capsys, ["search", str(item.path), "--demo", "--k", "3"])
    assert got["k"] == 3 and len(got["neighbours"]) == 3
    first = got["neighbours"][0]
    assert first["same_photo"] is True and first["similarity"] == pytest.approx(1.0, abs=1e-3)
    sims = [n["similarity"] for n in got["neighbours"]]
    assert sims == sorted(sims, reverse=True)
    # The oracle: the same ranking by brute force over the demo set.
    row = next(i for i, r in enumerate(demo.rows) if r.name == item.name)
    order = np.argsort(-(demo.embeddings @ demo.embeddings[row]), kind="stable")[:3]
    assert sims == pytest.approx(
        [float(demo.embeddings[i] @ demo.embeddings[row]) for i in order], abs=1e-3
    )
    assert all(
        n["distance"] == pytest.approx(1 - n["similarity"], abs=1e-4) for n in got["neighbours"]
    )


def test_search_errors(capsys, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    rc = main(["search", str(bad), "--demo"])
    assert rc == 2 and "not an image" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["search", str(bad), "--demo", "--k", "0"])
