"""io/durable.py: atomic, durable files and folders; non-regular targets refused."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from reportlab_nlp.errors import OutputError
from reportlab_nlp.io import durable


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_file_appears_only_on_commit_with_plain_permissions(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.csv"
    old = os.umask(0o027)
    try:
        f = durable.AtomicFile(target)
        f.handle.write("a,b\n")
        assert not target.exists()
        f.commit()
    finally:
        os.umask(old)
    assert target.read_text() == "a,b\n"
    assert _mode(target) == 0o640  # 0o666 less the umask, as a plain open() gives
    assert [p.name for p in target.parent.iterdir()] == ["out.csv"]


def test_an_error_inside_the_block_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    durable.write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), durable.AtomicFile(target) as f:
        f.handle.write("half")
        raise RuntimeError("stop")
    assert target.read_text() == '{\n "a": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_stable_temporary_name_is_reused(tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    (tmp_path / ".run.json.tmp").write_text("left by a kill -9")
    durable.write_json(target, {"n": 2}, stable=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


@pytest.mark.parametrize("kind", ["symlink", "fifo", "folder"])
def test_non_regular_targets_are_refused(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "out.csv"
    if kind == "symlink":
        (tmp_path / "real.csv").write_text("keep\n")
        target.symlink_to(tmp_path / "real.csv")
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        target.mkdir()
    expected = {"symlink": "symbolic link", "fifo": "named pipe", "folder": "is a folder"}[kind]
    with pytest.raises(OutputError, match=expected):
        durable.write_text(target, "x")
    with pytest.raises(OutputError, match=expected):
        durable.PartialFile(target)
    assert target.is_symlink() if kind == "symlink" else True
    if kind == "fifo":
        assert stat.S_ISFIFO(os.lstat(target).st_mode)
    assert not list(tmp_path.glob(".*"))


def test_a_device_is_refused() -> None:
    assert durable.target_problem("/dev/null") == "is a device, not a regular file"
    with pytest.raises(OutputError, match="/dev/full: is a device"):
        durable.check_target("/dev/full")


def test_save_with_and_replace_dir(tmp_path: Path) -> None:
    weights = tmp_path / "w.bin"
    durable.save_with(weights, lambda tmp: tmp.write_bytes(b"\x00\x01"))
    assert weights.read_bytes() == b"\x00\x01" and sorted(p.name for p in tmp_path.iterdir()) == ["w.bin"]
    final = tmp_path / "model"
    final.mkdir()
    (final / "old.txt").write_text("old")
    staging = tmp_path / ".model.staging"
    staging.mkdir()
    (staging / "new.txt").write_text("new")
    with pytest.raises(OutputError, match="pass --force"):
        durable.replace_dir(staging, final)
    durable.replace_dir(staging, final, force=True)
    assert [p.name for p in final.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "w.bin"]
