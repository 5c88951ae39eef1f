"""The run lock: one run at a time writes an output (issue 19.3)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType

from ..errors import OutputError
from .durable import beside

LOCK_SUFFIX = ".lock"


class OutputLock:
    """Exclusive locks (:func:`fcntl.flock`) on ``<path>.lock`` beside each output, held for a run.

    A second run on any of the same outputs is refused at once with an
    :class:`OutputError` naming the output, the lock file and the process that
    holds it. The lock files are removed when the run ends (a lock file that a
    crash left behind holds no lock and is simply taken over).
    """

    def __init__(self, paths: list[str | Path]) -> None:
        self.held: list[tuple[Path, int]] = []
        try:
            for p in sorted({Path(os.path.abspath(x)) for x in paths}):
                self._take(p)
        except BaseException:
            self.release()
            raise

    def _take(self, output: Path) -> None:
        path = beside(output, LOCK_SUFFIX)
        while True:
            try:
                output.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as e:
                raise OutputError(f"{output}: cannot write here: {e.strerror}") from e
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "another process"
                os.close(fd)
                raise OutputError(
                    f"{output}: another run is writing this output (locked by process {holder} through "
                    f"{path}); wait for it to finish, or choose other --out paths"
                ) from None
            try:  # the file may have been removed by the run that held it: lock the new one then
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
                self.held.append((path, fd))
                return
            os.close(fd)

    def release(self) -> None:
        """Remove the lock files, then unlock them."""
        for path, fd in reversed(self.held):
            with contextlib.suppress(OSError):
                path.unlink()
            with contextlib.suppress(OSError):
                os.close(fd)
        self.held = []

    def __enter__(self) -> OutputLock:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


__all__ = ["LOCK_SUFFIX", "OutputLock"]
