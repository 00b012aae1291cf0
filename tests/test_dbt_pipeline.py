"""The dbt project end to end on the real stack: eventsim → Kafka → soundlake-ingest → bronze on
HDFS → `soundlake-dbt build` (Spark, Rust UDFs) → silver and gold Parquet on HDFS; the gold
reports cross-checked against an independent pandas computation from eventsim's own JSON
output of the same simulation; then a new day landed later and built incrementally (only its
partitions, plus the look-back ones, are rewritten); a full build by plain dbt through the
stack's Spark Thrift server, of the same days landed separately, must give the same reports.

The new day: one simulation of three days is landed twice (two lander runs, two consumer
groups, two scratch lakes); the first two days of the first landing go into the test's lake,
then, after the first build, the third day of the second landing — so its rows carry a later
`_ingested_at`, as a day landed later does.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pytest
from conftest import KAFKA_TIMEOUT_S, ClickHouseDb, Endpoints, HdfsDir, cargo_binaries, unique_name

if TYPE_CHECKING:
    from confluent_kafka.admin import AdminClient
    from pyspark.sql import SparkSession

ROOT = Path(__file__).resolve().parent.parent
TOPICS = ("listen_events", "page_view_events", "auth_events", "status_change_events")
DAYS = ("2026-11-02", "2026-11-03", "2026-11-04")  # Monday to Wednesday
FIRST_DAYS, NEW_DAY = DAYS[:2], DAYS[2]
SIMULATION = [
    "-c", "eventsim/configs/eventsim-config-example.json",
    "--nusers", "150", "--growth-rate", "20", "--randomseed", "11",
    "--start-time", f"{DAYS[0]}T00:00:00", "--end-time", "2026-11-05T00:00:00",
    "--progress", "never",
]  # fmt: skip
TOP_N = 20
BUILD_TIMEOUT_S = 1200


def run(
    command: list[str],
    env: dict[str, str] | None = None,
    timeout: float = 600,
    cwd: Path = ROOT,
) -> str:
    """Run a command (from the repository root unless told); fail the test with its output
    when it fails."""
    try:
        done = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"{command[0]} timed out after {timeout}s:\n{err.stdout}\n{err.stderr}")
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-60:])
        pytest.fail(f"{' '.join(command)} exited {done.returncode}:\n{tail}", pytrace=False)
    return done.stdout


def binary(name: str) -> str:
    """A workspace binary (debug build; built here when missing or stale)."""
    return str(cargo_binaries(name) / name)


# --- the lake on HDFS ------------------------------------------------------------------------


def hdfs_move(folder: HdfsDir, source: str, target: str) -> None:
    """Rename `source` to `target` (both relative to `folder`), creating target's parent."""
    parent = target.rsplit("/", 1)[0]
    folder.webhdfs(parent, "MKDIRS", method="PUT")
    answer = json.loads(
        folder.webhdfs(source, "RENAME", method="PUT", destination=f"{folder.path}/{target}")
    )
    assert answer.get("boolean") is True, f"WebHDFS RENAME {source} -> {target}: {answer}"


def move_days(
    folder: HdfsDir, landing: str, prefix: str, days: tuple[str, ...], lake: str = "lake"
) -> None:
    for topic in TOPICS:
        for day in days:
            source = f"{landing}/bronze/{prefix}{topic}/event_date={day}"
            if f"event_date={day}" in folder.list_names(f"{landing}/bronze/{prefix}{topic}"):
                hdfs_move(folder, source, f"{lake}/bronze/{prefix}{topic}/event_date={day}")


def partition_times(folder: HdfsDir, table_dir: str) -> dict[str, int]:
    """event_date → the newest modification time (ms) of the partition's files."""
    result = {}
    for name in folder.list_names(table_dir):
        if not name.startswith("event_date="):
            continue
        listing = json.loads(folder.webhdfs(f"{table_dir}/{name}", "LISTSTATUS"))
        times = [f["modificationTime"] for f in listing["FileStatuses"]["FileStatus"]]
        result[name.removeprefix("event_date=")] = max(times, default=0)
    return result


