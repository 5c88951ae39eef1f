"""The tests run against the installed package, not the source folder (``make test`` installs it)."""

from __future__ import annotations

import json
import os
import sys
from importlib import metadata, resources
from pathlib import Path

import pytest

import reportlab_nlp

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "reportlab_nlp"


def _is_editable() -> bool:
    """An editable install (``pip install -e``) points back into the repository."""
    try:
        dist = metadata.distribution("reportlab-nlp")
    except metadata.PackageNotFoundError:
        return False
    info = json.loads(dist.read_text("direct_url.json") or "{}")
    return bool(info.get("dir_info", {}).get("editable", False))


def test_package_is_imported_from_the_installed_copy() -> None:
    package_file = Path(reportlab_nlp.__file__).resolve()
    if package_file.is_relative_to(SOURCE.resolve()):
        if _is_editable():
            pytest.skip(
                "reportlab_nlp is an editable install pointing at the repository; `make test` installs it "
                "non-editable and this test then checks that the installed copy is the one imported"
            )
        pytest.fail(
            f"reportlab_nlp was imported from the source folder {package_file.parent} although it is not "
            "an editable install: the tests must run against the installed package "
            f"(sys.path[0]={sys.path[0]!r})"
        )
    assert not package_file.is_relative_to(SOURCE.resolve())


def test_rules_data_ships_with_the_package() -> None:
    rules = resources.files("reportlab_nlp.rules")
    for name in ("schemes.yaml", "sections.yaml", "findings.yaml", "cues.yaml"):
        assert rules.joinpath(name).is_file(), name


def test_installed_version_matches() -> None:
    try:
        installed = metadata.version("reportlab-nlp")
    except metadata.PackageNotFoundError:
        pytest.skip("reportlab-nlp has no distribution metadata here (run from a source tree)")
    assert installed == reportlab_nlp.__version__


def test_console_script_is_installed() -> None:
    beside = Path(sys.executable).parent / "reportlab-nlp"
    if not beside.exists():
        pytest.skip(f"no console script beside {sys.executable}")
    assert os.access(beside, os.X_OK)
