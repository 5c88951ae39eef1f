"""Fixtures of the integration tests: a tiny transformer model, trained and exported once per session.

The model is a tiny randomly initialised encoder trained for a few steps on
the first reports of the bundled (invented) demo corpus: its labels mean
nothing, it exercises train -> export -> quantize -> infer in seconds. The
shipped MiniLM model is built by ``make model``, not here.
"""

from __future__ import annotations

import csv
import io
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reportlab_nlp.cli import main

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "corpora" / "demo" / "reports.csv"
N_REPORTS = 60
STEPS = 60


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """Run the command line in this process: (exit status, standard output, standard error)."""
    out, err = io.StringIO(), io.StringIO()
    rc = main(argv, stdout=out, stderr=err)
    return rc, out.getvalue(), err.getvalue()


def train_args(corpus: Path, out: Path) -> list[str]:
    """The tiny model's training command line."""
    return [
        "train", str(corpus), "--id-col", "report_id", "--text-col", "text", "--out", str(out),
        "--base", "tiny", "--max-steps", str(STEPS), "--epochs", "100", "--batch-size", "8",
        "--learning-rate", "2e-3", "--max-length", "128", "--heldout", "0.4", "--threads", "1",
        "--checkpoint-every", "20", "--no-progress",
    ]  # fmt: skip


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 60 reports of the bundled demo corpus (invented reports)."""
    with open(DEMO, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))[:N_REPORTS]
    path = tmp_path_factory.mktemp("corpus") / "reports.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["report_id", "text"])
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture(scope="session")
def run_dir(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("train") / "run"
    rc, _, err = run_cli(train_args(corpus, out))
    assert rc == 0, err
    assert f"trained {STEPS} of {STEPS} steps" in err
    return out


@pytest.fixture(scope="session")
def model_dir(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = tmp_path_factory.mktemp("models")
    rc, out, err = run_cli(["export-model", str(run_dir), "--name", "tiny-test", "--models-dir", str(models),
                         "--min-positives", "3"])  # fmt: skip
    assert rc == 0, err
    assert "parity" in out and "int8 agreement" in out
    return models / "tiny-test"


# ---------------------------------------------------------------------------
# a real `reportlab-nlp serve` (uvicorn) on a free loopback port, for the service tests
# ---------------------------------------------------------------------------


def _serve_script() -> str:
    beside = Path(sys.executable).parent / "reportlab-nlp"
    return str(beside) if beside.exists() else "reportlab-nlp"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    """A running ``reportlab-nlp serve`` and where its output goes."""

    process: subprocess.Popen[bytes]
    base_url: str
    port: int
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        """SIGTERM, then (after 30 s) SIGKILL; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


StartService = Callable[..., LiveServer]


def _limit_files(limit: int | None) -> Callable[[], None] | None:
    if limit is None:
        return None

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    return apply


@pytest.fixture(scope="session")
def start_service() -> Iterator[StartService]:
    """``start_service(tmp, *options, nofile=None, **env)``: a ready server (stopped at the session's end).

    ``nofile`` caps the server's open files (``RLIMIT_NOFILE``), as on a
    machine with a small ``ulimit -n``.
    """
    import httpx

    started: list[LiveServer] = []

    def start(tmp: Path, *options: str, nofile: int | None = None, **env: str) -> LiveServer:
        port = free_port()
        log_path = tmp / f"server-{port}.log"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("REPORTLAB_")}
        environment.update(env)
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [_serve_script(), "serve", "--port", str(port), "--log-level", "debug", *options],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment,
                preexec_fn=_limit_files(nofile),
            )
        server = LiveServer(process, f"http://127.0.0.1:{port}", port, log_path)
        started.append(server)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"the server exited with {process.returncode}:\n{server.output()}")
            try:
                if httpx.get(server.base_url + "/readyz", timeout=1).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        process.kill()
        raise AssertionError(f"the server was not ready within 60 s:\n{server.output()}")

    yield start
    for server in started:
        server.stop()
