"""Shared fixtures: the built-in rules and one labeler, built once per test session.

Building a labeler compiles about a thousand regular expressions (about a
second), so tests share these; the objects are immutable in use.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

import reportlab_nlp
from reportlab_nlp.rules import RuleSet, load_rules

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    """The built-in rules."""
    return load_rules()


@pytest.fixture(scope="session")
def labeler() -> reportlab_nlp.Labeler:
    """A labeler with the built-in rules and the full scheme."""
    return reportlab_nlp.load()


@pytest.fixture
def rules_file(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a user rules file in the test's temporary folder; returns its path."""

    def write(text: str, name: str = "user_rules.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@contextmanager
def _at_most(seconds: int) -> Iterator[None]:
    def expired(signum: int, frame: object) -> None:
        raise AssertionError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="session")
def at_most() -> Callable[[int], AbstractContextManager[None]]:
    """``with at_most(seconds):`` fails the test (rather than hanging) when its body runs longer."""
    return _at_most


@pytest.fixture
def no_service_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Service settings come from the test, not from the environment running it (REPORTLAB_* unset)."""
    import os

    for name in list(os.environ):
        if name.startswith("REPORTLAB_"):
            monkeypatch.delenv(name)
