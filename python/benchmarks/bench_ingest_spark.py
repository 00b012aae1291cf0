"""The Spark Structured Streaming side of ``scripts/bench-ingest``: the seed's way of landing
the event topics into bronze, measured on the same topics as ``soundlake-ingest``.

One streaming query per topic, all four running at once in one local Spark session
(``local[*]``): ``readStream.format("kafka")`` from the earliest offsets,
``trigger(availableNow=True)`` (everything in the topic when the query starts, then stop),
the Confluent wire-format header cut off (5 bytes) and the Avro body decoded with
``from_avro`` and the topic's ``.avsc`` (spark-avro), the Kafka metadata columns added,
``event_date`` and ``hour`` derived from ``ts`` (UTC), written as zstd Parquet partitioned by
``event_date``/``hour`` with a checkpoint folder — the lander's output, without its
quarantine and exactly-once commit log (Spark's checkpoint + file sink log play that role).

Timed: from the start of the queries to the end of the last one (the session's start
is not counted). Prints ``spark structured streaming: N records in S s: R records/s``.

Usage: .venv/bin/python python/benchmarks/bench_ingest_spark.py --jars DIR
       --brokers HOST:PORT --out DIR TOPIC [TOPIC ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from soundlake.paths import REPO_ROOT

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

SCHEMAS = REPO_ROOT / "schema-registry"
TABLES = ("listen_events", "page_view_events", "auth_events", "status_change_events")
# Only the connector's own jars: Spark, Scala, Hadoop and the compression codecs are pyspark's.
CONNECTOR_JARS = (
    "spark-sql-kafka-0-10_",
    "spark-token-provider-kafka-0-10_",
    "kafka-clients-",
    "commons-pool2-",
    "spark-avro_",
)


def connector_jars(jar_dir: Path) -> list[str]:
    """The connector jars in ``jar_dir`` (fetched by scripts/bench-ingest)."""
    jars = sorted(str(p) for p in jar_dir.glob("*.jar") if p.name.startswith(CONNECTOR_JARS))
    missing = [
        prefix
        for prefix in CONNECTOR_JARS
        if not any(Path(j).name.startswith(prefix) for j in jars)
    ]
    if missing:
        raise SystemExit(
            f"bench_ingest_spark: no {', '.join(missing)} jar in {jar_dir}; "
            "scripts/bench-ingest fetches them with Maven"
        )
    return jars


def table_of(topic: str) -> str:
    """The event table a (possibly prefixed) topic holds."""
    for table in TABLES:
        if topic.endswith(table):
            return table
    raise SystemExit(f"bench_ingest_spark: {topic} is no event topic ({', '.join(TABLES)})")


def session(jars: list[str]) -> SparkSession:
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master("local[*]")
        .appName("bench-ingest-spark")
        .config("spark.jars", ",".join(jars))
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.parquet.compression.codec", "zstd")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        # The HDFS client retries a file's `complete` as soon as soundlake-ingest's patched
        # client does (vendor/README.md): 10 ms, not the 400 ms default.
        .config("spark.hadoop.dfs.client.block.write.locateFollowingBlock.initial.delay.ms", "10")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    return spark


def bronze(spark: SparkSession, brokers: str, topic: str) -> DataFrame:
    """The topic as bronze rows: decoded fields, Kafka metadata, event_date and hour."""
    from pyspark.sql import functions as F
    from pyspark.sql.avro.functions import from_avro

    avsc = (SCHEMAS / f"{table_of(topic)}.avsc").read_text()
    raw = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", brokers)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("failOnDataLoss", "false")
        .load()
    )
    body = F.expr("substring(value, 6, length(value) - 5)")
    event_time = F.timestamp_millis(F.col("event.ts"))
    return raw.select(
        from_avro(body, avsc, {"mode": "PERMISSIVE"}).alias("event"),
        F.col("partition").alias("_kafka_partition"),
        F.col("offset").alias("_kafka_offset"),
        F.col("timestamp").alias("_kafka_timestamp"),
        F.conv(F.hex(F.substring("value", 2, 4)), 16, 10).cast("int").alias("_schema_id"),
        F.current_timestamp().alias("_ingested_at"),
    ).select(
        "event.*",
        "_kafka_partition",
        "_kafka_offset",
        "_kafka_timestamp",
        "_schema_id",
        "_ingested_at",
        F.to_date(event_time).alias("event_date"),
        F.hour(event_time).alias("hour"),
    )


def land(spark: SparkSession, brokers: str, topic: str, out: str) -> StreamingQuery:
    return (
        bronze(spark, brokers, topic)
        .writeStream.format("parquet")
        .partitionBy("event_date", "hour")
        .option("path", f"{out}/bronze/{topic}")
        .option("checkpointLocation", f"{out}/_checkpoints/{topic}")
        .trigger(availableNow=True)
        .start()
    )


def count_rows(spark: SparkSession, out: str, topics: list[str]) -> int:
    return sum(spark.read.parquet(f"{out}/bronze/{t}").count() for t in topics)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jars", type=Path, required=True, help="folder of the connector jars")
    parser.add_argument("--brokers", default="127.0.0.1:9092")
    parser.add_argument(
        "--out", required=True, help="where to land: a local folder or an hdfs:// URL"
    )
    parser.add_argument("topics", nargs="+")
    args = parser.parse_args(argv)
    out = args.out.rstrip("/")

    spark = session(connector_jars(args.jars))
    print(f"spark {spark.version}, {spark.sparkContext.defaultParallelism} cores", flush=True)
    started = time.perf_counter()
    queries = [land(spark, args.brokers, t, out) for t in args.topics]
    for query in queries:
        query.awaitTermination()
        if query.exception() is not None:
            raise SystemExit(f"bench_ingest_spark: {query.name}: {query.exception()}")
    seconds = time.perf_counter() - started
    rows = count_rows(spark, out, args.topics)
    print(
        f"spark structured streaming: {rows} records in {seconds:.2f} s: "
        f"{rows / seconds:.0f} records/s",
        flush=True,
    )
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
