"""The pytest harness of Soundlake: fixtures that attach tests to the local stack and to Spark.

Endpoints come from the same variables as the Rust test kit (soundlake-testkit), with the local
stack's addresses as defaults:

    SOUNDLAKE_KAFKA_BROKERS     127.0.0.1:9092
    SOUNDLAKE_HDFS_URL          hdfs://127.0.0.1:8020
    SOUNDLAKE_WEBHDFS_URL       http://<the HDFS host>:9870   (the NameNode's HTTP address)
    SOUNDLAKE_CLICKHOUSE_URL    http://127.0.0.1:8123
    SOUNDLAKE_PROMETHEUS_URL    http://127.0.0.1:9090

A test that needs the stack asks for ``stack`` (or a fixture built on it: ``kafka_topic``,
``hdfs_dir``, ``clickhouse_db``) and is marked ``stack`` automatically, so ``-m "not stack"``
runs the rest. When a service does not answer, such a test FAILS (never skips) and says how
to start the stack. Every resource a fixture creates has a unique name and is removed after.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

STACK_HINT = "start the stack: make stack-up"
HTTP_TIMEOUT_S = 10.0
KAFKA_TIMEOUT_S = 15.0
HDFS_TEST_ROOT = "/soundlake-test"


class ServiceError(Exception):
    """A service of the stack did not answer, or answered with an error."""


def unique_name(prefix: str) -> str:
    """A name no other test run uses: ``prefix`` and 12 hex digits (valid in every service)."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def http_request(
    url: str,
    method: str = "GET",
    data: bytes | None = None,
    timeout: float = HTTP_TIMEOUT_S,
) -> bytes:
    """Send one HTTP request; return the body, or raise ServiceError naming the URL and status."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an HTTP URL: {url}")
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - checked above
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as err:
        detail = err.read().decode("utf-8", "replace").strip()
        raise ServiceError(f"{method} {url} answered HTTP {err.code}: {detail[:500]}") from err
    except (urllib.error.URLError, OSError) as err:
        raise ServiceError(f"{method} {url} failed: {err}") from err


def cargo_binaries(*packages: str) -> Path:
    """Builds the workspace's `packages` (debug, a no-op when up to date) and returns the folder
    of their binaries: `<cargo target dir>/debug`, which honours CARGO_TARGET_DIR (CI sets it)."""
    root = Path(__file__).resolve().parent.parent
    build = ["cargo", "build", "--quiet", "--locked"]
    for package in packages:
        build += ["-p", package]
    subprocess.run(build, cwd=root, check=True, timeout=1800)
    metadata = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1"],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return Path(json.loads(metadata)["target_directory"]) / "debug"


# --- endpoints and health --------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoints:
    """Where the stack's services are (not whether they answer: see the ``stack`` fixture)."""

    kafka_brokers: str
    hdfs_url: str
    webhdfs_url: str
    clickhouse_url: str
    prometheus_url: str
    spark_thrift: str  # host:port of the Spark Thrift server (dbt's `thrift` target)

    @classmethod
    def from_env(cls) -> Endpoints:
        def setting(name: str, default: str) -> str:
            return os.environ.get(name, default).rstrip("/")

        hdfs_url = setting("SOUNDLAKE_HDFS_URL", "hdfs://127.0.0.1:8020")
        hdfs_host = urllib.parse.urlsplit(hdfs_url).hostname or "127.0.0.1"
        return cls(
            kafka_brokers=setting("SOUNDLAKE_KAFKA_BROKERS", "127.0.0.1:9092"),
            hdfs_url=hdfs_url,
            webhdfs_url=setting("SOUNDLAKE_WEBHDFS_URL", f"http://{hdfs_host}:9870"),
            clickhouse_url=setting("SOUNDLAKE_CLICKHOUSE_URL", "http://127.0.0.1:8123"),
            prometheus_url=setting("SOUNDLAKE_PROMETHEUS_URL", "http://127.0.0.1:9090"),
            spark_thrift=(
                f"{setting('SOUNDLAKE_SPARK_THRIFT_HOST', '127.0.0.1')}:"
                f"{setting('SOUNDLAKE_SPARK_THRIFT_PORT', '10000')}"
            ),
        )


def check_tcp(address: str, service: str) -> None:
    """Fail fast (before any client library retries and logs) when nothing listens."""
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=HTTP_TIMEOUT_S).close()
    except (OSError, ValueError) as err:
        raise ServiceError(f"{service} at {address}: {err}") from err


