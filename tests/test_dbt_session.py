"""soundlake-dbt's argument handling and session settings (no Spark started here; the dbt
project itself runs in test_dbt_pipeline.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from soundlake.spark.dbt import dbt_args, dbt_target
from soundlake.spark.session import SessionSettings

ROOT = Path(__file__).resolve().parent.parent


def test_project_and_profiles_dirs_default_to_the_repository_dbt_project() -> None:
    args = dbt_args(["build", "--select", "gold_churn"], env={"SOUNDLAKE_ROOT": "/repo"})
    assert args == [
        "build", "--select", "gold_churn",
        "--project-dir", "/repo/dbt_spark", "--profiles-dir", "/repo/dbt_spark",
        "--target", "session",
    ]  # fmt: skip


def test_given_dirs_are_kept_and_profiles_follow_the_given_project() -> None:
    args = dbt_args(["run", "--project-dir=/p", "-t", "session"], env={})
    assert args == ["run", "--project-dir=/p", "-t", "session", "--profiles-dir", "/p"]
    args = dbt_args(["run", "--project-dir", "/p", "--profiles-dir", "/q", "--target=x"], env={})
    assert args == ["run", "--project-dir", "/p", "--profiles-dir", "/q", "--target=x"]
    args = dbt_args(["run"], env={"SOUNDLAKE_DBT_PROJECT_DIR": "/d", "DBT_PROFILES_DIR": "/x"})
    assert args == ["run", "--project-dir", "/d", "--target", "session"]
    assert dbt_args(["--version"], env={}) == ["--version"]


def test_soundlake_dbt_runs_its_session_unless_told_otherwise() -> None:
    """The profile's default target is `thrift` (for plain dbt); soundlake-dbt passes its own
    target explicitly: the flag, else SOUNDLAKE_DBT_TARGET, else `session`."""
    assert dbt_args(["build"], env={"SOUNDLAKE_ROOT": "/r"})[-2:] == ["--target", "session"]
    env = {"SOUNDLAKE_ROOT": "/r", "SOUNDLAKE_DBT_TARGET": "thrift"}
    assert dbt_args(["build"], env=env)[-2:] == ["--target", "thrift"]


def test_the_target_is_the_flag_else_the_environment_else_session() -> None:
    assert dbt_target(["build"], env={}) == "session"
    assert dbt_target(["build"], env={"SOUNDLAKE_DBT_TARGET": "thrift"}) == "thrift"
    assert dbt_target(["build", "--target", "thrift"], env={}) == "thrift"
    assert (
        dbt_target(["run", "--target=thrift"], env={"SOUNDLAKE_DBT_TARGET": "session"}) == "thrift"
    )
    assert dbt_target(["run", "-t", "session"], env={"SOUNDLAKE_DBT_TARGET": "thrift"}) == "session"


def test_session_settings_come_from_the_environment_with_stack_defaults() -> None:
    default = SessionSettings({"SOUNDLAKE_ROOT": "/repo"})
    conf = default.spark_conf()
    assert default.master == "local[2]"
    assert conf["spark.hadoop.fs.defaultFS"] == "hdfs://127.0.0.1:8020"
    assert conf["spark.hadoop.javax.jdo.option.ConnectionURL"] == (
        "jdbc:derby:;databaseName=/repo/.stack/data/spark-session-metastore;create=true"
    )
    assert conf["spark.sql.warehouse.dir"] == "file:///repo/.stack/data/spark-warehouse"
    assert conf["spark.sql.parquet.outputTimestampType"] == "TIMESTAMP_MICROS"
    assert conf["spark.sql.session.timeZone"] == "UTC"
    custom = SessionSettings({
        "SOUNDLAKE_SPARK_MASTER": "local[4]",
        "SOUNDLAKE_HDFS_URL": "hdfs://nn:9000/",
        "SOUNDLAKE_SPARK_METASTORE_URL": "jdbc:derby://127.0.0.1:1527/ms;create=true",
        "SOUNDLAKE_SPARK_WAREHOUSE": "hdfs://nn:9000/warehouse",
    })  # fmt: skip
    conf = custom.spark_conf()
    assert custom.master == "local[4]"
    assert conf["spark.hadoop.fs.defaultFS"] == "hdfs://nn:9000"
    assert conf["spark.hadoop.javax.jdo.option.ConnectionURL"].startswith("jdbc:derby://")
    assert conf["spark.sql.warehouse.dir"] == "hdfs://nn:9000/warehouse"


def test_command_line_help_and_errors() -> None:
    script = Path(sys.executable).parent / "soundlake-dbt"
    shown = subprocess.run([script, "--help"], capture_output=True, text=True, check=False)
    assert shown.returncode == 0
    assert shown.stdout.startswith("usage: soundlake-dbt DBT_COMMAND")
    missing = subprocess.run(
        [script, "build", "--project-dir", str(ROOT / "no-such-project")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert missing.returncode == 2
    assert "no dbt_project.yml in" in missing.stderr
