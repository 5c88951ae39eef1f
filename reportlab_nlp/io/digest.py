"""sha256 of inputs: what a resumable run and an export's provenance record of the file they read."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_input(path: str | Path) -> str | None:
    """sha256 of an input: a file's bytes; for a folder, of its ``name<TAB>sha256`` lines, sorted.

    None for standard input (``-``), which cannot be read twice.
    """
    if str(path) == "-":
        return None
    p = Path(path)
    if p.is_dir():
        digest = hashlib.sha256()
        for f in sorted(q for q in p.rglob("*") if q.is_file()):
            digest.update(f"{f.relative_to(p).as_posix()}\t{sha256_file(f)}\n".encode())
        return digest.hexdigest()
    return sha256_file(p)


__all__ = ["sha256_file", "sha256_input"]
