"""The freshness of the gold tables in ClickHouse, measured end to end, for Prometheus.

Per gold table: now minus the newest event time it holds (``max(_newest_event_at)``: each gold
row carries the newest event time of the silver rows it was computed from), exported as
``soundlake_gold_freshness_seconds{table}``. The age counts from the moment the event happened,
so every step is in it: the wait in Kafka, the lander's flush, the sensor, the dbt build and the
load. A gold table that has no ``_newest_event_at`` yet (loaded before gold had it; the loader
reloads it whole when its columns change) has no sample.

Served on ``/metrics`` by ``soundlake run`` (``SOUNDLAKE_FRESHNESS_METRICS_ADDR``), with the
pipeline's run outcomes (``runs.py``); each scrape queries ClickHouse once and reads Dagster's
instance. The alert rules: ops/prometheus/alerts/freshness.rules.yml and pipeline.rules.yml.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dagster import DagsterError
from sqlalchemy.exc import SQLAlchemyError

from soundlake.clickhouse import ClickHouse, ClickHouseError
from soundlake.orchestrate import runs
from soundlake.orchestrate.settings import Settings

METRIC = "soundlake_gold_freshness_seconds"
HTTP_TIMEOUT_S = 10.0
GOLD_PREFIX = "gold_"
#: the gold column of the newest event time among a row's inputs (dbt_spark/models/gold/)
EVENT_TIME = "_newest_event_at"


def newest_events(settings: Settings) -> dict[str, int]:
    """Each gold table with rows: the newest ``_newest_event_at`` it holds, in Unix seconds."""
    clickhouse = ClickHouse(
        settings.clickhouse_url, settings.clickhouse_database, timeout_s=HTTP_TIMEOUT_S
    )
    with_column = clickhouse.select(
        "SELECT table FROM system.columns "
        "WHERE database = currentDatabase() AND name = '_newest_event_at'"
    )
    # ClickHouse 18 has no query parameters: only plain names go into the SQL
    tables = sorted(
        name
        for name in (str(row["table"]) for row in with_column)
        if name.startswith(GOLD_PREFIX) and name.isidentifier()
    )
    if not tables:
        return {}
    newest = " UNION ALL ".join(
        f"SELECT '{t}' AS name, "  # noqa: S608
        f"toUInt32(ifNull(max({EVENT_TIME}), toDateTime(0))) AS newest FROM {t}"
        for t in tables
    )
    return {row["name"]: int(row["newest"]) for row in clickhouse.select(newest) if row["newest"]}


def exposition(settings: Settings, now: float | None = None) -> str:
    """The gold tables' freshness in Prometheus' text format."""
    now = time.time() if now is None else now
    lines = [
        f"# HELP {METRIC} Now minus the newest event time ({EVENT_TIME}) in the gold table.",
        f"# TYPE {METRIC} gauge",
    ]
    for table, newest in sorted(newest_events(settings).items()):
        lines.append(f'{METRIC}{{table="{table}"}} {max(0.0, now - newest):.3f}')
    return "\n".join(lines) + "\n"


class FreshnessServer(ThreadingHTTPServer):
    """The /metrics endpoint (gold freshness and run outcomes), with the settings it reads."""

    def __init__(self, address: tuple[str, int], settings: Settings) -> None:
        super().__init__(address, _Handler)
        self.settings = settings


class _Handler(BaseHTTPRequestHandler):
    server: FreshnessServer

    def do_GET(self) -> None:
        if self.path != "/metrics":
            self.send_error(404)
            return
        settings = self.server.settings
        try:
            text = exposition(settings) + runs.exposition(settings.dagster_home)
            body, status = text.encode(), 200
        except (ClickHouseError, DagsterError, SQLAlchemyError, OSError) as err:
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
