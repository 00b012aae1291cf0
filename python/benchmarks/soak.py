"""Soak of the continuous platform: `soundlake run` for a while at a steady event rate, then a
reconciliation of every event produced through bronze, silver and gold.

Runs the real ``soundlake run --no-stack-up`` on the local stack, isolated from the stack's
data: topics of its own (a prefix), a lake folder of its own on HDFS, a ClickHouse database of
its own, a Spark Thrift server of its own (another port; the stack's is the lead's benchmark
target) and a stack folder of its own for DAGSTER_HOME, the pid files and the logs.

eventsim runs in real time (``--continuous``) from a few minutes before now (a backlog, so the
simulated users are mid-session at once) to ``--minutes`` after now, then exits; the rate comes
from the number of users and from how often each starts a session (the config's ``beta``, the
mean seconds between a user's sessions: eventsim's example config has a week, which would take
millions of users for 1 000 events/s; see docs/benchmarks.md). While it runs, the soak samples
the freshness endpoint (``soundlake_gold_freshness_seconds``) and Kafka's end offsets. When
eventsim has ended it waits for the lander to commit every offset and for one last pipeline run
to cover the last commit, stops ``soundlake run`` (SIGINT, as Ctrl-C), and reconciles:

    Kafka     the end offsets of the run's topics (what eventsim produced)
    bronze    rows and distinct Kafka coordinates (partition, offset) per topic
    silver    the rows of each topic's fact
    gold      in ClickHouse, the gold columns that count events, against the fact rows they
              count (the same filter as the gold model)

Any difference is the soak's failure (exit 1), printed with the numbers. It also reports each
pipeline run's duration and its parts (the dbt step and the ClickHouse load, from the step
events in Dagster's instance) and freshness p50/p95/max per table and overall.

    scripts/soak [--minutes 20] [--users N] [--beta S] [--keep]
"""

from __future__ import annotations

import argparse
import datetime
import getpass
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soundlake.clickhouse import ClickHouse
from soundlake.jobs.thrift_aside import thrift_aside
from soundlake.lake_layout import TOPICS
from soundlake.orchestrate.commit_log import CommitLog
from soundlake.orchestrate.settings import CHECKS_TAG
from soundlake.paths import REPO_ROOT
from soundlake.stack.process import free_port

EVENTSIM_CONFIG = REPO_ROOT / "eventsim" / "configs" / "eventsim-config-example.json"
#: the workspace's binaries `soundlake run` starts (found on PATH, so copied to the front of it)
BINARIES = ("eventsim", "soundlake-ingest", "soundlake-loader")
BACKLOG_MINUTES = 2
METRIC = "soundlake_gold_freshness_seconds"
#: each topic's fact (one row per Kafka record)
FACTS = {
    "listen_events": "fact_listen_events",
    "page_view_events": "fact_page_views",
    "auth_events": "fact_auth_events",
    "status_change_events": "fact_status_changes",
}


@dataclass(frozen=True)
class GoldCount:
    """A gold column that sums back to a count of fact rows: the gold model's own filter."""

    table: str
    column: str
    fact: str
    where: str


#: the gold tables that count events (their SQL: dbt_spark/models/gold/)
GOLD_COUNTS = (
    GoldCount("gold_song_plays", "play_count", "fact_listen_events",
              "is_valid and song_key is not null"),
    GoldCount("gold_daily_active_users", "listen_events", "fact_listen_events",
              "is_valid and user_id is not null"),
    GoldCount("gold_listening_by_weekday_hour", "listen_events", "fact_listen_events",
              "is_valid"),
)  # fmt: skip


def log(message: str) -> None:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", flush=True)


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


# --- the isolated pieces ---------------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    """The shared stack's addresses (the variables of tests/conftest.py, same defaults)."""

    kafka: str = os.environ.get("SOUNDLAKE_KAFKA_BROKERS", "127.0.0.1:9092")
    hdfs: str = os.environ.get("SOUNDLAKE_HDFS_URL", "hdfs://127.0.0.1:8020").rstrip("/")
    webhdfs: str = os.environ.get("SOUNDLAKE_WEBHDFS_URL", "http://127.0.0.1:9870").rstrip("/")
    clickhouse: str = os.environ.get("SOUNDLAKE_CLICKHOUSE_URL", "http://127.0.0.1:8123")


