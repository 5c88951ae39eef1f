"""Study-linked exports: labels tied to the imaging studies they describe, with provenance.

Formats (``reportlab-nlp export --to FORMAT``): long JSONL, wide and long CSV,
MIDRC Gen3 submission TSVs, DICOM SR (Comprehensive 3D SR, TID 1500) and FHIR
R4 bundles. Modules, in data-flow order:

- :mod:`.manifest`: the report -> study manifest, validated, and the linkage warnings;
- :mod:`.provenance`: the provenance record every export carries;
- :mod:`.codes`: the code table ``rules/codes.yaml`` (SNOMED CT, DICOM, local codes);
- :mod:`.records`: :class:`LabeledReport`, what every format consumes;
- :mod:`.tables`, :mod:`.midrc`, :mod:`.dicom_sr`, :mod:`.fhir`: the formats
  (the last two need the ``export`` extra: highdicom, fhir.resources);
- :mod:`.run`: one run writing several formats atomically; :mod:`.cli`: the commands.

Importing this package does not import highdicom or fhir.resources.
"""

from __future__ import annotations

from .codes import CodeTable, load_codes
from .manifest import LinkageLog, Manifest, StudyLink, is_valid_uid, read_manifest, uid_problem
from .provenance import Provenance
from .records import LabeledReport
from .run import FORMATS, ExportOptions, run_export

__all__ = [
    "FORMATS",
    "CodeTable",
    "ExportOptions",
    "LabeledReport",
    "LinkageLog",
    "Manifest",
    "Provenance",
    "StudyLink",
    "is_valid_uid",
    "load_codes",
    "read_manifest",
    "run_export",
    "uid_problem",
]
