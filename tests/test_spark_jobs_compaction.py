"""Compaction of bronze (python/soundlake/jobs/compact_bronze.py) on the real HDFS with real
Spark: every row kept exactly once, the lander's unfinished files left alone, and a run stopped
at each step of the protocol finished or undone by the next run.

The bronze folder is laid out as the lander lays it out: files named ``part-<writer>-…`` under
``bronze/<topic>/event_date=…/hour=…/``, each referenced by an entry of ``bronze/_commits/``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import HdfsDir
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from soundlake.jobs.compact_bronze import (
    OUTPUT_PREFIX,
    CompactionError,
    Compactor,
    HourPartition,
    Options,
)
from soundlake.jobs.hadoop_fs import HadoopFs
from soundlake.jobs.lander_log import CommitLogError, read_lander_log
from soundlake.lake_layout import COMPACTION_STAGING, COMPACTIONS

REPO = Path(__file__).resolve().parents[1]
TOPIC = "listen_events"
DAY = date(2024, 3, 9)
HOUR = HourPartition(TOPIC, DAY, 7)
OTHER_HOUR = HourPartition(TOPIC, DAY, 8)
FILES = 6
ROWS_PER_FILE = 250


@dataclass
class Bronze:
    lake: str
    fs: HadoopFs
    spark: SparkSession

    def hour_files(self, hour: HourPartition = HOUR) -> list[str]:
        return [
            f.name
            for f in self.fs.list(f"{self.lake}/{hour.path}")
            if f.name.endswith(".parquet") and not f.name.startswith(("_", "."))
        ]

    def rows(self, hour: HourPartition = HOUR) -> DataFrame:
        return self.spark.read.parquet(f"{self.lake}/{hour.path}")

    def keys(self, hour: HourPartition = HOUR) -> tuple[int, int]:
        """(rows, distinct (partition, offset)) as a reader of the hour's folder sees them."""
        frame = self.rows(hour)
        return frame.count(), frame.select("_kafka_partition", "_kafka_offset").distinct().count()

    def compactor(self, **overrides: Any) -> Compactor:
        options = Options(lake_url=self.lake, topics=(TOPIC,), target_bytes=64 * 1024 * 1024)
        return Compactor(self.spark, dataclasses.replace(options, **overrides))


def write_hour(bronze: Bronze, hour: HourPartition, writer: str, first_seq: int) -> int:
    """Land FILES small files into ``hour`` as ``writer``'s entries first_seq…; returns the
    next entry number. Rows: Kafka partitions 0 and 1, consecutive offsets."""
    frame = (
        bronze.spark.range(FILES * ROWS_PER_FILE)
        .select(
            (F.col("id") % 2).cast("int").alias("_kafka_partition"),
            (F.col("id") + F.lit(first_seq * 10_000)).alias("_kafka_offset"),
            F.lit("NextSong").alias("page"),
            (F.col("id") % 97).cast("string").alias("userId"),
            F.timestamp_seconds(F.lit(1_709_968_000) + F.col("id")).alias("ts"),
            F.current_timestamp().alias("_ingested_at"),
        )
        .repartition(FILES)
    )
    generated = f"{bronze.lake}/_generated-{writer}-{hour.hour}"
    frame.write.parquet(generated)
    parts = [f for f in bronze.fs.list(generated) if f.name.startswith("part-")]
    assert len(parts) == FILES
    seq = first_seq
    for n, part in enumerate(parts):
        path = f"{hour.path}/part-{writer}-1700000000000-{n:06d}.zstd.parquet"
        bronze.fs.rename_no_replace(part.url, f"{bronze.lake}/{path}")
        entry = {
            "format": 1,
            "seq": seq,
            "writer": writer,
            "nonce": f"{writer}-{seq}",
            "committed_at_ms": 0,
            "ranges": [],
            "files": [{"topic": TOPIC, "staged": "x", "path": path, "bytes": part.size}],
        }
        bronze.fs.write_new(
            f"{bronze.lake}/bronze/_commits/{seq:020}.json", json.dumps(entry).encode()
        )
        seq += 1
    bronze.fs.delete(generated, recursive=True)
    return seq


@pytest.fixture
def bronze(spark: SparkSession, hdfs_dir: HdfsDir) -> Iterator[Bronze]:
    """Two closed hours of listen_events, landed by writers w1 (entries 0-5, hour 07) and w2
    (entries 6-11, hour 08): each writer's last file is protected."""
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    store = Bronze(lake=hdfs_dir.url_of("lake"), fs=HadoopFs(spark), spark=spark)
    seq = write_hour(store, HOUR, "w1", 0)
    write_hour(store, OTHER_HOUR, "w2", seq)
    yield store