def clickhouse_command(url: str, sql: str) -> None:
    """Run a statement that returns nothing (CREATE, DROP) on ClickHouse's HTTP interface."""
    request = urllib.request.Request(f"{url}/", data=sql.encode(), method="POST")  # noqa: S310
    urllib.request.urlopen(request, timeout=60).close()  # noqa: S310 - the local ClickHouse


def eventsim_config(work: Path, beta: float) -> Path:
    """eventsim's example config with `beta` (mean seconds between a user's sessions)."""
    config = json.loads(EVENTSIM_CONFIG.read_text())
    config["beta"] = beta
    path = work / "eventsim-soak.json"
    path.write_text(json.dumps(config))
    return path


# --- what the soak reads while it runs -------------------------------------------------------


def kafka_offsets(brokers: str, topics: list[str], group: str | None = None) -> dict[str, int]:
    """Per topic: the sum of its partitions' end offsets, or with `group` the group's committed
    offsets."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": brokers, "group.id": group or f"soak-{uuid.uuid4()}",
                         "enable.auto.commit": False})  # fmt: skip
    try:
        metadata = consumer.list_topics(timeout=15)
        parts = [
            TopicPartition(t, p)
            for t in topics
            if t in metadata.topics and metadata.topics[t].error is None
            for p in metadata.topics[t].partitions
        ]
        totals = dict.fromkeys(topics, 0)
        if group is not None:
            for tp in consumer.committed(parts, timeout=15):
                totals[tp.topic] += max(tp.offset, 0)
        else:
            for tp in parts:
                totals[tp.topic] += consumer.get_watermark_offsets(tp, timeout=15)[1]
        return totals
    finally:
        consumer.close()


def freshness(address: str) -> dict[str, float]:
    """The freshness metric per gold table (empty while nothing answers or no table has rows)."""
    try:
        with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as resp:
            body = resp.read().decode()
    except OSError:
        return {}
    pattern = rf'^{METRIC}\{{table="([^"]+)"\}} (\S+)$'
    return {m[1]: float(m[2]) for m in re.finditer(pattern, body, re.MULTILINE)}


@dataclass
class RunRecord:
    """One pipeline run: its commit, its wall time and its steps', whether it ran the dbt
    tests (the sensor's tag: "all" or "none")."""

    run_id: str
    commit_seq: int
    status: str
    seconds: float
    checks: str
    steps: dict[str, float] = field(default_factory=dict)


def pipeline_runs(home: Path) -> list[RunRecord]:
    """The pipeline runs in the Dagster instance at `home`, oldest first, with their steps."""
    from dagster import DagsterEventType, DagsterInstance

    out: list[RunRecord] = []
    with DagsterInstance.from_config(str(home)) as instance:
        for run in instance.get_runs():
            stats = instance.get_run_stats(run.run_id)
            seconds = (stats.end_time or time.time()) - (stats.start_time or time.time())
            started: dict[str, float] = {}
            steps: dict[str, float] = {}
            for record in instance.all_logs(
                run.run_id,
                of_type={DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS},
            ):
                event = record.dagster_event
                if event is None or event.step_key is None:
                    continue
                if event.event_type == DagsterEventType.STEP_START:
                    started.setdefault(event.step_key, record.timestamp)
                elif event.step_key in started:
                    steps[event.step_key] = record.timestamp - started[event.step_key]
            key = run.tags.get("dagster/run_key", "bronze-commit-0")
            out.append(RunRecord(run.run_id, int(key.rsplit("-", 1)[1]), run.status.value,
                                 seconds, run.tags.get(CHECKS_TAG, "?"), steps))  # fmt: skip
    return sorted(out, key=lambda r: r.commit_seq)


# --- the reconciliation ----------------------------------------------------------------------


def spark_runner(port: int) -> Callable[[str], list[tuple[Any, ...]]]:
    from pyhive import hive

    cursor = hive.connect(host="127.0.0.1", port=port, username=getpass.getuser()).cursor()

    def run(sql: str) -> list[tuple[Any, ...]]:
        cursor.execute(sql)
        return list(cursor.fetchall())

    return run


def reconcile(
    produced: dict[str, int],
    spark: Callable[[str], list[tuple[Any, ...]]],
    clickhouse: ClickHouse,
    lake: str,
    prefix: str,
    schema: str,
) -> list[str]:
    """Compare each layer with the one before; the lines of the report, mismatches marked."""
    lines: list[str] = []
    ok = True
    header = f"{'topic':<22} {'Kafka':>10} {'bronze':>10} {'distinct':>10} {'fact':>10}"
    lines.append(header)
    fact_rows: dict[str, int] = {}
    for topic in TOPICS:
        rows, distinct = spark(
            "select count(*), count(distinct _kafka_partition, _kafka_offset) "  # noqa: S608
            f"from parquet.`{lake}/bronze/{prefix}{topic}`"
        )[0]
        fact = FACTS[topic]
        fact_rows[fact] = int(spark(f"select count(*) from {schema}.{fact}")[0][0])  # noqa: S608
        kafka = produced[f"{prefix}{topic}"]
        same = kafka == rows == distinct == fact_rows[fact]
        ok &= same
        lines.append(
            f"{topic:<22} {kafka:>10} {rows:>10} {distinct:>10} {fact_rows[fact]:>10}"
            f"  {'ok' if same else 'MISMATCH'}"
        )
    lines.append("")
    lines.append(f"{'gold column (ClickHouse)':<46} {'gold':>10} {'facts':>10}  fact filter")
    for count in GOLD_COUNTS:
        gold = int(
            clickhouse.select(f"SELECT sum({count.column}) AS n FROM {count.table}")[0]["n"]  # noqa: S608
        )
        facts = int(
            spark(f"select count(*) from {schema}.{count.fact} where {count.where}")[0][0]  # noqa: S608
        )
        same = gold == facts
        ok &= same
        lines.append(
            f"{count.table + '.' + count.column:<46} {gold:>10} {facts:>10}  {count.where}"
            f"  {'ok' if same else 'MISMATCH'}"
        )
    lines.append("reconciliation: " + ("every event accounted for" if ok else "MISMATCH"))
    return lines


# --- the soak --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/soak",
        description="Run `soundlake run` for --minutes at a steady event rate on the local "
        "stack (isolated: own topics, lake folder, ClickHouse database, Thrift server), then "
        "reconcile Kafka, bronze, silver and gold. Exits 1 on any mismatch.",
    )
    parser.add_argument("--minutes", type=float, default=20.0,
                        help="how long eventsim produces (default %(default)s)")  # fmt: skip
    parser.add_argument("--users", type=int, default=2_000_000,
                        help="simulated users (default %(default)s)")  # fmt: skip
    parser.add_argument("--beta", type=float, default=3600.0,
                        help="mean seconds between a user's sessions (eventsim's example: "
                        "604800; default %(default)s)")  # fmt: skip
    parser.add_argument("--flush-interval", type=int, default=30,
                        help="the lander's --flush-interval (default %(default)s)")  # fmt: skip
    parser.add_argument("--sensor-interval", type=int, default=10,
                        help="the sensor's interval (default %(default)s)")  # fmt: skip
    parser.add_argument("--checks-interval", type=int,
                        help="how often a run includes the dbt tests, seconds (default: "
                        "soundlake run's)")  # fmt: skip
    parser.add_argument("--sample-every", type=float, default=15.0,
                        help="seconds between freshness samples (default %(default)s)")  # fmt: skip
    parser.add_argument("--drain-timeout", type=float, default=1200.0,
                        help="the longest wait for the last cycle (default %(default)s)")  # fmt: skip
    parser.add_argument("--bin-dir", type=Path, required=True,
                        help="the folder of the eventsim, soundlake-ingest and soundlake-loader "
                        "binaries (copied aside for the run)")  # fmt: skip
    parser.add_argument("--keep", action="store_true",
                        help="keep the lake folder, topics and ClickHouse database")  # fmt: skip
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stack = Stack()
    soak_id = f"soak_{int(time.time())}"
    prefix = f"{soak_id}_"
    topics = [f"{prefix}{t}" for t in TOPICS]
    base = f"/soundlake-bench/{soak_id}"
    lake = f"{stack.hdfs}{base}/lake"
    work = Path(tempfile.mkdtemp(prefix="soundlake-soak-"))
    clickhouse_command(stack.clickhouse, f"CREATE DATABASE {soak_id}")
    clickhouse = ClickHouse(stack.clickhouse, soak_id)
    log(f"soak {soak_id}: work folder {work}, lake {lake}, load average {os.getloadavg()}")
    try:
        with thrift_aside(stack.hdfs, work) as thrift_port:
            log(f"Thrift server of the soak's own on 127.0.0.1:{thrift_port}")
            code = soak(args, stack, work, prefix, topics, lake, soak_id, thrift_port, clickhouse)
    finally:
        if not args.keep:
            cleanup(stack, soak_id, topics, base)
        log(f"logs: {work}")
    return code


