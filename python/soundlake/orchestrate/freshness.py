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
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from soundlake.orchestrate.settings import Settings

METRIC = "soundlake_gold_freshness_seconds"
HTTP_TIMEOUT_S = 10.0
GOLD_PREFIX = "gold_"


class FreshnessError(Exception):
    """ClickHouse did not answer the freshness query."""


def _query(settings: Settings, sql: str) -> str:
    url = f"{settings.clickhouse_url}/?{urllib.parse.urlencode({'query': sql})}"
    if not url.startswith(("http://", "https://")):
        raise FreshnessError(f"not an HTTP URL: {url}")
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as response:  # noqa: S310
            return str(response.read().decode())
    except (urllib.error.URLError, OSError) as err:
        raise FreshnessError(f"ClickHouse at {settings.clickhouse_url}: {err}") from err


def newest_landed(settings: Settings) -> dict[str, int]:
    """Each gold table with rows: the newest ``_ingested_at`` it holds, in Unix seconds."""
    db = settings.clickhouse_database
    if not db.isidentifier():  # ClickHouse 18 has no query parameters: names are checked
        raise FreshnessError(f"not a plain database name: {db!r}")
    where = f"database = '{db}' AND startsWith(name, '{GOLD_PREFIX}')"
    listing = f"SELECT name FROM system.tables WHERE {where} FORMAT TSV"  # noqa: S608
    tables = [t for t in _query(settings, listing).split() if t.isidentifier()]
    if not tables:
        return {}
    newest = " UNION ALL ".join(
        f"SELECT '{t}', toUInt32(ifNull(max(_ingested_at), toDateTime(0))) FROM {db}.{t}"  # noqa: S608
        for t in tables
    )
    result = {}
    for line in _query(settings, f"{newest} FORMAT TSV").splitlines():
        table, seconds = line.split("\t")
        if int(seconds) > 0:
            result[table] = int(seconds)
    return result


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
        except FreshnessError as err:
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
