"""The Spark Thrift Server (spark-jobs/soundlake_jobs/thrift_server.py), started as the local
stack starts it (the ``spark-thrift`` service), on a free port with its own metastore: PyHive
and dbt's ``thrift`` target reach it, and the Rust UDFs resolve by their SQL names."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import Endpoints

from soundlake_stack import config
from soundlake_stack.services.spark_thrift import SparkThrift
from soundlake_udfs import arrow

REPO = Path(__file__).resolve().parents[1]
DBT = Path(sys.executable).parent / "dbt"
AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def thrift_server(
    endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SparkThrift]:
    """The stack's spark-thrift service in a temporary stack folder, on a free port, with an
    embedded metastore and a warehouse of its own; stopped after the module's tests."""
    work = tmp_path_factory.mktemp("thrift")
    base = config.load()
    cfg = dataclasses.replace(
        base, dir=work / "stack", ports={**base.ports, "spark_thrift": free_port()}
    )
    service = SparkThrift(cfg)
    settings = {
        "SOUNDLAKE_SPARK_METASTORE_URL": f"jdbc:derby:;databaseName={work / 'metastore'};create=true",
        "SOUNDLAKE_SPARK_WAREHOUSE": str(work / "warehouse"),
        "SOUNDLAKE_HDFS_URL": endpoints.hdfs_url,
    }
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)  # the service's process inherits them at spawn
    try:
        assert service.up() == "started"
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    try:
        yield service
    finally:
        assert service.down(), f"{service.name} did not stop; see {service.logfile}"


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
