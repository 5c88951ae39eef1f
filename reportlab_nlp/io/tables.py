"""Reading CSV/TSV tables: one delimiter rule, one encoding rule, one error wording.

Every command that reads a table (``label``'s reports, ``compare``'s label
files, ``export``'s and ``label``'s study manifests, cross-validation's gold
file) reads it through :class:`Table`, so a file is read the same way by all.

Delimiter
    The one given (``--delimiter``); else a tab for a ``.tsv``/``.tab`` name;
    else the most frequent of comma, tab, semicolon and bar in the header line
    (comma on a tie, or when there is none of them).
Encoding
    UTF-8 by default (a byte-order mark is skipped), or the one given
    (``--encoding cp1252``, ``latin-1``, ...). With ``errors="strict"`` the
    whole file is checked before any row is read: the first undecodable byte is
    an :class:`~reportlab_nlp.errors.EncodingError` naming its offset.
Quotes
    Read strictly: a quoted field that is not closed before the next delimiter
    or the end of the file is an error naming the line where the row began
    (a lenient reader would swallow the rows after it into one field).
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

from ..errors import EncodingError, InputError

DELIMITERS = (",", "\t", ";", "|")
"""The delimiters the header line is counted for, in order of preference on a tie."""
TSV_SUFFIXES = (".tsv", ".tab")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
DEFAULT_ENCODING = "utf-8"
_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "bar": "|"}

csv.field_size_limit(2**31 - 1)


def parse_delimiter(value: str) -> str:
    """The delimiter named on the command line (``;``, ``tab``, ``\\t``, ...); one character."""
    d = _NAMES.get(value.lower(), value)
    if len(d) != 1 or d in '"\r\n':
        raise InputError(f"--delimiter: expected one character (or tab), got {value!r}")
    return d


def check_encoding(encoding: str) -> str:
    """``encoding`` if Python knows it, else an :class:`InputError` naming ``--encoding``."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputError(f"--encoding: unknown encoding {encoding!r} (e.g. utf-8, cp1252, latin-1)") from None
    return encoding


def text_encoding(encoding: str) -> str:
    """The codec a file is opened with: UTF-8 skips a byte-order mark."""
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def first_bad_byte(path: str | Path, encoding: str = DEFAULT_ENCODING) -> tuple[int, str] | None:
    """Byte offset and reason of the first byte sequence ``encoding`` cannot decode, or None."""
    decoder = codecs.getincrementaldecoder(text_encoding(encoding))("strict")
    offset = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as e:
                pending = len(decoder.getstate()[0]) if e.start == 0 else 0
                return offset + e.start - pending, e.reason
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as e:
            return offset - (e.end - e.start), e.reason
    return None


def first_bad_utf8(path: str | Path) -> tuple[int, str] | None:
    """Byte offset and reason of the first invalid UTF-8 sequence in a file, or None."""
    return first_bad_byte(path, DEFAULT_ENCODING)


def check_bytes(path: str | Path, encoding: str = DEFAULT_ENCODING, *, hint: str | None = None) -> None:
    """Raise :class:`EncodingError` at the first byte of ``path`` that ``encoding`` cannot decode."""
    bad = first_bad_byte(path, encoding)
    if bad is not None:
        extra = {"hint": hint} if hint is not None else {}
        raise EncodingError(str(path), bad[0], bad[1], encoding=encoding, **extra)


def delimiter_for(path: str | Path, header_line: str, given: str | None = None) -> str:
    """The delimiter of a table (see the module): ``given``, the suffix, or the header line."""
    if given is not None:
        return given
    if Path(path).suffix.lower() in TSV_SUFFIXES:
        return "\t"
    counts = [header_line.count(d) for d in DELIMITERS]
    best = max(range(len(DELIMITERS)), key=lambda i: (counts[i], -i))
    return DELIMITERS[best] if counts[best] else ","


class Table:
    """A CSV/TSV file opened for reading: its header, then its rows (a context manager).

    Parameters
    ----------
    path
        The file.
    delimiter, encoding, errors
        See the module; ``errors`` is ``strict`` or ``replace``.
    error
        The exception class of the messages (an :class:`InputError` subclass).
    what
        What the file is, for the message of an empty file ("the file", "the manifest").
    """

    def __init__(
        self,
        path: str | Path,
        *,
        delimiter: str | None = None,
        encoding: str = DEFAULT_ENCODING,
        errors: str = "strict",
        error: type[InputError] = InputError,
        what: str = "the file",
        check: bool = True,
        hint: str | None = None,
    ) -> None:
        self.name = str(path)
        self.error = error
        try:
            if check and errors == "strict":
                check_bytes(path, encoding, hint=hint)
            self.handle: IO[str] = open(  # noqa: SIM115
                path, encoding=text_encoding(encoding), errors=errors, newline=""
            )
        except OSError as e:
            raise error(f"{self.name}: cannot open: {e.strerror}") from e
        first = self.handle.readline()
        self.handle.seek(0)
        self.delimiter = delimiter_for(path, first, delimiter)
        self.reader = csv.reader(self.handle, delimiter=self.delimiter, strict=True)
        try:
            self.header = [h.strip() for h in next(self.reader)]
        except StopIteration:
            self.handle.close()
            raise error(f"{self.name}: {what} is empty (expected a header row)") from None
        except csv.Error as e:
            self.handle.close()
            raise error(f"{self.name}: line 1: not a readable CSV header ({e})") from e

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """``(row number, cells)`` of each data row (the header is row 1); blank rows are skipped."""
        row_no = 1
        while True:
            began = self.reader.line_num + 1
            try:
                row = next(self.reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise self.error(self._malformed(began, e)) from e
            row_no += 1
            if not row or all(not c.strip() for c in row):
                continue
            yield row_no, row

    def _malformed(self, began: int, e: csv.Error) -> str:
        line = self.reader.line_num
        text = str(e)
        if "expected after '\"'" in text or "unexpected end of data" in text:
            end = "the end of the file" if "end of data" in text else f"line {line}"
            return (
                f"{self.name}: line {began}: a quoted field that begins on this line is not closed "
                f'before {end} ({text}); a quote inside a quoted field must be doubled ("")'
            )
        return f"{self.name}: line {line}: malformed CSV ({text})"

    def close(self) -> None:
        self.handle.close()

    def __enter__(self) -> Table:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def read_tsv(path: str | Path) -> list[dict[str, str]]:
    """The rows of a UTF-8 TSV file the toolkit wrote (a header line, then rows), as dicts."""
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


__all__ = [
    "DELIMITERS",
    "JSONL_SUFFIXES",
    "TSV_SUFFIXES",
    "Table",
    "check_bytes",
    "check_encoding",
    "delimiter_for",
    "first_bad_byte",
    "first_bad_utf8",
    "parse_delimiter",
    "read_tsv",
    "text_encoding",
]
