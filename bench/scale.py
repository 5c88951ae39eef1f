"""Batch labeling at scale: reports/s, peak memory and wall time. Prints a table; asserts nothing.

    python bench/scale.py [--reports 100000] [--source demo|openi] [--workers 1,2] [--no-spark]

Generates a corpus of ``--reports`` reports in a temporary folder (deleted at
the end; never shipped):

* ``--source demo`` (default): new reports made by resampling and recombining
  the sentences of the bundled demo corpus (``corpora/demo/reports.csv``),
  section by section (indication, findings, impression), so that every report
  is new while the wording stays that of radiology reports;
* ``--source openi``: the Open-i development reports of ``../shared``
  (findings + impression), drawn at random with new ids.

Then it runs, each as its own process, ``reportlab-nlp label CORPUS --out
labels.csv --out labels.jsonl --workers N`` for every N of ``--workers``, and
``reportlab-nlp spark-label CORPUS OUT --master local[2]`` (Parquet; needs the
``spark`` extra and Java), and prints for each: wall time (start-up included),
reports/s, and peak memory of the whole process tree (the command, its worker
processes, a fork server, Spark's JVM and Python workers): the largest sum of
the processes' RSS over samples taken every 0.1 s from /proc, and the same for
PSS (proportional set size, which counts pages shared between forked workers
once). RSS summed over forked processes counts their shared pages once per
process, so it overstates the memory really used; PSS does not.

``others`` is how many cores other processes kept busy during a run (the
machine's busy time from /proc/stat, less the CPU time of the run's processes;
this sampler's own few percent included): on a shared machine, figures taken
with ``others`` well above 0 are not the machine's. ``--repeat N`` runs the
``label`` settings N times, interleaved; ``--pick best`` shows the fastest run.

Start-up (imports, building the pipelines, the input's check pass: about 2 s)
is the same for one worker and for two, so it pulls the whole-run speed-up of
two workers below the speed-up of the labeling itself, the more so the smaller
the corpus. ``--startup-reports K`` (default 5,000; 0 to skip) also times each
setting on the first K reports of the same corpus, right after the full run,
and prints the rate after start-up, ``(N - K) / (wall(N) - wall(K))``: the
throughput a long run approaches. Both speed-ups are printed, per interleaved
pair and as the median.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import reportlab_nlp

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "corpora" / "demo" / "reports.csv"
OPENI = ROOT.parent / "shared" / "corpora" / "iu_xray" / "reports_dev.csv"
CLI = Path(sys.executable).with_name("reportlab-nlp")

_HEADER = re.compile(r"^\s*([A-Za-z][A-Za-z /]{1,30}):\s*", re.MULTILINE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9_])")
_SECTION = {
    "indication": "INDICATION",
    "history": "INDICATION",
    "clinical history": "INDICATION",
    "comparison": "COMPARISON",
    "impression": "IMPRESSION",
    "conclusion": "IMPRESSION",
}


# ---------------------------------------------------------------------------
# the corpus
# ---------------------------------------------------------------------------


def sentence_pools(path: Path) -> dict[str, list[str]]:
    """The demo corpus's sentences by section (INDICATION, COMPARISON, FINDINGS, IMPRESSION)."""
    pools: dict[str, list[str]] = {"INDICATION": [], "COMPARISON": [], "FINDINGS": [], "IMPRESSION": []}
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            text = row["text"]
            marks = list(_HEADER.finditer(text))
            spans = [("FINDINGS", 0, marks[0].start() if marks else len(text))]
            for k, m in enumerate(marks):
                end = marks[k + 1].start() if k + 1 < len(marks) else len(text)
                spans.append((_SECTION.get(m.group(1).strip().lower(), "FINDINGS"), m.end(), end))
            for section, start, end in spans:
                for sentence in _SENTENCE.split(" ".join(text[start:end].split())):
                    if len(sentence) > 3:
                        pools[section].append(sentence)
    return pools


