"""Model files: format detection, the contract inside .tflite and .keras files, atomic writes."""

import json

import numpy as np
import pytest

from sentilite.core.classifier import TFLiteClassifier
from sentilite.core.errors import ContractError, InputFileError, ModelFormatError
from sentilite.core.fsutil import atomic_path, atomic_write_bytes
from sentilite.core.modelfile import (
    CONTRACT_METADATA_NAME,
    _read_metadata_minimal,
    detect_format,
    embed_tflite_metadata,
    read_contract,
    read_tflite_metadata,
    require_contract,
    require_format,
)


def test_detects_formats_by_content(tiny_model, tiny_variants, tmp_path):
    assert detect_format(tiny_model[2]) == "keras"
    renamed = tmp_path / "model.bin"
    renamed.write_bytes(tiny_variants["int8"].read_bytes())
    assert detect_format(renamed) == "tflite"
    (tmp_path / "w.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 16)
    assert detect_format(tmp_path / "w.h5") == "h5"
    (tmp_path / "x.tflite").write_text("hello")
    assert detect_format(tmp_path / "x.tflite") == "unknown"
    with pytest.raises(ModelFormatError, match="not a model file"):
        require_format(tmp_path / "x.tflite", "tflite")
    with pytest.raises(ModelFormatError, match="re-save it as .keras"):
        require_format(tmp_path / "w.h5", "keras")
    with pytest.raises(InputFileError, match="not found"):
        detect_format(tmp_path / "nothing.tflite")


def test_every_variant_carries_its_contract(tiny_model, tiny_variants):
    _, contract, keras_path = tiny_model
    assert read_contract(keras_path) == contract
    for variant, path in tiny_variants.items():
        assert read_contract(path) == contract, variant


def test_minimal_reader_agrees_with_the_schema_reader(tiny_variants):
    for path in tiny_variants.values():
        data = path.read_bytes()
        assert _read_metadata_minimal(data) == read_tflite_metadata(data)


def test_metadata_does_not_change_the_model(tiny_variants, tmp_path):
    data = tiny_variants["float32"].read_bytes()
    extra = embed_tflite_metadata(data, {"other": b"x" * 100})
    meta = read_tflite_metadata(extra)
    assert meta["other"] == b"x" * 100 and CONTRACT_METADATA_NAME in meta
    p = tmp_path / "extra.tflite"
    p.write_bytes(extra)
    img = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    np.testing.assert_array_equal(
        TFLiteClassifier(p).predict(img), TFLiteClassifier(tiny_variants["float32"]).predict(img)
    )


def test_missing_contract_is_an_error_with_a_fix(tiny_variants, tmp_path):
    data = tiny_variants["float32"].read_bytes()
    meta = read_tflite_metadata(data)
    stripped = embed_tflite_metadata(data, {CONTRACT_METADATA_NAME: b""})
    p = tmp_path / "bare.tflite"
    p.write_bytes(stripped)
    assert CONTRACT_METADATA_NAME in meta
    with pytest.raises(ContractError, match="sentilite convert"):
        require_contract(p)


def test_keras_contract_entry_survives_loading(tiny_model):
    from sentilite.core.tf_import import import_keras

    keras = import_keras()
    model = keras.saving.load_model(tiny_model[2], compile=False)
    assert model.count_params() == tiny_model[0].count_params()


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "report.json"
    atomic_write_bytes(target, b'{"v": 1}')
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash half way")
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_truncated_tflite_is_a_model_format_error(tiny_variants, tmp_path):
    from sentilite.core.modelfile import read_conversion_facts

    data = tiny_variants["int8"].read_bytes()
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelFormatError, match="truncated or corrupt"):
        read_conversion_facts(cut)
