"""Small files that claim to be huge, and damaged containers: each is refused (or read within
budget) before it can allocate, with an error that names the file and the fix.

Memory claims are checked on real processes (the peak RSS a child reports through
``RUSAGE_CHILDREN``); the planted defect each test guards against is named in its docstring.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from payloads import bomb_png
from PIL import Image

from sentilite.core.default_model import DEFAULT_MODEL_PATH
from sentilite.core.errors import ImageReadError, ModelFormatError
from sentilite.core.imageio import ImageTooLargeError, decode_image_bytes, load_image

#: runs argv (from sys.argv[1:]) with stdin passed through, then prints its peak RSS in MB
_MEASURE = (
    "import resource, subprocess, sys\n"
    "p = subprocess.run(sys.argv[1:], input=sys.stdin.buffer.read(), capture_output=True)\n"
    "sys.stdout.buffer.write(p.stdout[-20000:]); sys.stderr.buffer.write(p.stderr[-5000:])\n"
    "print('\\nPEAK %.1f RC %d' % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, p.returncode))\n"
)


def run_measured(argv: list[str], stdin: bytes = b"") -> tuple[int, str, str, float]:
    """(exit code, stdout, stderr, peak RSS in MB) of ``argv`` run in a child process."""
    proc = subprocess.run([sys.executable, "-c", _MEASURE, *argv], input=stdin, capture_output=True, timeout=120)
    out, tail = proc.stdout.decode(errors="replace").rsplit("\nPEAK ", 1)
    peak, _, rc = tail.split()
    return int(rc), out, proc.stderr.decode(errors="replace"), float(peak)


def test_a_small_png_of_100_megapixels_is_refused_before_decoding():
    """Planted defect: drop the header check in imageio._fit_budget; the child then decodes
    300 MB of pixels and its peak RSS passes the bound."""
    png = bomb_png(10000, 10000)
    assert len(png) < 400_000
    code = (
        "import sys\nfrom sentilite.core.imageio import decode_image_bytes\n"
        "try:\n    decode_image_bytes(sys.stdin.buffer.read(), 'bomb.png')\n"
        "except Exception as exc:\n    print(type(exc).__name__, exc)\n"
    )
    _, out, err, peak = run_measured([sys.executable, "-c", code], png)
    assert "ImageTooLargeError bomb.png is 10000x10000 px (100 Mpx), over the decode budget" in out, (out, err)
    assert "SENTILITE_MAX_PIXELS" in out
    assert peak < 200, peak


def test_a_jpeg_over_the_budget_is_decoded_at_reduced_scale(monkeypatch):
    """Planted defect: refuse every format over budget (no draft) and this photo is lost."""
    buf = io.BytesIO()
    Image.new("RGB", (4000, 3000), (200, 30, 30)).save(buf, "JPEG", quality=90)
    monkeypatch.setenv("SENTILITE_MAX_PIXELS", "4000000")
    rgb = decode_image_bytes(buf.getvalue(), "big.jpg")
    assert rgb.shape == (1500, 2000, 3) and np.abs(rgb[750, 1000].astype(int) - [200, 30, 30]).max() <= 3
    png = io.BytesIO()
    Image.new("RGB", (4000, 3000)).save(png, "PNG")
    with pytest.raises(ImageTooLargeError, match=r"4000x3000 px \(12 Mpx\), over the decode budget of 4 Mpx"):
        decode_image_bytes(png.getvalue(), "big.png")
    monkeypatch.setenv("SENTILITE_MAX_PIXELS", "13000000")
    assert decode_image_bytes(png.getvalue(), "big.png").shape == (3000, 4000, 3)


def test_every_reader_of_image_files_uses_the_budget(tmp_path, monkeypatch):
    """load_image (train, evaluate, convert, bench inputs) and the demo's folder source alike."""
    from sentilite.camera_demo.sources import _read_within_budget

    path = tmp_path / "wide.png"
    Image.new("RGB", (3000, 2000)).save(path)
    jpg = tmp_path / "wide.jpg"
    Image.new("RGB", (3000, 2000), (10, 200, 10)).save(jpg, quality=90)
    monkeypatch.setenv("SENTILITE_MAX_PIXELS", "2000000")
    with pytest.raises(ImageReadError, match="over the decode budget"):
        load_image(path)
    assert _read_within_budget(path) is None  # skipped and listed as unreadable by the folder source
    assert _read_within_budget(jpg).shape == (1000, 1500, 3)


def with_labels_entry(tmp_path: Path, payload: bytes, corrupt: bool = False) -> Path:
    """The bundled model with its labels.txt replaced by a deflated ``payload`` (optionally damaged)."""
    data = bytearray(DEFAULT_MODEL_PATH.read_bytes())
    start = data.rfind(b"PK\x03\x04")  # the metadata zip appended to the flatbuffer: one stored labels.txt
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("labels.txt", payload)
    new = bytearray(buf.getvalue())
    if corrupt:
        name_len, extra_len = struct.unpack("<HH", new[26:30])
        body = 30 + name_len + extra_len
        new[body + 10 : body + 60] = bytes(range(50))
    # zip offsets are relative to the zip's start only when it starts the file; rebase them
    out = zipfile_rebased(bytes(new), start)
    path = tmp_path / "model.tflite"
    path.write_bytes(bytes(data[:start]) + out)
    return path


