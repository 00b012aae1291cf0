"""Benchmark of bronze compaction: a scan of one hour landed as many small files (the baseline)
against the same scan after ``compact_bronze``, in one run, plus the compaction's own time.

    .venv/bin/python python/benchmarks/bench_compaction.py \\
        --files 200 --rows-per-file 5000

Writes the hour under a unique folder of ``/soundlake-test/`` on the stack's HDFS (or under
``--root``) and deletes it afterwards. Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import date

from soundlake.jobs.common import build_session, setup_logging
from soundlake.jobs.compact_bronze import Compactor, HourPartition, Options
from soundlake.jobs.hadoop_fs import HadoopFs


def timed(action: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Median wall time of ``repeat`` runs, and the last result."""
    times = []
    result: object = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench_compaction",
        description="Scan an hour of many small bronze files, compact it, scan it again.",
    )
    parser.add_argument("--files", type=int, default=200, help="small files (default 200)")
    parser.add_argument(
        "--rows-per-file", type=int, default=5000, help="rows per file (default 5000)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="scans per measure (default 3)")
    parser.add_argument(
        "--root",
        default="hdfs://127.0.0.1:8020/soundlake-test",
        help="folder for the benchmark's lake (default %(default)s)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging()
    spark = build_session("soundlake-bench-compaction")
    fs = HadoopFs(spark)
    lake = f"{args.root.rstrip('/')}/bench_compaction_{uuid.uuid4().hex[:12]}"
    hour = HourPartition("listen_events", date(2024, 1, 1), 0)
    from pyspark.sql import functions as F

    try:
        rows = args.files * args.rows_per_file
        print(f"writing {args.files} files of {args.rows_per_file} rows to {lake}", file=sys.stderr)
        frame = spark.range(rows).select(
            (F.col("id") % 4).cast("int").alias("_kafka_partition"),
            F.col("id").alias("_kafka_offset"),
            F.timestamp_seconds(F.lit(1_704_067_200) + F.col("id") % 3600).alias("ts"),
            (F.col("id") % 5000).cast("string").alias("userId"),
            F.concat(F.lit("Artist "), (F.col("id") % 997).cast("string")).alias("artist"),
            F.concat(F.lit("Song "), (F.col("id") % 7919).cast("string")).alias("song"),
            (F.rand(1) * 300).alias("duration"),
            F.lit("NextSong").alias("page"),
            F.lit("paid").alias("level"),
            F.current_timestamp().alias("_ingested_at"),
        )
        generated = f"{lake}/_generated"
        frame.repartition(args.files).write.option("compression", "zstd").parquet(generated)
        for n, part in enumerate(f for f in fs.list(generated) if f.name.startswith("part-")):
            target = f"{lake}/{hour.path}/part-bench-1700000000000-{n:06d}.zstd.parquet"
            fs.rename_no_replace(part.url, target)
        fs.delete(generated, recursive=True)

        def scan() -> object:
            hour_frame = spark.read.parquet(f"{lake}/{hour.path}")
            return hour_frame.agg(
                F.count(F.lit(1)), F.countDistinct("userId"), F.sum(F.length("song"))
            ).collect()[0]

        files_before = len(fs.list(f"{lake}/{hour.path}"))
        before, result_before = timed(scan, args.repeat)
        options = Options(lake_url=lake, topics=(hour.topic,))
        t0 = time.perf_counter()
        summary = Compactor(spark, options).run()
        compaction = time.perf_counter() - t0
        files_after = len(fs.list(f"{lake}/{hour.path}"))
        after, result_after = timed(scan, args.repeat)
        if result_before != result_after:
            print(f"error: results differ: {result_before} vs {result_after}", file=sys.stderr)
            return 1
        print(f"| rows | {rows:,} |")
        print(f"| files before / after | {files_before} / {files_after} |")
        print(f"| scan of the hour, {files_before} small files (baseline) | {before:.2f} s |")
        print(
            f"| compaction ({summary.files_replaced} files -> {summary.files_written}) | {compaction:.2f} s |"
        )
        print(f"| scan of the hour, after compaction | {after:.2f} s |")
    finally:
        fs.delete(lake, recursive=True)
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
