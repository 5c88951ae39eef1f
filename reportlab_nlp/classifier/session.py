"""Inference on an exported model folder: ``tokenizers`` + ONNX Runtime + numpy, no torch.

:class:`ModelSession` follows the package's estimator rule: the constructor
stores settings; :meth:`ModelSession.load` reads ``manifest.json``, checks
the sha256 of every file it lists (a mismatch raises
:class:`~reportlab_nlp.errors.ModelIntegrityError` naming the file), warns
when another reportlab-nlp version exported the model, and reads the
tokenizer and calibration; the ONNX Runtime session opens on first use.

Reports are tokenized in one call, sorted by length and run in batches padded
to their longest member (dynamic padding), then put back in input order: an
unsorted batch would pad every report to the longest one of the batch.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ModelError
from ..types import LabelValue
from .calibrate import Calibration
from .hybrid import OFF_THRESHOLD, model_value
from .manifest import MODEL_FILES, TOKENIZER_FILE, check_toolkit_version, read_manifest, verify_files

Array = NDArray[Any]


@dataclass(frozen=True)
class ModelOutput:
    """The model's outputs for N reports.

    Attributes
    ----------
    logits
        ``(N, L, 4)`` raw logits.
    probs
        ``(N, L, 4)`` calibrated class probabilities (blank, positive, negative, uncertain).
    present
        ``(N, L)`` calibrated probability that each label is present (positive or uncertain).
    values
        Per report, per label: the model's value at the label's threshold.
    """

    logits: Array
    probs: Array
    present: Array
    values: list[list[LabelValue]]


class ModelSession:
    """An exported model, ready to label text.

    Parameters
    ----------
    model_dir
        The model folder (``models/<name>``).
    variant
        ``int8`` (default: the quantized model) or ``fp32``.
    threads
        ONNX Runtime intra-op threads (None: ONNX Runtime's default, every core).
    batch_size
        Reports per ONNX Runtime call.
    verify
        Check every file's sha256 against the manifest on :meth:`load`.
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        variant: str = "int8",
        threads: int | None = None,
        batch_size: int = 32,
        verify: bool = True,
    ) -> None:
        if variant not in MODEL_FILES:
            raise ModelError(f"unknown model variant {variant!r}; expected one of: {', '.join(MODEL_FILES)}")
        if batch_size < 1:
            raise ModelError(f"batch_size must be at least 1, got {batch_size}")
        self.model_dir = Path(model_dir)
        self.variant = variant
        self.threads = threads
        self.batch_size = batch_size
        self.verify = verify
        self.manifest: dict[str, Any] = {}
        self.labels: list[str] = []
        self.thresholds: dict[str, float | None] = {}
        self.calibration: Calibration | None = None
        self.sha256 = ""
        self._tokenizer: Any = None
        self._session: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """The model's name (from the manifest)."""
        return str(self.manifest.get("name", self.model_dir.name))

    @property
    def model_path(self) -> Path:
        return self.model_dir / MODEL_FILES[self.variant]

    def load(self) -> ModelSession:
        """Read the manifest, verify the files, read the tokenizer and calibration (idempotent).

        Raises
        ------
        ModelError
            A missing or malformed manifest or file.
        ModelIntegrityError
            A file whose sha256 does not match the manifest (named in the message).
        ImportError
            ``tokenizers`` is not installed (the ``model`` extra).
        """
        if self._tokenizer is not None:
            return self
        from tokenizers import Tokenizer

        if not (self.model_dir / "manifest.json").is_file():
            raise ModelError(
                f"{self.model_dir}: not a model folder (no manifest.json); name one with --model DIR "
                "(a folder that export-model wrote, e.g. models/minilm-openi), or make one: make model"
            )
        manifest = read_manifest(self.model_dir)
        name = MODEL_FILES[self.variant]
        if name not in manifest["files"]:
            raise ModelError(
                f"{self.model_dir / 'manifest.json'}: lists no {name} (the {self.variant} model)"
            )
        if self.verify:
            verify_files(self.model_dir, manifest)
        check_toolkit_version(manifest, self.model_dir)
        self.manifest = manifest
        self.labels = [str(x) for x in manifest["labels"]]
        self.thresholds = {
            k: (None if v is None else float(v)) for k, v in manifest.get("thresholds", {}).items()
        }
        try:
            self.calibration = Calibration.from_dict(
                manifest.get("calibration", {"method": "none"}), self.labels
            )
        except ValueError as e:
            raise ModelError(f"{self.model_dir / 'manifest.json'}: calibration: {e}") from e
        self.sha256 = str(manifest["files"][name]["sha256"])
        tokenizer = Tokenizer.from_file(str(self.model_dir / TOKENIZER_FILE))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=int(manifest["max_length"]))
        self._tokenizer = tokenizer
        return self

    @property
    def session(self) -> Any:
        """The ONNX Runtime session, opened on first use."""
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = self._open()
        return self._session

    def _open(self) -> Any:
        import onnxruntime as ort

        self.load()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        options.inter_op_num_threads = 1
        if self.threads:
            options.intra_op_num_threads = self.threads
        return ort.InferenceSession(str(self.model_path), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text (truncated to the model's max length)."""
        self.load()
        return [e.ids for e in self._tokenizer.encode_batch(list(texts))]

    def logits(self, texts: Sequence[str]) -> Array:
        """``(N, L, 4)`` float32 logits, batched by length with dynamic padding, in input order."""
        encoded = self.encode(texts)
        return batched_logits(self.session, encoded, len(self.labels), self.batch_size)

    def predict(self, texts: Sequence[str], *, values: bool = True) -> ModelOutput:
        """Logits, calibrated probabilities and values (at each label's threshold) for ``texts``.

        ``values=False`` leaves ``values`` empty (the hybrid decides its own values).
        """
        logits = self.logits(texts)
        assert self.calibration is not None  # set by load()
        probs, present = self.calibration.apply(logits)
        if not values:
            return ModelOutput(logits, probs, present, [])
        cuts = [_cut(self.thresholds.get(label)) for label in self.labels]
        rows = probs.tolist()
        flat = present.tolist()
        out = [
            [model_value(rows[i][j], flat[i][j], cuts[j]) for j in range(len(self.labels))]
            for i in range(len(texts))
        ]
        return ModelOutput(logits, probs, present, out)


def _cut(threshold: float | None) -> float:
    return OFF_THRESHOLD if threshold is None else threshold


def pad(encoded: Sequence[Sequence[int]]) -> tuple[Array, Array]:
    """(input_ids, attention_mask) as int64, padded with 0 to the longest sequence."""
    width = max(1, max((len(e) for e in encoded), default=1))
    ids = np.zeros((len(encoded), width), dtype=np.int64)
    mask = np.zeros((len(encoded), width), dtype=np.int64)
    for row, e in enumerate(encoded):
        ids[row, : len(e)] = e
        mask[row, : len(e)] = 1
    return ids, mask


def batched_logits(session: Any, encoded: Sequence[Sequence[int]], n_labels: int, batch_size: int) -> Array:
    """Run an ONNX Runtime session over token ids: sorted by length, dynamic padding, input order back.

    Parameters
    ----------
    session
        An ``onnxruntime.InferenceSession`` of an exported model.
    encoded
        Token ids per report.
    n_labels
        Labels of the model.
    batch_size
        Reports per call.
    """
    out = np.zeros((len(encoded), n_labels, 4), dtype=np.float32)
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        ids, mask = pad([encoded[i] for i in idx])
        out[idx] = session.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0]
    return out


__all__ = ["ModelOutput", "ModelSession", "batched_logits", "pad"]
