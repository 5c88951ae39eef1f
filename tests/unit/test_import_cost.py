"""Importing reportlab_nlp does not drag torch in (spaCy's thinc would, when torch is installed)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

CHECK = """
import sys
import reportlab_nlp
print("torch" in sys.modules)
import torch  # still importable afterwards
print(torch.__name__)
"""


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed here")
def test_torch_is_not_imported_and_stays_importable() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHECK], check=True, capture_output=True, text=True
    ).stdout.split()
    assert out == ["False", "torch"]
