"""Export a table's data-quality summary: row counts, null counts and rates per column, and the
rows breaking each ``event_problems`` rule, for the whole table or per ``event_date``.

The table is a Parquet folder of the lake (``bronze/listen_events``, ``silver/fact_listen_events``,
a full URL) or, with ``--catalog``, a table of the Spark catalog (``soundlake.fact_page_views``).
The rules come from the table's ``problems`` column (the facts) or, for a bronze table (it has
the raw event columns), from the Rust UDF ``event_problems`` applied to every row.

The summary is one file, in long form (one row per measure)::

    table_name, event_date, measure, column_name, rule, value

with measures ``rows``, ``null_rows`` and ``null_rate`` (per column) and ``problem_rows`` (per
rule; rule ``clean`` counts rows breaking none). ``--format json`` writes a nested document
instead. The target is a lake URL or a local path; it is written under a temporary name and
renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soundlake.jobs.common import build_session, default_lake_url, log, setup_logging
from soundlake.jobs.hadoop_fs import AlreadyExistsError, HadoopFs

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

FORMATS = ("json", "csv", "parquet")
DAY_COLUMN = "event_date"
PROBLEMS_COLUMN = "problems"
BRONZE_PROBLEM_COLUMNS = ("ts", "userId", "auth", "level", "lat", "lon", "zip", "state")


@dataclass(frozen=True)
class Measure:
    """One row of the summary."""

    table_name: str
    event_date: str | None
    measure: str
    column_name: str | None
    rule: str | None
    value: float


def problems_column(frame: DataFrame) -> Any:
    """The ``array<string>`` of rules each row breaks, or None when the table has neither a
    ``problems`` column nor the bronze columns ``event_problems`` reads."""
    from pyspark.sql import functions as F

    import soundlake_udfs

    if PROBLEMS_COLUMN in frame.columns:
        return F.col(PROBLEMS_COLUMN)
    if all(name in frame.columns for name in BRONZE_PROBLEM_COLUMNS):
        return soundlake_udfs.event_problems()
    return None


def summarize(frame: DataFrame, table_name: str, *, by_day: bool) -> list[Measure]:
    """Every measure of ``frame`` (whole table, or per event_date with ``by_day``)."""
    from pyspark.sql import functions as F

    if by_day and DAY_COLUMN not in frame.columns:
        raise ValueError(f"{table_name} has no {DAY_COLUMN} column: drop --by-day")
    keys = [DAY_COLUMN] if by_day else []
    columns = [c for c in frame.columns if c not in keys]
    aggregates = [F.count(F.lit(1)).alias("__rows")] + [
        F.sum(F.col(f"`{c}`").isNull().cast("long")).alias(f"__null_{i}")
        for i, c in enumerate(columns)
    ]
    grouped = frame.groupBy(*keys) if keys else frame.groupBy()
    measures: list[Measure] = []
    for row in grouped.agg(*aggregates).collect():
        day = str(row[DAY_COLUMN]) if by_day else None
        rows = int(row["__rows"])
        measures.append(Measure(table_name, day, "rows", None, None, float(rows)))
        for i, name in enumerate(columns):
            nulls = int(row[f"__null_{i}"] or 0)
            measures.append(Measure(table_name, day, "null_rows", name, None, float(nulls)))
            rate = nulls / rows if rows else 0.0
            measures.append(Measure(table_name, day, "null_rate", name, None, rate))
    problems = problems_column(frame)
    if problems is None:
        log.info("%s has no problems column and is not bronze: no rule counts", table_name)
        return measures
    flagged = frame.select(*keys, problems.alias("__problems"))
    broken = flagged.select(*keys, F.explode("__problems").alias("__rule"))
    clean = flagged.where(F.size("__problems") == 0).select(*keys, F.lit("clean").alias("__rule"))
    counts = broken.unionByName(clean).groupBy(*keys, "__rule").count()
    for row in counts.collect():
        day = str(row[DAY_COLUMN]) if by_day else None
        measures.append(
            Measure(table_name, day, "problem_rows", None, row["__rule"], float(row["count"]))
        )
    return sorted(
        measures,
        key=lambda m: (m.event_date or "", m.measure, m.column_name or "", m.rule or ""),
    )


def render(measures: list[Measure], fmt: str, table_name: str) -> bytes:
    """The summary as the bytes of one JSON, CSV or Parquet file."""
    rows = [vars(m) for m in measures]
    if fmt == "csv":
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(Measure.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(rows)
        return text.getvalue().encode()
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pa.schema(
            [
                ("table_name", pa.string()),
                ("event_date", pa.string()),
                ("measure", pa.string()),
                ("column_name", pa.string()),
                ("rule", pa.string()),
                ("value", pa.float64()),
            ]
        )
        sink = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), sink, compression="zstd")
        return sink.getvalue()
    return json.dumps(as_document(measures, table_name), indent=2).encode()


def as_document(measures: list[Measure], table_name: str) -> dict[str, Any]:
    """The nested JSON form: per scope (``all`` or a day) rows, columns and rules."""
    scopes: dict[str, dict[str, Any]] = {}
    for m in measures:
        scope = scopes.setdefault(m.event_date or "all", {"rows": 0, "columns": {}, "rules": {}})
        if m.measure == "rows":
            scope["rows"] = int(m.value)
        elif m.measure == "null_rows" and m.column_name is not None:
            scope["columns"].setdefault(m.column_name, {})["null_rows"] = int(m.value)
        elif m.measure == "null_rate" and m.column_name is not None:
            scope["columns"].setdefault(m.column_name, {})["null_rate"] = m.value
        elif m.measure == "problem_rows" and m.rule is not None:
            scope["rules"][m.rule] = int(m.value)
    return {
        "table": table_name,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "scopes": scopes,
    }


def read_table(spark: SparkSession, table: str, *, catalog: bool, lake_url: str) -> DataFrame:
    if catalog:
        return spark.table(table)
    url = table if "://" in table else f"{lake_url}/{table.strip('/')}"
    return spark.read.parquet(url)


def write_output(fs: HadoopFs, target: str, data: bytes, *, overwrite: bool) -> str:
    """Write ``data`` to ``target`` (a URL, or a local path) under a temporary name, then rename
    it into place. Returns the target's URL."""
    url = target if "://" in target else Path(target).resolve().as_uri()
    temp = f"{url}.tmp-{uuid.uuid4().hex[:8]}"
    fs.write_new(temp, data)
    try:
        if overwrite:
            fs.delete(url)
        fs.rename_no_replace(temp, url)
    except AlreadyExistsError:
        fs.delete(temp)
        raise
    return url


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="dq_export",
        description="Write a table's data-quality summary (row counts, null rates per column, "
        "rows per event_problems rule) as one JSON, CSV or Parquet file, on the lake or locally.",
    )
    parser.add_argument(
        "table",
        help="lake-relative folder (bronze/listen_events, silver/fact_page_views), a full URL, "
        "or with --catalog a catalog table (soundlake.fact_listen_events)",
    )
    parser.add_argument("--output", required=True, help="target file: a lake URL or a local path")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help="default: from the output's extension (.json, .csv, .parquet)",
    )
    parser.add_argument("--catalog", action="store_true", help="TABLE is a catalog table")
    parser.add_argument("--by-day", action="store_true", help="one summary per event_date")
    parser.add_argument("--from-date", type=date.fromisoformat, help="first event_date")
    parser.add_argument("--to-date", type=date.fromisoformat, help="last event_date")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument(
        "--lake-url",
        default=default_lake_url(),
        help="lake root for relative tables (env SOUNDLAKE_LAKE_URL; default %(default)s)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    if args.format is None:
        suffix = Path(args.output).suffix.lstrip(".").lower()
        if suffix not in FORMATS:
            parser.error(f"cannot tell the format from {args.output!r}: pass --format")
        args.format = suffix
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    from pyspark.sql import functions as F

    spark = build_session("soundlake-dq-export", catalog=args.catalog)
    try:
        frame = read_table(spark, args.table, catalog=args.catalog, lake_url=args.lake_url)
        if args.from_date or args.to_date:
            if DAY_COLUMN not in frame.columns:
                print(f"error: {args.table} has no {DAY_COLUMN} column to filter", file=sys.stderr)
                return 2
            if args.from_date:
                frame = frame.where(F.col(DAY_COLUMN) >= F.lit(args.from_date))
            if args.to_date:
                frame = frame.where(F.col(DAY_COLUMN) <= F.lit(args.to_date))
        table_name = args.table.rstrip("/").rsplit("/", 1)[-1]
        log.info("summarizing %s", args.table)
        measures = summarize(frame, table_name, by_day=args.by_day)
        data = render(measures, args.format, table_name)
        url = write_output(HadoopFs(spark), args.output, data, overwrite=args.overwrite)
    except AlreadyExistsError:
        print(f"error: {args.output} exists; pass --overwrite to replace it", file=sys.stderr)
        return 1
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        spark.stop()
    log.info("wrote %d measures to %s", len(measures), url)
    print(json.dumps({"output": url, "measures": len(measures)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