# --- the generated data set -------------------------------------------------------------------


@dataclass
class Pipeline:
    folder: HdfsDir
    lake_url: str
    dbt_env: dict[str, str]
    events: dict[str, pd.DataFrame]  # eventsim's JSON output per topic

    def dbt(self, *args: str) -> str:
        return run(
            [str(Path(sys.executable).parent / "soundlake-dbt"), *args],
            env=self.dbt_env,
            timeout=BUILD_TIMEOUT_S,
        )


def read_events(folder: Path) -> dict[str, pd.DataFrame]:
    events = {}
    for topic in TOPICS:
        frame = pd.read_json(folder / f"{topic}.jsonl", lines=True, dtype={"zip": str})
        frame["event_ts"] = pd.to_datetime(frame["ts"], unit="ms")
        frame["event_date"] = frame["event_ts"].dt.strftime("%Y-%m-%d")
        events[topic] = frame
    return events


def delete_topics(admin: AdminClient, topics: list[str]) -> None:
    """Delete a test's topics; one that cannot be deleted is reported, not fatal."""
    for name, future in admin.delete_topics(topics).items():
        try:
            future.result(timeout=KAFKA_TIMEOUT_S)
        except Exception as err:
            print(f"could not delete topic {name}: {err}", file=sys.stderr)