def test_compaction_keeps_every_row_once_and_spares_the_landers_last_files(bronze: Bronze) -> None:
    before = bronze.keys()
    assert before == (FILES * ROWS_PER_FILE, FILES * ROWS_PER_FILE)
    last_of_w1 = "part-w1-1700000000000-000005.zstd.parquet"

    summary = bronze.compactor().run()

    assert summary.partitions_compacted == 2
    assert summary.files_replaced == 2 * (FILES - 1)
    assert summary.skipped_protected == 2
    assert bronze.keys() == before
    names = bronze.hour_files()
    assert last_of_w1 in names, "the file of w1's last entry must stay where the lander put it"
    assert len(names) == 2
    assert sum(n.startswith(OUTPUT_PREFIX) for n in names) == 1
    assert bronze.keys(OTHER_HOUR) == (FILES * ROWS_PER_FILE, FILES * ROWS_PER_FILE)
    # records for the lander's unreferenced-file scan, done markers, nothing left in staging
    records = [f.name for f in bronze.fs.list(f"{bronze.lake}/{COMPACTIONS}")]
    assert sum(r.endswith(".json") for r in records) == 2
    assert sum(r.endswith(".done") for r in records) == 2
    assert bronze.fs.list(f"{bronze.lake}/{COMPACTION_STAGING}") == []
    record = json.loads(
        bronze.fs.read_bytes(
            f"{bronze.lake}/{COMPACTIONS}/{next(r for r in records if r.endswith('.json'))}"
        )
    )
    assert record["rows"] == (FILES - 1) * ROWS_PER_FILE
    assert sum(span["rows"] for span in record["spans"]) == record["rows"]
    # a second run finds nothing to do
    again = bronze.compactor().run()
    assert (again.partitions_compacted, again.rolled_forward, again.rolled_back) == (0, 0, 0)
    assert bronze.keys() == before


def test_recent_hours_are_not_compacted(bronze: Bronze) -> None:
    too_recent = timedelta(days=(date.today() - DAY).days + 2)
    summary = bronze.compactor(min_age=too_recent).run()
    assert summary.partitions_compacted == 0
    assert len(bronze.hour_files()) == FILES


