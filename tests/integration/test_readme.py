"""The README's command examples run, as written, in the project's venv (the one `make demo` creates).

Each ``$ ...`` line of a ```console block of README.md that runs ``reportlab-nlp``
is run with bash, in order, in one temporary folder that holds small invented
inputs under the names the README uses (``reports.csv``, ``report.txt``,
``theirs.csv``, ``../shared/corpora/iu_xray/reports_dev.csv``), with the venv's
``bin`` first on PATH. Other lines (``make ...``, ``python ../shared/tools/score.py``)
are reported as skipped with the reason. A command that exits non-zero, or
prints a traceback, fails its test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
BIN = Path(sys.executable).parent

REPORTS = """uid,findings,impression
r1,"Small left pleural effusion. No pneumothorax.",Possible right lower lobe pneumonia.
r2,Heart size is normal. The lungs are clear.,No acute disease.
r3,Mild cardiomegaly.,"Cardiomegaly, no edema."
"""
THEIRS = """uid,Pleural Effusion,Pneumothorax,Cardiomegaly
r1,1,0,
r2,0,0,0
r3,,,1
"""

EXTRA_OF = {"compare": "compare", "export": "export", "serve": "serve", "--engine model": "model"}


def console_commands(text: str) -> list[str]:
    """The ``$ `` lines of every ```console block, in order."""
    out: list[str] = []
    for block in re.findall(r"^```console\n(.*?)^```", text, re.M | re.S):
        out += [line[2:].strip() for line in block.splitlines() if line.startswith("$ ")]
    return out


COMMANDS = console_commands(README.read_text(encoding="utf-8"))


def skip_reason(command: str) -> str | None:
    words = command.split("|")[-1].split()
    if not words or words[0] != "reportlab-nlp":
        return f"not a reportlab-nlp command ({command.split()[0]}): set-up or ../shared's own tool"
    if words[1:2] == ["serve"]:
        return "serve runs until stopped (tests/integration/test_service_live.py runs it)"
    return None


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("readme")
    work = root / "work"
    work.mkdir()
    (work / "reports.csv").write_text(REPORTS, encoding="utf-8")
    (work / "theirs.csv").write_text(THEIRS, encoding="utf-8")
    (work / "report.txt").write_text("FINDINGS: Mild cardiomegaly. No pleural effusion.\n", encoding="utf-8")
    openi = root / "shared" / "corpora" / "iu_xray"
    openi.mkdir(parents=True)
    (openi / "reports_dev.csv").write_text(REPORTS, encoding="utf-8")
    return work


@pytest.fixture(scope="module")
def results(workdir: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    if not (BIN / "reportlab-nlp").exists():
        pytest.skip(f"no reportlab-nlp script in {BIN}: run `make demo` first")
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", NO_COLOR="1")
    env.pop("REPORTLAB_MODEL_DIR", None)
    out = {}
    for command in COMMANDS:
        if skip_reason(command) is None:
            out[command] = subprocess.run(
                ["bash", "-c", command], cwd=workdir, env=env, capture_output=True, text=True, timeout=300
            )
    return out


def test_the_readme_has_commands() -> None:
    assert sum(skip_reason(c) is None for c in COMMANDS) >= 8, COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_runs(command: str, results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    reason = skip_reason(command)
    if reason is not None:
        pytest.skip(reason)
    proc = results[command]
    assert proc.returncode == 0, f"$ {command}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    if " explain " in f" {command} ":
        assert re.search(r"\s(1|0|-1)\s+(positive|negative|uncertain)$", proc.stdout, re.M), proc.stdout


def test_make_demo_installs_every_extra_the_readme_uses() -> None:
    proc = subprocess.run(["make", "-n", "-B", "demo"], cwd=REPO, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        pytest.skip(f"make -n demo did not run here: {proc.stderr.strip()[:200]}")
    installed = {e for group in re.findall(r'"\.\[([^\]]+)\]"', proc.stdout) for e in group.split(",")}
    needed = {extra for c in COMMANDS for key, extra in EXTRA_OF.items() if f"reportlab-nlp {key}" in c}
    needed |= {"model"} if any("--engine hybrid" in c or "--engine model" in c for c in COMMANDS) else set()
    text = README.read_text(encoding="utf-8")
    needed |= set(re.findall(r'pip install "reportlab-nlp\[(\w+)\]"', text)) - {"train", "spark"}
    assert needed <= installed, f"make demo installs {sorted(installed)}; the README needs {sorted(needed)}"
    assert "train" not in installed and "dev" not in installed  # never torch for the demo
