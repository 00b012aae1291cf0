"""Soundlake's user-defined functions for Spark, written in Rust over Arrow.

The functions live in the native module ``soundlake_udfs._native`` (PyO3, built by maturin from
``rust-udfs/``). They take and return pyarrow arrays through the Arrow C data interface, so no
value is copied between Python and Rust. Each function is available three ways, by one name:

- on pyarrow arrays, without Spark: ``soundlake_udfs.arrow.normalize_name(pa.array([...]))``;
- as a Column function for DataFrames: ``df.select(soundlake_udfs.h3_cell("lat", "lon", 7))``
  (a ``str`` argument names a column, other values are literals);
- in Spark SQL (and so in dbt models run in that session), after ``register(spark)``:
  ``spark.sql("select normalize_name('The Beatles')")``.

The UDFs: ``normalize_name``, ``h3_cell``, ``event_problems``, ``parse_user_agent``; and the
grouped ``sessionize(df, gap_seconds)`` (``groupBy(...).applyInArrow``).
``arrow_identity`` returns its input unchanged (the zero-copy round-trip floor of benchmarks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from soundlake_udfs import arrow
from soundlake_udfs._native import __version__, arrow_identity, native_version
from soundlake_udfs._spark import SPECS, column, spark_udf

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = [
    "__version__",
    "arrow",
    "arrow_identity",
    "event_problems",
    "h3_cell",
    "native_version",
    "normalize_name",
    "parse_user_agent",
    "register",
    "sessionize",
    "sql_names",
]


def sql_names() -> list[str]:
    """The SQL names of every UDF that ``register`` registers, sorted."""
    return sorted(SPECS)


def register(spark: SparkSession) -> list[str]:
    """Register every Soundlake UDF in ``spark`` under its SQL name; return the names, sorted.

    Registering again replaces the functions (it is safe to call once per job or notebook).
    """
    names = sql_names()
    for name in names:
        spark.udf.register(name, spark_udf(name))
    return names


def normalize_name(text: Column | str) -> Column:
    """Column function of :func:`soundlake_udfs.arrow.normalize_name` (``text``: a Column or
    a column name): the deduplication key of an artist or song name."""
    result: Column = spark_udf("normalize_name")(column(text))
    return result


def h3_cell(lat: Column | str, lon: Column | str, resolution: Column | int) -> Column:
    """Column function of :func:`soundlake_udfs.arrow.h3_cell`: the H3 cell id (``bigint``) of
    each point; ``lat`` and ``lon`` are Columns or column names, ``resolution`` a Column or an
    int in 0..15."""
    result: Column = spark_udf("h3_cell")(column(lat), column(lon), column(resolution))
    return result


def event_problems(
    ts: Column | str = "ts",
    user_id: Column | str = "userId",
    auth: Column | str = "auth",
    level: Column | str = "level",
    lat: Column | str = "lat",
    lon: Column | str = "lon",
    zip: Column | str = "zip",
    state: Column | str = "state",
) -> Column:
    """Column function of :func:`soundlake_udfs.arrow.event_problems` (``array<string>``, empty
    when the event is clean); the arguments default to the bronze tables' column names, so
    ``df.withColumn("problems", soundlake_udfs.event_problems())`` checks a bronze table."""
    columns = [column(c) for c in (ts, user_id, auth, level, lat, lon, zip, state)]
    result: Column = spark_udf("event_problems")(*columns)
    return result


def parse_user_agent(agent: Column | str = "userAgent") -> Column:
    """Column function of :func:`soundlake_udfs.arrow.parse_user_agent`: a struct of
    ``browser``, ``browser_version``, ``os``, ``os_version``, ``device_type`` (``agent``
    defaults to the bronze tables' ``userAgent`` column)."""
    result: Column = spark_udf("parse_user_agent")(column(agent))
    return result


def sessionize(
    df: DataFrame,
    gap_seconds: float = 1800,
    *,
    user: str = "userId",
    ts: str = "ts",
    output: str = "session_number",
) -> DataFrame:
    """``df`` with a ``bigint`` column ``output`` numbering each user's sessions 1, 2, … in
    time order: a session ends when the user is idle for more than ``gap_seconds``.

    Runs ``df.groupBy(user).applyInArrow(...)``: each user's events are sorted by ``ts``
    (epoch milliseconds or a timestamp; null times last, with a null number) and numbered in
    Rust (:func:`soundlake_udfs.arrow.sessionize`). The rows come back grouped by user.
    """
    from pyspark.sql.types import LongType, StructField, StructType

    arrow.gap_millis(gap_seconds)  # fail here, not in an executor
    schema = StructType([*df.schema.fields, StructField(output, LongType(), True)])

    def per_user(table: pa.Table) -> pa.Table:
        return arrow.sessionize_table(table, gap_seconds, ts=ts, output=output)

    return df.groupBy(user).applyInArrow(per_user, schema)
