"""The ``--engine`` and ``--model`` options of every command that labels, and the engine they pick.

``label``, ``explain``, ``export``, ``compare`` and ``spark-label`` add them with
:func:`add_engine_args` and build their engine with :func:`engine_from_args`,
so each command reads the same options the same way.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .constants import ENGINE_NAMES

if TYPE_CHECKING:
    from .engines import Engine
    from .labeler import Labeler

ENGINE_HELP = "rules (default); model: the transformer classifier; hybrid: rules + model (see --model)"
MODEL_HELP = (
    "model folder for --engine model/hybrid (default: the first model in $REPORTLAB_MODEL_DIR, "
    "./models, then the one shipped with the package)"
)


def add_engine_args(p: argparse.ArgumentParser) -> None:
    """Add ``--engine rules|model|hybrid`` and ``--model DIR`` to a command's parser."""
    p.add_argument("--engine", choices=ENGINE_NAMES, default="rules", help=ENGINE_HELP)
    p.add_argument("--model", default=None, metavar="DIR", help=MODEL_HELP)


def engine_from_args(args: argparse.Namespace, labeler: Labeler) -> Engine:
    """The loaded engine that ``--engine`` and ``--model`` name, around ``labeler`` (its rules, its pipeline).

    Loading checks the model (its files' sha256, the ``model`` extra) before any
    report is read.

    Raises
    ------
    EngineUnavailableError
        When the engine cannot run here (no model installed, the extra missing, ...).
    """
    from .engines import get_engine

    engine = get_engine(
        getattr(args, "engine", "rules"),
        rules=list(getattr(args, "rules", None) or ()),
        model_dir=getattr(args, "model", None),
        labeler=labeler,
    )
    engine.load()
    return engine


__all__ = ["add_engine_args", "engine_from_args"]
