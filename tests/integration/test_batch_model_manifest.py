"""``label --engine hybrid --manifest``: the study-linked JSONL keeps what a model engine adds.

It recorded ``engine: rules`` and ``model_sha256: null`` and dropped ``probabilities``
and ``review``, which are there without ``--manifest`` (issue 18).
"""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

from tests.integration.test_batch_cli import _script


def _manifest(corpus: Path, path: Path) -> Path:
    with open(corpus, encoding="utf-8", newline="") as f:
        ids = [row["report_id"] for row in csv.DictReader(f)]
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["report_id", "study_uid", "case_id"])
        for i, rid in enumerate(ids):
            w.writerow([rid, f"1.2.826.0.1.3680043.10.{i + 1}", f"case-{i}"])
    return path


def _label(*args: str | Path) -> list[dict[str, object]]:
    argv = [_script(), "label", *map(str, args), "--no-progress"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = Path(str(args[args.index("--out") + 1]))
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def test_hybrid_with_a_manifest_keeps_probabilities_review_and_provenance(
    model_dir: Path, corpus: Path, tmp_path: Path
) -> None:
    manifest = _manifest(corpus, tmp_path / "studies.csv")
    common = ("--engine", "hybrid", "--model", model_dir)
    plain = _label(corpus, "--out", tmp_path / "plain.jsonl", *common)
    linked = _label(corpus, "--out", tmp_path / "linked.jsonl", "--manifest", manifest, *common)
    sha = (model_dir / "manifest.json").read_text(encoding="utf-8")
    assert len(linked) == len(plain)
    for p, m in zip(plain, linked, strict=True):
        assert m["probabilities"] == p["probabilities"] and m["review"] == p["review"]
        assert m["labels"] == p["labels"]
        prov = m["provenance"]
        assert isinstance(prov, dict)
        assert prov["engine"] == "hybrid" and prov["model_sha256"]
        assert isinstance(prov["model_sha256"], str) and prov["model_sha256"] in sha  # the model's file