def soak(
    args: argparse.Namespace,
    stack: Stack,
    work: Path,
    prefix: str,
    topics: list[str],
    lake: str,
    soak_id: str,
    thrift_port: int,
    clickhouse: ClickHouse,
) -> int:
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    start = now - datetime.timedelta(minutes=BACKLOG_MINUTES)
    end = now + datetime.timedelta(minutes=args.minutes)
    stack_dir = work / "stack"
    home = stack_dir / "dagster"
    freshness_addr = f"127.0.0.1:{free_port()}"
    bins = work / "bin"
    bins.mkdir()
    for name in BINARIES:
        shutil.copy2(args.bin_dir / name, bins / name)
    env = {
        **os.environ,
        "SOUNDLAKE_STACK_DIR": str(stack_dir),
        "SOUNDLAKE_KAFKA_BROKERS": stack.kafka,
        "SOUNDLAKE_WEBHDFS_URL": stack.webhdfs,
        "SOUNDLAKE_LAKE_URL": lake,
        "SOUNDLAKE_TOPIC_PREFIX": prefix,
        "SOUNDLAKE_INGEST_GROUP": f"{prefix}lander",
        "SOUNDLAKE_DBT_SCHEMA": soak_id,
        "SOUNDLAKE_SPARK_THRIFT_HOST": "127.0.0.1",
        "SOUNDLAKE_SPARK_THRIFT_PORT": str(thrift_port),
        "SOUNDLAKE_CLICKHOUSE_URL": stack.clickhouse,
        "SOUNDLAKE_CLICKHOUSE_DATABASE": soak_id,
        "SOUNDLAKE_EVENTSIM_METRICS_ADDR": f"127.0.0.1:{free_port()}",
        "SOUNDLAKE_INGEST_METRICS_ADDR": f"127.0.0.1:{free_port()}",
        "SOUNDLAKE_FRESHNESS_METRICS_ADDR": freshness_addr,
        "SOUNDLAKE_DAGSTER_PORT": str(free_port()),
        "DBT_LOG_PATH": str(work / "dbt-logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "SOUNDLAKE_LOADER_BIN": str(bins / "soundlake-loader"),
        "PATH": f"{bins}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    command = [
        str(Path(sys.executable).parent / "soundlake"), "run", "--no-stack-up",
        "--users", str(args.users),
        "--eventsim-config", str(eventsim_config(work, args.beta)),
        "--start-time", start.strftime("%Y-%m-%dT%H:%M:%S"),
        "--end-time", end.strftime("%Y-%m-%dT%H:%M:%S"),
        "--flush-interval", str(args.flush_interval),
        "--sensor-interval", str(args.sensor_interval),
    ]  # fmt: skip
    if args.checks_interval is not None:
        command += ["--checks-interval", str(args.checks_interval)]
    log(f"soundlake run: {args.users} users, beta {args.beta:.0f} s, events {start:%H:%M:%S} "
        f"(a {BACKLOG_MINUTES}-minute backlog) .. {end:%H:%M:%S} UTC; log {work / 'run.log'}")  # fmt: skip
    with (work / "run.log").open("wb") as out:
        session = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # fmt: skip
    samples: list[dict[str, float]] = []
    #: samples after eventsim's end, while the last cycles catch up (no new event lands)
    drained: list[dict[str, float]] = []
    rates: list[float] = []
    loads: list[float] = []
    rss: list[float] = []
    try:
        previous = (time.monotonic(), 0)
        while datetime.datetime.now(datetime.UTC) < end:
            time.sleep(args.sample_every)
            if session.poll() is not None:
                raise SystemExit(f"soundlake run exited {session.returncode}; see {work}/run.log")
            produced = sum(kafka_offsets(stack.kafka, topics).values())
            t = time.monotonic()
            rate = (produced - previous[1]) / (t - previous[0])
            previous = (t, produced)
            runs = pipeline_runs(home) if (home / "dagster.yaml").exists() else []
            ages = freshness(freshness_addr)
            loads.append(os.getloadavg()[0])
            rss.append(rss_mb(stack_dir / "run" / "run-eventsim.pid"))
            if ages:
                samples.append(ages)
                rates.append(rate)
            done = sum(r.status == "SUCCESS" for r in runs)
            log(f"{produced:>10} records in Kafka, {rate:7.0f}/s; runs: {done} succeeded of "
                f"{len(runs)}; freshness max {max(ages.values(), default=float('nan')):6.0f} s "
                f"over {len(ages)} tables; load {loads[-1]:.1f}")  # fmt: skip
        log("eventsim's end time: waiting for the lander to commit every offset")
        produced_by_topic = drain_lander(stack, topics, prefix, args.drain_timeout)
        newest = CommitLog(lake, stack.webhdfs).sequences()[-1]
        log(f"lander caught up ({sum(produced_by_topic.values())} records); "
            f"waiting for a run to cover commit {newest}")  # fmt: skip
        deadline = time.monotonic() + args.drain_timeout
        while not any(r.commit_seq >= newest and r.status == "SUCCESS"
                      for r in pipeline_runs(home)):  # fmt: skip
            if time.monotonic() > deadline:
                raise SystemExit("no run covered the last commit in time")
            time.sleep(args.sample_every)
            ages = freshness(freshness_addr)
            loads.append(os.getloadavg()[0])
            if ages:
                drained.append(ages)
            log(f"draining: freshness max {max(ages.values(), default=float('nan')):6.0f} s "
                f"over {len(ages)} tables; load {loads[-1]:.1f}")  # fmt: skip
    finally:
        if session.poll() is None:
            session.send_signal(signal.SIGINT)
            session.wait(timeout=300)
    runs = pipeline_runs(home)
    report_runs(runs)
    print(f"\nload average: median {statistics.median(loads):.1f}, max {max(loads):.1f}")
    report_freshness("while eventsim produced", samples, rates)
    report_freshness("after eventsim's end, until the last run (no new event lands)", drained,
                     [])  # fmt: skip
    eventsim_summary = [
        line for line in (stack_dir / "logs" / "run-eventsim.log").read_text().splitlines()
        if line.startswith("eventsim:")
    ]  # fmt: skip
    print("\n".join(eventsim_summary[-1:]))
    print(f"eventsim's resident memory: max {max(rss, default=0.0):.0f} MB")
    lines = reconcile(produced_by_topic, spark_runner(thrift_port), clickhouse, lake, prefix,
                      soak_id)  # fmt: skip
    print("\n".join(lines))
    return 0 if lines[-1].endswith("every event accounted for") else 1


def rss_mb(pidfile: Path) -> float:
    """The resident memory of the process in `pidfile`, in MB (0 when it is not running)."""
    try:
        pid = pidfile.read_text().split()[0]
        status = Path(f"/proc/{pid}/status").read_text()
    except (OSError, IndexError):
        return 0.0
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(found[1]) / 1024 if found else 0.0


def drain_lander(stack: Stack, topics: list[str], prefix: str, timeout: float) -> dict[str, int]:
    """Wait until eventsim's offsets stop moving and the lander's group has committed up to
    them; the end offsets per topic."""
    deadline = time.monotonic() + timeout
    last: dict[str, int] = {}
    while time.monotonic() < deadline:
        ends = kafka_offsets(stack.kafka, topics)
        committed = kafka_offsets(stack.kafka, topics, group=f"{prefix}lander")
        if ends == last and committed == ends:
            return ends
        last = ends
        time.sleep(5.0)
    raise SystemExit(f"the lander did not catch up in {timeout:.0f} s: {committed} < {ends}")


def report_runs(runs: list[RunRecord]) -> None:
    print("\npipeline runs (seconds; dbt = dbt_models step, load = clickhouse_load step; "
          "tests = whether the run ran the dbt tests):")  # fmt: skip
    print(f"{'commit':>7} {'status':<9} {'tests':<6} {'run':>7} {'dbt':>7} {'load':>7}")
    for r in runs:
        print(f"{r.commit_seq:>7} {r.status:<9} {r.checks:<6} {r.seconds:7.1f} "
              f"{r.steps.get('dbt_models', float('nan')):7.1f} "
              f"{r.steps.get('clickhouse_load', float('nan')):7.1f}")  # fmt: skip
    for checks in ("all", "none"):
        ok = [r for r in runs if r.status == "SUCCESS" and r.checks == checks]
        for name, values in [
            ("run", [r.seconds for r in ok]),
            ("dbt", [r.steps["dbt_models"] for r in ok if "dbt_models" in r.steps]),
            ("load", [r.steps["clickhouse_load"] for r in ok if "clickhouse_load" in r.steps]),
        ]:
            if values:
                print(f"tests {checks:<4} {name:<5} median {statistics.median(values):6.1f} s, "
                      f"max {max(values):6.1f} s over {len(values)} runs")  # fmt: skip


def report_freshness(phase: str, samples: list[dict[str, float]], rates: list[float]) -> None:
    if not samples:
        print(f"\nfreshness {phase}: no sample (no gold table had rows yet)")
        return
    if rates:
        print(f"\nKafka records/s while sampled: median {statistics.median(rates):.0f}")
    print(f"\nfreshness {phase}, {len(samples)} samples (seconds; overall = the stalest table "
          "of each sample):")  # fmt: skip
    tables = sorted({t for s in samples for t in s})
    series = {t: [s[t] for s in samples if t in s] for t in tables}
    series["overall"] = [max(s.values()) for s in samples]
    for name, values in series.items():
        print(f"  {name:<34} p50 {percentile(values, 0.5):7.0f}  p95 "
              f"{percentile(values, 0.95):7.0f}  max {max(values):7.0f}")  # fmt: skip


def cleanup(stack: Stack, soak_id: str, topics: list[str], base: str) -> None:
    from confluent_kafka.admin import AdminClient

    try:
        clickhouse_command(stack.clickhouse, f"DROP DATABASE IF EXISTS {soak_id}")
    except OSError as err:  # cleanup reports, never hides the soak's result
        print(f"could not drop the ClickHouse database: {err}", file=sys.stderr)
    client = AdminClient({"bootstrap.servers": stack.kafka})
    for future in client.delete_topics(topics).values():
        try:
            future.result(timeout=15)
        except Exception as err:
            print(f"could not delete a topic: {err}", file=sys.stderr)
    query = urllib.parse.urlencode({"op": "DELETE", "recursive": "true",
                                    "user.name": getpass.getuser()})  # fmt: skip
    url = f"{stack.webhdfs}/webhdfs/v1{base}?{query}"
    request = urllib.request.Request(url, method="DELETE")  # noqa: S310 - the local NameNode
    try:
        urllib.request.urlopen(request, timeout=60).close()  # noqa: S310 - the local NameNode
    except OSError as err:
        print(f"could not delete {base}: {err}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
