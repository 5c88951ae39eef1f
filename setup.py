"""Ships the trained models of ``models/`` inside the package, as ``reportlab_nlp/_models/<name>/``.

Everything else about the build is in pyproject.toml. The model folders (those
with a ``manifest.json``; the files it lists, the manifest and the card) are
copied into the build at ``build_py`` time, so that an installed
``reportlab-nlp`` finds its model from any working folder
(``reportlab_nlp/modelpath.py``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithModels(build_py):  # type: ignore[misc]
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "reportlab_nlp" / "_models"
        for manifest in sorted((ROOT / "models").glob("*/manifest.json")):
            listed = json.loads(manifest.read_text(encoding="utf-8")).get("files", {})
            folder = target / manifest.parent.name
            folder.mkdir(parents=True, exist_ok=True)
            for name in [*listed, "manifest.json", "README.md"]:
                source = manifest.parent / name
                if source.is_file():
                    shutil.copyfile(source, folder / name)


setup(cmdclass={"build_py": BuildPyWithModels})
