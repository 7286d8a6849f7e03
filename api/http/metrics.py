"""Prometheus metrics, one registry per app (so tests can build many apps in one process)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "nogilbench_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "nogilbench_http_request_duration_seconds",
            "HTTP request latency in seconds, by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "nogilbench_http_requests_in_flight",
            "HTTP requests being served now",
            registry=self.registry,
        )
        self.jobs = Counter(
            "nogilbench_jobs",
            "Background jobs finished, by kind and final status",
            ["kind", "status"],
            registry=self.registry,
        )
        self.jobs_running = Gauge(
            "nogilbench_jobs_running",
            "Background jobs running now",
            registry=self.registry,
        )
        self.images_processed = Counter(
            "nogilbench_images_processed",
            "Images run through a pipeline, by source (process endpoint or batch job)",
            ["source"],
            registry=self.registry,
        )
        self.images_uploaded = Counter(
            "nogilbench_images_uploaded",
            "Images accepted by the upload endpoint",
            registry=self.registry,
        )
        self.uploads_rejected = Counter(
            "nogilbench_uploads_rejected",
            "Uploads refused, by error code",
            ["error_code"],
            registry=self.registry,
        )

    def watch_queue_depth(self, read: Callable[[], dict[str, int]]) -> None:
        """Expose `nogilbench_job_queue_depth{queue}`: jobs waiting to start, as `read`
        finds them at each scrape (the engine's queues)."""
        self.registry.register(_QueueDepth(read))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _QueueDepth(Collector):
    def __init__(self, read: Callable[[], dict[str, int]]) -> None:
        self.read = read

    def describe(self) -> list[Metric]:
        return []  # nothing read at registration (the database may be down)

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "nogilbench_job_queue_depth", "Jobs waiting to start, by queue", labels=["queue"]
        )
        try:
            depths = self.read()
        except Exception as exc:  # a scrape must not fail because the queue is unreachable
            logging.getLogger("api").warning("queue depth unavailable: %s", exc)
            depths = {}
        for queue, depth in sorted(depths.items()):
            family.add_metric([queue], depth)
        yield family
