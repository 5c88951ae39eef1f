"""Durable files: every output of the toolkit is written through this module.

One rule for every file a command writes, whatever the command:

- a new file is written under a temporary name in the same folder
  (``.<name>.<random>.partial``), flushed and fsync'ed, given the permissions a
  plain ``open()`` would give it (``0o666`` less the umask), renamed over its
  final name (:func:`os.replace`, atomic on POSIX) and its folder fsync'ed, so
  a crash leaves either the old file or the new one, never half of one;
- a folder is built under a temporary name beside its final one and renamed
  into place the same way (:func:`replace_dir`);
- the final path must be a regular file or absent: a symlink, FIFO, device
  node or folder there is refused with :class:`~reportlab_nlp.errors.OutputError`
  (:func:`check_target`) before anything is written, never replaced (as root,
  ``--out /dev/full`` would otherwise replace the device).

:class:`PartialFile` is the resumable kind: ``<final>.partial`` grows, is
fsync'ed at checkpoints, can be reopened cut back to a checkpoint, and is
renamed over the final path at the end.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from ..errors import OutputError, ResumeError

PARTIAL_SUFFIX = ".partial"


def file_mode() -> int:
    """The permissions a plain ``open()`` gives a new file here (``0o666`` less the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def fsync_dir(path: str | Path) -> None:
    """fsync a folder (so a rename in it survives a crash); errors are ignored (not every FS can)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fsync_file(path: str | Path) -> None:
    """fsync a file written by someone else's code (``torch.save``, a tokenizer's ``save``)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def target_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be replaced by an output file, or None (absent or a regular file)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        return f"cannot be checked: {e.strerror}"
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "is a symbolic link; name the file it points to, or another path"
    if stat.S_ISDIR(mode):
        return "is a folder; expected a file name"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    return "is not a regular file"


def check_target(path: str | Path) -> None:
    """Raise :class:`OutputError` when ``path`` exists and is not a regular file."""
    problem = target_problem(path)
    if problem is not None:
        raise OutputError(f"{path}: {problem}; outputs are written as new regular files")


def commit_file(tmp: str | Path, final: str | Path, *, synced: bool = False) -> None:
    """fsync ``tmp`` (unless ``synced``), rename it over ``final``, fsync the folder."""
    check_target(final)
    if not synced:
        fsync_file(tmp)
    os.replace(tmp, final)
    fsync_dir(Path(final).resolve().parent)


def temp_path(final: str | Path, suffix: str = ".tmp") -> Path:
    """A temporary name beside ``final`` for a file written by other code (then :func:`commit_file`)."""
    p = Path(final)
    return p.with_name(f".{p.name}.{os.getpid()}{suffix}")


