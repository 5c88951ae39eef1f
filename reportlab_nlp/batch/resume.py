"""Resuming an interrupted run: the state a checkpoint records, what must not change, the run manifest."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .._version import __version__
from ..errors import ResumeError
from .chunks import ChunkResult
from .options import BatchOptions

RUN_FORMAT = "reportlab-nlp label run"
RUN_FORMAT_VERSION = 1


def _remove(path: Path) -> None:
    """Remove a file if it is there (clean-up: an error here must not hide the one being handled)."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


@dataclass
class _Progress:
    """The state a checkpoint records (the whole run, resumed parts included)."""

    done: int = 0
    labeled: int = 0
    warned: int = 0
    unread: int = 0
    failed: int = 0
    counts: list[list[int]] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)

    def add(self, res: ChunkResult, sizes: list[int]) -> _Progress:
        return _Progress(
            done=self.done + res.size,
            labeled=self.labeled + res.labeled,
            warned=self.warned + res.warned,
            unread=self.unread + res.unread,
            failed=self.failed + len(res.failures),
            counts=[
                [a + b for a, b in zip(x, y, strict=True)]
                for x, y in zip(self.counts, res.counts, strict=True)
            ],
            sizes=sizes,
        )

    def to_dict(self, columns: Sequence[str], files: Sequence[Path]) -> dict[str, Any]:
        return {
            "reports_done": self.done,
            "labeled": self.labeled,
            "failed": self.failed,
            "empty": self.unread,
            "with_warnings": self.warned,
            "bytes": {str(p): n for p, n in zip(files, self.sizes, strict=True)},
            "counts": {
                c: dict(zip(("1", "0", "-1", "blank"), v, strict=True))
                for c, v in zip(columns, self.counts, strict=True)
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], columns: Sequence[str], files: Sequence[Path]) -> _Progress:
        counts = data["counts"]
        return cls(
            done=int(data["reports_done"]),
            labeled=int(data["labeled"]),
            warned=int(data["with_warnings"]),
            unread=int(data["empty"]),
            failed=int(data["failed"]),
            counts=[[int(counts[c][k]) for k in ("1", "0", "-1", "blank")] for c in columns],
            sizes=[int(data["bytes"][str(p)]) for p in files],
        )


def _identity(
    options: BatchOptions, sha256: str | None, total: int, scheme: str, rules_hash: str
) -> dict[str, Any]:
    """What must not change between an interrupted run and its resumption."""
    return {
        "toolkit_version": __version__,
        "input_sha256": sha256,
        "reports": total,
        "id_col": options.id_col,
        "text_cols": list(options.text_cols),
        "encoding_errors": options.encoding_errors,
        "allow_duplicate_ids": options.allow_duplicate_ids,
        "scheme": scheme,
        "rules_hash": rules_hash,
        "outputs": [{"path": str(Path(o.path).resolve()), "format": o.format} for o in options.outputs],
        # recorded only when given, so that runs recorded before these options resume as before
        **({"delimiter": options.delimiter} if options.delimiter is not None else {}),
        **({"encoding": options.encoding} if options.encoding != "utf-8" else {}),
    }


_WHAT = {
    "toolkit_version": "the reportlab-nlp version",
    "input_sha256": "the input (its sha256)",
    "reports": "the number of reports in the input",
    "id_col": "--id-col",
    "text_cols": "--text-col",
    "encoding_errors": "--encoding-errors",
    "delimiter": "--delimiter",
    "encoding": "--encoding",
    "allow_duplicate_ids": "--allow-duplicate-ids",
    "scheme": "--scheme",
    "rules_hash": "the rules (their hash)",
    "conventions": "--conventions (the scheme's convention profile)",
    "engine": "--engine",
    "model_sha256": "the model (its sha256)",
    "outputs": "the outputs (--out/--format)",
}


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_resumable(prior: dict[str, Any], identity: dict[str, Any], path: Path) -> None:
    if prior.get("format") != RUN_FORMAT or prior.get("format_version") != RUN_FORMAT_VERSION:
        raise ResumeError(f"cannot resume: {path} is not a run manifest this version can read")
    was = prior.get("identity", {})
    for key in [*identity, *(k for k in was if k not in identity)]:  # a key only one side has differs too
        now = identity.get(key)
        if was.get(key) != now:
            raise ResumeError(
                f"cannot resume the run recorded in {path}: {_WHAT.get(key, key)} changed "
                f"(was {_short(was.get(key))}, now {_short(now)}); run without --resume to start again"
            )


def run_record(
    options: BatchOptions, status: str, identity: dict[str, Any], workers: int, progress: dict[str, Any]
) -> dict[str, Any]:
    """The run manifest written at a checkpoint: what the run is, its settings, how far it got."""
    return {
        "format": RUN_FORMAT,
        "format_version": RUN_FORMAT_VERSION,
        "state": status,
        "identity": identity,
        "input": str(Path(options.input).resolve()),
        "settings": {
            "rules": list(options.rules),
            "workers": workers,
            "batch_size": options.batch_size,
            "checkpoint_every": options.checkpoint_every,
            "on_error": options.on_error,
        },
        "progress": progress,
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _read_prior(options: BatchOptions, identity: dict[str, Any], err: TextIO) -> dict[str, Any] | None:
    """The interrupted run to resume (checked against ``identity``), or None to start afresh."""
    path = options.run_manifest_path
    if not path.exists():
        if options.resume:
            err.write(
                f"reportlab-nlp: nothing to resume ({path} not found); starting from the first report\n"
            )
        return None
    if not options.resume:
        err.write(f"reportlab-nlp: starting afresh; the interrupted run recorded in {path} is discarded\n")
        return None
    try:
        prior: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ResumeError(
            f"cannot resume: {path} cannot be read ({e}); run without --resume to start again"
        ) from e
    _check_resumable(prior, identity, path)
    return prior
