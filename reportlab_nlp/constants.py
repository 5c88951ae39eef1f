"""Names the whole toolkit shares, defined once (every other module imports them from here)."""

from __future__ import annotations

TOOLKIT = "reportlab-nlp"
"""The toolkit's name, as provenance records, exports and model manifests carry it."""

ENGINE_NAMES: tuple[str, ...] = ("rules", "model", "hybrid")
"""Every labeling engine the command line and the service accept."""

MODEL_MANIFEST = "manifest.json"
"""The file of a model folder that lists its files, their sha256 and the class order."""

__all__ = ["ENGINE_NAMES", "MODEL_MANIFEST", "TOOLKIT"]
