"""Readers: CSV/TSV, JSONL, a folder of ``.txt`` files, or one report on standard input.

Readers stream: :meth:`ReportSource.reports` yields one :class:`Report` at a
time and never holds the corpus. :meth:`ReportSource.check` makes one cheap
pass first (columns, encoding, ids), so that a bad input fails before any
output is written.

When several text columns are given, a report's text is built as
``"FINDINGS:\\n<findings>\\n\\nIMPRESSION:\\n<impression>"`` (headers named after the
columns) and offsets index that text; :meth:`ReportSource.fields` tells where
each column's text starts in it.
"""

from __future__ import annotations

import codecs
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import ColumnNotFoundError, DuplicateIdError, EncodingError, InputError
from ..types import Report
from .tables import JSONL_SUFFIXES, TSV_SUFFIXES, Table, check_bytes, first_bad_utf8, text_encoding

DEFAULT_ID_COLUMNS = ("report_id", "id", "uid", "study_id", "accession_number")
DEFAULT_TEXT_COLUMNS = ("text", "report", "report_text", "body")

ENCODING_HINT = (
    "fix the file, name its encoding with --encoding (e.g. cp1252) or pass --encoding-errors replace"
)
_ID_HINTS = ("id", "accession", "uid", "study", "number", "key", "mrn")
_TEXT_HINTS = ("text", "report", "finding", "impression", "body", "note", "narrative")


def _bad_bytes(data: bytes, encoding: str = "utf-8") -> tuple[int, str] | None:
    try:
        data.decode(encoding)
    except UnicodeDecodeError as e:
        return e.start, e.reason
    return None


def likely_column(columns: Sequence[str], kind: str, exclude: Sequence[str] = ()) -> str | None:
    """The column most likely meant as the ``id`` or ``text`` column (a name hint), or None."""
    hints = _ID_HINTS if kind == "id" else _TEXT_HINTS
    for hint in hints:
        for c in columns:
            if c not in exclude and hint in c.lower():
                return c
    return None


def _missing(
    where: str, kind: str, wanted: str, columns: Sequence[str], exclude: Sequence[str] = ()
) -> Exception:
    option = "--id-col" if kind == "id" else "--text-col"
    guess = likely_column(columns, kind, exclude)
    suggestion = f"pass {option} {guess}" if guess is not None else f"pass {option} with one of them"
    return ColumnNotFoundError(where, kind, wanted, columns, suggestion=suggestion)


def join_fields(fields: Sequence[tuple[str, str]]) -> tuple[str, list[tuple[str, int, int]]]:
    """Join (column, text) pairs into one report text with a header per column.

    Returns the text and, per column, where its own text lies in it.
    """
    parts: list[str] = []
    spans: list[tuple[str, int, int]] = []
    pos = 0
    for name, value in fields:
        header = f"{name.replace('_', ' ').strip().upper()}:\n"
        if parts:
            parts.append("\n\n")
            pos += 2
        parts.append(header)
        pos += len(header)
        parts.append(value)
        spans.append((name, pos, pos + len(value)))
        pos += len(value)
    return "".join(parts), spans


