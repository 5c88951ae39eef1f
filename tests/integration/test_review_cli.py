"""``reportlab-nlp review``: the CSV, the HTML page (in headless Chromium), and its errors.

Every report here is invented for the test.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from reportlab_nlp.cli import main
from reportlab_nlp.review import review_scores

REPORTS = [
    ("q1", "FINDINGS: Small left pleural effusion. No pneumothorax.\nIMPRESSION: Possible pneumonia."),
    ("q2", "FINDINGS: The lungs are clear. Heart size is normal. No pleural effusion."),
    ("q3", "IMPRESSION: Mild cardiomegaly. Possible small right effusion versus atelectasis."),
    ("q4", "FINDINGS: Pleural effusion. No pleural effusion on the left. Lungs are hyperinflated."),
    ("q5", "FINDINGS: Heart size is borderline. Vascular congestion may represent mild edema."),
]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def call(*args: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = main([str(a) for a in args], stdout=out, stderr=err)
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("review") / "reports.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["report_id", "text"])
        w.writerows(REPORTS)
    return path


def labeled(corpus: Path, engine: str) -> Path:
    out = corpus.with_name(f"{engine}.jsonl")
    if not out.exists():
        rc, _, err = call(
            "label", corpus, "--out", out, "--engine", engine, "--no-progress", "--workers", "1"
        )
        assert rc == 0, err
    return out


def review(jsonl: Path, tmp: Path, top: str) -> tuple[int, str, list[dict[str, str]], str]:
    rc, _, err = call("review", jsonl, "--top", top, "--csv", tmp / "q.csv", "--html", tmp / "q.html")
    if rc != 0:
        return rc, err, [], ""
    with open(tmp / "q.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return rc, err, rows, (tmp / "q.html").read_text(encoding="utf-8")


def test_rules_jsonl_top_n_csv_and_page_say_no_model_signals(corpus: Path, tmp_path: Path) -> None:
    rc, err, rows, page = review(labeled(corpus, "rules"), tmp_path, "7")
    assert rc == 0, err
    assert [r["rank"] for r in rows] == [str(i) for i in range(1, 8)]
    assert list(rows[0]) == ["rank", "report_id", "label", "value", "score", "reasons", "evidence"]
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert "no model signals" in err and "No model signals" in page
    # the top cells are the doubtful ones: hedged or conflicting, with their evidence spans
    assert any("hedged" in r["reasons"] or "conflicting" in r["reasons"] for r in rows[:3])
    with_evidence = [r["evidence"] for r in rows if r["evidence"]]
    assert with_evidence and all(re.match(r"\d+-\d+ \"", e) for e in with_evidence)
    assert (
        "<mark>" in page
        and "<script" not in page.lower()
        and "http" not in page.replace("http://www.w3.org", "")
    )


def test_top_percent_counts_the_share_of_all_cells(corpus: Path, tmp_path: Path) -> None:
    jsonl = labeled(corpus, "rules")
    cells = sum(len(json.loads(line)["labels"]) for line in jsonl.read_text().splitlines())
    rc, err, rows, _ = review(jsonl, tmp_path, "2%")
    assert rc == 0, err
    assert len(rows) == -(-cells * 2 // 100)


def test_hybrid_jsonl_carries_the_score_and_the_page_uses_the_model(corpus: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason="the hybrid engine needs the `model` extra")
    jsonl = labeled(corpus, "hybrid")
    for line in jsonl.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        written = rec.pop("review_score")
        assert set(written) == set(rec["labels"]) and written == review_scores(rec)
    rc, err, rows, page = review(jsonl, tmp_path, "5")
    assert rc == 0, err
    assert "Model signals used" in page
    assert (
        "model signals used" in err and len(rows) == 5 and "model p=" in "".join(r["reasons"] for r in rows)
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            '{"id": "a", "labels": {}}\n{"id": "b", "labels"\n',
            r"line 2: expected a JSON labels record, found invalid",
        ),
        ('{"id": "a", "labels": []}\n', r"line 1: field 'labels': expected an object, found list"),
        (
            '{"id": "a", "labels": {"Edema": 2}}\n',
            r"line 1: field 'labels.Edema': expected 1, 0, -1 or null, found 2",
        ),
        ('{"labels": {}}\n', r"line 1: field 'id' is missing"),
        ("[1, 2]\n", r"line 1: expected a labels record \(a JSON object\), found list"),
        (
            '{"id": "a", "labels": {"Edema": 1}, "probabilities": {"Edema": 1.5}}\n',
            r"field 'probabilities.Edema': expected a number in \[0, 1\], found 1.5",
        ),
        ("", r"expected labels records, found none"),
    ],
)
def test_bad_input_names_file_line_field_expected_found(tmp_path: Path, content: str, expected: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content, encoding="utf-8")
    rc, err, _, _ = review(bad, tmp_path, "5")
    assert rc == 2 and str(bad) in err and re.search(expected, err), err
    assert "Traceback" not in err
    assert not (tmp_path / "q.csv").exists() and not (tmp_path / "q.html").exists()


def test_missing_file_and_bad_top_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, err, _, _ = review(tmp_path / "nope.jsonl", tmp_path, "5")
    assert rc == 2 and "nope.jsonl: no such labels file" in err
    with pytest.raises(SystemExit) as e:
        main(["review", str(tmp_path / "x.jsonl"), "--top", "0%"])
    assert e.value.code == 2
    assert (
        "expected a number of cells (e.g. 50) or a percentage of them (e.g. 2%), found '0%'"
        in capsys.readouterr().err
    )


def test_chromium_renders_the_queue_with_highlighted_evidence(corpus: Path, tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip(
            "Chromium is not installed (Debian's `chromium` package; `make chromium` installs it as root)"
        )
    from PIL import Image

    from reportlab_nlp.evaluate.report_html import HEADER_BG

    rc, err, _, _ = review(labeled(corpus, "rules"), tmp_path, "10")
    assert rc == 0, err
    shot = tmp_path / "q.png"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--hide-scrollbars",
        f"--screenshot={shot}",
        "--window-size=1280,1400",
        (tmp_path / "q.html").as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    pixels = image.load()
    assert pixels is not None
    width, height = image.size

    def count(color: str) -> int:
        target = tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))
        return sum(pixels[x, y] == target for x in range(0, width, 2) for y in range(0, height, 2))

    assert count(HEADER_BG) > 200, "no table header in the screenshot"
    assert count("#ffe08a") > 20, "no highlighted evidence (<mark>) in the screenshot"
    dark = sum(sum(pixels[x, y]) < 200 for x in range(0, width, 4) for y in range(0, 500, 4))
    assert dark > 500, "no text drawn"
