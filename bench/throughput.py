"""Throughput and memory of the rule labeler. Prints tables; asserts nothing.

    python bench/throughput.py [--repeat 3] [--passes 3] [--memory-reports 100000] [--skip-memory]

* reports/s on the Open-i development reports (../shared/corpora/iu_xray,
  findings + impression, as the command line reads them), one process, and two
  processes (a pool that builds one labeler per worker): the median of
  ``--repeat`` runs, each labeling the corpus ``--passes`` times after a warm-up;
* peak resident memory of ``reportlab-nlp label`` on a generated CSV of
  ``--memory-reports`` reports (the development reports repeated under new ids;
  the file is written to a temporary folder and deleted), CSV and JSONL out.

* with a model installed (``--model``, default ``models/``: a model folder or a folder holding
  one): the transformer classifier under ONNX Runtime, fp32 and int8, reports/s at batch 1, 8
  and 32 (sorted by length, dynamic padding; tokenization included), one process; the hybrid
  engine (rules + int8 model) at batch 32; and the median latency of a single-report ``model``
  call after warm-up. Without a model it says so and skips (``--skip-model`` skips it anyway).

Falls back to the bundled demo corpus when ../shared is absent (and says so).
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import reportlab_nlp
from reportlab_nlp.io.readers import ReportSource

ROOT = Path(__file__).resolve().parents[1]
OPENI = ROOT.parent / "shared" / "corpora" / "iu_xray" / "reports_dev.csv"
DEMO = ROOT / "corpora" / "demo" / "reports.csv"


def load_texts() -> tuple[str, list[str], list[list[str]]]:
    """(corpus name, report texts, raw column values for regenerating a CSV)."""
    if OPENI.exists():
        src = ReportSource(str(OPENI), id_col="uid", text_cols=["findings", "impression"])
        name = f"Open-i development reports ({OPENI.name})"
    else:
        src = ReportSource(str(DEMO), id_col="report_id", text_cols=["text"])
        name = "bundled demo corpus (../shared not found)"
    src.check()
    texts = [r.text for r in src.reports()]
    with open(OPENI if OPENI.exists() else DEMO, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    cols = ["findings", "impression"] if OPENI.exists() else ["text"]
    raw = [[row[c] for c in cols] for row in rows]
    return name, texts, raw


_WORKER: reportlab_nlp.Labeler | None = None


def _init_worker() -> None:
    global _WORKER
    _WORKER = reportlab_nlp.load()
    for _ in _WORKER.pipe(["Warm-up. No effusion."] * 20):
        pass


def _work(chunk: list[str]) -> int:
    assert _WORKER is not None
    n = 0
    for _ in _WORKER.pipe(chunk, batch_size=256):
        n += 1
    return n


def one_process(texts: list[str], passes: int) -> float:
    labeler = reportlab_nlp.load()
    for _ in labeler.pipe(texts[:200]):
        pass
    work = texts * passes
    start = time.perf_counter()
    n = sum(1 for _ in labeler.pipe(work, batch_size=256))
    return n / (time.perf_counter() - start)


def two_processes(texts: list[str], passes: int, pool: mp.pool.Pool) -> float:
    work = texts * passes
    size = 256
    chunks = [work[i : i + size] for i in range(0, len(work), size)]
    start = time.perf_counter()
    n = sum(pool.imap(_work, chunks))
    return n / (time.perf_counter() - start)


def memory(raw: list[list[str]], n_reports: int) -> tuple[float, float]:
    """Peak RSS (MB) of the CLI labeling ``n_reports`` reports, and its wall time (s)."""
    exe = Path(sys.executable).with_name("reportlab-nlp")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.csv"
        with open(path, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            cols = ["findings", "impression"] if len(raw[0]) == 2 else ["text"]
            w.writerow(["uid", *cols])
            for i in range(n_reports):
                w.writerow([f"r{i:07d}", *raw[i % len(raw)]])
        cmd = [str(exe), "label", str(path), "--id-col", "uid", "--no-progress", "--workers", "1"]
        for c in cols:
            cmd += ["--text-col", c]
        cmd += ["--out", str(Path(tmp) / "out.csv"), "--out", str(Path(tmp) / "out.jsonl")]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        wall = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak_kb / 1024, wall


def model_tables(texts: list[str], model_dir: str | None, repeat: int) -> None:
    """Reports/s of the ONNX model (fp32, int8; batch 1, 8, 32), the hybrid engine, single-call latency."""
    from reportlab_nlp.engines import find_models, get_engine
    from reportlab_nlp.errors import ReportlabError
    from reportlab_nlp.types import Report

    root = Path(model_dir) if model_dir else ROOT / "models"
    found = find_models(root)
    if len(found) != 1:
        what = "no model is installed" if not found else f"{len(found)} models are installed (name one)"
        print(f"\nmodel engines: skipped: {what} under {root} (make model builds one)")
        return
    try:
        from reportlab_nlp.classifier.session import ModelSession
    except ImportError as e:
        print(f"\nmodel engines: skipped: {e.name} is missing (pip install 'reportlab-nlp[model]')")
        return
    reports = [Report(str(i), t) for i, t in enumerate(texts)]
    print(
        f"\nmodel engines: {found[0]} (ONNX Runtime, one process, default threads; median of {repeat} runs)"
    )
    print(f"{'variant':<10}{'batch':>6}{'reports/s':>12}{'min':>10}{'max':>10}")
    listed = json.loads((found[0] / "manifest.json").read_text(encoding="utf-8")).get("variants", {})
    for variant in ("fp32", "int8"):
        if variant not in listed:
            print(f"{variant:<10}  skipped: not in this model folder (exported with --int8-only)")
            continue
        for batch in (1, 8, 32):
            session = ModelSession(found[0], variant=variant, batch_size=batch).load()
            session.logits(texts[:64])  # warm-up
            rates = []
            for _ in range(repeat):
                start = time.perf_counter()
                session.logits(texts)
                rates.append(len(texts) / (time.perf_counter() - start))
            med = statistics.median(rates)
            print(f"{variant:<10}{batch:>6}{med:>12.0f}{min(rates):>10.0f}{max(rates):>10.0f}")
    try:
        hybrid = get_engine("hybrid", model_dir=found[0])
        hybrid.warm_up()
        model = get_engine("model", model_dir=found[0])
        model.warm_up()
    except ReportlabError as e:
        print(f"engines: skipped: {e}")
        return
    rules = get_engine("rules")
    rules.warm_up()
    chunk = 32
    print(
        f"\nengines, predict_many over the corpus in chunks of {chunk} reports (input order, as a "
        f"service batch), median of {repeat} runs"
    )
    print(f"{'engine':<22}{'reports/s':>12}{'min':>10}{'max':>10}{'ms/report':>11}")
    per_report: dict[str, float] = {}
    for name, engine in (("rules", rules), ("model (int8)", model), ("hybrid (rules + int8)", hybrid)):
        rates = []
        for _ in range(repeat):
            start = time.perf_counter()
            for i in range(0, len(reports), chunk):
                engine.predict_many(reports[i : i + chunk])
            rates.append(len(reports) / (time.perf_counter() - start))
        med = statistics.median(rates)
        per_report[name] = 1000 / med
        print(f"{name:<22}{med:>12.0f}{min(rates):>10.0f}{max(rates):>10.0f}{1000 / med:>11.2f}")
    both = per_report["rules"] + per_report["model (int8)"]
    print(
        f"hybrid costs {per_report['hybrid (rules + int8)']:.2f} ms/report; rules + model cost {both:.2f} "
        f"({per_report['hybrid (rules + int8)'] / both:.0%} of that)"
    )
    times = []
    for r in reports[:300]:
        start = time.perf_counter()
        model.predict_many([r])
        times.append((time.perf_counter() - start) * 1000)
    print(f"single-report model call (int8), median of {len(times)}: {statistics.median(times):.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--memory-reports", type=int, default=100_000)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--model", default=None, help="model folder, or a folder holding one (default: models/)")
    ap.add_argument("--skip-model", action="store_true", help="skip the model engines")
    args = ap.parse_args()

    name, texts, raw = load_texts()
    print(f"corpus: {name}: {len(texts)} reports, mean {statistics.mean(map(len, texts)):.0f} characters")
    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    runs = f"median of {args.repeat} runs x {args.passes} passes"
    print(f"reportlab-nlp {reportlab_nlp.__version__}, rules engine; {runs}\n")

    one = [one_process(texts, args.passes) for _ in range(args.repeat)]
    ctx = mp.get_context("fork")
    with ctx.Pool(2, initializer=_init_worker) as pool:
        pool.map(_work, [texts[:50], texts[50:100]])  # warm both workers
        two = [two_processes(texts, args.passes, pool) for _ in range(args.repeat)]
    m1, m2 = statistics.median(one), statistics.median(two)
    print(f"{'setting':<28}{'reports/s':>12}{'min':>10}{'max':>10}")
    print(f"{'1 process':<28}{m1:>12.0f}{min(one):>10.0f}{max(one):>10.0f}")
    print(f"{'2 processes (pool)':<28}{m2:>12.0f}{min(two):>10.0f}{max(two):>10.0f}")
    print(f"{'speed-up':<28}{m2 / m1:>12.2f}")

    if not args.skip_model:
        model_tables(texts, args.model, args.repeat)

    if not args.skip_memory:
        peak, wall = memory(raw, args.memory_reports)
        rate = args.memory_reports / wall
        cols = f"{'reports':>12}{'peak RSS MB':>14}{'wall s':>10}{'reports/s':>12}"
        head = f"{'memory (CLI, 1 process)':<28}{cols}"
        print("\n" + head)
        n = args.memory_reports
        print(f"{'label CSV -> CSV + JSONL':<28}{n:>12}{peak:>14.0f}{wall:>10.1f}{rate:>12.0f}")


if __name__ == "__main__":
    main()
