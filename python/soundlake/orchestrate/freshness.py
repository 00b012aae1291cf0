"""The freshness of the gold tables in ClickHouse, measured end to end, for Prometheus.

Per gold table: now minus the newest ``_ingested_at`` it holds (the time the lander landed the newest
bronze row that went into it), exported as ``soundlake_gold_freshness_seconds{table}``. Gold
tables keep days, not event times, so the age is counted from landing: the time an event spends
in Kafka before the lander commits it is not in it (the lander's own metrics show that lag).

Served on ``/metrics`` by ``soundlake run`` (``SOUNDLAKE_FRESHNESS_METRICS_ADDR``); each scrape
queries ClickHouse once. The alert rule: ops/prometheus/alerts/freshness.rules.yml.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from soundlake.clickhouse import ClickHouse, ClickHouseError
from soundlake.orchestrate.settings import Settings

METRIC = "soundlake_gold_freshness_seconds"
HTTP_TIMEOUT_S = 10.0
GOLD_PREFIX = "gold_"


def newest_landed(settings: Settings) -> dict[str, int]:
    """Each gold table with rows: the newest ``_ingested_at`` it holds, in Unix seconds."""
    clickhouse = ClickHouse(
        settings.clickhouse_url, settings.clickhouse_database, timeout_s=HTTP_TIMEOUT_S
    )
    # ClickHouse 18 has no query parameters: only plain names go into the SQL
    tables = sorted(
        t for t in clickhouse.tables() if t.startswith(GOLD_PREFIX) and t.isidentifier()
    )
    if not tables:
        return {}
    newest = " UNION ALL ".join(
        f"SELECT '{t}' AS name, toUInt32(ifNull(max(_ingested_at), toDateTime(0))) AS landed "  # noqa: S608
        f"FROM {t}"
        for t in tables
    )
    return {row["name"]: int(row["landed"]) for row in clickhouse.select(newest) if row["landed"]}


def exposition(settings: Settings, now: float | None = None) -> str:
    """The metrics in Prometheus' text format."""
    now = time.time() if now is None else now
    lines = [
        f"# HELP {METRIC} Now minus the newest landing time (_ingested_at) in the gold table.",
        f"# TYPE {METRIC} gauge",
    ]
    for table, landed in sorted(newest_landed(settings).items()):
        lines.append(f'{METRIC}{{table="{table}"}} {max(0.0, now - landed):.3f}')
    return "\n".join(lines) + "\n"


class FreshnessServer(ThreadingHTTPServer):
    """The /metrics endpoint, with the settings it measures with."""

    def __init__(self, address: tuple[str, int], settings: Settings) -> None:
        super().__init__(address, _Handler)
        self.settings = settings


class _Handler(BaseHTTPRequestHandler):
    server: FreshnessServer

    def do_GET(self) -> None:
        if self.path != "/metrics":
            self.send_error(404)
            return
        try:
            body, status = exposition(self.server.settings).encode(), 200
        except ClickHouseError as err:
            body, status = f"{err}\n".encode(), 503
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # one scrape every few seconds: no access log


def serve(host: str, port: int, settings: Settings) -> FreshnessServer:
    """Serve /metrics on host:port from a daemon thread; ``shutdown()`` stops it."""
    server = FreshnessServer((host, port), settings)
    threading.Thread(target=server.serve_forever, name="freshness", daemon=True).start()
    return server
