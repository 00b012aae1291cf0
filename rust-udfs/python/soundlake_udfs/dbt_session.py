"""Soundlake's Spark session for dbt, the Thrift server and the Spark jobs, and ``soundlake-dbt``.

dbt models call the Rust UDFs (``normalize_name``, ``h3_cell``, ``event_problems``,
``parse_user_agent``), which Spark SQL only resolves in a session where they are registered.
``build_session`` creates that session (Hive catalog, the lake's settings, UDFs registered);
``soundlake-dbt`` creates it, then runs dbt in the same process through ``dbtRunner``, whose
``session`` target picks the running session up (dbt-spark calls ``SparkSession.builder
.getOrCreate()``)::

    soundlake-dbt build --project-dir dbt_spark --target session
    soundlake-dbt build --vars '{start_date: 2026-11-01, end_date: 2026-11-02}'
    soundlake-dbt build --full-refresh

Settings (environment, with the local stack's defaults):

    SOUNDLAKE_SPARK_MASTER          local[2]
    SOUNDLAKE_SPARK_DRIVER_MEMORY   2g
    SOUNDLAKE_SPARK_SHUFFLE_PARTITIONS  4
    SOUNDLAKE_HDFS_URL              hdfs://127.0.0.1:8020  (Spark's default file system)
    SOUNDLAKE_SPARK_METASTORE_URL   jdbc:derby:;databaseName=<root>/.stack/data/spark-session-metastore;create=true
    SOUNDLAKE_SPARK_WAREHOUSE       <root>/.stack/data/spark-warehouse
    SOUNDLAKE_ROOT                  the repository (default: the current directory)
    SOUNDLAKE_DBT_PROJECT_DIR       dbt_spark under SOUNDLAKE_ROOT (when --project-dir is not given)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["SessionSettings", "build_session", "dbt_args", "main"]

HELP = """\
usage: soundlake-dbt DBT_COMMAND [DBT_OPTIONS...]

Runs dbt (e.g. `build`, `run`, `test`, `seed`, `docs generate`) in a Spark session where
Soundlake's Rust UDFs are registered, so that the dbt_spark models can call them. Every
argument goes to dbt unchanged; when missing, `--project-dir` defaults to
$SOUNDLAKE_DBT_PROJECT_DIR (else <repo>/dbt_spark) and `--profiles-dir` to the project dir.

examples:
  soundlake-dbt build                                   # run and test every model
  soundlake-dbt build --full-refresh                    # rebuild silver and gold
  soundlake-dbt build --vars '{start_date: 2026-11-01, end_date: 2026-11-02}'
  soundlake-dbt run --select gold_daily_active_users+

Spark settings come from the environment (SOUNDLAKE_SPARK_MASTER, SOUNDLAKE_HDFS_URL,
SOUNDLAKE_SPARK_METASTORE_URL, SOUNDLAKE_SPARK_WAREHOUSE, ...; see docs/dbt.md); the lake
root from SOUNDLAKE_LAKE_URL. `soundlake-dbt --help` shows this text, `soundlake-dbt
DBT_COMMAND --help` dbt's help for that command. Exit status: 0 when dbt succeeded, 1 when a
model or test failed, 2 when dbt could not run.
"""


def _root(env: Mapping[str, str]) -> Path:
    return Path(env.get("SOUNDLAKE_ROOT") or Path.cwd())


class SessionSettings:
    """The Spark settings of a Soundlake session, from the environment (see the module doc)."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        data = _root(env) / ".stack" / "data"
        self.master = env.get("SOUNDLAKE_SPARK_MASTER", "local[2]")
        self.driver_memory = env.get("SOUNDLAKE_SPARK_DRIVER_MEMORY", "2g")
        self.shuffle_partitions = env.get("SOUNDLAKE_SPARK_SHUFFLE_PARTITIONS", "4")
        self.hdfs_url = env.get("SOUNDLAKE_HDFS_URL", "hdfs://127.0.0.1:8020").rstrip("/")
        self.metastore_url = env.get(
            "SOUNDLAKE_SPARK_METASTORE_URL",
            f"jdbc:derby:;databaseName={data / 'spark-session-metastore'};create=true",
        )
        warehouse = env.get("SOUNDLAKE_SPARK_WAREHOUSE", str(data / "spark-warehouse"))
        # a bare path is local: Spark would otherwise resolve it on the default FS (HDFS)
        self.warehouse = warehouse if "://" in warehouse else Path(warehouse).resolve().as_uri()
        self.local_dir = env.get("SOUNDLAKE_SPARK_LOCAL_DIR")
        # a jdbc:derby:// metastore (the stack's spark-metastore service) needs Derby's network
        # client driver on the driver's class path (pyspark bundles only the embedded driver)
        self.metastore_client_jar = env.get("SOUNDLAKE_SPARK_METASTORE_CLIENT_JAR") or next(
            (str(jar) for jar in sorted((data.parent / "lib" / "derby").glob("derbyclient-*.jar"))),
            "",
        )

    def spark_conf(self) -> dict[str, str]:
        """Every setting as a Spark configuration key and value."""
        conf = {
            "spark.driver.memory": self.driver_memory,
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.shuffle.partitions": self.shuffle_partitions,
            "spark.sql.adaptive.enabled": "true",
            "spark.sql.adaptive.coalescePartitions.enabled": "true",
            "spark.hadoop.fs.defaultFS": self.hdfs_url,
            # the lake's Parquet contract: timestamps as TIMESTAMP_MICROS, never INT96
            "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
            "spark.sql.parquet.compression.codec": "zstd",
            "spark.sql.sources.partitionOverwriteMode": "dynamic",
            # models live at fixed lake paths: a rebuild writes where the table was
            "spark.sql.legacy.allowNonEmptyLocationInCTAS": "true",
            "spark.sql.catalogImplementation": "hive",
            # partitions are found by listing the lake folders, not registered one by one in
            # the metastore: new bronze hours need no `recover partitions`, and rewriting a day
            # costs no metastore round trips
            "spark.sql.hive.manageFilesourcePartitions": "false",
            "spark.sql.warehouse.dir": self.warehouse,
            "spark.hadoop.javax.jdo.option.ConnectionURL": self.metastore_url,
            "spark.hadoop.datanucleus.schema.autoCreateAll": "true",
            "spark.hadoop.hive.metastore.schema.verification": "false",
        }
        if self.local_dir:
            conf["spark.local.dir"] = self.local_dir
        if self.metastore_url.startswith("jdbc:derby://"):
            conf["spark.hadoop.javax.jdo.option.ConnectionDriverName"] = (
                "org.apache.derby.jdbc.ClientDriver"
            )
            if self.metastore_client_jar:
                conf["spark.driver.extraClassPath"] = self.metastore_client_jar
        return conf


