"""Where the model engines find a model when no ``--model`` names one.

In this order, the first place that holds a model folder (one with a
``manifest.json``, or folders of them) wins:

1. ``$REPORTLAB_MODEL_DIR``, when set;
2. ``models/`` in the working folder (what ``make model`` and ``export-model`` write);
3. ``models/`` of the source checkout the package runs from, when it runs from one;
4. the model shipped inside the installed package (``reportlab_nlp/_models/``: the wheel
   carries ``models/minilm-openi`` as package data, so that ``--engine hybrid`` works
   from any folder).

``--model DIR`` (``model_dir=``) skips the search: DIR is the model folder or a folder holding one.
"""

from __future__ import annotations

import os
from pathlib import Path

MODEL_DIR_ENV = "REPORTLAB_MODEL_DIR"
"""The environment variable naming a model folder (or a folder of them) for every command."""

DEFAULT_MODEL_DIR = Path("models")
"""``models/`` in the working folder."""

PACKAGE = Path(__file__).resolve().parent
SHIPPED_MODELS_DIR = PACKAGE / "_models"
"""The models shipped in the installed package (copied from the checkout's ``models/`` at build time)."""


def checkout_models_dir() -> Path | None:
    """``models/`` of the source checkout the package is imported from (an editable install), if any."""
    root = PACKAGE.parent
    return root / "models" if (root / "pyproject.toml").is_file() else None


def model_search_path() -> list[Path]:
    """The folders searched for a model when none is named, in order (see the module)."""
    places: list[Path] = []
    env = os.environ.get(MODEL_DIR_ENV)
    if env:
        places.append(Path(env))
    places.append(DEFAULT_MODEL_DIR)
    checkout = checkout_models_dir()
    if checkout is not None:
        places.append(checkout)
    places.append(SHIPPED_MODELS_DIR)
    return places


__all__ = ["DEFAULT_MODEL_DIR", "MODEL_DIR_ENV", "SHIPPED_MODELS_DIR", "model_search_path"]
