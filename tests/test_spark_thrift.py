"""The Spark Thrift Server (python/soundlake/jobs/thrift_server.py) and the Derby metastore
server, started as the local stack starts them (the ``spark-metastore`` and ``spark-thrift``
services) on free ports: PyHive and dbt's ``thrift`` target reach the Thrift server, the Rust
UDFs resolve by their SQL names, and a separate Spark session shares its catalog."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import Endpoints, http_request, unique_name

from soundlake.stack import config
from soundlake.stack.process import free_port
from soundlake.stack.service import Service
from soundlake.stack.services.spark_metastore import SparkMetastore, client_jar, metastore_url
from soundlake.stack.services.spark_thrift import SparkThrift
from soundlake_udfs import arrow

REPO = Path(__file__).resolve().parents[1]
DBT = Path(sys.executable).parent / "dbt"
AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


@dataclass(frozen=True)
class SparkServices:
    metastore: SparkMetastore
    thrift: SparkThrift
    warehouse: Path


@pytest.fixture(scope="module")
def spark_services(
    endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SparkServices]:
    """The stack's spark-metastore and spark-thrift services, started as `scripts/stack up`
    starts them (default settings: the Thrift server on the stack's network metastore), in a
    temporary stack folder on free ports; stopped after the module's tests."""
    work = tmp_path_factory.mktemp("spark-services")
    base = config.load()
    ports = {
        **base.ports,
        "spark_thrift": free_port(),
        "spark_thrift_jmx_metrics": free_port(),
        "spark_metastore": free_port(),
    }
    cfg = dataclasses.replace(base, dir=work / "stack", ports=ports)
    services = SparkServices(SparkMetastore(cfg), SparkThrift(cfg), work / "warehouse")
    settings = {
        "SOUNDLAKE_SPARK_METASTORE_URL": None,  # the services' default
        "SOUNDLAKE_SPARK_METASTORE_CLIENT_JAR": None,
        "SOUNDLAKE_SPARK_WAREHOUSE": str(services.warehouse),
        "SOUNDLAKE_HDFS_URL": endpoints.hdfs_url,
    }
    saved = {name: os.environ.get(name) for name in settings}
    started: list[Service] = []
    try:
        _set_env(settings)  # the services' processes inherit the environment at spawn
        for service in (services.metastore, services.thrift):
            assert service.up() == "started"
            started.append(service)
        _set_env(saved)
        yield services
    finally:
        _set_env(saved)
        for service in reversed(started):
            assert service.down(), f"{service.name} did not stop; see {service.logfile}"


def _set_env(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="module")
def thrift_server(spark_services: SparkServices) -> SparkThrift:
    return spark_services.thrift


def query(service: SparkThrift, sql: str) -> list[tuple[object, ...]]:
    from pyhive import hive

    connection = hive.connect(
        host=service.cfg.host, port=service.cfg.port("spark_thrift"), username="tests"
    )
    try:
        cursor = connection.cursor()
        cursor.execute(sql)
        rows: list[tuple[object, ...]] = cursor.fetchall()
        return rows
    finally:
        connection.close()


def test_rust_udfs_answer_over_thrift(stack: Endpoints, thrift_server: SparkThrift) -> None:
    artist = "  Beyoncé & The   Weeknd "
    rows = query(
        thrift_server,
        f"SELECT normalize_name('{artist}'), h3_cell(40.7128D, -74.006D, 7), "
        f"parse_user_agent('{AGENT}').browser",
    )
    expected_name = arrow.normalize_name(pa.array([artist])).to_pylist()[0]
    expected_cell = arrow.h3_cell(
        pa.array([40.7128]), pa.array([-74.006]), pa.array([7], pa.int32())
    ).to_pylist()[0]
    expected_browser = arrow.parse_user_agent(pa.array([AGENT])).field("browser").to_pylist()[0]
    assert rows == [(expected_name, expected_cell, expected_browser)]
    # a second connection shares the session: the UDFs are there too
    assert query(thrift_server, "SELECT normalize_name('ABBA')") == [
        (arrow.normalize_name(pa.array(["ABBA"])).to_pylist()[0],)
    ]


def test_the_driver_serves_spark_metrics_to_prometheus(
    stack: Endpoints, thrift_server: SparkThrift
) -> None:
    """The JMX exporter agent on the driver serves Spark's own metrics under the names of
    ops/jmx/spark.yml: a query run over Thrift counts as a succeeded job."""
    cfg = thrift_server.cfg
    url = f"http://{cfg.host}:{cfg.port('spark_thrift_jmx_metrics')}/metrics"

    def succeeded_jobs() -> float:
        text = http_request(url).decode()
        values = [
            float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith("spark_driver_appstatus_jobs_succeededjobs_total ")
        ]
        assert len(values) == 1, f"no Spark job counter in {url}"
        return values[0]

    before = succeeded_jobs()
    assert query(thrift_server, "SELECT count(*) FROM range(1000)") == [(1000,)]
    assert succeeded_jobs() > before
    assert "jvm_memory_used_bytes{" in http_request(url).decode()


def dbt(service: SparkThrift, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SOUNDLAKE_SPARK_THRIFT_HOST": service.cfg.host,
        "SOUNDLAKE_SPARK_THRIFT_PORT": str(service.cfg.port("spark_thrift")),
        "DBT_LOG_PATH": str(tmp / "logs"),
        "DBT_TARGET_PATH": str(tmp / "target"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
    }
    project = REPO / "dbt_spark"
    return subprocess.run(
        [str(DBT), *args, "--project-dir", str(project), "--profiles-dir", str(project)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_dbt_debug_with_the_thrift_target(
    stack: Endpoints, thrift_server: SparkThrift, tmp_path: Path
) -> None:
    result = dbt(thrift_server, tmp_path, "debug", "--target", "thrift")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "Connection test: [OK connection ok]" in result.stdout


def test_plain_dbt_calls_a_rust_udf_through_thrift(
    stack: Endpoints, thrift_server: SparkThrift, tmp_path: Path
) -> None:
    result = dbt(
        thrift_server,
        tmp_path,
        "show",
        "--target",
        "thrift",
        "--inline",
        "select normalize_name('The  Beatles!') as artist_key",
        "--output",
        "json",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    expected = arrow.normalize_name(pa.array(["The  Beatles!"])).to_pylist()[0]
    assert f'"artist_key": "{expected}"' in result.stdout


SESSION_SCRIPT = """
import sys
from soundlake.jobs.common import build_session

spark = build_session("catalog-sharing-test", catalog=True)
spark.sql(
    f"CREATE TABLE default.{sys.argv[1]} USING parquet AS SELECT normalize_name('The Beatles') AS k"
)
spark.stop()
"""


def test_a_session_and_the_thrift_server_share_the_catalog(
    stack: Endpoints, spark_services: SparkServices
) -> None:
    """A `soundlake-dbt`-style session in another process, while the Thrift server runs,
    creates a table through the stack's metastore; the Thrift server sees and reads it."""
    table = unique_name("shared")
    cfg = spark_services.thrift.cfg
    env = {
        **os.environ,
        "PYSPARK_PYTHON": sys.executable,
        "SOUNDLAKE_SPARK_METASTORE_URL": metastore_url(cfg),
        "SOUNDLAKE_SPARK_METASTORE_CLIENT_JAR": str(client_jar(cfg)),
        "SOUNDLAKE_SPARK_WAREHOUSE": str(spark_services.warehouse),
        "SOUNDLAKE_SPARK_DRIVER_MEMORY": "768m",
        "SOUNDLAKE_HDFS_URL": stack.hdfs_url,
    }
    result = subprocess.run(
        [sys.executable, "-c", SESSION_SCRIPT, table],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    expected = arrow.normalize_name(pa.array(["The Beatles"])).to_pylist()[0]
    # the table name is generated by unique_name: letters, digits and _
    select = f"SELECT k FROM default.{table}"  # noqa: S608
    assert query(spark_services.thrift, select) == [(expected,)]
    query(spark_services.thrift, f"DROP TABLE default.{table}")