def test_a_run_stopped_before_its_commit_is_rolled_back(bronze: Bronze) -> None:
    before = bronze.keys()
    first = bronze.compactor()
    first.acquire_lock()
    plan = next(p for p in first.plan() if p.partition == HOUR)
    first.stage(plan)  # outputs written to staging, no record: the process "dies" here
    assert bronze.keys() == before, "staged outputs must be invisible to readers"
    assert bronze.fs.list(f"{bronze.lake}/{COMPACTION_STAGING}/{plan.id}") != []

    # the dead process's lock (same host, no such pid) is taken over, its staging rolled back
    dead_owner = f"{socket.gethostname()}:{2**22 + 12345}"
    bronze.fs.delete(f"{bronze.lake}/{COMPACTION_STAGING}/lock.json")
    bronze.fs.write_new(
        f"{bronze.lake}/{COMPACTION_STAGING}/lock.json",
        json.dumps({"owner": dead_owner, "started_ms": time.time_ns() // 1_000_000}).encode(),
    )
    summary = bronze.compactor().run()

    assert summary.rolled_back == 1
    assert summary.rolled_forward == 0
    assert summary.partitions_compacted == 2
    assert bronze.keys() == before
    assert not bronze.fs.exists(f"{bronze.lake}/{COMPACTION_STAGING}/{plan.id}")


def test_a_run_stopped_while_publishing_is_rolled_forward(bronze: Bronze) -> None:
    before = bronze.keys()
    first = bronze.compactor()
    first.acquire_lock()
    plan = next(p for p in first.plan() if p.partition == HOUR)
    outputs = first.stage(plan)
    record = first.commit(plan, outputs)
    # the process dies after moving the first output in, before removing any input
    bronze.fs.rename_no_replace(
        f"{bronze.lake}/{outputs[0].staged}", f"{bronze.lake}/{outputs[0].path}"
    )
    rows, distinct = bronze.keys()
    assert distinct == before[1], "mid-swap a reader may see rows twice, never miss one"
    assert rows > before[0]
    first.release_lock()

    summary = bronze.compactor().run()

    assert summary.rolled_forward == 1
    assert bronze.keys() == before
    names = bronze.hour_files()
    assert f"{OUTPUT_PREFIX}{record.id}-00000.zstd.parquet" in names
    assert not any(i["path"].endswith(n) for i in record.inputs for n in names)
    assert bronze.fs.exists(f"{bronze.lake}/{COMPACTIONS}/{record.id}.done")


def test_a_running_compaction_holds_the_lock(bronze: Bronze) -> None:
    holder = bronze.compactor()
    holder.acquire_lock()
    try:
        with pytest.raises(CompactionError, match="another compaction holds"):
            bronze.compactor().run()
    finally:
        holder.release_lock()
    assert len(bronze.hour_files()) == FILES


def test_spark_submit_runs_the_job(bronze: Bronze) -> None:
    spark_submit = Path(sys.executable).parent / "spark-submit"
    env = {
        **os.environ,
        "PYSPARK_PYTHON": sys.executable,
        "SOUNDLAKE_LAKE_URL": bronze.lake,
    }
    result = subprocess.run(
        [
            str(spark_submit),
            "--master",
            "local[1]",
            "--driver-memory",
            "768m",
            "--conf",
            "spark.ui.enabled=false",
            str(REPO / "python" / "soundlake" / "jobs" / "compact_bronze.py"),
            "--topics",
            TOPIC,
            "--to-date",
            DAY.isoformat(),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # spark-submit merges the job's stderr into its stdout: the summary is the JSON line
    summary = json.loads(next(x for x in reversed(result.stdout.splitlines()) if x.startswith("{")))
    assert summary["partitions_compacted"] == 2
    assert summary["rows"] == 2 * (FILES - 1) * ROWS_PER_FILE
    assert bronze.keys() == (FILES * ROWS_PER_FILE, FILES * ROWS_PER_FILE)


def test_help_describes_the_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "soundlake.jobs.compact_bronze", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for option in ("--lake-url", "--target-file-mb", "--min-age-hours", "--dry-run"):
        assert option in result.stdout


def test_columns_added_by_a_schema_change_are_kept(bronze: Bronze) -> None:
    """Files landed after a schema change (a new column) are compacted with the older files
    of the hour: the new column's values survive."""
    extra = (
        bronze.spark.range(2 * ROWS_PER_FILE)
        .select(
            F.lit(7).cast("int").alias("_kafka_partition"),
            F.col("id").alias("_kafka_offset"),
            F.lit("NextSong").alias("page"),
            F.lit("42").alias("userId"),
            F.timestamp_seconds(F.lit(1_709_968_000) + F.col("id")).alias("ts"),
            F.current_timestamp().alias("_ingested_at"),
            F.concat(F.lit("v"), F.col("id").cast("string")).alias("addedField"),
        )
        .repartition(2)
    )
    generated = f"{bronze.lake}/_generated-w9"
    extra.write.parquet(generated)
    parts = [f for f in bronze.fs.list(generated) if f.name.startswith("part-")]
    for n, part in enumerate(parts):
        seq = 2 * FILES + n  # after the fixture's entries: w9's second entry is its last
        path = f"{HOUR.path}/part-w9-1700000000001-{n:06d}.zstd.parquet"
        bronze.fs.rename_no_replace(part.url, f"{bronze.lake}/{path}")
        entry = {"seq": seq, "writer": "w9", "files": [{"path": path}]}
        bronze.fs.write_new(
            f"{bronze.lake}/bronze/_commits/{seq:020}.json", json.dumps(entry).encode()
        )
    bronze.fs.delete(generated, recursive=True)

    summary = bronze.compactor().run()

    assert summary.partitions_compacted == 2
    merged = bronze.spark.read.option("mergeSchema", "true").parquet(f"{bronze.lake}/{HOUR.path}")
    assert merged.count() == FILES * ROWS_PER_FILE + 2 * ROWS_PER_FILE
    assert merged.where(F.col("addedField").isNotNull()).count() == 2 * ROWS_PER_FILE
    compacted = [n for n in bronze.hour_files() if n.startswith(OUTPUT_PREFIX)]
    assert len(compacted) == 1
    columns = bronze.spark.read.parquet(f"{bronze.lake}/{HOUR.path}/{compacted[0]}").columns
    assert "addedField" in columns


def test_the_landers_checkpoint_and_archived_entries_are_understood(bronze: Bronze) -> None:
    """After a lander checkpoint, entries before it may be archived: each writer's last entry
    (named by the checkpoint) still protects its files."""
    commits = f"{bronze.lake}/bronze/_commits"
    checkpoint = {"format": 1, "next_seq": 2 * FILES, "positions": [], "last_by_writer": {}}
    checkpoint["last_by_writer"] = {"w1": FILES - 1, "w2": 2 * FILES - 1}
    bronze.fs.write_new(
        f"{commits}/checkpoint-{2 * FILES:020}.json", json.dumps(checkpoint).encode()
    )
    for seq in range(FILES - 1):  # archived: w1's entries before its last
        bronze.fs.delete(f"{commits}/{seq:020}.json")
    log = read_lander_log(bronze.fs, bronze.lake)
    assert log.next_seq == 2 * FILES
    assert log.protected == {
        f"{HOUR.path}/part-w1-1700000000000-{FILES - 1:06d}.zstd.parquet",
        f"{OTHER_HOUR.path}/part-w2-1700000000000-{FILES - 1:06d}.zstd.parquet",
    }
    # an entry missing in the middle of the live part of the log is a gap: refuse to guess
    bronze.fs.write_new(f"{commits}/{2 * FILES + 1:020}.json", b'{"seq": 13, "writer": "w3"}')
    with pytest.raises(CommitLogError, match="gap"):
        read_lander_log(bronze.fs, bronze.lake)
