"""Provenance: what produced a set of labels, written into every export.

Every export carries the same record: toolkit and version, engine
(``rules``; a model engine adds its sha256), the rules hash, the scheme, a run
id (a fresh uuid4 per run), the UTC time of the run, and the sha256 of the
input file. When the input is a labels file written by ``label --manifest``,
the labeling run's own record (rules hash, scheme, input) is kept under
``labeled_by`` so the chain from reports to export stays visible.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._version import __version__
from ..constants import TOOLKIT
from ..io.digest import sha256_file, sha256_input

PROVENANCE_FIELDS = (
    "toolkit",
    "toolkit_version",
    "engine",
    "rules_hash",
    "model_sha256",
    "scheme",
    "run_id",
    "timestamp",
    "input_file",
    "input_sha256",
)


def md5_file(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """Hex md5 of a file's bytes (Gen3 data commons identify files by md5)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def utc_now() -> str:
    """The current UTC time as ISO 8601 with a ``Z`` suffix, to the second."""
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Provenance:
    """The provenance record of one run.

    Parameters
    ----------
    engine
        ``rules`` for the rule labeler.
    rules_hash
        :attr:`reportlab_nlp.Labeler.rules_hash` (sha256 of the rules), or None
        when the labels came from a file that does not say.
    model_sha256
        sha256 of the model file when a model labeled the reports; None otherwise.
    scheme
        The label scheme of the exported columns.
    input_file, input_sha256
        The file the run read (reports or labels) and its sha256 (see
        :func:`sha256_input`; None for standard input).
    labeled_by
        For a labels file written by ``label --manifest``: that run's record.
    """

    engine: str
    rules_hash: str | None
    model_sha256: str | None
    scheme: str
    input_file: str
    input_sha256: str | None
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timestamp: str = field(default_factory=utc_now)
    toolkit: str = TOOLKIT
    toolkit_version: str = __version__
    labeled_by: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON object (``labeled_by`` only when there is one)."""
        out: dict[str, Any] = {name: getattr(self, name) for name in PROVENANCE_FIELDS}
        if self.labeled_by is not None:
            out["labeled_by"] = dict(self.labeled_by)
        return out

    def flat(self) -> dict[str, str]:
        """The record's fields as CSV cells (None -> empty)."""
        return {
            name: "" if getattr(self, name) is None else str(getattr(self, name))
            for name in PROVENANCE_FIELDS
        }

    @classmethod
    def for_run(
        cls,
        input_path: str | Path,
        *,
        scheme: str,
        rules_hash: str | None,
        engine: str = "rules",
        model_sha256: str | None = None,
        labeled_by: Mapping[str, Any] | None = None,
    ) -> Provenance:
        """A new record (fresh run id and timestamp) for a run reading ``input_path``."""
        return cls(
            engine=engine,
            rules_hash=rules_hash,
            model_sha256=model_sha256,
            scheme=scheme,
            input_file="-" if str(input_path) == "-" else Path(input_path).name,
            input_sha256=sha256_input(input_path),
            labeled_by=labeled_by,
        )


__all__ = ["PROVENANCE_FIELDS", "TOOLKIT", "Provenance", "md5_file", "sha256_file", "sha256_input", "utc_now"]
