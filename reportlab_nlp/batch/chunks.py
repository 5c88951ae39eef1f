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
from ..types import LabelValue, Report, ReportLabels

_MAX_MESSAGE = 300
_VALUE_INDEX = {LabelValue.POSITIVE: 0, LabelValue.NEGATIVE: 1, LabelValue.UNCERTAIN: 2, LabelValue.BLANK: 3}

RawReport = tuple[str, str, tuple[tuple[str, int, int], ...]]
"""A report as it travels to a worker: (id, text, fields)."""
Values = list[tuple[str, str, LabelValue]]
"""(column, label, value) triples of a report under the output scheme."""


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
    items: list[tuple[ReportLabels, Values, dict[str, Any]] | None] = field(default_factory=list)
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


def _full(labels: ReportLabels) -> ReportLabels:
    """The full label set of a result (a rules engine built from a labeler of another scheme shapes it)."""
    return labels.full or labels


def _is_unread(report: ReportLabels) -> bool:
    return bool(report.warnings) and all(v is LabelValue.BLANK for v in report.labels.values())


class ChunkLabeler:
    """Label a chunk of reports with an engine and render each output's lines.

    Parameters
    ----------
    engine
        What labels (one per process): a :class:`~reportlab_nlp.engines.RulesEngine`
        built from the labeler, or a model engine. It gives the scheme's columns,
        category columns and values too.
    scheme
        The output scheme.
    formats
        The output formats, in order (``csv``/``tsv``/``jsonl``); None to return the
        labels themselves (for the study linkage's writers).
    """

    def __init__(self, engine: Engine, scheme: str, formats: tuple[str, ...] | None) -> None:
        self.engine = engine
        self.scheme = scheme
        self.formats = formats
        self.n_columns = len(engine.columns(scheme))
        self.categories = engine.category_columns(scheme)  # categorical columns (RSNA COVID-19 Category)
        self._buf = io.StringIO()
        # the shared rules: ids with \r quoted, formula-like ids neutralised
        self._rows = {"csv": RowWriter(self._buf), "tsv": RowWriter(self._buf, delimiter="\t")}

    def _render(
        self, fmt: str, result: ReportLabels, values: Values, r: Report, prediction: Prediction
    ) -> bytes:
        if fmt in self._rows:
            self._buf.seek(0)
            self._buf.truncate()
            cats = (result.category(c) or "" for c in self.categories)
            self._rows[fmt].writerow([result.id, *(v.to_csv() for _, _, v in values), *cats])
            line = self._buf.getvalue()
        else:
            record = jsonl_record(result, values, r)
            record.update(prediction.extra_record(values))  # a model engine's probabilities, review
            line = json.dumps(record, ensure_ascii=False) + "\n"
        return line.encode("utf-8")

    def _count(self, res: ChunkResult, labels: ReportLabels, values: Values) -> None:
        for j, (_, _, v) in enumerate(values):
            res.counts[j][_VALUE_INDEX[v]] += 1
        res.labeled += 1
        res.warned += bool(labels.warnings)
        res.unread += _is_unread(labels)

    def __call__(self, chunk: Sequence[RawReport], first_index: int = 0) -> ChunkResult:
        """Label ``chunk`` (reports ``first_index``, ``first_index + 1``, ... of the input).

        A report that raises (labeling or rendering) is a :class:`Failure`; the
        others of the chunk are labeled as if it were not there.
        """
        reports = [Report(rid, text, fields) for rid, text, fields in chunk]
        res = ChunkResult(size=len(reports), counts=[[0, 0, 0, 0] for _ in range(self.n_columns)])
        pieces: list[list[bytes]] = [[] for _ in self.formats or ()]
        for i, (report, outcome) in enumerate(zip(reports, self.engine.predict_each(reports), strict=True)):
            try:
                if isinstance(outcome, Exception):
                    raise outcome
                labels = _full(outcome.labels)
                values = self.engine.values(labels, self.scheme)
                lines = [self._render(fmt, labels, values, report, outcome) for fmt in self.formats or ()]
            except Exception as e:
                res.failures.append(describe_failure(first_index + i + 1, report.id, e, report.text))
                if self.formats is None:
                    res.items.append(None)
                continue
            if self.formats is None:
                res.items.append((labels, values, outcome.extra_record(values)))
            for k, line in enumerate(lines):
                pieces[k].append(line)
            self._count(res, labels, values)
        res.blobs = tuple(b"".join(p) for p in pieces)
        return res