def check_kafka(endpoints: Endpoints) -> None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    for broker in endpoints.kafka_brokers.split(","):
        check_tcp(broker.strip(), "Kafka")
    admin = AdminClient({"bootstrap.servers": endpoints.kafka_brokers})
    try:
        metadata = admin.list_topics(timeout=KAFKA_TIMEOUT_S)
    except KafkaException as err:
        raise ServiceError(f"Kafka at {endpoints.kafka_brokers}: {err}") from err
    if not metadata.brokers:
        raise ServiceError(f"Kafka at {endpoints.kafka_brokers} reports no broker")


def check_hdfs(endpoints: Endpoints) -> None:
    query = "qry=Hadoop:service=NameNode,name=FSNamesystemState"
    body = http_request(f"{endpoints.webhdfs_url}/jmx?{query}")
    beans = json.loads(body).get("beans", [])
    if not beans:
        raise ServiceError(f"HDFS NameNode at {endpoints.webhdfs_url} has no FSNamesystemState")
    state = beans[0]
    if state.get("FSState") != "Operational" or state.get("NumLiveDataNodes", 0) < 1:
        raise ServiceError(
            f"HDFS at {endpoints.webhdfs_url}: state {state.get('FSState')}, "
            f"{state.get('NumLiveDataNodes', 0)} live DataNode(s) (needs 1)"
        )


def check_clickhouse(endpoints: Endpoints) -> None:
    body = http_request(f"{endpoints.clickhouse_url}/ping")
    if body.strip() != b"Ok.":
        raise ServiceError(f"ClickHouse at {endpoints.clickhouse_url}/ping answered {body[:100]!r}")


def check_prometheus(endpoints: Endpoints) -> None:
    http_request(f"{endpoints.prometheus_url}/-/ready")


def check_spark_thrift(endpoints: Endpoints) -> None:
    check_tcp(endpoints.spark_thrift, "Spark Thrift server")


HEALTH_CHECKS = {
    "kafka": check_kafka,
    "hdfs": check_hdfs,
    "clickhouse": check_clickhouse,
    "prometheus": check_prometheus,
    "spark-thrift": check_spark_thrift,
}


@pytest.fixture(scope="session")
def endpoints() -> Endpoints:
    """The stack's addresses, unchecked (for Spark's defaultFS, which connects lazily)."""
    return Endpoints.from_env()


@pytest.fixture(scope="session")
def _stack_health(endpoints: Endpoints) -> dict[str, str]:
    """Each service that did not answer, with why (checked once per session)."""
    problems: dict[str, str] = {}
    for name, check in HEALTH_CHECKS.items():
        try:
            check(endpoints)
        except ServiceError as err:
            problems[name] = str(err)
    return problems


@pytest.fixture
def stack(endpoints: Endpoints, _stack_health: dict[str, str]) -> Endpoints:
    """The stack's endpoints, after checking that every service answers (else the test fails)."""
    if _stack_health:
        lines = "\n".join(f"  {name}: {why}" for name, why in _stack_health.items())
        pytest.fail(f"the local stack is not answering:\n{lines}\n{STACK_HINT}", pytrace=False)
    return endpoints


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the stack (directly or through a fixture) with ``stack``."""
    for item in items:
        if "stack" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.stack)


# --- Kafka -----------------------------------------------------------------------------------


@pytest.fixture
def kafka_topic(stack: Endpoints, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new topic with a unique name (1 partition; more with indirect parametrization:
    ``@pytest.mark.parametrize("kafka_topic", [3], indirect=True)``), deleted after the test."""
    from confluent_kafka.admin import AdminClient, NewTopic

    partitions = int(getattr(request, "param", 1))
    name = unique_name("test").replace("_", "-")
    admin = AdminClient({"bootstrap.servers": stack.kafka_brokers})
    topic = NewTopic(name, num_partitions=partitions, replication_factor=1)
    admin.create_topics([topic])[name].result(timeout=KAFKA_TIMEOUT_S)
    try:
        yield name
    finally:
        admin.delete_topics([name])[name].result(timeout=KAFKA_TIMEOUT_S)


