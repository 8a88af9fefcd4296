"""Readers for split files, CSV files and class-per-folder trees."""

import pytest

from sentilite.core.datasets import (
    iter_split_file,
    list_images,
    read_csv,
    read_dataset,
    read_folder_tree,
    read_split_file,
)
from sentilite.core.errors import DatasetFormatError, InputFileError


def test_split_file_paths_are_relative_to_its_folder(tmp_path):
    f = tmp_path / "split.txt"
    f.write_text("# comment\nimages/a.jpg 0\n\nimages/my photo.jpg 2\nimages/c.jpg neutral\n")
    ds = read_split_file(f)
    assert [s.label for s in ds] == [0, 2, 1]
    assert ds.samples[1].path == tmp_path / "images" / "my photo.jpg"
    assert ds.class_counts() == {"negative": 1, "neutral": 1, "positive": 1}


def test_root_overrides_the_base_folder(tmp_path):
    f = tmp_path / "split.txt"
    f.write_text("a.jpg 1\n")
    assert read_split_file(f, root="/data/b-t4sa").samples[0].path.as_posix() == "/data/b-t4sa/a.jpg"


def test_bad_lines_are_named_before_anything_is_streamed(tmp_path):
    f = tmp_path / "split.txt"
    f.write_text("ok.jpg 0\nbad.jpg 5\nnolabel.jpg\n" + "".join(f"x{i}.jpg 9\n" for i in range(10)))
    it = iter_split_file(f)
    with pytest.raises(DatasetFormatError) as err:
        next(it)
    msg = str(err.value)
    assert "12 malformed line(s)" in msg and "line 2 'bad.jpg 5'" in msg and "line 3 'nolabel.jpg' (no label)" in msg
    assert "0 = negative" in msg  # the fix names the label scheme


def test_missing_and_empty_split_files(tmp_path):
    with pytest.raises(InputFileError):
        read_split_file(tmp_path / "none.txt")
    (tmp_path / "empty.txt").write_text("\n# nothing\n")
    with pytest.raises(DatasetFormatError, match="lists no images"):
        read_split_file(tmp_path / "empty.txt")


def test_csv_with_and_without_header(tmp_path):
    (tmp_path / "a.csv").write_text("label,path\n2,img/x.jpg\n0,img/y.jpg\n")
    ds = read_dataset(tmp_path / "a.csv")
    assert [(s.path.name, s.label) for s in ds] == [("x.jpg", 2), ("y.jpg", 0)]
    (tmp_path / "b.csv").write_text("img/x.jpg,positive\nimg/y.jpg,7\n")
    with pytest.raises(DatasetFormatError, match="line 2"):
        read_csv(tmp_path / "b.csv")


def test_folder_tree_by_name_or_index(tmp_path):
    for folder, n in [("negative", 2), ("1", 1), ("positive", 3)]:
        (tmp_path / folder).mkdir()
        for i in range(n):
            (tmp_path / folder / f"{i}.jpg").write_bytes(b"x")
    (tmp_path / "positive" / "notes.txt").write_text("ignored")
    ds = read_folder_tree(tmp_path)
    assert ds.class_counts() == {"negative": 2, "neutral": 1, "positive": 3}
    (tmp_path / "angry").mkdir()
    with pytest.raises(DatasetFormatError, match="'angry' are not labels"):
        read_dataset(tmp_path)


def test_balanced_sample_covers_every_class(tmp_path):
    f = tmp_path / "s.txt"
    f.write_text(
        "".join(f"n{i}.jpg 0\n" for i in range(50)) + "u.jpg 1\n" + "".join(f"p{i}.jpg 2\n" for i in range(20))
    )
    sub = read_split_file(f).balanced_sample(9, seed=3)
    assert sub.class_counts() == {"negative": 4, "neutral": 1, "positive": 4}


def test_list_images(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.PNG").write_bytes(b"x")
    (tmp_path / "y.txt").write_text("no")
    assert [p.name for p in list_images(tmp_path)] == ["x.PNG"]
    with pytest.raises(InputFileError):
        list_images(tmp_path / "a" / "missing")
