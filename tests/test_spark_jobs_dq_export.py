"""The data-quality export (python/soundlake/jobs/dq_export.py) on real Spark and HDFS: a
small bronze-shaped table with known nulls and broken rows; row counts, null rates and rule
counts are checked against an independent computation (plain Python for the nulls, the Rust
``event_problems`` on pyarrow arrays for the rules)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import Endpoints, HdfsDir
from pyspark.sql import SparkSession

from soundlake.jobs.dq_export import Measure, render, summarize, write_output
from soundlake.jobs.hadoop_fs import AlreadyExistsError, HadoopFs
from soundlake_udfs import arrow

REPO = Path(__file__).resolve().parents[1]
COLUMNS = ("ts", "userId", "auth", "level", "lat", "lon", "zip", "state", "event_date")
DAY1, DAY2 = date(2024, 3, 9), date(2024, 3, 10)
ROWS: list[tuple[Any, ...]] = [
    (1_709_968_000_000, "12", "Logged In", "paid", 40.7, -74.0, "10001", "NY", DAY1),
    (1_709_968_001_000, None, "Logged In", "free", 40.7, -74.0, "10001", "NY", DAY1),
    (1_709_968_002_000, "13", "Logged In", "paid", 123.0, -74.0, "10001", "NY", DAY1),
    (None, "14", "Logged In", "paid", 40.7, -74.0, None, "NY", DAY1),
    (1_710_054_400_000, "15", "Logged In", "gold", 40.7, -74.0, "10001", "NY", DAY2),
    (1_710_054_401_000, "16", "Logged Out", None, None, None, "10001", "NY", DAY2),
    (1_710_054_402_000, "17", "Logged In", "free", 34.05, -118.24, "90001", "CA", DAY2),
]


def expected_rules(rows: list[tuple[Any, ...]]) -> Counter[str]:
    """Rule counts computed by the Rust function directly on Arrow arrays, plus ``clean``."""
    arrays = [
        pa.array([r[0] for r in rows], pa.int64()),
        pa.array([r[1] for r in rows], pa.string()),
        pa.array([r[2] for r in rows], pa.string()),
        pa.array([r[3] for r in rows], pa.string()),
        pa.array([r[4] for r in rows], pa.float64()),
        pa.array([r[5] for r in rows], pa.float64()),
        pa.array([r[6] for r in rows], pa.string()),
        pa.array([r[7] for r in rows], pa.string()),
    ]
    counts: Counter[str] = Counter()
    for problems in arrow.event_problems(*arrays).to_pylist():
        counts.update(problems or ["clean"])
    return counts


@pytest.fixture
def table_url(spark: SparkSession, hdfs_dir: HdfsDir) -> str:
    schema = (
        "ts bigint, userId string, auth string, level string, lat double, lon double, "
        "zip string, state string, event_date date"
    )
    url = hdfs_dir.url_of("lake/bronze/listen_events")
    spark.createDataFrame(ROWS, schema).write.partitionBy("event_date").parquet(url)
    return url


def by_key(measures: list[Measure]) -> dict[tuple[str | None, str, str | None, str | None], float]:
    return {(m.event_date, m.measure, m.column_name, m.rule): m.value for m in measures}


def test_summary_per_day_matches_an_independent_count(spark: SparkSession, table_url: str) -> None:
    measures = by_key(summarize(spark.read.parquet(table_url), "listen_events", by_day=True))
    for day in (DAY1, DAY2):
        rows = [r for r in ROWS if r[8] == day]
        key = day.isoformat()
        assert measures[(key, "rows", None, None)] == len(rows)
        for i, name in enumerate(COLUMNS[:-1]):
            nulls = sum(r[i] is None for r in rows)
            assert measures[(key, "null_rows", name, None)] == nulls, name
            assert measures[(key, "null_rate", name, None)] == pytest.approx(nulls / len(rows))
        rules = {
            rule: v for (d, m, _, rule), v in measures.items() if d == key and m == "problem_rows"
        }
        assert rules == dict(expected_rules(rows))
    assert expected_rules(ROWS)["clean"] < len(ROWS), "the data must hold broken rows"


def test_every_format_round_trips(spark: SparkSession, table_url: str, hdfs_dir: HdfsDir) -> None:
    measures = summarize(spark.read.parquet(table_url), "listen_events", by_day=False)
    total_rules = dict(expected_rules(ROWS))
    fs = HadoopFs(spark)

    url = write_output(
        fs, hdfs_dir.url_of("dq/summary.json"), render(measures, "json", "t"), overwrite=False
    )
    document = json.loads(fs.read_bytes(url))
    assert document["scopes"]["all"]["rows"] == len(ROWS)
    assert document["scopes"]["all"]["rules"] == total_rules
    assert document["scopes"]["all"]["columns"]["userId"] == {
        "null_rows": 1,
        "null_rate": pytest.approx(1 / len(ROWS)),
    }
    with pytest.raises(AlreadyExistsError):
        write_output(fs, url, b"{}", overwrite=False)
    write_output(fs, url, render(measures, "json", "t"), overwrite=True)

    url = write_output(
        fs, hdfs_dir.url_of("dq/summary.csv"), render(measures, "csv", "t"), overwrite=False
    )
    rows = list(csv.DictReader(io.StringIO(fs.read_bytes(url).decode())))
    assert len(rows) == len(measures)
    assert {r["rule"]: float(r["value"]) for r in rows if r["measure"] == "problem_rows"} == {
        k: float(v) for k, v in total_rules.items()
    }

    url = write_output(
        fs, hdfs_dir.url_of("dq/summary.parquet"), render(measures, "parquet", "t"), overwrite=False
    )
    table = pq.read_table(io.BytesIO(fs.read_bytes(url)))
    assert table.num_rows == len(measures)
    assert table.column_names == list(Measure.__dataclass_fields__)
    assert not [n for n in hdfs_dir.list_names("dq") if ".tmp-" in n], "temporary files left"


def test_the_command_writes_a_local_csv(stack: Endpoints, table_url: str, tmp_path: Path) -> None:
    output = tmp_path / "dq.csv"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "soundlake.jobs.dq_export",
            table_url,
            "--output",
            str(output),
            "--by-day",
            "--from-date",
            DAY2.isoformat(),
        ],
        cwd=REPO,
        env={
            **os.environ,
            "PYSPARK_PYTHON": sys.executable,
            "SOUNDLAKE_SPARK_DRIVER_MEMORY": "768m",
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = list(csv.DictReader(output.open()))
    assert {r["event_date"] for r in rows} == {DAY2.isoformat()}
    counted = {r["rule"]: int(float(r["value"])) for r in rows if r["measure"] == "problem_rows"}
    assert counted == dict(expected_rules([r for r in ROWS if r[8] == DAY2]))