class AtomicFile:
    """A file that appears at ``path`` only when :meth:`commit` is called.

    Use as a context manager: leaving the block normally commits, an exception
    removes the temporary file and leaves any earlier ``path`` untouched.
    ``binary`` opens the handle in bytes mode; text is UTF-8 with ``\\n`` kept as written.
    ``stable`` uses the one temporary name ``.<name>.tmp`` instead of a random
    one, so that a file replaced again and again (a run manifest) leaves at most
    that one file behind after a ``kill -9``, reused by the next write; only for
    a file one process writes (the run lock sees to that).
    """

    def __init__(self, path: str | Path, *, binary: bool = False, stable: bool = False) -> None:
        self.path = Path(path)
        check_target(self.path)
        parent = self.path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            if stable:
                tmp = str(parent / f".{self.path.name}.tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            else:
                fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=PARTIAL_SUFFIX, dir=parent)
        except OSError as e:
            raise OutputError(f"{self.path}: cannot write here: {e.strerror}") from e
        self.tmp = Path(tmp)
        self.handle: IO[Any] = (
            os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")
        )
        self.done = False

    def commit(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        # mkstemp makes the file private (0600); give it the permissions a plain open() would
        os.chmod(self.tmp, file_mode())
        commit_file(self.tmp, self.path, synced=True)
        self.done = True

    def abort(self) -> None:
        if not self.handle.closed:
            self.handle.close()
        if not self.done:
            self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_bytes(path: str | Path, data: bytes, *, stable: bool = False) -> None:
    """Write ``data`` to ``path`` atomically and durably (``stable``: see :class:`AtomicFile`)."""
    with AtomicFile(path, binary=True, stable=stable) as f:
        f.handle.write(data)


def write_text(path: str | Path, text: str, *, stable: bool = False) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically and durably (``stable``: see :class:`AtomicFile`)."""
    with AtomicFile(path, stable=stable) as f:
        f.handle.write(text)


def write_json(
    path: str | Path, data: Any, *, indent: int | None = 1, ensure_ascii: bool = False, stable: bool = False
) -> None:
    """Write ``data`` as JSON (and a final newline) to ``path`` atomically and durably."""
    write_text(path, json.dumps(data, indent=indent, ensure_ascii=ensure_ascii) + "\n", stable=stable)


def save_with(path: str | Path, save: Callable[[Path], object]) -> None:
    """Let ``save(tmp)`` write a file (``torch.save``, say), then commit it over ``path`` durably."""
    tmp = temp_path(path)
    try:
        save(tmp)
        os.chmod(tmp, file_mode())
        commit_file(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def replace_dir(staging: str | Path, final: str | Path, *, force: bool = False, synced: bool = False) -> None:
    """Rename the folder ``staging`` over ``final`` (an existing ``final`` needs ``force``).

    Its files are fsync'ed first (unless ``synced``: they were written through
    this module). The old folder is moved aside first and removed only once the
    new one is in place; if the rename fails, the old one is put back.
    """
    staging, final = Path(staging), Path(final)
    if final.is_symlink() or (final.exists() and not final.is_dir()):
        raise OutputError(f"{final}: exists and is not a folder; remove it or choose another path")
    for p in (*staging.rglob("*"), staging):
        if p.is_dir():
            fsync_dir(p)
        elif not synced and p.is_file() and not p.is_symlink():
            fsync_file(p)
    if final.exists():
        if not force:
            raise OutputError(f"{final} exists; pass --force to replace it")
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
        try:
            os.replace(staging, final)
        except OSError:
            os.replace(old, final)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, final)
    fsync_dir(final.resolve().parent)


def replace_path(item: str | Path, target: str | Path, *, synced: bool = False) -> None:
    """Move a staged file or folder over ``target`` (a folder there is replaced whole)."""
    item, target = Path(item), Path(target)
    if item.is_dir() and not item.is_symlink():
        if target.is_dir() and not target.is_symlink():
            replace_dir(item, target, force=True, synced=synced)
            return
        check_target(target)
        os.replace(item, target)
        fsync_dir(target.resolve().parent)
        return
    commit_file(item, target, synced=synced)


def beside(path: str | Path, suffix: str) -> Path:
    """``path`` with ``suffix`` added to its name (``labels.csv`` -> ``labels.csv.partial``)."""
    p = Path(path)
    return p.with_name(p.name + suffix)


def copy_range(src: int, dst: int, size: int) -> None:
    """Copy ``size`` bytes from ``src``'s position to ``dst``'s, in the kernel where it can."""
    left = size
    if hasattr(os, "copy_file_range"):
        try:
            while left:
                n = os.copy_file_range(src, dst, left)
                if n == 0:
                    raise OSError(errno.EIO, f"the spool file ended {left} bytes early")
                left -= n
            return
        except OSError as e:
            if left != size or e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
    while left:
        data = os.read(src, min(left, 1 << 20))
        if not data:
            raise OSError(errno.EIO, f"the spool file ended {left} bytes early")
        view = memoryview(data)
        while view:
            view = view[os.write(dst, view) :]
        left -= len(data)


class PartialFile:
    """An output being written at ``<final>.partial``, renamed over ``final`` by :meth:`commit`.

    ``resume_at`` reopens an existing partial file truncated to that many bytes
    (the last checkpoint); ``finishing`` also accepts a file already renamed.
    """

    def __init__(self, final: str | Path, *, resume_at: int | None = None, finishing: bool = False) -> None:
        self.final = Path(final)
        self.path = beside(self.final, PARTIAL_SUFFIX)
        self.handle: IO[bytes] | None = None
        self.committed = False
        if resume_at is not None and not self.path.exists():
            done_size = self.final.stat().st_size if self.final.exists() else 0
            if finishing and done_size == resume_at:
                self.committed = True  # renamed before the interruption
                self.size = resume_at
                return
            raise ResumeError(f"cannot resume: {self.path} is missing; run without --resume to start again")
        check_target(self.final)
        check_target(self.path)
        try:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            if resume_at is None:
                self.handle = open(self.path, "wb", buffering=1 << 20)  # noqa: SIM115
            else:
                size = self.path.stat().st_size
                if size < resume_at:
                    raise ResumeError(
                        f"cannot resume: {self.path} has {size} bytes, fewer than the {resume_at} bytes "
                        "of the last checkpoint; run without --resume to start again"
                    )
                self.handle = open(self.path, "r+b", buffering=1 << 20)  # noqa: SIM115
                self.handle.truncate(resume_at)
                self.handle.seek(resume_at)
        except OSError as e:
            raise OutputError(f"{self.final}: cannot write here: {e.strerror}") from e
        self.size = resume_at or 0

    def write(self, data: bytes) -> None:
        if self.handle is None:
            raise RuntimeError(f"{self.path} is closed")
        self.handle.write(data)
        self.size += len(data)

    def append_file(self, path: str, size: int) -> None:
        """Append the first ``size`` bytes of the file at ``path`` (a spooled chunk), then remove it."""
        if self.handle is None:
            raise RuntimeError(f"{self.path} is closed")
        self.handle.flush()
        with open(path, "rb") as src:
            copy_range(src.fileno(), self.handle.fileno(), size)
        self.size += size
        self.handle.seek(self.size)  # the buffered handle learns where the kernel copy left the file
        os.unlink(path)

    def sync(self) -> None:
        """Flush and fsync (raises OSError, e.g. on a full disk)."""
        if self.handle is not None and not self.handle.closed:
            self.handle.flush()
            os.fsync(self.handle.fileno())

    def commit(self, *, drop_if_empty: bool = False) -> None:
        """Rename over the final path (empty and ``drop_if_empty``: remove it and a stale final file)."""
        if self.committed:
            return
        self.sync()
        if self.handle is not None:
            self.handle.close()
        if drop_if_empty and self.size == 0:
            self.path.unlink(missing_ok=True)
            self.final.unlink(missing_ok=True)
        else:
            check_target(self.final)
            os.replace(self.path, self.final)
        self.committed = True

    def close(self) -> None:
        if self.handle is not None and not self.handle.closed:
            with contextlib.suppress(OSError):
                self.handle.close()

    def discard(self) -> None:
        self.close()
        if not self.committed:
            with contextlib.suppress(OSError):
                self.path.unlink(missing_ok=True)


__all__ = [
    "PARTIAL_SUFFIX",
    "AtomicFile",
    "PartialFile",
    "beside",
    "check_target",
    "commit_file",
    "copy_range",
    "file_mode",
    "fsync_dir",
    "fsync_file",
    "replace_dir",
    "replace_path",
    "save_with",
    "target_problem",
    "temp_path",
    "write_bytes",
    "write_json",
    "write_text",
]
