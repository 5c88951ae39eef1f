"""The spool folder: worker processes write their chunks' lines there, the main process copies them in."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

SPOOL_SUFFIX = ".spool"
_SPOOLED = re.compile(r"[0-9]+\.[0-9]+")  # the name of a spooled chunk file: <first report>.<output>


def _spool(folder: str, first_index: int, blobs: tuple[bytes, ...]) -> tuple[tuple[str, int], ...]:
    """Write a chunk's blobs to spool files; () if that fails (the blobs then go through the pipe)."""
    written: list[tuple[str, int]] = []
    try:
        for k, blob in enumerate(blobs):
            path = os.path.join(folder, f"{first_index}.{k}")
            written.append((path, len(blob)))
            with open(path, "wb") as f:
                f.write(blob)
    except OSError:  # a full disk, say: the main process's own write will report it
        for path, _ in written:
            with contextlib.suppress(OSError):
                os.unlink(path)
        return ()
    return tuple(written)


def _open_spool(path: Path) -> Path | None:
    """An empty spool folder at ``path`` (the files a killed run left there removed), or None.

    None (no spool; lines come through the pipe) when the folder cannot be
    made or holds anything but spooled chunk files: it is then not ours.
    """
    try:
        if path.is_dir():
            entries = list(path.iterdir())
            if any(not (e.is_file() and _SPOOLED.fullmatch(e.name)) for e in entries):
                return None
            for e in entries:
                e.unlink()
        else:
            path.mkdir()
    except OSError:
        return None
    return path


def _close_spool(path: Path | None) -> None:
    """Remove the spool folder and the chunk files still in it (an interrupted run's)."""
    if path is None:
        return
    with contextlib.suppress(OSError):
        for e in path.iterdir():
            if _SPOOLED.fullmatch(e.name):
                e.unlink()
        path.rmdir()