def demo_reports(n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` new reports recombined from the demo corpus's sentences."""
    pools = sentence_pools(DEMO)
    rng = random.Random(seed)
    out = []
    for i in range(n):
        parts = []
        if pools["INDICATION"] and rng.random() < 0.5:
            parts.append("INDICATION: " + rng.choice(pools["INDICATION"]))
        if pools["COMPARISON"] and rng.random() < 0.3:
            parts.append("COMPARISON: " + rng.choice(pools["COMPARISON"]))
        parts.append("FINDINGS: " + " ".join(rng.choices(pools["FINDINGS"], k=rng.randint(2, 6))))
        parts.append("IMPRESSION: " + " ".join(rng.choices(pools["IMPRESSION"], k=rng.randint(1, 2))))
        out.append((f"gen{i:07d}", "\n".join(parts)))
    return out


def openi_reports(n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` Open-i development reports drawn at random (findings + impression), under new ids."""
    from reportlab_nlp.io.readers import ReportSource

    src = ReportSource(str(OPENI), id_col="uid", text_cols=["findings", "impression"])
    src.check()
    texts = [r.text for r in src.reports()]
    rng = random.Random(seed)
    return [(f"oi{i:07d}", rng.choice(texts)) for i in range(n)]


def write_corpus(rows: list[tuple[str, str]], path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["report_id", "text"])
        w.writerows(rows)


# ---------------------------------------------------------------------------
# measuring a process tree
# ---------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def _tree(root: int) -> list[int]:
    kids = _children()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, ()))
    return out


def _kb(path: str, field: str) -> int:
    try:
        with open(path, encoding="ascii") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Run:
    wall: float
    peak_rss_mb: float
    peak_pss_mb: float
    max_processes: int
    others: float
    """Cores kept busy by other processes during the run (the machine's busy time less the run's own)."""
    stderr: str


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pid: int) -> int:
    """utime + stime of one process, in clock ticks (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def measure(cmd: list[str], interval: float = 0.1) -> Run:
    """Run ``cmd``; sample the RSS and PSS of its process tree every ``interval`` seconds.

    The tree (the command and its descendants) is looked up again every second.
    """
    busy0 = _busy_seconds()
    ticks: dict[int, int] = {}  # CPU time of every process of the tree, as last seen
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak_rss = peak_pss = 0
    most = 0
    chunks: list[str] = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stderr.read() if proc.stderr else ""))
    reader.start()
    pids: list[int] = []
    scanned = 0.0
    while proc.poll() is None:
        if time.perf_counter() - scanned > 1.0:  # walking /proc costs CPU: find the tree once a second
            pids, scanned = _tree(proc.pid), time.perf_counter()
        most = max(most, len(pids))
        for p in pids:
            ticks[p] = max(ticks.get(p, 0), _cpu_ticks(p))
        peak_rss = max(peak_rss, sum(_kb(f"/proc/{p}/status", "VmRSS:") for p in pids))
        peak_pss = max(peak_pss, sum(_kb(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids))
        time.sleep(interval)
    reader.join()
    wall = time.perf_counter() - start
    own = sum(ticks.values()) / os.sysconf("SC_CLK_TCK")
    others = max(0.0, (_busy_seconds() - busy0) - own) / wall
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} ... failed ({proc.returncode}):\n{''.join(chunks)[-2000:]}")
    return Run(wall, peak_rss / 1024, peak_pss / 1024, most, others, "".join(chunks))


def load_average() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


