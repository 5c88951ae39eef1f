"""``reportlab-nlp label`` at scale, through the console script: workers, kills, resumes, failures.

The corpus is the bundled demo corpus (written for this project). Runs use
small chunks (``--batch-size``) and checkpoints so that two workers really
share the work and a run can be interrupted many times in a second or two.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "corpora" / "demo" / "reports.csv"
SMALL = ("--batch-size", "8", "--checkpoint-every", "8", "--no-progress")


def _script() -> str:
    beside = Path(sys.executable).parent / "reportlab-nlp"
    found = str(beside) if beside.exists() else shutil.which("reportlab-nlp")
    if found is None:
        pytest.skip("the reportlab-nlp console script is not installed in this environment")
    return found


def label(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([_script(), "label", *map(str, args)], capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def outputs(folder: Path) -> tuple[Path, Path]:
    return folder / "labels.csv", folder / "labels.jsonl"


def leftovers(folder: Path) -> list[str]:
    ends = (".partial", ".run.json", ".tmp", ".spool")  # .spool: the workers' spool folder
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(ends))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo corpus three times over, under new ids (729 reports)."""
    with open(DEMO, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    path = tmp_path_factory.mktemp("corpus") / "reports.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["report_id", "text"])
        for copy in range(3):
            for row in rows:
                w.writerow([f"{row['report_id']}-{copy}", row["text"]])
    return path


@pytest.fixture(scope="module")
def clean(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """An uninterrupted run of the corpus: (CSV bytes, JSONL bytes)."""
    folder = tmp_path_factory.mktemp("clean")
    csv_out, jsonl_out = outputs(folder)
    label(corpus, "--out", csv_out, "--out", jsonl_out, "--workers", "2", *SMALL)
    return csv_out.read_bytes(), jsonl_out.read_bytes()


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """The demo corpus labeled with one worker and with two: worker count -> (CSV, JSONL)."""
    runs = {}
    for n in ("1", "2"):
        folder = tmp_path_factory.mktemp(f"w{n}")
        csv_out, jsonl_out = outputs(folder)
        proc = label(DEMO, "--out", csv_out, "--out", jsonl_out, "--workers", n, *SMALL)
        assert ("1 process" if n == "1" else "2 worker processes") in proc.stderr
        assert leftovers(folder) == []
        runs[n] = (csv_out, jsonl_out)
    return runs


def test_one_and_two_workers_write_the_same_bytes(demo_runs: dict[str, tuple[Path, Path]]) -> None:
    one, two = ([p.read_bytes() for p in demo_runs[n]] for n in ("1", "2"))
    assert one == two
    with open(DEMO, encoding="utf-8", newline="") as f:
        n_reports = sum(1 for _ in csv.DictReader(f))
    assert one[0].count(b"\n") == n_reports + 1
    assert one[1].count(b"\n") == n_reports


def test_jsonl_output_reads_with_pandas_and_datasets(
    demo_runs: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    pd = pytest.importorskip("pandas")
    csv_out, jsonl_out = demo_runs["2"]
    ids = pd.read_csv(csv_out, dtype=str)["report_id"].tolist()
    frame = pd.read_json(jsonl_out, lines=True)
    assert frame["id"].tolist() == ids
    datasets = pytest.importorskip("datasets", reason="datasets is not installed (it is in the dev extra)")
    ds = datasets.load_dataset(
        "json", data_files=str(jsonl_out), split="train", cache_dir=str(tmp_path / "hf")
    )
    assert ds.num_rows == len(ids) and ds["id"] == ids
    assert set(ds.features["labels"]) == set(pd.read_csv(csv_out, nrows=0).columns[1:])


def _done(manifest: Path) -> int:
    try:
        return int(json.loads(manifest.read_text("utf-8"))["progress"]["reports_done"])
    except (OSError, ValueError, KeyError):
        return -1


def _interrupt(
    args: list[str],
    manifest: Path,
    *,
    after: int | None = None,
    delay: float = 0.0,
    sig: signal.Signals | None = None,
    preexec: Callable[[], None] | None = None,
) -> tuple[int, str, int]:
    """Start a run, wait until the manifest says ``after`` reports are done (and ``delay`` more
    seconds), send ``sig`` to the main process (no ``sig``: let it end by itself); returns
    (status, stderr, reports done when the signal was sent)."""
    proc = subprocess.Popen(
        [_script(), "label", *args],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=preexec,
    )
    done_at = -1
    try:
        deadline = time.monotonic() + 120
        while sig is not None and proc.poll() is None and time.monotonic() < deadline:
            if after is None or _done(manifest) >= after:
                time.sleep(delay)
                done_at = _done(manifest)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, sig)
                break
            time.sleep(0.002)
        _, err = proc.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # a worker left behind, if any
    return proc.returncode, err, done_at


def _full_disk(limit: int) -> Callable[[], None]:
    def preexec() -> None:  # files may not grow past `limit` bytes: writes fail as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


def test_killed_interrupted_and_full_disk_runs_resume_to_the_same_bytes(
    tmp_path: Path, corpus: Path, clean: tuple[bytes, bytes]
) -> None:
    rng = random.Random(7)
    csv_out, jsonl_out = outputs(tmp_path)
    manifest = tmp_path / "labels.csv.run.json"
    base = [str(corpus), "--out", str(csv_out), "--out", str(jsonl_out), "--workers", "2", *SMALL]
    total = clean[0].count(b"\n") - 1
    mid_run = []

    # kill -9 at random points, resuming each time
    for k, (lo, hi) in enumerate([(0.05, 0.25), (0.3, 0.5), (0.55, 0.7)]):
        after = rng.randint(int(lo * total), int(hi * total))
        args = base + (["--resume"] if k else [])
        rc, err, done_at = _interrupt(
            args, manifest, after=after, delay=rng.uniform(0, 0.03), sig=signal.SIGKILL
        )
        if rc == 0:
            break  # the machine outran the polling: the run simply finished
        assert rc == -signal.SIGKILL, err
        mid_run.append(0 < done_at < total)
        if k:
            assert "resuming the run recorded in" in err

    # Ctrl-C: exit status 130, a checkpoint, a hint
    if not csv_out.exists():
        args = [*base, "--resume"]
        rc, err, done_at = _interrupt(args, manifest, after=int(0.75 * total), delay=0.01, sig=signal.SIGINT)
        if rc != 0:
            assert rc == 130, err
            assert "--resume" in err and "Traceback" not in err
            mid_run.append(0 < done_at < total)

    # a full disk: exit status 2 and one line that says how to go on
    if not csv_out.exists():
        jsonl_partial = tmp_path / "labels.jsonl.partial"
        limit = jsonl_partial.stat().st_size + len(clean[1]) // 10
        rc, err, _ = _interrupt([*base, "--resume"], manifest, preexec=_full_disk(limit))
        if rc != 0:
            lines = [line for line in err.splitlines() if line.startswith("reportlab-nlp: error:")]
            assert rc == 2 and len(lines) == 1, err
            assert "File too large" in lines[0] and "--resume" in lines[0]

    # killed again, during start-up this time
    if not csv_out.exists():
        _interrupt([*base, "--resume"], manifest, delay=rng.uniform(0.05, 0.5), sig=signal.SIGKILL)

    if not csv_out.exists():
        # resuming with other settings is refused, and throws nothing away
        proc = label(*base, "--resume", "--scheme", "chexpert", check=False)
        assert proc.returncode == 2
        (line,) = proc.stderr.splitlines()
        assert line.startswith("reportlab-nlp: error: cannot resume the run recorded in")
        assert "--scheme changed" in line and "run without --resume" in line
        proc = label(*base, "--resume")
        assert "labeled" in proc.stderr
    assert sum(mid_run) >= 2, "too few interruptions landed in the middle of a run"
    assert (csv_out.read_bytes(), jsonl_out.read_bytes()) == clean
    assert leftovers(tmp_path) == []


def _jsonl_with_a_bad_report(path: Path) -> Path:
    """Reports in JSONL; one holds a lone surrogate (valid JSON, not encodable as UTF-8)."""
    texts = ["Small left pleural effusion.", "No pneumothorax.", "Mild cardiomegaly.", "Clear lungs."]
    rows = [{"id": f"j{i}", "text": texts[i % 4]} for i in range(12)]
    rows[5]["text"] = "Mild cardiomegaly \ud800 and small pleural effusion."
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_a_report_that_fails_is_skipped_or_stops_the_run(tmp_path: Path) -> None:
    src = _jsonl_with_a_bad_report(tmp_path / "in.jsonl")
    csv_out, jsonl_out = outputs(tmp_path)
    args = [src, "--out", csv_out, "--out", jsonl_out, "--workers", "2", "--batch-size", "2", "--no-progress"]
    proc = label(*args)
    assert "11 labeled" in proc.stderr and "1 failed (listed in" in proc.stderr
    ids = [json.loads(line)["id"] for line in jsonl_out.read_text("utf-8").splitlines()]
    assert ids == [f"j{i}" for i in range(12) if i != 5]
    (failure,) = [
        json.loads(x) for x in (tmp_path / "labels.csv.errors.jsonl").read_text("utf-8").splitlines()
    ]
    assert failure["id"] == "j5" and failure["position"] == 6 and failure["error"] == "UnicodeEncodeError"
    assert "cardiomegaly" not in failure["message"]

    proc = label(*args, "--on-error", "fail", check=False)
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert line.startswith("reportlab-nlp: error: report 'j5' (number 6 of 12) failed: UnicodeEncodeError")
    assert "--on-error fail" in line


def test_a_run_in_which_every_report_fails_exits_1(tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text("".join(json.dumps({"id": f"b{i}", "text": "Effusion \ud800."}) + "\n" for i in range(3)))
    csv_out, jsonl_out = outputs(tmp_path)
    proc = label(src, "--out", csv_out, "--out", jsonl_out, "--no-progress", check=False)
    assert proc.returncode == 1
    assert "3 failed" in proc.stderr and "error: every report failed" in proc.stderr
    assert len((tmp_path / "labels.csv.errors.jsonl").read_text("utf-8").splitlines()) == 3


def test_study_linked_labels_are_the_same_with_two_workers(tmp_path: Path) -> None:
    studies = ROOT / "corpora" / "demo" / "studies.csv"
    if not studies.exists():
        pytest.skip("corpora/demo/studies.csv (the demo study manifest) is not in this checkout")
    records = {}
    for n in ("1", "2"):
        out = tmp_path / f"w{n}" / "labels.jsonl"
        proc = label(DEMO, "--manifest", studies, "--out", out, "--workers", n, *SMALL)
        assert "study linkage:" in proc.stderr
        lines = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
        for record in lines:
            del record["provenance"]["run_id"], record["provenance"]["timestamp"]
        records[n] = lines
    assert records["1"] == records["2"] and all(r["studies"] for r in records["1"])
    refused = label(DEMO, "--manifest", studies, "--out", tmp_path / "x.jsonl", "--resume", check=False)
    assert refused.returncode == 2 and "--resume does not work with --manifest" in refused.stderr
