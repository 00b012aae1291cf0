"""The orchestrated pipeline on the real stack: a small simulation landed into a test lake on
HDFS, then the whole asset graph materialized through Dagster's Python API: dbt build on a
Spark Thrift server of the test's own (its own port, metastore and warehouse; never the stack's
server), then the ClickHouse load into a test database. Gold reaches ClickHouse, each
ClickHouse asset's materialization carries its row count, and Dagster's UI (headless Chromium)
shows the completed run."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ClickHouseDb, Endpoints, HdfsDir, cargo_binaries, unique_name
from dagster import DagsterEventType, DagsterInstance
from test_orchestrate_ui import dagster_ui, rendered

from soundlake.jobs.thrift_aside import thrift_aside
from soundlake.lake_layout import TOPICS
from soundlake.orchestrate.clickhouse import table_key
from soundlake.orchestrate.definitions import defs
from soundlake.orchestrate.sensors import PIPELINE_JOB

ROOT = Path(__file__).resolve().parents[1]
SIMULATION = [
    "-c", "eventsim/configs/eventsim-config-example.json",
    "--nusers", "40", "--randomseed", "7",
    "--start-time", "2026-11-02T00:00:00", "--end-time", "2026-11-03T00:00:00",
    "--progress", "never",
]  # fmt: skip


def run(command: list[str], timeout: float = 600) -> None:
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command[0]} exited {done.returncode}:\n{done.stderr[-3000:]}"


@pytest.fixture
def landed(stack: Endpoints, hdfs_dir: HdfsDir) -> Iterator[str]:
    """One simulated day in Kafka (topics of the test's own) landed into `lake/` of hdfs_dir;
    the topic prefix."""
    from confluent_kafka.admin import AdminClient

    bins = cargo_binaries("eventsim", "soundlake-ingest")
    prefix = unique_name("orch") + "_"
    topics = [f"{prefix}{t}" for t in TOPICS]
    admin = AdminClient({"bootstrap.servers": stack.kafka_brokers})
    try:
        run([str(bins / "eventsim"), *SIMULATION, "--kafka-brokers", stack.kafka_brokers,
             "--topic-prefix", prefix])  # fmt: skip
        run([str(bins / "soundlake-ingest"), "--brokers", stack.kafka_brokers,
             "--topics", ",".join(topics), "--lake-url", hdfs_dir.url_of("lake"),
             "--group", prefix, "--writer-id", prefix, "--until-caught-up",
             "--metrics-addr", "none"])  # fmt: skip
        yield prefix
    finally:
        for future in admin.delete_topics(topics).values():
            try:
                future.result(timeout=15)
            except Exception as err:  # a leftover topic is reported, not fatal
                print(f"could not delete a topic: {err}", file=sys.stderr)


@pytest.fixture
def thrift_port(stack: Endpoints, tmp_path: Path) -> Iterator[int]:
    """A Spark Thrift server of the test's own (embedded metastore, warehouse in tmp_path)."""
    with thrift_aside(stack.hdfs_url, tmp_path) as port:
        yield port


def test_the_whole_graph_materializes_into_clickhouse(
    stack: Endpoints,
    hdfs_dir: HdfsDir,
    clickhouse_db: ClickHouseDb,
    landed: str,
    thrift_port: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = {
        "SOUNDLAKE_LAKE_URL": hdfs_dir.url_of("lake"),
        "SOUNDLAKE_TOPIC_PREFIX": landed,
        "SOUNDLAKE_DBT_SCHEMA": landed.rstrip("_"),
        "SOUNDLAKE_SPARK_THRIFT_HOST": "127.0.0.1",
        "SOUNDLAKE_SPARK_THRIFT_PORT": str(thrift_port),
        "SOUNDLAKE_CLICKHOUSE_URL": stack.clickhouse_url,
        "SOUNDLAKE_CLICKHOUSE_DATABASE": clickhouse_db.name,
        "SOUNDLAKE_LOADER_BIN": str(cargo_binaries("soundlake-loader") / "soundlake-loader"),
        "DBT_LOG_PATH": str(tmp_path / "dbt-logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "dagster"
    home.mkdir()
    with DagsterInstance.from_config(str(home)) as instance:
        result = defs.resolve_job_def(PIPELINE_JOB).execute_in_process(instance=instance)
        assert result.success
        counts = {
            event.asset_key: event.materialization.metadata["dagster/row_count"].value
            for event in result.get_asset_materialization_events()
            if event.asset_key and "dagster/row_count" in event.materialization.metadata
        }
    for key in (table_key("gold_daily_active_users"), table_key("gold_top_songs")):
        assert counts.get(key, 0) > 0, f"{key.to_user_string()}: {counts.get(key)}"
    dau = clickhouse_db.query("SELECT count() FROM gold_daily_active_users").strip()
    assert int(dau) == counts[table_key("gold_daily_active_users")]
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert all(k in materialized for k in defs.resolve_asset_graph().materializable_asset_keys)
    assert DagsterEventType.STEP_FAILURE not in {e.event_type for e in result.all_events}
    with dagster_ui(home, tmp_path / "webserver.log") as ui:
        page = rendered(f"{ui}/runs/{result.run_id}")
    assert result.run_id[:8] in page and ">Success<" in page
