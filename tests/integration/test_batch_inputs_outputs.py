"""``reportlab-nlp label``: output targets refused before the run, inputs read strictly, the run lock."""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.test_batch_cli import _script, label

HEADER = "report_id,text\n"


def _reports(path: Path, n: int = 3) -> Path:
    texts = ["No pleural effusion.", "Mild cardiomegaly.", "Clear lungs."]
    path.write_text(HEADER + "".join(f"r{i},{texts[i % 3]}\n" for i in range(n)), encoding="utf-8")
    return path


def _error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("reportlab-nlp: error:")]
    return line


@pytest.mark.parametrize("kind", ["fifo", "symlink", "folder"])
def test_a_non_regular_output_is_refused_before_the_run(tmp_path: Path, kind: str) -> None:
    src = _reports(tmp_path / "r.csv")
    out = tmp_path / "labels.csv"
    if kind == "fifo":
        os.mkfifo(out)
    elif kind == "symlink":
        (tmp_path / "real.csv").write_text("keep\n")
        out.symlink_to(tmp_path / "real.csv")
    else:
        out.mkdir()
    line = _error(label(src, "--out", out, "--no-progress", check=False))
    why = {"fifo": "named pipe", "symlink": "symbolic link", "folder": "folder"}[kind]
    assert str(out) in line and why in line
    assert "labeled" not in line
    if kind == "fifo":
        assert stat.S_ISFIFO(os.lstat(out).st_mode)
    if kind == "symlink":
        assert out.is_symlink() and (tmp_path / "real.csv").read_text() == "keep\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["r.csv", "labels.csv", *(["real.csv"] if kind == "symlink" else [])]
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_a_device_output_is_refused(tmp_path: Path) -> None:
    # a null device of our own (never /dev/null itself: the old code, as root, replaced the device)
    src = _reports(tmp_path / "r.csv")
    dev = tmp_path / "null"
    os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    line = _error(label(src, "--out", dev, "--no-progress", check=False))
    assert f"{dev}: is a device" in line
    assert stat.S_ISCHR(os.lstat(dev).st_mode)


def test_an_unclosed_quote_fails_naming_the_line(tmp_path: Path) -> None:
    src = tmp_path / "r.csv"
    src.write_text(HEADER + 'r1,"No effusion.\nr2,"Cardiomegaly."\nr3,Normal.\n', encoding="utf-8")
    line = _error(label(src, "--out", tmp_path / "l.csv", "--no-progress", check=False))
    assert f"{src}: line 2: a quoted field that begins on this line is not closed" in line
    assert not (tmp_path / "l.csv").exists()


def test_a_second_run_on_the_same_outputs_is_refused(tmp_path: Path) -> None:
    """Two real processes: the first holds the lock while it waits for its standard input."""
    out = tmp_path / "labels.csv"
    first = subprocess.Popen(
        [_script(), "label", "-", "--out", str(out), "--no-progress"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lock = tmp_path / "labels.csv.lock"
        deadline = time.monotonic() + 60
        while not (lock.exists() and lock.read_text().strip()):
            assert first.poll() is None and time.monotonic() < deadline, "the first run did not start"
            time.sleep(0.05)
        src = _reports(tmp_path / "r.csv")
        line = _error(
            label(src, "--out", tmp_path / "other.jsonl", "--out", out, "--no-progress", check=False)
        )
        assert f"{out}: another run is writing this output" in line and str(lock) in line
        assert str(first.pid) in line
        assert not (tmp_path / "other.jsonl").exists()
        _, err = first.communicate("No pleural effusion.\n", timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err
    assert out.read_text().startswith("report_id,") and out.read_text().count("\n") == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.csv", "r.csv"]
    label(src, "--out", out, "--no-progress")  # the lock went with the first run


IDS = ["a\rb", "=HYPERLINK(1)", " spaced ", "-5", "@x", "\tq", "+1", "plain"]


def _odd_ids(path: Path) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n", quoting=csv.QUOTE_ALL)
        w.writerow(["report_id", "text"])
        for i, rid in enumerate(IDS):
            w.writerow([rid, "Mild cardiomegaly." if i % 2 else "No pleural effusion."])
    return path


@pytest.mark.parametrize("workers", ["1", "2"])
def test_csv_ids_are_quoted_kept_and_neutralised(tmp_path: Path, workers: str) -> None:
    src = _odd_ids(tmp_path / "r.csv")
    out, jsonl = tmp_path / "l.csv", tmp_path / "l.jsonl"
    label(src, "--out", out, "--out", jsonl, "--workers", workers, "--batch-size", "2", "--no-progress")
    with open(out, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    expected = ["a\rb", "'=HYPERLINK(1)", " spaced ", "'-5", "'@x", "'\tq", "'+1", "plain"]
    assert [r[0] for r in rows[1:]] == expected  # one row per report: the \r did not split one
    assert {len(r) for r in rows} == {len(rows[0])}
    ids = [json.loads(line)["id"] for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert ids == IDS  # JSONL keeps the ids exactly as read (not stripped)
