"""Load test of the HTTP service on loopback. Prints tables; asserts nothing (exit 1 if a request failed).

    python bench/load_service.py [--engines rules,model,hybrid] [--requests 2000] [--clients 4]
                                 [--batch-requests 100] [--batch-size 32] [--micro-batch]

For each engine, starts ``reportlab-nlp serve`` (a real uvicorn, one worker,
127.0.0.1, a free port), waits for ``/readyz``, then sends requests from
concurrent httpx clients (asyncio tasks in this process) and prints, per
scenario, requests/s, reports/s and the p50/p95/p99 latency (send to last byte
received, in ms), and the errors (any status but 200, any transport error):

* single reports from 1 client (``--single-requests``, the latency floor);
* single reports from ``--clients`` clients, ``--requests`` requests in all,
  with the server's resident memory (VmRSS of its process, read from /proc)
  sampled every 100 requests: after the first and after the last thousand;
* batches of ``--batch-size`` reports from 1 and from ``--clients`` clients.

``--micro-batch`` repeats the concurrent single-report scenario with
REPORTLAB_MICRO_BATCH=1 to see whether combining requests pays. An engine that
cannot start (``model``, ``hybrid`` without a model) is reported as not
available, with the server's reason. Reports: the Open-i development reports
(../shared/corpora/iu_xray, findings + impression) when present, else the
bundled demo corpus. The load generator runs on the same machine as the
server: on a 2-core machine it takes CPU from it, so these are end-to-end
figures of one box; the load average is printed before each engine.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import importlib.util
import itertools
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from reportlab_nlp.io.readers import ReportSource

ROOT = Path(__file__).resolve().parents[1]
OPENI = ROOT.parent / "shared" / "corpora" / "iu_xray" / "reports_dev.csv"
DEMO = ROOT / "corpora" / "demo" / "reports.csv"
TARGET_P95_MS = {"rules": 15.0, "hybrid": 40.0}
MEMORY_TOLERANCE = 0.10


def load_texts() -> tuple[str, list[str]]:
    """(corpus name, report texts)."""
    if OPENI.exists():
        src = ReportSource(str(OPENI), id_col="uid", text_cols=["findings", "impression"])
        name = f"Open-i development reports ({OPENI.name})"
    else:
        src = ReportSource(str(DEMO), id_col="report_id", text_cols=["text"])
        name = "bundled demo corpus (../shared not found)"
    src.check()
    return name, [r.text for r in src.reports()]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (VmRSS), from /proc; 0 where /proc is missing."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(engine: str, workdir: Path, extra_env: dict[str, str]) -> Server | str:
    """A ready server, or the reason it did not start."""
    port = free_port()
    log = workdir / f"server-{engine}-{port}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPORTLAB_")}
    env.update(extra_env)
    script = Path(sys.executable).parent / "reportlab-nlp"
    command = [str(script) if script.exists() else "reportlab-nlp"]
    command += ["serve", "--engine", engine, "--port", str(port), "--log-level", "warning"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = log.read_text(errors="replace").strip().splitlines()
            return text[-1] if text else f"exit status {process.returncode}"
        try:
            if httpx.get(server.url + "/readyz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    return "not ready within 120 s"


@dataclass
class Result:
    scenario: str
    clients: int
    requests: int
    reports: int
    seconds: float
    latencies_ms: list[float]
    errors: int
    rss_mb: list[tuple[int, float]] = field(default_factory=list)

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies_ms)
        if not xs:
            return float("nan")
        return xs[min(len(xs) - 1, max(0, round(q / 100 * len(xs)) - 1))]


async def run_scenario(
    server: Server,
    scenario: str,
    bodies: list[tuple[str, bytes, int]],
    clients: int,
    sample_rss: bool = False,
) -> Result:
    """Send every (path, body, reports) once, from ``clients`` concurrent tasks."""
    latencies: list[float] = []
    errors = 0
    done = 0
    rss: list[tuple[int, float]] = []
    queue = iter(bodies)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as client:

        async def worker() -> None:
            nonlocal errors, done
            for path, body, _ in queue:
                started = time.perf_counter()
                try:
                    response = await client.post(path, content=body, headers=headers)
                    await response.aread()
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - started) * 1000.0)
                errors += not ok
                done += 1
                if sample_rss and done % 100 == 0:
                    rss.append((done, rss_mb(server.process.pid)))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        seconds = time.perf_counter() - started
    return Result(
        scenario, clients, len(bodies), sum(n for _, _, n in bodies), seconds, latencies, errors, rss
    )


def single_bodies(texts: list[str], n: int, start: int = 0) -> list[tuple[str, bytes, int]]:
    import json

    cycle = itertools.islice(itertools.cycle(enumerate(texts)), start, start + n)
    return [
        ("/v1/label", json.dumps({"id": f"r{i}-{k}", "text": t}).encode(), 1)
        for k, (i, t) in enumerate(cycle)
    ]


def batch_bodies(texts: list[str], n: int, size: int) -> list[tuple[str, bytes, int]]:
    import json

    out = []
    cycle = itertools.cycle(enumerate(texts))
    for k in range(n):
        reports = [{"id": f"r{i}-{k}", "text": t} for i, t in itertools.islice(cycle, size)]
        out.append(("/v1/label/batch", json.dumps({"reports": reports}).encode(), size))
    return out


def print_table(engine: str, results: list[Result]) -> None:
    print(f"\n{engine}:")
    head = f"  {'scenario':<34}{'clients':>8}{'requests':>9}{'req/s':>9}{'reports/s':>11}"
    head += f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}"
    print(head)
    for r in results:
        print(
            f"  {r.scenario:<34}{r.clients:>8}{r.requests:>9}{r.requests / r.seconds:>9.1f}"
            f"{r.reports / r.seconds:>11.1f}{r.pct(50):>9.2f}{r.pct(95):>9.2f}{r.pct(99):>9.2f}{r.errors:>8}"
        )


async def bench_engine(engine: str, texts: list[str], args: argparse.Namespace, workdir: Path) -> int:
    """Run every scenario against one engine; returns the number of failed requests."""
    print(f"\n== engine {engine}: load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    started = start_server(engine, workdir, {"REPORTLAB_MAX_BATCH": str(max(256, args.batch_size))})
    if isinstance(started, str):
        print(f"{engine}: not available: {started}")
        return 0
    server = started
    results: list[Result] = []
    try:
        print(f"server pid {server.process.pid}, resident {rss_mb(server.process.pid):.1f} MB after start-up")
        await run_scenario(server, "warm-up", single_bodies(texts, 100), 1)
        results.append(
            await run_scenario(server, "single report", single_bodies(texts, args.single_requests), 1)
        )
        memory = await run_scenario(
            server,
            f"single report ({args.requests} requests)",
            single_bodies(texts, args.requests, start=args.single_requests),
            args.clients,
            sample_rss=True,
        )
        results.append(memory)
        results.append(
            await run_scenario(
                server,
                f"batch of {args.batch_size}",
                batch_bodies(texts, args.batch_requests, args.batch_size),
                1,
            )
        )
        results.append(
            await run_scenario(
                server,
                f"batch of {args.batch_size}",
                batch_bodies(texts, args.batch_requests, args.batch_size),
                args.clients,
            )
        )
    finally:
        server.stop()
    if args.micro_batch:
        started = start_server(engine, workdir, {"REPORTLAB_MICRO_BATCH": "1"})
        if not isinstance(started, str):
            try:
                await run_scenario(started, "warm-up", single_bodies(texts, 100), 1)
                results.append(
                    await run_scenario(
                        started,
                        "single report, micro-batching on",
                        single_bodies(texts, args.requests, start=args.single_requests),
                        args.clients,
                    )
                )
            finally:
                started.stop()
    print_table(engine, results)

    samples = dict(memory.rss_mb)
    first = samples.get(1000) or (memory.rss_mb[len(memory.rss_mb) // 2][1] if memory.rss_mb else 0.0)
    last = memory.rss_mb[-1][1] if memory.rss_mb else 0.0
    change = (last - first) / first if first else float("nan")
    print(
        f"  server resident memory: {first:.1f} MB after the first 1,000 requests, {last:.1f} MB after "
        f"{memory.rss_mb[-1][0] if memory.rss_mb else 0:,}; change {change:+.1%} "
        f"(target within {MEMORY_TOLERANCE:.0%}: {'met' if abs(change) <= MEMORY_TOLERANCE else 'NOT met'})"
    )
    errors = sum(r.errors for r in results)
    total = sum(r.requests for r in results)
    print(f"  errors: {errors} of {total} requests ({'met' if errors == 0 else 'NOT met'}: zero errors)")
    target = TARGET_P95_MS.get(engine)
    if target is not None:
        one, many = results[0], results[1]
        print(
            f"  single-report p95: {one.pct(95):.2f} ms at 1 client, {many.pct(95):.2f} ms at "
            f"{many.clients} clients (target under {target:.0f} ms)"
        )
    return errors


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _http() -> str:
    return "httptools" if importlib.util.find_spec("httptools") else "h11"


def _loop() -> str:
    return "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engines", default="rules,model,hybrid")
    ap.add_argument(
        "--requests", type=int, default=2000, help="single-report requests from --clients clients"
    )
    ap.add_argument("--single-requests", type=int, default=500, help="single-report requests from 1 client")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--batch-requests", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--micro-batch", action="store_true", help="also run with REPORTLAB_MICRO_BATCH=1")
    args = ap.parse_args()

    corpus, texts = load_texts()
    print(f"reportlab-nlp service load test: {platform.python_implementation()} {platform.python_version()}")
    print(
        f"{os.cpu_count()} CPUs; {corpus}: {len(texts)} reports, "
        f"mean {sum(map(len, texts)) / len(texts):.0f} chars"
    )
    print(f"uvicorn {_version('uvicorn')}: HTTP parser {_http()}, event loop {_loop()}", end="")
    torch = importlib.util.find_spec("torch") is not None
    print("; torch installed (spaCy's thinc imports it: about +180 MB resident)" if torch else "")
    print(
        "latency: from sending the request to the last byte of the answer, client and server on this machine"
    )
    errors = 0
    with tempfile.TemporaryDirectory(prefix="reportlab-load-") as tmp:
        for engine in args.engines.split(","):
            errors += asyncio.run(bench_engine(engine.strip(), texts, args, Path(tmp)))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