def build_session(
    app_name: str,
    *,
    settings: SessionSettings | None = None,
    extra_conf: Mapping[str, str] | None = None,
    register_udfs: bool = True,
) -> SparkSession:
    """A Spark session with Hive catalog support, the lake's settings and (unless
    ``register_udfs`` is false) every Soundlake UDF registered for SQL.

    ``extra_conf`` overrides or adds Spark settings (e.g. the Thrift server's port). When a
    session already runs in this process it is returned (Spark has one per JVM), with the
    UDFs registered in it.
    """
    from pyspark.sql import SparkSession

    import soundlake_udfs

    settings = settings or SessionSettings()
    # Python workers must run this interpreter (the venv's, where soundlake_udfs is installed).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.master(settings.master).appName(app_name).enableHiveSupport()
    for key, value in {**settings.spark_conf(), **(extra_conf or {})}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(os.environ.get("SOUNDLAKE_SPARK_LOG_LEVEL", "ERROR"))
    if register_udfs:
        soundlake_udfs.register(session)
    return session


def _has_option(args: Sequence[str], option: str) -> bool:
    return any(a == option or a.startswith(f"{option}=") for a in args)


def dbt_args(args: Sequence[str], env: Mapping[str, str] | None = None) -> list[str]:
    """``args`` with ``--project-dir`` and ``--profiles-dir`` added when missing (the project
    from SOUNDLAKE_DBT_PROJECT_DIR, else <SOUNDLAKE_ROOT>/dbt_spark; profiles beside it)."""
    env = os.environ if env is None else env
    result = list(args)
    if not result or result[0].startswith("-"):
        return result  # `dbt --version` and the like take no project
    project = env.get("SOUNDLAKE_DBT_PROJECT_DIR") or str(_root(env) / "dbt_spark")
    if _has_option(result, "--project-dir"):
        index = next(i for i, a in enumerate(result) if a.startswith("--project-dir"))
        value = result[index].partition("=")[2] or (
            result[index + 1] if index + 1 < len(result) else ""
        )
        project = value or project
    else:
        result += ["--project-dir", project]
    if not _has_option(result, "--profiles-dir") and not env.get("DBT_PROFILES_DIR"):
        result += ["--profiles-dir", project]
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """The ``soundlake-dbt`` command: dbt in a Spark session with the UDFs registered."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(HELP, end="")
        return 0 if args else 2
    args = dbt_args(args)
    project = Path(args[args.index("--project-dir") + 1]) if "--project-dir" in args else None
    if project is not None and not (project / "dbt_project.yml").is_file():
        print(
            f"soundlake-dbt: error: no dbt_project.yml in {project}; pass --project-dir or "
            "set SOUNDLAKE_DBT_PROJECT_DIR (or SOUNDLAKE_ROOT) to the repository's dbt_spark",
            file=sys.stderr,
        )
        return 2
    from dbt.cli.main import dbtRunner

    # Everything but these opens a connection, which must be this session (its catalog, UDFs).
    if args[0] not in ("parse", "deps", "clean", "init"):
        build_session("soundlake-dbt")
    result = dbtRunner().invoke(args)
    if result.exception is not None:
        print(f"soundlake-dbt: error: dbt could not run: {result.exception}", file=sys.stderr)
        return 2
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