# --- HDFS ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HdfsDir:
    """A folder on the stack's HDFS, reached through WebHDFS for setup and checks."""

    path: str  # absolute HDFS path, e.g. /soundlake-test/test_0123456789ab
    hdfs_url: str  # the NameNode, e.g. hdfs://127.0.0.1:8020
    webhdfs_url: str  # the NameNode's HTTP address

    @property
    def url(self) -> str:
        """The folder's full URL, for Spark, hdfs-native and the Rust services."""
        return f"{self.hdfs_url}{self.path}"

    def url_of(self, name: str) -> str:
        return f"{self.url}/{name}"

    def webhdfs(self, relative: str, op: str, method: str = "GET", **params: str) -> bytes:
        """Call WebHDFS operation ``op`` on ``relative`` (below this folder; "" for itself)."""
        path = f"{self.path}/{relative}".rstrip("/")
        query = urllib.parse.urlencode({"op": op, "user.name": getpass.getuser(), **params})
        url = f"{self.webhdfs_url}/webhdfs/v1{urllib.parse.quote(path)}?{query}"
        return http_request(url, method=method)

    def list_names(self, relative: str = "") -> list[str]:
        """The names of the entries in this folder (or in a subfolder), sorted."""
        body = json.loads(self.webhdfs(relative, "LISTSTATUS"))
        return sorted(entry["pathSuffix"] for entry in body["FileStatuses"]["FileStatus"])

    def read_bytes(self, relative: str) -> bytes:
        """A file's content (WebHDFS redirects the read to the DataNode)."""
        return self.webhdfs(relative, "OPEN")


@pytest.fixture
def hdfs_dir(stack: Endpoints) -> Iterator[HdfsDir]:
    """A new, empty folder under /soundlake-test/ on HDFS, deleted with its content after."""
    folder = HdfsDir(
        path=f"{HDFS_TEST_ROOT}/{unique_name('test')}",
        hdfs_url=stack.hdfs_url,
        webhdfs_url=stack.webhdfs_url,
    )
    created = json.loads(folder.webhdfs("", "MKDIRS", method="PUT"))
    if created.get("boolean") is not True:
        raise ServiceError(f"WebHDFS MKDIRS {folder.path} answered {created}")
    try:
        yield folder
    finally:
        folder.webhdfs("", "DELETE", method="DELETE", recursive="true")


# --- ClickHouse ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClickHouseDb:
    """A ClickHouse database reached through the HTTP interface."""

    name: str
    url: str  # e.g. http://127.0.0.1:8123

    def query(self, sql: str, data: bytes | None = None) -> str:
        """Run ``sql`` in this database; ``data`` is the body of an ``INSERT … FORMAT …``.
        Returns the answer as text (append ``FORMAT TSV`` or ``FORMAT JSON`` to choose it)."""
        params = urllib.parse.urlencode({"database": self.name, "query": sql})
        return http_request(f"{self.url}/?{params}", method="POST", data=data or b"").decode()

    def query_json(self, sql: str) -> list[dict[str, Any]]:
        """The rows of a SELECT, as dicts (ClickHouse's JSON format)."""
        rows: list[dict[str, Any]] = json.loads(self.query(f"{sql} FORMAT JSON"))["data"]
        return rows


@pytest.fixture
def clickhouse_db(stack: Endpoints) -> Iterator[ClickHouseDb]:
    """A new, empty ClickHouse database with a unique name, dropped after the test."""
    name = unique_name("test")
    admin = ClickHouseDb(name="default", url=stack.clickhouse_url)
    admin.query(f"CREATE DATABASE {name}")
    try:
        yield ClickHouseDb(name=name, url=stack.clickhouse_url)
    finally:
        admin.query(f"DROP DATABASE IF EXISTS {name}")


# --- Spark -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def spark(endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    """One local Spark session for the whole run: 2 cores, no UI, 2 shuffle partitions,
    HDFS as the default file system, warehouse and scratch space in a temporary folder."""
    from pyspark.sql import SparkSession

    work: Path = tmp_path_factory.mktemp("spark")
    # Python workers must run this interpreter (the venv's), not whatever `python3` is first.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("soundlake-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.driver.memory", "1g")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.hadoop.fs.defaultFS", endpoints.hdfs_url)
        .config("spark.sql.warehouse.dir", (work / "warehouse").as_uri())
        .config("spark.local.dir", str(work / "local"))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("WARN")
    try:
        yield session
    finally:
        session.stop()
