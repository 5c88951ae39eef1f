"""The batch engine in this process: output format, per-report failures, resume checks.

Every report here is invented for the test. Runs use one worker (the labeler
of this process); ``tests/integration/test_batch_cli.py`` runs the worker
pool, kills runs and resumes them.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

import reportlab_nlp
from reportlab_nlp.batch import (
    BatchOptions,
    ChunkLabeler,
    Output,
    PartialFile,
    describe_failure,
    label_corpus,
)
from reportlab_nlp.batch.spool import _close_spool, _open_spool, _spool
from reportlab_nlp.engines import RulesEngine
from reportlab_nlp.errors import ReportFailedError, ResumeError
from reportlab_nlp.io.writers import writer_for
from reportlab_nlp.types import Report

T = TypeVar("T")

REPORTS = [
    ("a1", "FINDINGS: Small left pleural effusion. No pneumothorax.\nIMPRESSION: Mild cardiomegaly."),
    ("a2", "The lungs are clear. Heart size is normal. No pleural effusion."),
    ("a3", "BOOM. Possible right lower lobe pneumonia."),
    ("a4", "Possible right lower lobe pneumonia versus atelectasis. Left chest tube in place."),
    ("a5", ""),
    ("a6", "Stable cardiomegaly. BOOM again."),
    ("a7", "No acute cardiopulmonary process."),
]


class ExplodingLabeler(reportlab_nlp.Labeler):
    """A real labeler that raises on any report containing BOOM (as a bug in a stage would)."""

    def label_all(self, text: str, *, id: str = "") -> reportlab_nlp.ReportLabels:
        if "BOOM" in text:
            raise ValueError(f"stage broke on {text[:30]!r}")
        return super().label_all(text, id=id)

    def pipe_with(
        self, items: Iterable[tuple[str | Report, T]], *, batch_size: int = 64
    ) -> Iterator[tuple[reportlab_nlp.ReportLabels, T]]:
        for item, context in items:  # a stage bug whose message quotes the text it broke on
            text = item.text if isinstance(item, Report) else item
            if "BOOM" in text:
                raise ValueError(f"stage broke on {text[:30]!r}")
            yield from super().pipe_with([(item, context)], batch_size=batch_size)


@pytest.fixture(scope="module")
def exploding() -> ExplodingLabeler:
    plain = reportlab_nlp.load()
    return ExplodingLabeler(plain.rules, scheme="full")


def write_reports(path: Path, rows: list[tuple[str, str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["report_id", "text"])
        w.writerows(rows)
    return path


def options(tmp_path: Path, src: Path, **kw: Any) -> BatchOptions:
    outs = (Output.parse(tmp_path / "out" / "l.csv"), Output.parse(tmp_path / "out" / "l.jsonl"))
    settings: dict[str, Any] = {"workers": 1, "batch_size": 2, "checkpoint_every": 2, "progress": False}
    settings.update(kw)
    return BatchOptions(str(src), outs, **settings)


def run(opts: BatchOptions, labeler: reportlab_nlp.Labeler) -> tuple[Any, str]:
    err = io.StringIO()
    result = label_corpus(opts, stderr=err, load=lambda rules=None, *, scheme="full": labeler)
    return result, err.getvalue()


def test_chunk_output_is_the_writers_output(tmp_path: Path, labeler: reportlab_nlp.Labeler) -> None:
    reports = [Report(rid, text) for rid, text in REPORTS if "BOOM" not in text]
    columns = labeler.columns()
    paths = {"csv": tmp_path / "ref.csv", "jsonl": tmp_path / "ref.jsonl"}
    writers = [writer_for(p, fmt, columns) for fmt, p in paths.items()]
    for result, source in labeler.pipe_with((r, r) for r in reports):
        for w in writers:
            w.write(result, labeler.values(result), source)
    for w in writers:
        w.commit()
    engine = RulesEngine.from_labeler(labeler)
    chunk = ChunkLabeler(engine, "full", ("csv", "jsonl"))([(r.id, r.text, r.fields) for r in reports])
    assert chunk.labeled == len(reports) and not chunk.failures
    csv_bytes = paths["csv"].read_bytes()
    _, body = csv_bytes.split(b"\n", 1)
    assert chunk.blobs[0] == body
    assert chunk.blobs[1] == paths["jsonl"].read_bytes()
    assert sum(chunk.counts[0]) == len(reports)  # every report has a value (blank included) per column


def test_failing_reports_are_listed_and_skipped(tmp_path: Path, exploding: ExplodingLabeler) -> None:
    src = write_reports(tmp_path / "in.csv", REPORTS)
    result, _ = run(options(tmp_path, src), exploding)
    assert (result.total, result.labeled, result.failed) == (7, 5, 2)
    with open(tmp_path / "out" / "l.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["report_id"] for r in rows] == ["a1", "a2", "a4", "a5", "a7"]
    records = [json.loads(x) for x in (tmp_path / "out" / "l.jsonl").read_text("utf-8").splitlines()]
    assert [r["id"] for r in records] == ["a1", "a2", "a4", "a5", "a7"]
    errors_file = tmp_path / "out" / "l.csv.errors.jsonl"
    failures = [json.loads(x) for x in errors_file.read_text("utf-8").splitlines()]
    assert [(f["id"], f["position"], f["error"]) for f in failures] == [
        ("a3", 3, "ValueError"),
        ("a6", 6, "ValueError"),
    ]
    # the exception quoted the report: the message is withheld, and no report text is in the file
    assert all("withheld" in f["message"] for f in failures)
    assert "BOOM" not in errors_file.read_text("utf-8")
    assert "2 failed (listed in" in result.summary_line()
    assert not list((tmp_path / "out").glob("*.partial")) and not list((tmp_path / "out").glob("*.run.json"))


def test_on_error_fail_stops_and_resume_goes_on(tmp_path: Path, exploding: ExplodingLabeler) -> None:
    src = write_reports(tmp_path / "in.csv", REPORTS)
    with pytest.raises(ReportFailedError) as info:
        run(options(tmp_path, src, on_error="fail"), exploding)
    assert info.value.exit_code == 1
    message = str(info.value)
    assert "'a3'" in message and "number 3 of 7" in message and "--resume" in message
    assert "BOOM" not in message
    out = tmp_path / "out"
    assert not (out / "l.csv").exists()
    assert (out / "l.csv.partial").exists() and (out / "l.csv.run.json").exists()
    assert json.loads((out / "l.csv.errors.jsonl").read_text("utf-8"))["id"] == "a3"
    manifest = json.loads((out / "l.csv.run.json").read_text("utf-8"))
    assert manifest["progress"]["reports_done"] == 2  # the chunk before the failing one
    # going on past the failures gives what a run with --on-error skip gives
    result, err = run(options(tmp_path, src, resume=True), exploding)
    assert "resuming the run" in err and result.resumed_at == 2
    resumed = {p: (out / p).read_bytes() for p in ("l.csv", "l.jsonl", "l.csv.errors.jsonl")}
    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    run(options(clean_dir, src), exploding)
    assert resumed == {p: (clean_dir / "out" / p).read_bytes() for p in resumed}


def _interrupted(tmp_path: Path, src: Path, exploding: ExplodingLabeler, **kw: Any) -> None:
    with pytest.raises(ReportFailedError):
        run(options(tmp_path, src, on_error="fail", **kw), exploding)


def test_resume_refuses_a_changed_input(tmp_path: Path, exploding: ExplodingLabeler) -> None:
    src = write_reports(tmp_path / "in.csv", REPORTS)
    _interrupted(tmp_path, src, exploding)
    write_reports(src, [*REPORTS[:-1], ("a7", "Changed text.")])
    with pytest.raises(ResumeError) as info:
        run(options(tmp_path, src, resume=True), exploding)
    message = str(info.value)
    assert "the input (its sha256) changed" in message and "run without --resume" in message
    assert str(tmp_path / "out" / "l.csv.run.json") in message
    assert (tmp_path / "out" / "l.csv.partial").exists()  # nothing was thrown away


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"scheme": "chexpert"}, "--scheme"),
        ({"text_cols": ("text",)}, "--text-col"),
        ({"encoding_errors": "replace"}, "--encoding-errors"),
    ],
)
def test_resume_refuses_changed_settings(
    tmp_path: Path, exploding: ExplodingLabeler, change: dict[str, Any], named: str
) -> None:
    src = write_reports(tmp_path / "in.csv", REPORTS)
    _interrupted(tmp_path, src, exploding)
    plain = reportlab_nlp.load(scheme=change.get("scheme", "full"))
    with pytest.raises(ResumeError) as info:
        run(options(tmp_path, src, resume=True, **change), plain)
    assert f"{named} changed" in str(info.value)


def test_resume_refuses_changed_outputs(tmp_path: Path, exploding: ExplodingLabeler) -> None:
    src = write_reports(tmp_path / "in.csv", REPORTS)
    _interrupted(tmp_path, src, exploding)
    outs = (Output.parse(tmp_path / "out" / "l.csv"),)
    opts = BatchOptions(str(src), outs, workers=1, resume=True, progress=False)
    with pytest.raises(ResumeError, match="the outputs"):
        run(opts, exploding)


def test_resume_without_a_run_starts_afresh_and_a_new_run_discards_the_old(
    tmp_path: Path, labeler: reportlab_nlp.Labeler, exploding: ExplodingLabeler
) -> None:
    src = write_reports(tmp_path / "in.csv", [r for r in REPORTS if "BOOM" not in r[1]])
    result, err = run(options(tmp_path, src, resume=True), labeler)
    assert "nothing to resume" in err and result.resumed_at is None and result.labeled == 5
    src2 = write_reports(tmp_path / "in2.csv", REPORTS)
    _interrupted(tmp_path, src2, exploding)
    result, err = run(options(tmp_path, src2), exploding)
    assert "starting afresh" in err and result.resumed_at is None and result.failed == 2


def test_stdin_cannot_be_resumed(tmp_path: Path, labeler: reportlab_nlp.Labeler) -> None:
    opts = BatchOptions("-", (Output.parse(tmp_path / "l.csv"),), workers=1, resume=True, progress=False)
    with pytest.raises(ResumeError, match="standard input"):
        label_corpus(opts, stdin=io.BytesIO(b"No effusion."), load=lambda *a, **k: labeler)


def test_partial_file_is_cut_back_to_the_checkpoint(tmp_path: Path) -> None:
    final = tmp_path / "x.jsonl"
    pf = PartialFile(final)
    pf.write(b"one\ntwo\n")
    pf.sync()
    pf.write(b"half-writ")
    pf.close()
    again = PartialFile(final, resume_at=8)
    again.write(b"three\n")
    again.commit()
    assert final.read_bytes() == b"one\ntwo\nthree\n"
    assert not (tmp_path / "x.jsonl.partial").exists()
    with pytest.raises(ResumeError, match="missing"):
        PartialFile(tmp_path / "y.csv", resume_at=3)


def test_spooled_chunks_are_appended_in_place_of_the_pipe(tmp_path: Path) -> None:
    spool = _open_spool(tmp_path / ".x.jsonl.spool")
    assert spool is not None and spool.is_dir()
    first = _spool(str(spool), 0, (b"a,1\n", b'{"id": "a"}\n'))
    second = _spool(str(spool), 1, (b"b,0\n" * 3000, b""))
    pf = PartialFile(tmp_path / "x.csv")
    pf.write(b"report_id,Edema\n")  # buffered bytes go first, then the kernel copy
    pf.append_file(*first[0])
    pf.write(b"-\n")
    pf.append_file(*second[0])
    pf.commit()
    assert (tmp_path / "x.csv").read_bytes() == b"report_id,Edema\na,1\n-\n" + b"b,0\n" * 3000
    assert pf.size == (tmp_path / "x.csv").stat().st_size
    assert sorted(p.name for p in spool.iterdir()) == ["0.1", "1.1"]  # appended files are removed
    _close_spool(spool)
    assert not spool.exists()


def test_a_spool_folder_that_is_not_ours_is_left_alone(tmp_path: Path) -> None:
    stale = tmp_path / ".x.csv.spool"
    stale.mkdir()
    (stale / "12.0").write_bytes(b"left by a killed run")
    assert _open_spool(stale) == stale and list(stale.iterdir()) == []  # a killed run's chunks go
    (stale / "notes.txt").write_text("mine")
    assert _open_spool(stale) is None  # anything else: no spool, and nothing removed
    assert (stale / "notes.txt").read_text() == "mine"
    assert _spool(str(tmp_path / "missing"), 0, (b"x",)) == ()  # cannot write: the pipe carries it


def test_failure_message_never_quotes_the_report() -> None:
    text = "Small left pleural effusion with adjacent atelectasis."
    quoted = describe_failure(4, "r4", KeyError(f"no rule for {text[10:40]!r}"), text)
    assert quoted.message.startswith("(message withheld") and quoted.position == 4
    plain = describe_failure(4, "r4", ZeroDivisionError("division by zero"), text)
    assert plain.message == "division by zero" and plain.error == "ZeroDivisionError"
    assert json.loads(plain.to_json()) == {
        "id": "r4",
        "position": 4,
        "error": "ZeroDivisionError",
        "message": "division by zero",
    }


def test_tsv_output_format() -> None:
    assert Output.parse("x.tsv").format == "tsv" and Output.parse("x.tab").format == "tsv"


def test_options_are_checked() -> None:
    out = (Output.parse("l.csv"),)
    with pytest.raises(ValueError, match="on_error"):
        BatchOptions("in.csv", out, on_error="ignore")
    with pytest.raises(ValueError, match="workers"):
        BatchOptions("in.csv", out, workers=0)
    assert Output.parse("x.ndjson").format == "jsonl" and Output.parse("x.txt").format == "csv"


def test_the_batch_runner_does_not_import_the_export_package() -> None:
    """The core runner needs the input's sha256, not the optional export package (issue 15)."""
    code = (
        "import sys, reportlab_nlp.batch; "
        "print(sorted(m for m in sys.modules if m.startswith('reportlab_nlp.export')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
