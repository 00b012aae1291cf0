"""The gold tables' end-to-end freshness (python/soundlake/orchestrate/freshness.py) against the
stack's ClickHouse: per gold table with rows, now minus its newest ``_ingested_at``, served in
Prometheus' text format."""

from __future__ import annotations

import dataclasses
import urllib.request

from conftest import ClickHouseDb

from soundlake.orchestrate.freshness import METRIC, exposition, serve
from soundlake.orchestrate.settings import Settings

NOW = 1_800_000_000  # the freshness is measured at this Unix time


def test_freshness_of_each_gold_table_with_rows(clickhouse_db: ClickHouseDb) -> None:
    for table in ("gold_a", "gold_b", "gold_empty", "_load_log"):
        clickhouse_db.query(
            f"CREATE TABLE {table} (_ingested_at Nullable(DateTime('UTC')), n UInt8) "
            "ENGINE = Memory"
        )
    # landed 100 s and 40 s before NOW; NULL and 7 s before NOW; a table that is not gold
    clickhouse_db.query(
        "INSERT INTO gold_a VALUES (toDateTime(1799999900), 1), (toDateTime(1799999960), 2)"
    )
    clickhouse_db.query("INSERT INTO gold_b VALUES (NULL, 1), (toDateTime(1799999993), 2)")
    clickhouse_db.query("INSERT INTO _load_log VALUES (toDateTime(1800000000), 1)")
    settings = dataclasses.replace(
        Settings.from_env(),
        clickhouse_url=clickhouse_db.url,
        clickhouse_database=clickhouse_db.name,
    )
    samples = [line for line in exposition(settings, now=NOW).splitlines() if line[0] != "#"]
    assert samples == [f'{METRIC}{{table="gold_a"}} 40.000', f'{METRIC}{{table="gold_b"}} 7.000']
    server = serve("127.0.0.1", 0, settings)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read().decode()
        assert f'{METRIC}{{table="gold_a"}}' in body and f"# TYPE {METRIC} gauge" in body
    finally:
        server.shutdown()
