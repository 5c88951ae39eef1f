"""The work of one chunk (in a worker, or in this process): label it and render each output's lines."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..engines import Engine, Prediction
from ..io.writers import RowWriter, jsonl_record
from ..labeler import Labeler
from ..types import LabelValue, Report, ReportLabels

_MAX_MESSAGE = 300
_VALUE_INDEX = {LabelValue.POSITIVE: 0, LabelValue.NEGATIVE: 1, LabelValue.UNCERTAIN: 2, LabelValue.BLANK: 3}

RawReport = tuple[str, str, tuple[tuple[str, int, int], ...]]
"""A report as it travels to a worker: (id, text, fields)."""


class Failure(NamedTuple):
    """A report that raised: its number in the input (1 = the first), id, error type and message.

    Never the report's text: a message that quotes it is withheld.
    """

    position: int
    id: str
    error: str
    message: str

    def to_json(self) -> str:
        """The line of the errors file (ASCII JSON)."""
        record = {"id": self.id, "position": self.position, "error": self.error, "message": self.message}
        return json.dumps(record, ensure_ascii=True) + "\n"


@dataclass
class ChunkResult:
    """What a worker sends back for one chunk.

    ``blobs`` holds one bytes object per output (the chunk's lines, rendered),
    or ``spooled`` the path and length of the spool file that holds them;
    with a study linkage ``items`` holds ``(labels, values)`` per report
    instead (None for a failed one) and the main process writes them.
    """

    size: int
    blobs: tuple[bytes, ...] = ()
    spooled: tuple[tuple[str, int], ...] = ()
    items: list[tuple[ReportLabels, list[tuple[str, str, LabelValue]], dict[str, Any]] | None] = field(
        default_factory=list
    )
    counts: list[list[int]] = field(default_factory=list)
    labeled: int = 0
    warned: int = 0
    unread: int = 0
    failures: list[Failure] = field(default_factory=list)


def _quotes(message: str, text: str, width: int = 16) -> bool:
    """Whether ``message`` quotes ``text`` (a run of ``width`` characters, or all of a short text)."""
    if not text.strip():
        return False
    if len(text) <= width:
        return text in message
    return any(message[i : i + width] in text for i in range(len(message) - width + 1))


def describe_failure(position: int, report_id: str, exc: BaseException, text: str) -> Failure:
    """A :class:`Failure` for ``exc``; a message that quotes the report's text is withheld."""
    message = " ".join(str(exc).split())[:_MAX_MESSAGE]
    if _quotes(message, text):
        message = "(message withheld: it quotes the report's text)"
    return Failure(position, report_id, type(exc).__name__, message)


def csv_header(columns: Sequence[str], delimiter: str = ",") -> bytes:
    """The header line of the wide CSV (or TSV): ``report_id`` and the scheme's columns."""
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerow(["report_id", *columns])
    return buf.getvalue().encode("utf-8")


def _is_unread(report: ReportLabels) -> bool:
    return bool(report.warnings) and all(v is LabelValue.BLANK for v in report.labels.values())


class ChunkLabeler:
    """Label a chunk of reports and render each output's lines.

    Parameters
    ----------
    labeler
        The pipeline (one per process).
    formats
        The output formats, in order (``csv``/``jsonl``); None to return the
        labels themselves (for the study linkage's writers).
    """

    def __init__(
        self, labeler: Labeler, formats: tuple[str, ...] | None, engine: Engine | None = None
    ) -> None:
        self.labeler = labeler
        self.formats = formats
        self.engine = engine  # a model engine labels instead of the labeler (which gives the columns)
        self._predictions: list[Prediction | None] = []
        self.n_columns = len(labeler.columns())
        self.categories = labeler.category_columns()  # categorical columns (RSNA COVID-19 Category)
        self._buf = io.StringIO()
        self._csv = RowWriter(self._buf)
        self._tsv = RowWriter(
            self._buf, delimiter="\t"
        )  # the shared rules: ids with \r quoted, formula-like ids neutralised

    def _label_all(self, reports: list[Report]) -> list[ReportLabels | Exception]:
        if self.engine is not None:
            return self._predict_all(self.engine, reports)
        try:
            pairs = ((r, None) for r in reports)
            return [res for res, _ in self.labeler.pipe_with(pairs, batch_size=max(1, len(reports)))]
        except Exception:  # one report broke the batch: label one at a time to find it
            out: list[ReportLabels | Exception] = []
            for r in reports:
                try:
                    out.append(self.labeler.label_all(r.text, id=r.id))
                except Exception as e:
                    out.append(e)
            return out

    def _predict_all(self, engine: Engine, reports: list[Report]) -> list[ReportLabels | Exception]:
        try:
            predictions = engine.predict_many(reports)
            self._predictions = list(predictions)
            return [p.labels for p in predictions]
        except Exception:  # one report broke the batch: one at a time to find it
            out: list[ReportLabels | Exception] = []
            self._predictions = []
            for r in reports:
                try:
                    prediction = engine.predict_many([r])[0]
                except Exception as e:
                    self._predictions.append(None)
                    out.append(e)
                    continue
                self._predictions.append(prediction)
                out.append(prediction.labels)
            return out

    def _render(
        self,
        fmt: str,
        result: ReportLabels,
        values: list[tuple[str, str, LabelValue]],
        r: Report,
        index: int = -1,
    ) -> bytes:
        if fmt in ("csv", "tsv"):
            self._buf.seek(0)
            self._buf.truncate()
            cats = (result.category(c) or "" for c in self.categories)
            (self._csv if fmt == "csv" else self._tsv).writerow(
                [result.id, *(v.to_csv() for _, _, v in values), *cats]
            )
            line = self._buf.getvalue()
        else:
            record = jsonl_record(result, values, r)
            record.update(self._extra(index, values))
            line = json.dumps(record, ensure_ascii=False) + "\n"
        return line.encode("utf-8")

    def _extra(self, index: int, values: list[tuple[str, str, LabelValue]]) -> dict[str, Any]:
        """A model engine's additions to report ``index``'s JSONL record (probabilities, review)."""
        prediction = self._predictions[index] if 0 <= index < len(self._predictions) else None
        return prediction.extra_record(values) if prediction is not None else {}

    def __call__(self, chunk: Sequence[RawReport], first_index: int = 0) -> ChunkResult:
        """Label ``chunk`` (reports ``first_index``, ``first_index + 1``, ... of the input)."""
        reports = [Report(rid, text, fields) for rid, text, fields in chunk]
        outcomes = self._label_all(reports)
        res = ChunkResult(size=len(reports), counts=[[0, 0, 0, 0] for _ in range(self.n_columns)])
        pieces: list[list[bytes]] = [[] for _ in self.formats or ()]
        for i, (report, outcome) in enumerate(zip(reports, outcomes, strict=True)):
            try:
                if isinstance(outcome, Exception):
                    raise outcome
                values = self.labeler.values(outcome)
                lines = [self._render(fmt, outcome, values, report, i) for fmt in self.formats or ()]
            except Exception as e:
                res.failures.append(describe_failure(first_index + i + 1, report.id, e, report.text))
                if self.formats is None:
                    res.items.append(None)
                continue
            if self.formats is None:
                res.items.append((outcome, values, self._extra(i, values)))
            for k, line in enumerate(lines):
                pieces[k].append(line)
            for j, (_, _, v) in enumerate(values):
                res.counts[j][_VALUE_INDEX[v]] += 1
            res.labeled += 1
            res.warned += bool(outcome.warnings)
            res.unread += _is_unread(outcome)
        res.blobs = tuple(b"".join(p) for p in pieces)
        return res
