"""The floor of the modeling stage: read bronze once and write it once as Parquet, no transforms.

scripts/bench-dbt reports each dbt build as a ratio to this floor, measured in the same run on
the same lake: the four bronze tables (every column, the days asked) copied into
``<lake>/_floor/<run>/<topic>``, partitioned by event_date as the facts are, by the same kind of
Spark session dbt uses:

    session  a session built by soundlake.spark.session (the settings soundlake-dbt uses)
    thrift   the warm Spark Thrift server (SOUNDLAKE_SPARK_THRIFT_HOST/PORT), over HiveServer2

Only the copy statements are timed (not the session's start). The tables are dropped after;
their files stay under ``<lake>/_floor/`` (scripts/bench-dbt removes its whole lake).

    python -m benchmarks.dbt_floor --target session --days 2026-10-05,2026-10-06
    python -m benchmarks.dbt_floor --target thrift            # every day in bronze
    python -m benchmarks.dbt_floor --target thrift --drop-schema NAME   # clean up a schema

Settings: SOUNDLAKE_LAKE_URL (the lake), SOUNDLAKE_TOPIC_PREFIX (the lander's topic prefix).
Prints one line: ``floor <seconds> s <rows> rows``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence

TOPICS = ("listen_events", "page_view_events", "auth_events", "status_change_events")


def copy_statements(
    lake: str, prefix: str, schema: str, days: Sequence[str], run_id: str
) -> list[str]:
    """The SQL of the floor: per topic, a Parquet copy of its bronze partitions into
    ``<lake>/_floor/<run_id>/<topic>`` (a new folder: Spark may not write into a used one)."""
    where = " where event_date in (" + ", ".join(f"date'{d}'" for d in days) + ")" if days else ""
    statements = [f"create schema if not exists {schema}"]
    for topic in TOPICS:
        table = f"{schema}.floor_{topic}"
        # the write as a tuned job does it: rows of a day together, so that each day is written
        # as a few files rather than one per task (REBALANCE; AQE splits a large day)
        select = "select /*+ REBALANCE(event_date) */ * from parquet.`{}/bronze/{}{}`{}"
        statements += [
            f"drop table if exists {table}",
            f"create table {table} using parquet partitioned by (event_date)"
            f" location '{lake}/_floor/{run_id}/{topic}'"
            f" as {select.format(lake, prefix, topic, where)}",
        ]
    return statements


def _session_runner() -> tuple[Callable[[str], list[tuple]], Callable[[], None]]:
    from soundlake.spark.session import build_session

    spark = build_session("soundlake-bench-floor", register_udfs=False)
    return (lambda sql: [tuple(r) for r in spark.sql(sql).collect()]), spark.stop


def _thrift_runner() -> tuple[Callable[[str], list[tuple]], Callable[[], None]]:
    from pyhive import hive

    conn = hive.connect(
        host=os.environ.get("SOUNDLAKE_SPARK_THRIFT_HOST", "127.0.0.1"),
        port=int(os.environ.get("SOUNDLAKE_SPARK_THRIFT_PORT", "10000")),
        username=os.environ.get("SOUNDLAKE_SPARK_THRIFT_USER", "soundlake"),
    )
    cursor = conn.cursor()

    def run(sql: str) -> list[tuple]:
        cursor.execute(sql)
        return list(cursor.fetchall()) if cursor.description else []

    return run, conn.close


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.dbt_floor",
        description="Read bronze once, write it once as Parquet: the floor of a dbt build.",
    )
    parser.add_argument("--target", choices=("session", "thrift"), default="session")
    parser.add_argument("--days", default="", help="comma-separated YYYY-MM-DD (default: all)")
    parser.add_argument("--schema", default="soundlake_floor", help="schema of the copies")
    parser.add_argument(
        "--drop-schema", metavar="NAME", help="only drop schema NAME (cascade) and exit"
    )
    args = parser.parse_args(argv)
    lake = os.environ.get("SOUNDLAKE_LAKE_URL", "hdfs://127.0.0.1:8020/lake").rstrip("/")
    prefix = os.environ.get("SOUNDLAKE_TOPIC_PREFIX", "")
    days = [d for d in args.days.split(",") if d]
    run, close = _session_runner() if args.target == "session" else _thrift_runner()
    if args.drop_schema:
        try:
            run(f"drop schema if exists {args.drop_schema} cascade")
        finally:
            close()
        return 0
    try:
        started = time.monotonic()
        for sql in copy_statements(lake, prefix, args.schema, days, str(time.time_ns())):
            run(sql)
        seconds = time.monotonic() - started
        count = "select count(*) from {}.floor_{}"
        rows = sum(int(run(count.format(args.schema, t))[0][0]) for t in TOPICS)
        for topic in TOPICS:
            run(f"drop table if exists {args.schema}.floor_{topic}")
        run(f"drop schema if exists {args.schema} cascade")
    finally:
        close()
    print(f"floor {seconds:.1f} s {rows} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
