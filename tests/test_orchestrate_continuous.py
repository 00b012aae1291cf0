"""The platform in continuous mode on the real stack: the real `soundlake run` (a subprocess,
`--no-stack-up`) with eventsim in real time, the lander and Dagster's daemon and UI, isolated
from the shared stack's data (its own topics, lake folder, ClickHouse database, Spark Thrift
server, stack folder for DAGSTER_HOME and pid files, metric ports).

Events flow into Kafka; the first pipeline run materializes the whole asset graph, Kafka to
ClickHouse, evaluating the dbt tests, with each ClickHouse table's row count as it is served,
and Dagster's UI (headless Chromium) shows it completed; the freshness metric has a value per
gold table; Ctrl-C stops every child. Started again, it resumes: the next run covers the
commits landed since, within the checks' interval without the tests, and gold in ClickHouse
has grown.
"""

from __future__ import annotations

import datetime
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ClickHouseDb, Endpoints, HdfsDir, cargo_binaries, http_request, unique_name
from dagster import DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter
from test_orchestrate_ui import rendered

from soundlake.jobs.thrift_aside import thrift_aside
from soundlake.lake_layout import TOPICS
from soundlake.orchestrate.clickhouse import table_key
from soundlake.orchestrate.dbt import ROW_COUNT, TARGET_PATH, run_target
from soundlake.orchestrate.definitions import defs
from soundlake.orchestrate.settings import CHECKS_TAG, DBT_PROJECT_DIR, PIPELINE_JOB
from soundlake.stack import process
from soundlake.stack.process import free_port

#: simulated users and how far back eventsim starts: a small backlog, then events in real time
USERS = 3000
BACKLOG = datetime.timedelta(hours=2)
#: the longest wait for a pipeline run to succeed (the first one builds every model)
RUN_TIMEOUT_S = 900.0
STOP_TIMEOUT_S = 120.0
#: the gold table whose sum counts events, and its column (valid listens)
PLAYS = ("gold_song_plays", "play_count")


@pytest.fixture
def thrift_port(stack: Endpoints, tmp_path: Path) -> Iterator[int]:
    """A Spark Thrift server of the test's own (embedded metastore, warehouse in tmp_path)."""
    with thrift_aside(stack.hdfs_url, tmp_path) as port:
        yield port


@pytest.fixture
def topic_prefix(stack: Endpoints) -> Iterator[str]:
    """A topic prefix of the test's own; its topics (eventsim creates them) deleted after."""
    from confluent_kafka.admin import AdminClient

    prefix = unique_name("cont") + "_"
    yield prefix
    admin = AdminClient({"bootstrap.servers": stack.kafka_brokers})
    topics = [f"{prefix}{t}" for t in TOPICS]
    for future in admin.delete_topics(topics).values():
        try:
            future.result(timeout=15)
        except Exception as err:  # a leftover topic is reported, not fatal
            print(f"could not delete a topic: {err}", file=sys.stderr)


class Session:
    """One `soundlake run` subprocess, its output in a log file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        soundlake = Path(sys.executable).parent / "soundlake"
        command = [str(soundlake), "run", "--no-stack-up", "--users", str(USERS)]
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def check_alive(self) -> None:
        assert self.proc.poll() is None, f"soundlake run exited:\n{self.output()[-4000:]}"

    def interrupt(self) -> int:
        """Ctrl-C: SIGINT to `soundlake run` alone, as a terminal sends it; its exit code."""
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.interrupt()


def kafka_events(brokers: str, prefix: str) -> int:
    """The events in the prefix's topics: the sum of their partitions' end offsets."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer({"bootstrap.servers": brokers, "group.id": f"{prefix}watermarks"})
    try:
        metadata = consumer.list_topics(timeout=15)
        total = 0
        for topic in TOPICS:
            found = metadata.topics.get(f"{prefix}{topic}")
            if found is None or found.error is not None:
                continue
            for partition in found.partitions:
                try:
                    _, high = consumer.get_watermark_offsets(
                        TopicPartition(f"{prefix}{topic}", partition), timeout=15
                    )
                except KafkaException:
                    continue
                total += high
        return total
    finally:
        consumer.close()


def successes(home: Path) -> list[DagsterRun]:
    """The pipeline runs that succeeded, oldest first."""
    with DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(
            filters=RunsFilter(job_name=PIPELINE_JOB, statuses=[DagsterRunStatus.SUCCESS])
        )
    return sorted(runs, key=lambda r: int(r.tags.get("dagster/run_key", "-0").rsplit("-", 1)[1]))


def failures(home: Path) -> dict[str, str]:
    """The pipeline runs that failed, and why (Dagster's failure reason)."""
    with DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(
            filters=RunsFilter(job_name=PIPELINE_JOB, statuses=[DagsterRunStatus.FAILURE])
        )
    return {r.run_id: r.tags.get("dagster/failure_reason", "") for r in runs}