def zipfile_rebased(zip_bytes: bytes, offset: int) -> bytes:
    """``zip_bytes`` with its central directory's offsets moved by ``offset`` (it will sit after
    that many bytes of flatbuffer, as LiteRT's metadata writer places it)."""
    b = bytearray(zip_bytes)
    eocd = b.rfind(b"PK\x05\x06")
    cd_size, cd_off = struct.unpack("<II", b[eocd + 12 : eocd + 20])
    pos = cd_off
    while pos < cd_off + cd_size:
        local = struct.unpack("<I", b[pos + 42 : pos + 46])[0]
        b[pos + 42 : pos + 46] = struct.pack("<I", local + offset)
        n, m, k = struct.unpack("<HHH", b[pos + 28 : pos + 34])
        pos += 46 + n + m + k
    b[eocd + 16 : eocd + 20] = struct.pack("<I", cd_off + offset)
    return bytes(b)


def test_the_planted_labels_entry_is_what_the_reader_finds(tmp_path):
    """The helper above is itself checked: a small replacement is read back as labels."""
    from sentilite.core.tflite_metadata import read_label_file

    model = with_labels_entry(tmp_path, b"sad\nso-so\nglad\n")
    assert read_label_file(model.read_bytes()) == ["sad", "so-so", "glad"]


def test_info_on_a_labels_zip_bomb_stays_small_and_says_so(tmp_path):
    """A 100 KB labels entry that inflates to 100 MB. Planted defect: read the entry with
    zipfile's plain read(); the child's peak RSS then passes 300 MB and the output 100 MB."""
    model = with_labels_entry(tmp_path, b"x" * 99 + b"\n" * 1 + b"y" * (100 * 2**20 - 100))
    assert model.stat().st_size < DEFAULT_MODEL_PATH.stat().st_size + 200_000
    rc, out, err, peak = run_measured([sys.executable, "-m", "sentilite", "info", str(model)])
    assert rc == 0, err
    assert "labels file is unreadable" in out and "declares 104857600 bytes" in out, out
    assert len(out) < 10_000 and peak < 300, (len(out), peak)


def test_a_damaged_metadata_zip_is_named_not_a_zlib_error(tmp_path):
    """Planted defect: let zlib's error through; the CLI then ends in `unexpected error: Error -3`."""
    model = with_labels_entry(tmp_path, "".join(f"label{i}\n" for i in range(3000)).encode(), corrupt=True)
    proc = subprocess.run(
        [sys.executable, "-m", "sentilite", "info", str(model)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and "unexpected" not in proc.stderr, proc.stderr
    assert "labels file is unreadable" in proc.stdout and "labels.txt is damaged" in proc.stdout, proc.stdout
    assert "re-convert the model" in proc.stdout


def test_a_zip_of_many_entries_and_an_oversized_entry_are_refused(tmp_path):
    from sentilite.core.bounded_read import BudgetExceeded, read_json_file, read_zip_entry

    many = io.BytesIO()
    with zipfile.ZipFile(many, "w") as zf:
        for i in range(300):
            zf.writestr(f"e{i}", b"")
    with pytest.raises(BudgetExceeded, match="300 entries"):
        read_zip_entry(many.getvalue(), "e1", "x.keras")
    one = io.BytesIO()
    with zipfile.ZipFile(one, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", b" " * 3_000_000)
    with pytest.raises(BudgetExceeded, match="config.json declares 3000000 bytes"):
        read_zip_entry(one.getvalue(), "config.json", "x.keras", max_bytes=2**20)
    assert read_zip_entry(one.getvalue(), "config.json", "x.keras", max_bytes=4 * 2**20) == b" " * 3_000_000
    with pytest.raises(ModelFormatError, match="y.keras is damaged"):
        read_zip_entry(b"PK\x03\x04 not really a zip" + b"\0" * 40, "a", "y.keras")
    sidecar = tmp_path / "card.json"
    sidecar.write_text(json.dumps({"a": "b" * 2000}))
    with pytest.raises(ValueError, match="over the 1000-byte budget"):
        read_json_file(sidecar, max_bytes=1000)
    os.mkfifo(tmp_path / "fifo.json")
    with pytest.raises(ValueError, match="not a regular file"):
        read_json_file(tmp_path / "fifo.json")


DEEP = b"[" * 100_000 + b"]" * 100_000  # valid JSON, nested past Python's recursion limit


def test_json_nested_past_the_recursion_limit_is_a_clear_error_everywhere(tiny_variants, tmp_path):
    """Found by the hostile pass: a contract, conversion facts, a results file or a model card
    nested 100,000 deep raised RecursionError (the CLI's `unexpected RecursionError`). Planted
    defect: catch ValueError alone in PreprocessContract.from_json."""
    from sentilite.core.modelfile import CONTRACT_METADATA_NAME, CONVERSION_METADATA_NAME, embed_tflite_metadata

    data = tiny_variants["int8"].read_bytes()
    bad_contract = tmp_path / "contract.tflite"
    bad_contract.write_bytes(embed_tflite_metadata(data, {CONTRACT_METADATA_NAME: DEEP}))
    proc = subprocess.run(
        [sys.executable, "-m", "sentilite", "info", str(bad_contract)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2 and "not valid JSON" in proc.stderr and "Fix: re-convert" in proc.stderr, proc.stderr
    assert "unexpected" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    bad_facts = tmp_path / "facts.tflite"
    bad_facts.write_bytes(embed_tflite_metadata(data, {CONVERSION_METADATA_NAME: DEEP}))
    proc = subprocess.run(
        [sys.executable, "-m", "sentilite", "info", str(bad_facts)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and "not valid JSON" in proc.stdout and "informational only" in proc.stdout, proc.stderr
    results = tmp_path / "results.json"
    results.write_bytes(DEEP)
    proc = subprocess.run(
        [sys.executable, "-m", "sentilite", "bench", "compare", str(results), str(results)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "is not valid JSON" in proc.stderr and "unexpected" not in proc.stderr, proc.stderr
