"""Prometheus metrics of the service (prometheus-client), one registry per app.

``GET /metrics`` serves them in the Prometheus text format:

* ``reportlab_http_requests_total{method, path, status}``: requests answered;
* ``reportlab_http_request_duration_seconds{method, path}``: latency histogram;
* ``reportlab_http_errors_total{path, status}``: answers of 400 and above;
* ``reportlab_reports_labeled_total{engine}``: reports labeled;
* ``reportlab_inference_duration_seconds{engine}``: one engine call (a request
  or, with micro-batching, several);
* ``reportlab_inference_batch_reports{engine}``: reports per engine call;
* ``reportlab_engine_ready{engine}``: 1 once the engine is warmed up;
* ``reportlab_build_info{version, engine, rules_hash}``: always 1.

``path`` is one of the service's routes or ``other``, so that unknown URLs
cannot grow the number of series. With ``--workers N`` each worker process
keeps its own counts (a scrape reaches one of them).
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class Metrics:
    """The service's metrics, in their own :class:`~prometheus_client.CollectorRegistry`.

    Parameters
    ----------
    routes
        The paths reported as themselves; any other path is reported as ``other``.
    """

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, routes: frozenset[str]) -> None:
        self.routes = routes
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "reportlab_http_requests", "HTTP requests answered", ("method", "path", "status"), registry=r
        )
        self.latency = Histogram(
            "reportlab_http_request_duration_seconds",
            "Time from the request's arrival to the end of its answer",
            ("method", "path"),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "reportlab_http_errors", "HTTP answers with status 400 or above", ("path", "status"), registry=r
        )
        self.reports = Counter("reportlab_reports_labeled", "Reports labeled", ("engine",), registry=r)
        self.inference = Histogram(
            "reportlab_inference_duration_seconds",
            "Time of one engine call",
            ("engine",),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch = Histogram(
            "reportlab_inference_batch_reports",
            "Reports per engine call",
            ("engine",),
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.ready = Gauge(
            "reportlab_engine_ready", "1 once the engine is loaded and warmed up", ("engine",), registry=r
        )
        self.build = Gauge(
            "reportlab_build_info",
            "Toolkit version, engine and rules hash",
            ("version", "engine", "rules_hash"),
            registry=r,
        )

    def path_label(self, path: str) -> str:
        """``path`` if it is a route of the service, else ``other``."""
        return path if path in self.routes else "other"

    def observe_request(self, method: str, path: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        label = self.path_label(path)
        self.requests.labels(method, label, str(status)).inc()
        self.latency.labels(method, label).observe(seconds)
        if status >= 400:
            self.errors.labels(label, str(status)).inc()

    def observe_inference(self, engine: str, reports: int, seconds: float) -> None:
        """Count one engine call of ``reports`` reports."""
        self.reports.labels(engine).inc(reports)
        self.inference.labels(engine).observe(seconds)
        self.batch.labels(engine).observe(reports)

    def render(self) -> bytes:
        """The metrics in the Prometheus text format."""
        return generate_latest(self.registry)


__all__ = ["BATCH_BUCKETS", "LATENCY_BUCKETS", "Metrics"]
