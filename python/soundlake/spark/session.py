"""Soundlake's Spark session, shared by ``soundlake-dbt``, the Thrift server and the Spark jobs.

dbt models call the Rust UDFs (``normalize_name``, ``h3_cell``, ``event_problems``,
``parse_user_agent``), which Spark SQL only resolves in a session where they are registered.
``build_session`` creates that session (Hive catalog, the lake's settings, UDFs registered);
``soundlake.spark.dbt`` runs dbt in it, ``soundlake.jobs.thrift_server`` serves it over
HiveServer2, and the jobs of ``soundlake.jobs`` run in it.

Settings (environment, with the local stack's defaults):

    SOUNDLAKE_SPARK_MASTER          local[2]
    SOUNDLAKE_SPARK_DRIVER_MEMORY   2g
    SOUNDLAKE_SPARK_SHUFFLE_PARTITIONS  4
    SOUNDLAKE_HDFS_URL              hdfs://127.0.0.1:8020  (Spark's default file system)
    SOUNDLAKE_SPARK_METASTORE_URL   jdbc:derby:;databaseName=<root>/.stack/data/spark-session-metastore;create=true
    SOUNDLAKE_SPARK_WAREHOUSE       <root>/.stack/data/spark-warehouse
    SOUNDLAKE_ROOT                  the repository (default: the current directory)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["SessionSettings", "build_session", "repo_root"]


def repo_root(env: Mapping[str, str]) -> Path:
    """SOUNDLAKE_ROOT, else the current directory: where the stack's data and dbt_spark are."""
    return Path(env.get("SOUNDLAKE_ROOT") or Path.cwd())


class SessionSettings:
    """The Spark settings of a Soundlake session, from the environment (see the module doc)."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        data = repo_root(env) / ".stack" / "data"
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