def dbt_env(
    tmp_path: Path, *, lake_url: str, hdfs_url: str, schema: str, topic_prefix: str = ""
) -> dict[str, str]:
    """soundlake-dbt's environment for a test's own lake, schema, metastore and dbt folders."""
    env = {
        **os.environ,
        "SOUNDLAKE_ROOT": str(ROOT),
        "SOUNDLAKE_LAKE_URL": lake_url,
        "SOUNDLAKE_DBT_SCHEMA": schema,
        "SOUNDLAKE_HDFS_URL": hdfs_url,
        "SOUNDLAKE_SPARK_METASTORE_URL": (
            f"jdbc:derby:;databaseName={tmp_path / 'metastore'};create=true"
        ),
        "SOUNDLAKE_SPARK_WAREHOUSE": str(tmp_path / "warehouse"),
        "SOUNDLAKE_SPARK_LOCAL_DIR": str(tmp_path / "spark-local"),
        "SOUNDLAKE_SPARK_DRIVER_MEMORY": "1g",
        "DBT_LOG_PATH": str(tmp_path / "dbt-logs"),
        "DBT_TARGET_PATH": str(tmp_path / "dbt-target"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    if topic_prefix:
        env["SOUNDLAKE_TOPIC_PREFIX"] = topic_prefix
    return env


def stack_dbt_env(
    stack: Endpoints, hdfs_dir: HdfsDir, prefix: str, tmp_path: Path
) -> dict[str, str]:
    """dbt_env for a lake at `lake/` in `hdfs_dir`, over the topics named with `prefix`."""
    return dbt_env(
        tmp_path,
        lake_url=hdfs_dir.url_of("lake"),
        hdfs_url=stack.hdfs_url,
        schema=prefix.rstrip("_"),
        topic_prefix=prefix,
    )


@pytest.fixture
def pipeline(stack: Endpoints, hdfs_dir: HdfsDir, tmp_path: Path) -> Iterator[Pipeline]:
    """Three simulated days landed in a fresh lake, first two days only (see the module doc)."""
    from confluent_kafka.admin import AdminClient

    eventsim, ingest = binary("eventsim"), binary("soundlake-ingest")
    json_dir = tmp_path / "events"
    run([eventsim, *SIMULATION, "--output-dir", str(json_dir)])
    prefix = unique_name("dbt") + "_"
    topics = [f"{prefix}{t}" for t in TOPICS]
    admin = AdminClient({"bootstrap.servers": stack.kafka_brokers})
    try:
        run([eventsim, *SIMULATION, "--kafka-brokers", stack.kafka_brokers,
             "--topic-prefix", prefix, "--partitions", "2"])  # fmt: skip
        for landing in ("landing1", "landing2"):
            run([ingest, "--brokers", stack.kafka_brokers, "--topics", ",".join(topics),
                 "--lake-url", hdfs_dir.url_of(landing), "--group", f"{prefix}{landing}",
                 "--writer-id", f"{prefix}{landing}", "--until-caught-up",
                 "--metrics-addr", "none"])  # fmt: skip
        move_days(hdfs_dir, "landing1", prefix, FIRST_DAYS)
        env = stack_dbt_env(stack, hdfs_dir, prefix, tmp_path)
        yield Pipeline(hdfs_dir, hdfs_dir.url_of("lake"), env, read_events(json_dir))
    finally:
        delete_topics(admin, topics)


# --- independent computations from the raw events ---------------------------------------------


def normalize(values: pd.Series) -> pd.Series:
    from soundlake_udfs import arrow

    return pd.Series(arrow.normalize_name(pa.array(values)).to_pylist(), index=values.index)


def expected_reports(events: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    pv = events["page_view_events"]
    listens = events["listen_events"]
    changes = events["status_change_events"]
    users = pv[pv["userId"].notna()]
    user_listens = listens[listens["userId"].notna()]
    reports: dict[str, pd.DataFrame] = {}

    last_level = users.sort_values("ts").groupby(["event_date", "userId"])["level"].last()
    daily = pd.DataFrame({
        "active_users": users.groupby("event_date")["userId"].nunique(),
        "paid_active_users": last_level[last_level == "paid"].groupby("event_date").size(),
        "free_active_users": last_level[last_level == "free"].groupby("event_date").size(),
        "sessions": users.groupby("event_date")["sessionId"].nunique(),
        "listen_events": user_listens.groupby("event_date").size(),
        "listening_seconds": user_listens.groupby("event_date")["duration"].sum(),
    }).fillna(0)  # fmt: skip
    reports["gold_daily_active_users"] = daily.reset_index()

    listens = listens.assign(
        artist_key=normalize(listens["artist"]), song_title_key=normalize(listens["song"])
    )
    listens["song_key"] = listens["artist_key"] + "|" + listens["song_title_key"]
    for report, key in (("gold_top_songs", "song_key"), ("gold_top_artists", "artist_key")):
        plays = (
            listens.groupby(["event_date", key])
            .agg(play_count=("ts", "size"), listeners=("userId", "nunique"))
            .reset_index()
            .sort_values(["event_date", "play_count", key], ascending=[True, False, True])
        )
        plays["rank"] = plays.groupby("event_date").cumcount() + 1
        reports[report] = plays[plays["rank"] <= TOP_N]

    by_level = users.groupby(["event_date", "level"])
    free_paid = pd.DataFrame({
        "active_users": by_level["userId"].nunique(),
        "sessions": by_level["sessionId"].nunique(),
        "page_views": by_level.size(),
        "listen_events": user_listens.groupby(["event_date", "level"]).size(),
    }).fillna(0)  # fmt: skip
    reports["gold_free_vs_paid"] = free_paid.reset_index()

    upgrades = changes[changes["level"] == "free"]
    conversion = pd.DataFrame({
        "free_active_users": users[users["level"] == "free"].groupby("event_date")["userId"].nunique(),
        "upgrades": upgrades.groupby("event_date").size(),
        "upgraded_users": upgrades.groupby("event_date")["userId"].nunique(),
        "downgrades": changes[changes["level"] == "paid"].groupby("event_date").size(),
    }).fillna(0)  # fmt: skip
    reports["gold_conversion_free_to_paid"] = conversion.reset_index()

    cancels = pv[pv["page"] == "Cancellation Confirmation"].copy()
    registered = pd.to_datetime(cancels["registration"], unit="ms")
    cancels["cohort_week"] = (
        registered.dt.normalize() - pd.to_timedelta(registered.dt.weekday, unit="D")
    ).dt.strftime("%Y-%m-%d")
    reports["gold_churn"] = (
        cancels.groupby(["event_date", "level", "cohort_week"])
        .agg(cancellations=("ts", "size"), cancelled_users=("userId", "nunique"))
        .reset_index()
    )

    errors = pv[pv["status"] >= 400]
    reports["gold_error_status_by_page"] = (
        errors.groupby(["event_date", "page", "method", "status"])
        .agg(errors=("ts", "size"), users=("userId", "nunique"))
        .reset_index()
    )

    hourly = events["listen_events"].assign(hour=lambda f: f["event_ts"].dt.hour)
    reports["gold_listening_by_weekday_hour"] = (
        hourly.groupby(["event_date", "hour"])
        .agg(listen_events=("ts", "size"), listeners=("userId", "nunique"))
        .reset_index()
    )

    ordered = pv.sort_values(["sessionId", "ts", "itemInSession"])
    sessions = ordered.groupby("sessionId").agg(
        user=("userId", "max"),
        level=("level", "first"),
        start=("event_ts", "min"),
        end=("event_ts", "max"),
        songs=("page", lambda p: int((p == "NextSong").sum())),
    )
    sessions["level"] = sessions["level"].where(sessions["user"].notna(), "guest")
    sessions["event_date"] = sessions["start"].dt.strftime("%Y-%m-%d")
    sessions["duration"] = (sessions["end"] - sessions["start"]).dt.total_seconds()
    reports["gold_session_duration"] = (
        sessions.groupby(["event_date", "level"])
        .agg(sessions=("duration", "size"), avg_duration_seconds=("duration", "mean"))
        .reset_index()
    )

    songs = events["listen_events"].sort_values(["sessionId", "ts", "itemInSession"])
    next_ts = songs.groupby("sessionId")["ts"].shift(-1)
    songs = songs.assign(skipped=(next_ts - songs["ts"]) < songs["duration"] * 1000)
    skips = songs.groupby("sessionId")["skipped"].sum().rename("skipped_songs")
    with_songs = sessions[sessions["songs"] > 0].join(skips)
    with_songs = with_songs[with_songs["level"] != "guest"]
    reports["gold_skipping_sessions"] = (
        with_songs.groupby(["event_date", "level"])
        .agg(
            listening_sessions=("songs", "size"),
            skipping_sessions=("skipped_songs", lambda s: int((s > 0).sum())),
            songs=("songs", "sum"),
            skipped_songs=("skipped_songs", "sum"),
        )
        .reset_index()
    )

    activity = users.assign(
        registration_date=pd.to_datetime(users["registration"], unit="ms").dt.strftime("%Y-%m-%d")
    )
    in_week = activity[
        (activity["event_date"] >= activity["registration_date"])
        & (
            pd.to_datetime(activity["event_date"])
            <= pd.to_datetime(activity["registration_date"]) + pd.Timedelta(days=6)
        )
    ]
    per_user = in_week.groupby(["registration_date", "userId"]).agg(
        active_days=("event_date", "nunique"), sessions=("sessionId", "nunique")
    )
    reports["gold_new_user_first_week"] = (
        per_user.groupby("registration_date")
        .agg(new_users=("active_days", "size"), avg_active_days=("active_days", "mean"))
        .reset_index()
        .rename(columns={"registration_date": "event_date"})
    )

    # the original reports' grains: per user and day, per session, per status, per song and day
    by_user = users.sort_values("ts").groupby(["event_date", "userId"])
    user_daily = pd.DataFrame({
        "level": by_user["level"].last(),
        "registration_date": by_user["registration"].max().pipe(
            lambda r: pd.to_datetime(r, unit="ms").dt.strftime("%Y-%m-%d")
        ),
        "sessions": by_user["sessionId"].nunique(),
        "page_views": by_user.size(),
        "songs": by_user["page"].agg(lambda p: int((p == "NextSong").sum())),
        "listening_seconds": user_listens.groupby(["event_date", "userId"])["duration"].sum(),
    }).fillna({"listening_seconds": 0})  # fmt: skip
    reports["gold_user_daily"] = (
        user_daily.reset_index().rename(columns={"userId": "user_id"}).astype({"user_id": "int64"})
    )

    logged_in = sessions[sessions["level"] != "guest"].join(skips).fillna({"skipped_songs": 0})
    minutes = logged_in["duration"] / 60
    reports["gold_user_sessions"] = pd.DataFrame({
        "event_date": logged_in["event_date"],
        "session_id": logged_in.index.astype("int64"),
        "level": logged_in["level"],
        "duration_seconds": logged_in["duration"],
        "songs": logged_in["songs"],
        "skipped_songs": logged_in["skipped_songs"],
        "skips_per_minute": (logged_in["skipped_songs"] / minutes).where(minutes > 0),
    }).reset_index(drop=True)  # fmt: skip

    category = pd.cut(
        pv["status"], [199, 299, 399, 499, 599],
        labels=["success", "redirect", "client error", "server error"],
    ).astype(object).fillna("other")  # fmt: skip
    reports["gold_status_codes"] = (
        pv.assign(status_category=category)
        .groupby(["event_date", "status", "status_category"])
        .agg(
            events=("ts", "size"),
            affected_users=("userId", "nunique"),
            affected_sessions=("sessionId", "nunique"),
        )
        .reset_index()
    )

    reports["gold_song_plays"] = (
        listens.groupby(["event_date", "song_key"])
        .agg(play_count=("ts", "size"), listening_seconds=("duration", "sum"))
        .reset_index()
    )
    return reports


# --- comparing ----------------------------------------------------------------------------------


def read_gold(spark: SparkSession, lake_url: str, model: str) -> pd.DataFrame:
    frame = spark.read.parquet(f"{lake_url}/gold/{model}").toPandas()
    frame["event_date"] = frame["event_date"].astype(str)
    for column in ("cohort_week", "registration_date"):
        if column in frame:
            frame[column] = frame[column].astype(str)
    return frame


def assert_matches(model: str, actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Every column of `expected` equals `actual`'s, row for row by the key columns."""
    keys = [
        c
        for c in expected.columns
        if expected[c].dtype == object or c in ("hour", "status", "rank", "user_id", "session_id")
    ]
    values = [c for c in expected.columns if c not in keys]
    assert not expected.empty, f"{model}: the raw events give no row: the check would be empty"
    left = actual[keys + values].sort_values(keys).reset_index(drop=True)
    right = expected[keys + values].sort_values(keys).reset_index(drop=True)
    assert len(left) == len(right), (
        f"{model}: {len(left)} rows in gold, {len(right)} from the raw events\n"
        f"gold:\n{left.head(20)}\nraw:\n{right.head(20)}"
    )
    for column in keys:
        assert left[column].astype(str).tolist() == right[column].astype(str).tolist(), (
            f"{model}.{column} differs:\n{left[keys].head(20)}\n{right[keys].head(20)}"
        )
    for column in values:
        pd.testing.assert_series_equal(
            left[column].astype(float), right[column].astype(float),
            check_names=False, rtol=1e-9, obj=f"{model}.{column}",
        )  # fmt: skip


GOLD = (
    "gold_daily_active_users", "gold_top_songs", "gold_top_artists", "gold_city_activity",
    "gold_free_vs_paid", "gold_conversion_free_to_paid", "gold_churn", "gold_session_duration",
    "gold_skipping_sessions", "gold_error_status_by_page", "gold_listening_by_weekday_hour",
    "gold_new_user_first_week", "gold_device_mix", "gold_retention_cohorts", "gold_user_daily",
    "gold_user_sessions", "gold_status_codes", "gold_song_plays",
)  # fmt: skip


def snapshot(spark: SparkSession, lake_url: str) -> dict[str, pd.DataFrame]:
    """Every gold report's rows (less the watermark column), sorted, for equality checks."""
    result = {}
    for model in GOLD:
        frame = read_gold(spark, lake_url, model).drop(columns=["_ingested_at"])
        result[model] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return result


def test_dbt_builds_silver_and_gold_from_landed_events_incrementally(
    pipeline: Pipeline, spark: SparkSession, stack: Endpoints
) -> None:
    folder = pipeline.folder
    pipeline.dbt("build")  # every model and every data test, days 1 and 2
    facts = "lake/silver/fact_page_views"
    sessions = "lake/silver/dim_sessions"
    dau = "lake/gold/gold_daily_active_users"
    before = {t: partition_times(folder, t) for t in (facts, sessions, dau)}
    assert sorted(before[facts]) == list(FIRST_DAYS)
    assert sorted(before[dau]) == list(FIRST_DAYS)

    # day 3 arrives: landed later (the second landing), built incrementally and tested
    move_days(folder, "landing2", pipeline.dbt_env["SOUNDLAKE_TOPIC_PREFIX"], (NEW_DAY,))
    # one machine, one clock: no skew margin, or the files the first build wrote moments ago
    # would count as this build's
    pipeline.dbt("build", "--vars", "{clock_skew_minutes: 0}")
    # the build's tests checked the days it wrote (macros/test_scope.sql): the facts' new day
    # only, the same for each of a fact's tests
    for test in ("not_null_columns_fact_page_views", "unique_combination_fact_page_views",
                 "not_null_columns_fact_listen_events"):  # fmt: skip
        assert days_tested(pipeline, test) == [NEW_DAY], test
    # reconciles_with compares with bronze, so it checks every day
    assert days_tested(pipeline, "reconciles_with_fact_page_views") is None
    after = {t: partition_times(folder, t) for t in (facts, sessions, dau)}
    for table in (facts, dau):
        assert sorted(after[table]) == list(DAYS), table
        for day in FIRST_DAYS:
            assert after[table][day] == before[table][day], f"{table} rewrote {day}"
    # sessions may last into the new day: the start days of the look-back (2 days) are recomputed
    for day in FIRST_DAYS:
        assert after[sessions][day] > before[sessions][day], f"{sessions} kept {day}"

    # the reports, from every landed day, against the raw events
    expected = expected_reports(pipeline.events)
    for model, frame in expected.items():
        assert_matches(model, read_gold(spark, pipeline.lake_url, model), frame)

    # a full build gives the same reports as the incremental runs: plain dbt, as a user runs
    # it in dbt_spark/ (no options: the profile's default target is the stack's Spark Thrift
    # server), builds every day at once from the same events landed separately (the days of
    # both landings that are still there, into a lake of its own)
    incremental = snapshot(spark, pipeline.lake_url)
    prefix = pipeline.dbt_env["SOUNDLAKE_TOPIC_PREFIX"]
    move_days(folder, "landing2", prefix, FIRST_DAYS, "plain")
    move_days(folder, "landing1", prefix, (NEW_DAY,), "plain")
    through_thrift = plain_dbt_build(pipeline, stack)
    plain = snapshot(spark, through_thrift)
    for model in GOLD:
        pd.testing.assert_frame_equal(plain[model], incremental[model], obj=f"plain dbt: {model}")


def plain_dbt_build(pipeline: Pipeline, stack: Endpoints) -> str:
    """`dbt build` run in dbt_spark/ with nothing but the lake, schema and dbt folders set,
    into the lake `plain/` beside the test's; its lake URL. Drops the schema it created in the
    stack's metastore afterwards."""
    from pyhive import hive

    lake_url = pipeline.folder.url_of("plain")
    schema = f"{pipeline.dbt_env['SOUNDLAKE_DBT_SCHEMA']}_plain"
    host, _, port = stack.spark_thrift.rpartition(":")
    env = {
        **os.environ,
        "SOUNDLAKE_LAKE_URL": lake_url,
        "SOUNDLAKE_DBT_SCHEMA": schema,
        "SOUNDLAKE_TOPIC_PREFIX": pipeline.dbt_env["SOUNDLAKE_TOPIC_PREFIX"],
        "SOUNDLAKE_SPARK_THRIFT_HOST": host,
        "SOUNDLAKE_SPARK_THRIFT_PORT": port,
        "DBT_LOG_PATH": pipeline.dbt_env["DBT_LOG_PATH"] + "-plain",
        "DBT_TARGET_PATH": pipeline.dbt_env["DBT_TARGET_PATH"] + "-plain",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    env.pop("SOUNDLAKE_DBT_TARGET", None)
    dbt = str(Path(sys.executable).parent / "dbt")
    connection = hive.connect(host=host, port=int(port), username="tests")
    try:
        cursor = connection.cursor()
        try:
            run([dbt, "build"], env=env, timeout=BUILD_TIMEOUT_S, cwd=ROOT / "dbt_spark")
            # it ran on the Thrift server: the models are tables in the server's catalog
            cursor.execute(f"SHOW TABLES IN {schema}")
            tables = {row[1] for row in cursor.fetchall()}
            assert set(GOLD) <= tables, sorted(tables)
        finally:
            cursor.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        connection.close()
    return lake_url


def days_tested(pipeline: Pipeline, test_prefix: str) -> list[str] | None:
    """The event days the last build's data test named `test_prefix...` checked (from its SQL
    in dbt's run_results.json), or None when it checked every row."""
    results = json.loads(
        (Path(pipeline.dbt_env["DBT_TARGET_PATH"]) / "run_results.json").read_text()
    )["results"]
    sqls = [
        r["compiled_code"]
        for r in results
        if r["unique_id"].startswith(f"test.soundlake.{test_prefix}")
    ]
    assert len(sqls) == 1, f"{test_prefix}: {len(sqls)} tests in the last build"
    scope = re.search(r"\bevent_date in \(([^)]*)\)\) dbt_subquery", sqls[0])
    if scope is None:
        return None
    return sorted(re.findall(r"date'([0-9-]+)'", scope.group(1)))


# --- several generator runs into one lake -----------------------------------------------------

# Three runs of the generator into one lake: other users over overlapping days, and the first
# run's users again over a window that overlaps theirs. Session ids must stay unique across
# runs (eventsim/README.md, "Session ids"), so every dbt test passes and the sessions equal a
# count of the raw events.
RUNS = (
    ("--userid", "1", "--randomseed", "21",
     "--start-time", "2026-11-02T00:00:00", "--end-time", "2026-11-04T00:00:00"),
    ("--userid", "5001", "--randomseed", "22",
     "--start-time", "2026-11-03T00:00:00", "--end-time", "2026-11-05T00:00:00"),
    ("--userid", "1", "--randomseed", "23",
     "--start-time", "2026-11-03T12:00:00", "--end-time", "2026-11-05T00:00:00"),
)  # fmt: skip


def test_several_generator_runs_into_one_lake_keep_sessions_apart(
    stack: Endpoints, hdfs_dir: HdfsDir, tmp_path: Path, spark: SparkSession
) -> None:
    from confluent_kafka.admin import AdminClient

    eventsim, ingest = binary("eventsim"), binary("soundlake-ingest")
    common = ["-c", "eventsim/configs/eventsim-config-example.json", "--nusers", "40",
              "--progress", "never"]  # fmt: skip
    prefix = unique_name("runs") + "_"
    topics = [f"{prefix}{t}" for t in TOPICS]
    admin = AdminClient({"bootstrap.servers": stack.kafka_brokers})
    frames: dict[str, list[pd.DataFrame]] = {t: [] for t in TOPICS}
    try:
        for number, options in enumerate(RUNS):
            json_dir = tmp_path / f"run{number}"
            run([eventsim, *common, *options, "--output-dir", str(json_dir)])
            run([eventsim, *common, *options, "--kafka-brokers", stack.kafka_brokers,
                 "--topic-prefix", prefix, "--partitions", "2"])  # fmt: skip
            for topic, frame in read_events(json_dir).items():
                frames[topic].append(frame)
        run([ingest, "--brokers", stack.kafka_brokers, "--topics", ",".join(topics),
             "--lake-url", hdfs_dir.url_of("lake"), "--group", f"{prefix}lander",
             "--writer-id", f"{prefix}lander", "--until-caught-up",
             "--metrics-addr", "none"])  # fmt: skip
        events = {t: pd.concat(f, ignore_index=True) for t, f in frames.items()}
        env = stack_dbt_env(stack, hdfs_dir, prefix, tmp_path)
        pipeline = Pipeline(hdfs_dir, hdfs_dir.url_of("lake"), env, events)
        # every model and every data test (unique session ids among them) must pass
        pipeline.dbt("build")
    finally:
        delete_topics(admin, topics)

    # no two runs share a session id: the runs' sessions, counted run by run, are all distinct
    per_run = [
        set(pd.concat([f["sessionId"] for f in (frames[t][number] for t in TOPICS)]).unique())
        for number in range(len(RUNS))
    ]
    raw_ids = set().union(*per_run)
    assert len(raw_ids) == sum(len(ids) for ids in per_run), "runs share session ids"
    # dim_sessions holds exactly the sessions of the raw events of all runs
    dim = spark.read.parquet(f"{pipeline.lake_url}/silver/dim_sessions").toPandas()
    assert len(dim) == len(raw_ids), f"{len(dim)} sessions in dim_sessions, {len(raw_ids)} raw"
    assert set(dim["session_id"]) == raw_ids
    # and the reports of all runs together match an independent computation (a report that the
    # raw events leave empty, such as churn without a cancellation, has no partition in gold)
    for model, frame in expected_reports(events).items():
        if frame.empty:
            partitions = hdfs_dir.list_names(f"lake/gold/{model}")
            assert not [p for p in partitions if p.startswith("event_date=")], model
            continue
        assert_matches(model, read_gold(spark, pipeline.lake_url, model), frame)


# --- a gold model without rows ----------------------------------------------------------------


def test_a_gold_model_without_rows_gets_an_empty_clickhouse_table(
    clickhouse_db: ClickHouseDb, tmp_path: Path
) -> None:
    """Nothing landed: gold_churn is built without rows. Spark writes no data file for an empty
    partitioned table, so the model's post-hook writes its schema file (`_schema/`), from which
    soundlake-loader creates the empty ClickHouse table with the model's columns."""
    import pyarrow.parquet as pq
    from ops_support import gold_models

    lake = tmp_path / "lake"
    env = dbt_env(
        tmp_path, lake_url=lake.as_uri(), hdfs_url="file:///", schema=unique_name("empty")
    )
    soundlake_dbt = str(Path(sys.executable).parent / "soundlake-dbt")
    run([soundlake_dbt, "run", "--select", "+gold_churn"], env=env, timeout=BUILD_TIMEOUT_S)
    table_dir = lake / "gold" / "gold_churn"
    assert not [p for p in table_dir.rglob("*.parquet") if "_schema" not in p.parts]
    schema_files = list(
        (table_dir / "_schema" / "event_date=__HIVE_DEFAULT_PARTITION__").glob("part-*.parquet")
    )
    assert len(schema_files) == 1, list(table_dir.rglob("*"))
    assert pq.read_metadata(schema_files[0]).num_rows == 0
    columns = [c for c, _ in gold_models()["gold_churn"]]
    assert sorted(pq.read_schema(schema_files[0]).names) == sorted(columns)

    # a second run (incremental, still nothing) keeps it; the loader creates the table
    run([soundlake_dbt, "run", "--select", "gold_churn"], env=env, timeout=BUILD_TIMEOUT_S)
    assert list(schema_files[0].parent.glob("part-*.parquet")) == schema_files
    run([binary("soundlake-loader"), "--lake-url", lake.as_uri(),
         "--clickhouse-url", clickhouse_db.url, "--database", clickhouse_db.name,
         "--progress", "never"], env=env)  # fmt: skip
    described = clickhouse_db.query_json("DESCRIBE TABLE gold_churn")
    types = {row["name"]: row["type"] for row in described}
    assert sorted(types) == sorted(columns), types
    assert types["event_date"] == "Date"
    assert types["cancellations"] == "Nullable(Int64)"
    assert types["_ingested_at"] == "Nullable(DateTime('UTC'))"
    assert clickhouse_db.query_json("SELECT count() AS n FROM gold_churn") == [{"n": "0"}]