def wait_for_successes(
    session: Session, home: Path, count: int, interrupted: frozenset[str] = frozenset()
) -> list[DagsterRun]:
    """Wait until `count` pipeline runs have succeeded (failing on a failed run other than
    those of `interrupted`)."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        session.check_alive()
        if (home / "dagster.yaml").exists():
            done = successes(home)
            if len(done) >= count:
                return done
            failed = {k: v for k, v in failures(home).items() if k not in interrupted}
            assert not failed, f"a pipeline run failed: {failed}"
        assert time.monotonic() < deadline, (
            f"fewer than {count} successful runs after {RUN_TIMEOUT_S:.0f} s:\n"
            f"{session.output()[-3000:]}"
        )
        time.sleep(2.0)


def gold(db: ClickHouseDb) -> tuple[int, int]:
    """The rows of every gold table in ClickHouse, and the plays they count."""
    tables = [t for t in db.query("SHOW TABLES").split() if t.startswith("gold_")]
    rows = sum(int(db.query(f"SELECT count() FROM {t}").strip()) for t in tables)  # noqa: S608
    table, column = PLAYS
    plays = int(db.query(f"SELECT sum({column}) FROM {table}").strip())  # noqa: S608
    return rows, plays


def freshness(address: str) -> dict[str, float]:
    """soundlake_gold_freshness_seconds per table, from the endpoint."""
    body = http_request(f"http://{address}/metrics").decode()
    pattern = r'^soundlake_gold_freshness_seconds\{table="([^"]+)"\} (\S+)$'
    return {m[1]: float(m[2]) for m in re.finditer(pattern, body, re.MULTILINE)}


def events_of(home: Path, run: DagsterRun, kind: DagsterEventType) -> int:
    """How many events of `kind` the run logged."""
    with DagsterInstance.from_config(str(home)) as instance:
        return len(instance.get_records_for_run(run.run_id, of_type=kind, limit=10_000).records)


def materialized(home: Path, run: DagsterRun) -> dict[str, int | None]:
    """The assets the run materialized, by asset path, each with its row count (ROW_COUNT; None
    for an asset without one)."""
    kind = DagsterEventType.ASSET_MATERIALIZATION
    with DagsterInstance.from_config(str(home)) as instance:
        records = instance.get_records_for_run(run.run_id, of_type=kind, limit=10_000).records
    assets: dict[str, int | None] = {}
    for record in records:
        materialization = record.event_log_entry.asset_materialization
        if materialization is None:
            continue
        count = materialization.metadata.get(ROW_COUNT)
        assets[materialization.asset_key.to_user_string()] = (
            None if count is None else int(count.value)  # type: ignore[arg-type]
        )
    return assets


def run_key_seq(run: DagsterRun) -> int:
    """The newest commit sequence number the run covers (its run key)."""
    return int(run.tags["dagster/run_key"].rsplit("-", 1)[1])


def test_the_platform_runs_continuously_stops_and_resumes(
    stack: Endpoints,
    hdfs_dir: HdfsDir,
    clickhouse_db: ClickHouseDb,
    topic_prefix: str,
    thrift_port: int,
    tmp_path: Path,
) -> None:
    bins = cargo_binaries("eventsim", "soundlake-ingest", "soundlake-loader")
    stack_dir = tmp_path / "stack"
    freshness_addr = f"127.0.0.1:{free_port()}"
    start = datetime.datetime.now(datetime.UTC) - BACKLOG
    env = {
        **os.environ,
        "PATH": f"{bins}{os.pathsep}{os.environ['PATH']}",
        "SOUNDLAKE_STACK_DIR": str(stack_dir),
        "SOUNDLAKE_KAFKA_BROKERS": stack.kafka_brokers,
        "SOUNDLAKE_WEBHDFS_URL": stack.webhdfs_url,
        "SOUNDLAKE_LAKE_URL": hdfs_dir.url_of("lake"),
        "SOUNDLAKE_TOPIC_PREFIX": topic_prefix,
        "SOUNDLAKE_INGEST_GROUP": f"{topic_prefix}lander",
        "SOUNDLAKE_DBT_SCHEMA": topic_prefix.rstrip("_"),
        "SOUNDLAKE_SPARK_THRIFT_HOST": "127.0.0.1",
        "SOUNDLAKE_SPARK_THRIFT_PORT": str(thrift_port),
        "SOUNDLAKE_CLICKHOUSE_URL": stack.clickhouse_url,
        "SOUNDLAKE_CLICKHOUSE_DATABASE": clickhouse_db.name,
        "SOUNDLAKE_LOADER_BIN": str(bins / "soundlake-loader"),
        "SOUNDLAKE_EVENTSIM_METRICS_ADDR": f"127.0.0.1:{free_port()}",
        "SOUNDLAKE_INGEST_METRICS_ADDR": f"127.0.0.1:{free_port()}",
        "SOUNDLAKE_FRESHNESS_METRICS_ADDR": freshness_addr,
        "SOUNDLAKE_DAGSTER_PORT": str(free_port()),
        "SOUNDLAKE_RUN_START_TIME": start.strftime("%Y-%m-%dT%H:%M:%S"),
        "SOUNDLAKE_RUN_FLUSH_INTERVAL": "10",
        "SOUNDLAKE_SENSOR_INTERVAL_S": "5",
        "DBT_LOG_PATH": str(tmp_path / "dbt-logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    home = stack_dir / "dagster"
    log = tmp_path / "soundlake-run.log"
    session = Session(env, log)
    try:
        first_events = 0
        deadline = time.monotonic() + 60
        while first_events == 0:  # the backlog reaches Kafka
            session.check_alive()
            assert time.monotonic() < deadline, "no event reached Kafka"
            time.sleep(1.0)
            first_events = kafka_events(stack.kafka_brokers, topic_prefix)

        first = wait_for_successes(session, home, 1)[0]
        rows1, plays1 = gold(clickhouse_db)
        assert plays1 > 0 and rows1 > 0, (rows1, plays1)
        # the whole graph, Kafka to ClickHouse, and the dbt tests evaluated
        first_assets = materialized(home, first)
        graph = {k.to_user_string() for k in defs.resolve_asset_graph().materializable_asset_keys}
        assert graph <= set(first_assets), graph - set(first_assets)
        assert first.tags[CHECKS_TAG] == "all"
        assert events_of(home, first, DagsterEventType.ASSET_CHECK_EVALUATION) > 0
        # every table the run built carries its row count, the staging views none (counting a
        # view runs its query)
        uncounted = sorted(k for k, n in first_assets.items() if n is None)
        assert uncounted == sorted(k for k in first_assets if k.startswith("stg_")), uncounted
        assert (first_assets["fact_page_views"] or 0) > 0, first_assets
        # each ClickHouse asset carries the rows its table served; the table holds at least as
        # many now (a run launched since may have loaded more days)
        for table in ("gold_daily_active_users", "gold_top_songs"):
            served = first_assets.get(table_key(table).to_user_string()) or 0
            assert served > 0, (table, first_assets)
            assert int(clickhouse_db.query(f"SELECT count() FROM {table}")) >= served, table  # noqa: S608
        # Dagster's UI (the one `soundlake run` serves) shows the completed run
        page = rendered(f"http://127.0.0.1:{env['SOUNDLAKE_DAGSTER_PORT']}/runs/{first.run_id}")
        assert first.run_id[:8] in page and ">Success<" in page

        tables = {t for t in clickhouse_db.query("SHOW TABLES").split() if t.startswith("gold_")}
        with_rows = {t for t in tables if int(clickhouse_db.query(f"SELECT count() FROM {t}"))}  # noqa: S608
        ages = freshness(freshness_addr)
        assert set(ages) == with_rows and "gold_song_plays" in ages, (ages, tables)
        assert all(age >= 0 for age in ages.values())

        records = {p.name: process.read_pidfile(p) for p in (stack_dir / "run").glob("run-*.pid")}
        assert len(records) == 4 and all(r is not None for r in records.values()), records
        assert session.interrupt() == 0, session.output()[-3000:]
        alive = [name for name, r in records.items() if r is not None and process.is_alive(r)]
        assert alive == [], f"still running after Ctrl-C: {alive}"
        assert not list((stack_dir / "run").glob("*.pid"))
        assert not list((stack_dir / "conf" / "prometheus" / "targets").glob("run-*.yml"))

        # A run the sensor launched just before Ctrl-C is cut short with everything else: it
        # fails as terminated (the next run covers its commits); nothing else may fail.
        with DagsterInstance.from_config(str(home)) as instance:
            runs = instance.get_runs(filters=RunsFilter(job_name=PIPELINE_JOB))
        interrupted = {r.run_id for r in runs if r.status != DagsterRunStatus.SUCCESS}
        reasons = set(failures(home).values())
        assert reasons <= {"UNEXPECTED_TERMINATION"}, failures(home)

        # started again, it resumes: the lander from its commit log, the sensor from its cursor
        session = Session(env, log)
        second = wait_for_successes(session, home, 2, frozenset(interrupted))[1]
        assert kafka_events(stack.kafka_brokers, topic_prefix) > first_events
        assert run_key_seq(second) > run_key_seq(first)
        rows2, plays2 = gold(clickhouse_db)
        assert plays2 > plays1 and rows2 >= rows1, (plays1, plays2, rows1, rows2)
        # within the checks' interval the next run builds the same assets without the tests
        evaluations = DagsterEventType.ASSET_CHECK_EVALUATION
        assert second.tags[CHECKS_TAG] == "none" and events_of(home, second, evaluations) == 0
        assert set(materialized(home, second)) == set(first_assets)
        # a successful run leaves no dbt artifacts behind (they would fill the disk)
        kept = [
            r.run_id for r in (first, second) if (DBT_PROJECT_DIR / run_target(r.run_id)).exists()
        ]
        assert kept == [], f"dbt artifacts of successful runs left in {TARGET_PATH}: {kept}"
        assert session.interrupt() == 0, session.output()[-3000:]
    finally:
        session.kill()
