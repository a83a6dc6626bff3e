"""relu_zoo._io: the one atomic-write helper every writer uses."""

import pytest

from relu_zoo import _io


def test_text_and_json_land_whole(tmp_path):
    _io.atomic_write_text(tmp_path / "a" / "b.txt", "hello")
    _io.atomic_write_json(tmp_path / "c.json", {"b": 1, "a": [1, 2]})
    assert (tmp_path / "a" / "b.txt").read_text() == "hello"
    assert (tmp_path / "c.json").read_text().startswith('{\n  "a": [')
    assert sorted(p.name for p in tmp_path.rglob(".*")) == []


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")

    def half(tmp):
        tmp.write_text("ne")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        _io.atomic_write(path, half)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_a_folder_is_replaced_whole(tmp_path):
    (tmp_path / "zoo" / "old").mkdir(parents=True)

    def fill(tmp):
        tmp.mkdir()
        (tmp / "new").write_text("x")

    _io.atomic_write(tmp_path / "zoo", fill)
    assert [p.name for p in (tmp_path / "zoo").iterdir()] == ["new"]
    assert [p.name for p in tmp_path.iterdir()] == ["zoo"]


def test_the_suffix_is_kept_for_writers_that_choose_a_format_by_it(tmp_path):
    seen = []
    _io.atomic_write(tmp_path / "m.keras", lambda tmp: (seen.append(tmp.suffix), tmp.write_text("")),
                     suffix=".keras")
    assert seen == [".keras"]


def test_create_text_only_creates(tmp_path):
    path = tmp_path / "claim.json"
    assert _io.create_text(path, "first")
    assert not _io.create_text(path, "second")
    assert path.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["claim.json"]
