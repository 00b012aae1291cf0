"""The backfill job (python/soundlake/jobs/backfill.py) with real Spark and real dbt: a small
dbt project whose incremental model (insert_overwrite by event_date) builds the days between the
vars start_date and end_date and calls a Rust UDF. The job runs dbt day by day, stops at a failed
day and says how to resume; a re-run replaces days instead of adding to them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from conftest import Endpoints, unique_name

from soundlake_udfs import arrow

REPO = Path(__file__).resolve().parents[1]

MODEL = """\
{{ config(materialized='incremental', incremental_strategy='insert_overwrite',
          partition_by=['event_date'], file_format='parquet') }}
{% if var('start_date') == env_var('BACKFILL_TEST_FAIL_ON', 'never') %}
select no_such_column from no_such_table
{% else %}
select normalize_name(concat('Day ', cast(d as string), '!')) as label,
       current_timestamp() as built_at,
       d as event_date
from (select explode(sequence(to_date('{{ var("start_date") }}'),
                              to_date('{{ var("end_date") }}'))) as d)
{% endif %}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    schema = unique_name("backfill")
    root = tmp_path / "project"
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(
        "name: backfill_test\nversion: '1.0'\nconfig-version: 2\nprofile: backfill_test\n"
        "model-paths: ['models']\n"
    )
    (root / "profiles.yml").write_text(
        "backfill_test:\n  target: session\n  outputs:\n    session:\n      type: spark\n"
        f"      method: session\n      host: localhost\n      schema: {schema}\n      threads: 1\n"
    )
    (root / "models" / "daily_labels.sql").write_text(MODEL)
    return root


def backfill(
    project: Path, endpoints: Endpoints, *args: str, fail_on: str = "never"
) -> subprocess.CompletedProcess[str]:
    work = project.parent
    env = {
        **os.environ,
        "PYSPARK_PYTHON": sys.executable,
        "SOUNDLAKE_DBT_PROJECT_DIR": str(project),
        "SOUNDLAKE_SPARK_METASTORE_URL": f"jdbc:derby:;databaseName={work / 'metastore'};create=true",
        "SOUNDLAKE_SPARK_WAREHOUSE": str(work / "warehouse"),
        "SOUNDLAKE_SPARK_DRIVER_MEMORY": "1g",
        "SOUNDLAKE_HDFS_URL": endpoints.hdfs_url,
        "BACKFILL_TEST_FAIL_ON": fail_on,
        "DBT_LOG_PATH": str(work / "logs"),
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
    }
    return subprocess.run(
        [sys.executable, "-m", "soundlake.jobs.backfill", *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def built_days(project: Path) -> dict[str, tuple[str, object]]:
    """event_date → (label, built_at), read from the model's Parquet files with pyarrow."""
    tables = list((project.parent / "warehouse").glob("*.db/daily_labels"))
    assert len(tables) == 1, f"expected one daily_labels table folder, found {tables}"
    table = ds.dataset(tables[0], format="parquet", partitioning="hive").to_table()
    days = [str(d) for d in table.column("event_date").to_pylist()]
    assert len(days) == len(set(days)), f"a day was built twice: {sorted(days)}"
    return {
        day: (label, built)
        for day, label, built in zip(
            days,
            table.column("label").to_pylist(),
            table.column("built_at").to_pylist(),
            strict=True,
        )
    }


def expected_label(day: str) -> str:
    label: str = arrow.normalize_name(pa.array([f"Day {day}!"])).to_pylist()[0]
    return label


def test_backfill_stops_at_a_failed_day_resumes_and_replaces_days(
    stack: Endpoints, project: Path
) -> None:
    failed = backfill(
        project,
        stack,
        "--start-date",
        "2024-01-01",
        "--end-date",
        "2024-01-03",
        fail_on="2024-01-02",
    )
    output = failed.stdout + failed.stderr
    assert failed.returncode == 1, output[-4000:]
    assert "resume with --start-date 2024-01-02" in output
    assert "[1/3] 2024-01-01 built" in output
    first = built_days(project)
    assert sorted(first) == ["2024-01-01"], "days after the failed one must not be built"

    resumed = backfill(
        project,
        stack,
        "--start-date",
        "2024-01-01",
        "--end-date",
        "2024-01-03",
        "--chunk-days",
        "2",
    )
    output = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, output[-4000:]
    summary = json.loads(
        next(x for x in reversed(resumed.stdout.splitlines()) if x.startswith("{"))
    )
    assert summary == {"chunks": 2, "failed": []}
    days = built_days(project)
    assert {day: label for day, (label, _) in days.items()} == {
        day: expected_label(day) for day in ("2024-01-01", "2024-01-02", "2024-01-03")
    }
    # day 1 was rebuilt: replaced (a newer build time), not appended
    assert days["2024-01-01"][1] > first["2024-01-01"][1]


def test_dry_run_prints_one_build_per_chunk() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "soundlake.jobs.backfill",
            "--start-date",
            "2024-02-27",
            "--end-date",
            "2024-03-02",
            "--chunk-days",
            "2",
            "--dry-run",
            "--",
            "--select",
            "gold_top_songs",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        'soundlake-dbt build --vars \'{"start_date": "2024-02-27", "end_date": "2024-02-28"}\' '
        "--select gold_top_songs",
        'soundlake-dbt build --vars \'{"start_date": "2024-02-29", "end_date": "2024-03-01"}\' '
        "--select gold_top_songs",
        'soundlake-dbt build --vars \'{"start_date": "2024-03-02", "end_date": "2024-03-02"}\' '
        "--select gold_top_songs",
    ]
