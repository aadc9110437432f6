"""Reference vectors for whole sets (Attention's average map): centroids and nearest other faces."""

from __future__ import annotations

import numpy as np
import pytest

from facedash.explain.targets import (
    centroid_of_each,
    nearest_centroid,
    nearest_other,
    person_centroids,
)


def test_centroids_match_a_per_person_mean(demo):
    names, cents = person_centroids(demo.embeddings, demo.people)
    assert names == sorted(set(demo.people.tolist()))
    for p, c in zip(names, cents, strict=True):
        np.testing.assert_allclose(c, demo.embeddings[demo.people == p].mean(axis=0), atol=1e-6)
    each = centroid_of_each(demo.embeddings, demo.people)
    assert each.shape == demo.embeddings.shape
    np.testing.assert_allclose(each[0], cents[names.index(demo.people[0])])


def test_every_demo_face_is_nearest_to_its_own_persons_centroid(demo):
    names, cents = person_centroids(demo.embeddings, demo.people)
    picks = [names[nearest_centroid(e, names, cents)[0]] for e in demo.embeddings]
    assert np.mean(np.array(picks) == demo.people) > 0.95
    _, cos = nearest_centroid(demo.embeddings[0], names, cents)
    assert -1.0 <= cos <= 1.0


@pytest.mark.parametrize("block", [1, 7, 4096])
def test_nearest_other_matches_the_full_matrix_in_any_block_size(demo, block):
    sims = demo.embeddings @ demo.embeddings.T
    np.fill_diagonal(sims, -np.inf)
    got = nearest_other(demo.embeddings, block=block)
    assert (got != np.arange(len(got))).all()
    np.testing.assert_array_equal(got, sims.argmax(axis=1))


def test_nearest_other_needs_two_faces():
    with pytest.raises(ValueError, match="two faces"):
        nearest_other(np.ones((1, 4), np.float32))