# ---------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reports", type=int, default=100_000)
    ap.add_argument("--source", choices=("demo", "openi"), default="demo")
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts for `label`")
    ap.add_argument("--repeat", type=int, default=1, help="runs per setting")
    ap.add_argument(
        "--pick", choices=("median", "best"), default="median", help="which of the repeated runs is shown"
    )
    ap.add_argument(
        "--startup-reports",
        type=int,
        default=5000,
        help="also time the first K reports, for the rate after start-up (0: skip)",
    )
    ap.add_argument("--no-spark", action="store_true", help="skip spark-label")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    if args.source == "openi" and not OPENI.exists():
        raise SystemExit(f"{OPENI} not found: the Open-i reports are not beside the repository")
    rows = (openi_reports if args.source == "openi" else demo_reports)(args.reports, args.seed)
    mean = statistics.mean(len(t) for _, t in rows)
    cpu = platform.processor() or platform.machine()
    print(
        f"reportlab-nlp {reportlab_nlp.__version__}, rules engine; {os.cpu_count()} CPUs ({cpu}), "
        f"Python {platform.python_version()}; load average before: {load_average()}"
    )
    with tempfile.TemporaryDirectory(prefix="reportlab-scale-") as tmp:
        corpus = Path(tmp) / "corpus.csv"
        write_corpus(rows, corpus)
        head_n = args.startup_reports if 0 < args.startup_reports < len(rows) else 0
        head_corpus = Path(tmp) / "head.csv"
        if head_n:
            write_corpus(rows[:head_n], head_corpus)
        what = (
            "Open-i development reports, drawn at random"
            if args.source == "openi"
            else ("recombined sentences of the demo corpus")
        )
        print(
            f"corpus: {len(rows):,} reports ({what}), mean {mean:.0f} characters, "
            f"{corpus.stat().st_size / 1e6:.1f} MB CSV\n"
        )
        del rows
        head = (
            f"{'setting':<34}{'wall s':>9}{'reports/s':>11}{'peak RSS MB':>13}{'peak PSS MB':>13}{'procs':>7}"
            f"{'others':>8}"
        )
        print(head)
        print("-" * len(head))
        rates: dict[str, float] = {}

        def show(name: str, runs: list[Run]) -> None:
            ordered = sorted(runs, key=lambda r: r.wall)
            run = ordered[0] if args.pick == "best" else ordered[len(runs) // 2]
            rate = args.reports / run.wall
            rates[name] = rate
            print(
                f"{name:<34}{run.wall:>9.1f}{rate:>11.0f}{run.peak_rss_mb:>13.0f}{run.peak_pss_mb:>13.0f}"
                f"{run.max_processes:>7}{run.others:>8.2f}",
                flush=True,
            )

        counts = [int(x) for x in args.workers.split(",")]
        label_runs: dict[int, list[Run]] = {n: [] for n in counts}
        after_startup: dict[int, list[float]] = {n: [] for n in counts}  # reports/s after start-up

        def label_once(n: int, source: Path) -> Run:
            out = Path(tmp) / f"w{n}"
            cmd = [
                str(CLI),
                "label",
                str(source),
                "--out",
                str(out / "labels.csv"),
                "--out",
                str(out / "labels.jsonl"),
                "--workers",
                str(n),
                "--no-progress",
            ]
            run = measure(cmd)
            shutil.rmtree(out, ignore_errors=True)
            return run

        for r in range(args.repeat):  # interleaved, so that a slow spell of the machine hits every setting
            for n in counts:
                run = label_once(n, corpus)
                label_runs[n].append(run)
                note = ""
                if head_n:
                    head = label_once(n, head_corpus)
                    rate = (args.reports - head_n) / (run.wall - head.wall)
                    after_startup[n].append(rate)
                    note = (
                        f"; first {head_n:,} reports {head.wall:.1f} s, after start-up {rate:.0f} reports/s"
                    )
                if args.repeat > 1 or head_n:
                    print(
                        f"  run {r + 1}, --workers {n}: {run.wall:.1f} s, "
                        f"{args.reports / run.wall:.0f} reports/s, others {run.others:.2f}{note}",
                        flush=True,
                    )
        for n in counts:
            show(f"label --workers {n} (CSV + JSONL)", label_runs[n])
        if "label --workers 1 (CSV + JSONL)" in rates and "label --workers 2 (CSV + JSONL)" in rates:
            speedup = rates["label --workers 2 (CSV + JSONL)"] / rates["label --workers 1 (CSV + JSONL)"]
            print(f"{'speed-up, 2 workers vs 1':<34}{speedup:>20.2f}")
            if 1 in label_runs and 2 in label_runs:
                pairs = [one.wall / two.wall for one, two in zip(label_runs[1], label_runs[2], strict=True)]
                print(
                    "whole run, start-up included, each interleaved pair: "
                    + ", ".join(f"{p:.2f}" for p in pairs)
                    + f"; median {statistics.median(pairs):.2f}, lowest {min(pairs):.2f}"
                )
                if head_n:
                    rates2 = [two / one for one, two in zip(after_startup[1], after_startup[2], strict=True)]
                    print(
                        "after start-up, each pair (reports/s with 1 and 2 workers): "
                        + ", ".join(
                            f"{p:.2f} ({one:.0f}, {two:.0f})"
                            for p, one, two in zip(rates2, after_startup[1], after_startup[2], strict=True)
                        )
                        + f"; median {statistics.median(rates2):.2f}, lowest {min(rates2):.2f}"
                    )
        if not args.no_spark:
            try:
                import pyspark  # noqa: F401
            except ImportError:
                print("spark-label: skipped (pyspark is not installed: see the `spark` extra)")
            else:
                if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
                    print("spark-label: skipped (no Java)")
                else:
                    runs = []
                    for k in range(args.repeat):
                        cmd = [
                            str(CLI),
                            "spark-label",
                            str(corpus),
                            str(Path(tmp) / f"spark{k}"),
                            "--master",
                            "local[2]",
                            "--format",
                            "parquet",
                        ]
                        runs.append(measure(cmd))
                    show("spark-label local[2] (Parquet)", runs)
    print(
        f"\nload average after: {load_average()}; wall time includes start-up (imports, pipelines, "
        "Spark's JVM); RSS/PSS: largest sum over the process tree, sampled every 0.1 s; others: cores "
        "kept busy by other processes during the run (0 on a quiet machine)"
    )


if __name__ == "__main__":
    main()
