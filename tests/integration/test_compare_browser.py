"""report.html in a real browser: headless Chromium renders the summary table and the chart, offline.

Chromium is Debian's `chromium` package (`make chromium` installs it when run
as root); the test skips, saying so, where it is not installed. No request can
leave the page: the HTML names no external URL, and Chromium runs with every
host name unresolvable and no background networking, yet the page renders.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from reportlab_nlp.evaluate import compare
from reportlab_nlp.evaluate.outputs import write_outputs
from reportlab_nlp.evaluate.report_html import F1_COLOR, HEADER_BG, KAPPA_COLOR
from reportlab_nlp.types import Assertion, Mention

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LABELS = ["Cardiomegaly", "Edema", "Pleural Effusion", "Pneumothorax", "Atelectasis", "Lung Opacity"]
URL_ATTRIBUTE = re.compile(r"""\b(?:src|href|action|poster|data|srcset)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


def rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report from 40 hand-made reports and 6 labels, with evidence for the disagreements."""
    theirs: dict[str, dict[str, object]] = {}
    ours: dict[str, dict[str, object]] = {}
    for i in range(40):
        rid = f"R{i:03d}"
        theirs[rid] = {lab: int((i + k) % (k + 3) == 0) for k, lab in enumerate(LABELS)}
        ours[rid] = {lab: int((i + k) % (k + 3) == 0) ^ int(i % (7 + k) == 0) for k, lab in enumerate(LABELS)}
    sentence = "Mild cardiomegaly without pulmonary edema."

    def evidence(ids: set[str]) -> dict[str, dict[str, tuple[Mention, ...]]]:
        m = Mention(
            "Cardiomegaly", "cardiomegaly", 5, 17, sentence, 0, len(sentence), "findings", Assertion.PRESENT
        )
        return {rid: {"Cardiomegaly": (m,)} for rid in ids}

    c = compare(theirs, ours, min_pos=1, n_boot=200, evidence=evidence)
    out = tmp_path_factory.mktemp("browser")
    write_outputs(c, out, title="Donor comparison: test site")
    return out / "report.html"


def test_html_names_no_external_resource(report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    assert URL_ATTRIBUTE.search(page) is None
    assert re.search(r"url\(\s*['\"]?(?!#)", page) is None
    for banned in ("<script", "<link", "@import", "<iframe", "<img", "<object", "<embed"):
        assert banned not in page.lower(), banned
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) <= {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
    }


def test_chromium_renders_table_and_chart_offline(report: Path, tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip(
            "Chromium is not installed (Debian's `chromium` package; `make chromium` installs it as root)"
        )
    shot = tmp_path / "report.png"
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
        "--window-size=1280,1800",
        report.as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 1800)
    width, height = image.size
    pixels = image.load()
    assert pixels is not None

    def rows_with(color: str) -> list[int]:
        target = rgb(color)
        return [
            y for y in range(0, height, 2) if sum(pixels[x, y] == target for x in range(0, width, 2)) >= 20
        ]

    # the summary table's header row (its background colour across the table's width)
    header_rows = rows_with(HEADER_BG)
    # the chart: the F1 bars and the kappa dots
    bar_rows = rows_with(F1_COLOR)
    target = rgb(KAPPA_COLOR)
    dots = sum(pixels[x, y] == target for x in range(0, width, 2) for y in range(0, height, 2))
    assert header_rows, "no summary table header in the screenshot"
    assert len(bar_rows) >= 6 * 3, "no F1 bars in the screenshot"
    assert dots >= 6 * 4, "no kappa dots in the screenshot"
    assert min(header_rows) < min(bar_rows), "the summary table comes before the chart"
    # text was drawn: many dark pixels in the page's top part (the heading and the table)
    dark = sum(sum(pixels[x, y]) < 200 for x in range(0, width, 4) for y in range(0, 600, 4))
    assert dark > 500