@dataclass
class ReportSource:
    """Where reports come from, and how to read them.

    Parameters
    ----------
    path
        A CSV/TSV file, a JSONL file, a folder of ``.txt`` files, or ``-``.
    id_col, text_cols
        Column (or JSON key) names; defaults are looked up among common names.
    encoding_errors
        ``strict`` (invalid UTF-8 is an error) or ``replace``.
    allow_duplicate_ids
        Accept repeated ids instead of failing.
    """

    path: str
    id_col: str | None = None
    text_cols: Sequence[str] = ()
    encoding_errors: str = "strict"
    allow_duplicate_ids: bool = False
    stdin: IO[bytes] | None = None
    count: int = 0
    delimiter: str | None = None
    encoding: str = "utf-8"
    _stdin_text: str | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        if self.path == "-":
            return "stdin"
        p = Path(self.path)
        if p.is_dir():
            return "folder"
        suffix = p.suffix.lower()
        if suffix in JSONL_SUFFIXES:
            return "jsonl"
        if suffix in TSV_SUFFIXES:
            return "tsv"
        return "csv"

    # -- first pass ------------------------------------------------------------
    def check(self) -> int:
        """Validate the input without labeling; returns the number of reports.

        Raises
        ------
        InputError
            Missing file or column, undecodable bytes, duplicate or empty ids,
            bad JSON, an unclosed CSV quote.
        """
        kind = self.kind
        if kind != "stdin" and not Path(self.path).exists():
            raise InputError(f"{self.path}: no such file or folder")
        if kind in ("csv", "tsv", "jsonl") and self.encoding_errors == "strict":
            check_bytes(self.path, self.encoding, hint=ENCODING_HINT)
        seen: set[str] = set()
        dups: list[str] = []
        n_dups = 0
        n = 0
        for report_id, _, _ in self._records(texts=False):
            n += 1
            if report_id in seen:
                n_dups += 1
                if report_id not in dups:
                    dups.append(report_id)
            seen.add(report_id)
        if n_dups and not self.allow_duplicate_ids:
            raise DuplicateIdError(self.path, dups, len(dups))
        self.count = n
        return n

    # -- second pass -----------------------------------------------------------
    def reports(self) -> Iterator[Report]:
        """Yield the reports, one at a time, in file order.

        After :meth:`check`, a second pass that finds another number of reports
        (the file changed in between) raises :class:`InputError`.
        """
        n = 0
        for report_id, text, fields in self._records(texts=True):
            n += 1
            yield Report(report_id, text, fields)
        if self.count and n != self.count and self.kind != "stdin":
            raise InputError(
                f"{self.path}: {n} reports read, but {self.count} when the file was checked; "
                "was it changed while it was read?"
            )

    # -- implementation --------------------------------------------------------
    def _open_text(self) -> IO[str]:
        return open(self.path, encoding=text_encoding(self.encoding), errors=self.encoding_errors, newline="")

    def _records(self, *, texts: bool) -> Iterator[tuple[str, str, tuple[tuple[str, int, int], ...]]]:
        kind = self.kind
        if kind in ("csv", "tsv"):
            yield from self._csv_records(texts=texts)
        elif kind == "jsonl":
            yield from self._jsonl_records(texts=texts)
        elif kind == "folder":
            yield from self._folder_records(texts=texts)
        else:
            yield from self._stdin_records()

    def _pick(self, columns: Sequence[str]) -> tuple[str, list[str]]:
        where = self.path
        if self.id_col is not None:
            if self.id_col not in columns:
                raise _missing(where, "id", self.id_col, columns)
            id_col = self.id_col
        else:
            found = [c for c in DEFAULT_ID_COLUMNS if c in columns]
            if not found:
                raise _missing(where, "id", DEFAULT_ID_COLUMNS[0], columns)
            id_col = found[0]
        if self.text_cols:
            for c in self.text_cols:
                if c not in columns:
                    raise _missing(where, "text", c, columns, exclude=(id_col,))
            text_cols = list(self.text_cols)
        else:
            found = [c for c in DEFAULT_TEXT_COLUMNS if c in columns]
            if not found:
                raise _missing(where, "text", DEFAULT_TEXT_COLUMNS[0], columns, exclude=(id_col,))
            text_cols = [found[0]]
        return id_col, text_cols

    def _text(
        self, row: dict[str, Any], text_cols: list[str], where: str
    ) -> tuple[str, tuple[tuple[str, int, int], ...]]:
        values = []
        for c in text_cols:
            v = row.get(c)
            if v is None:
                v = ""
            if not isinstance(v, str):
                raise InputError(f"{where}: field {c!r} must be text, got {type(v).__name__}")
            values.append(v)
        if len(text_cols) == 1:
            return values[0], ()
        text, spans = join_fields(list(zip(text_cols, values, strict=True)))
        return text, tuple(spans)

    def _csv_records(self, *, texts: bool) -> Iterator[tuple[str, str, tuple[tuple[str, int, int], ...]]]:
        table = Table(
            self.path,
            delimiter=self.delimiter,
            encoding=self.encoding,
            errors=self.encoding_errors,
            check=False,
        )
        with table:
            id_col, text_cols = self._pick(table.header)
            index = {h: i for i, h in enumerate(table.header)}
            for row_no, row in table.rows():
                where = f"{self.path}: row {row_no}"
                rid = row[index[id_col]] if index[id_col] < len(row) else ""
                if not rid.strip():
                    raise InputError(f"{where}: empty id in column {id_col!r}")
                if not texts:
                    yield rid, "", ()
                    continue
                record = {c: (row[index[c]] if index[c] < len(row) else "") for c in text_cols}
                yield (rid, *self._text(record, text_cols, where))

    def _jsonl_records(self, *, texts: bool) -> Iterator[tuple[str, str, tuple[tuple[str, int, int], ...]]]:
        try:
            f = self._open_text()
        except OSError as e:
            raise InputError(f"{self.path}: cannot open: {e.strerror}") from e
        picked: tuple[str, list[str]] | None = None
        with f:
            for _, where, obj in json_objects(f, self.path):
                if picked is None:
                    picked = self._pick(list(obj))
                id_col, text_cols = picked
                if id_col not in obj:
                    raise _missing(where, "id", id_col, list(obj))
                rid = obj[id_col]
                if rid is None or (isinstance(rid, str) and not rid.strip()) or isinstance(rid, (dict, list)):
                    raise InputError(f"{where}: empty or non-scalar id in key {id_col!r}: {rid!r}")
                rid = str(rid)
                if not texts:
                    yield rid, "", ()
                    continue
                for c in text_cols:
                    if c not in obj:
                        raise _missing(where, "text", c, list(obj), exclude=(id_col,))
                yield (rid, *self._text(obj, text_cols, where))

    def _decode(self, data: bytes, where: str) -> str:
        encoding = text_encoding(self.encoding)
        if self.encoding_errors == "strict":
            body = data[3:] if encoding == "utf-8-sig" and data.startswith(codecs.BOM_UTF8) else data
            bad = _bad_bytes(body, self.encoding)
            if bad is not None:
                raise EncodingError(where, bad[0], bad[1], encoding=self.encoding, hint=ENCODING_HINT)
        return data.decode(encoding, errors=self.encoding_errors)

    def _folder_records(self, *, texts: bool) -> Iterator[tuple[str, str, tuple[tuple[str, int, int], ...]]]:
        files = sorted(p for p in Path(self.path).iterdir() if p.is_file() and p.suffix.lower() == ".txt")
        if not files:
            raise InputError(f"{self.path}: no .txt files in this folder")
        for p in files:
            text = self._decode(p.read_bytes(), str(p))
            yield p.stem, text if texts else "", ()

    def _stdin_records(self) -> Iterator[tuple[str, str, tuple[tuple[str, int, int], ...]]]:
        if self._stdin_text is None:
            stream = self.stdin if self.stdin is not None else sys.stdin.buffer
            self._stdin_text = self._decode(stream.read(), "<stdin>")
        yield "stdin", self._stdin_text, ()


def json_objects(
    lines: Iterable[str], name: str, *, error: type[InputError] = InputError
) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Yield ``(line number, where, object)`` for each non-blank line of a JSONL stream.

    ``where`` is ``"<name>: line <n>"``; a line that is not a JSON object raises
    ``error`` naming the line and what was found.
    """
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{name}: line {line_no}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise error(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from e
        if not isinstance(obj, dict):
            raise error(f"{where}: expected a JSON object, got {type(obj).__name__}")
        yield line_no, where, obj


def read_text_arg(value: str, stdin: IO[bytes] | None = None, *, encoding_errors: str = "strict") -> str:
    """The text of ``explain TEXT``: the argument itself, or standard input for ``-``."""
    if value != "-":
        return value
    src = ReportSource("-", encoding_errors=encoding_errors, stdin=stdin)
    return next(src.reports()).text


__all__ = ["ReportSource", "first_bad_utf8", "join_fields", "json_objects", "read_text_arg"]
