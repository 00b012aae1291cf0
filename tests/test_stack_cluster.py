"""The cluster profile of the local stack (`scripts/stack up --profile cluster`): every part
really runs as several nodes.

- Kafka: all brokers are voters of the KRaft quorum; a new topic gets a replica on each and
  all are in sync; the brokers demand `min.insync.replicas` 2.
- HDFS: the NameNode counts every DataNode live and a file written has a replica on each.
- Spark: the standalone master has every worker alive; a job's executors run on both workers,
  in JVMs of their own, and their Python workers import `soundlake_udfs`.

Runs when the profile is up; skips (one line) when it is down, unless
SOUNDLAKE_CLUSTER_TESTS=required, which makes a down profile a failure. `make test-cluster`
runs this suite; `make test` runs the tests marked cluster_quick (the structure checks above and
a killed lander) with the profile started for them (scripts/test-cluster --quick).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from conftest import (
    HDFS_TEST_ROOT,
    KAFKA_TIMEOUT_S,
    ClickHouseDb,
    HdfsDir,
    http_request,
    unique_name,
)
from test_dbt_pipeline import (
    BUILD_TIMEOUT_S,
    TOPICS,
    assert_matches,
    binary,
    dbt_env,
    delete_topics,
    expected_reports,
    read_events,
    read_gold,
    run,
)

from soundlake.stack import clients, config
from soundlake.stack.services import all_services, hdfs, spark_standalone
from soundlake.stack.services.kafka import Kafka

if TYPE_CHECKING:
    from confluent_kafka.admin import AdminClient
    from pyspark.sql import SparkSession

ROOT = Path(__file__).resolve().parent.parent
PROFILE = "cluster"
REQUIRED_ENV = "SOUNDLAKE_CLUSTER_TESTS"
SPARK_JOB_TIMEOUT_S = 600
# the profile's structure and one node dying: the subset `make test` runs (scripts/test-cluster)
QUICK = pytest.mark.cluster_quick


@pytest.fixture(scope="module")
def cluster() -> config.StackConfig:
    """The cluster profile's settings, once its Kafka, HDFS and Spark master answer."""
    cfg = config.load(profile=PROFILE)
    down = [name for name, up in _answers(cfg).items() if not up]
    if down:
        why = f"the {PROFILE} profile is not up ({', '.join(down)} not answering)"
        hint = f"start it: scripts/stack up --profile {PROFILE}"
        if os.environ.get(REQUIRED_ENV) == "required":
            pytest.fail(f"{why}; {hint}", pytrace=False)
        pytest.skip(f"{why}; set {REQUIRED_ENV}=required to fail instead")
    return cfg


def _answers(cfg: config.StackConfig) -> dict[str, bool]:
    """Whether the profile's Kafka, HDFS and Spark master answer, started from this checkout
    (the fault tests signal its processes by their pid files: a profile that another checkout
    started on the same ports is not this one's)."""
    kafka = Kafka(cfg, 0)
    return {
        "kafka": kafka.running() and kafka.healthy(),
        "hdfs": hdfs.HdfsNameNode(cfg).running() and hdfs.namenode_state(cfg) is not None,
        "spark-master": spark_standalone.SparkMaster(cfg).running()
        and spark_standalone.master_state(cfg) is not None,
    }


# -- the profile's settings (no services needed) ---------------------------------------------------


def _listening_ports(cfg: config.StackConfig) -> dict[int, str]:
    """Every port each instance of each service of `cfg` listens on, with who listens."""
    ports: dict[int, str] = {}
    for svc in all_services(cfg):
        for name in svc.port_names:
            port = svc.port(name)
            assert port not in ports, f"{svc.name} and {ports[port]} both listen on {port}"
            ports[port] = f"{svc.name} ({name})"
    return ports


def test_the_cluster_profile_multiplies_the_nodes_in_its_own_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(config.PROFILE_ENV, raising=False)
    single, cluster = config.load(profile=None), config.load(profile=PROFILE)
    assert cluster.profile == PROFILE and cluster.dir.name == ".stack-cluster"
    assert cluster.dir != single.dir
    names = [svc.name for svc in all_services(cluster)]
    for stem, count in (("kafka", 3), ("hdfs-datanode", 3), ("spark-worker", 2)):
        assert [n for n in names if n.startswith(f"{stem}-")] == [
            f"{stem}-{i}" for i in range(1, count + 1)
        ]
    assert cluster.spark_master == f"spark://{cluster.host}:{cluster.port('spark_master')}"
    # the single-node stack keeps its services and names, and Spark in local mode
    assert [svc.name for svc in all_services(single)] == [
        "hdfs-namenode", "hdfs-datanode", "kafka", "schema-registry", "clickhouse",
        "node-exporter", "hdfs-exporter", "prometheus", "alertmanager", "spark-metastore",
        "spark-thrift",
    ]  # fmt: skip
    assert single.spark_master is None
    assert clients.client_env(single)["SOUNDLAKE_KAFKA_BROKERS"] == f"{single.host}:9092"
    registry = f"http://{cluster.host}:{cluster.port('schema_registry')}/apis/ccompat/v7"
    assert clients.client_env(cluster)["SOUNDLAKE_SCHEMA_REGISTRY_URL"] == registry


def test_the_cluster_profile_shares_no_port_with_the_single_node_stack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(config.PROFILE_ENV, raising=False)
    single = _listening_ports(config.load(profile=None))
    cluster = _listening_ports(config.load(profile=PROFILE))
    shared = {port: (single[port], cluster[port]) for port in single.keys() & cluster.keys()}
    assert not shared, shared


def test_an_unknown_profile_is_an_error_naming_the_known_ones() -> None:
    with pytest.raises(SystemExit, match=r"no profile 'nope'.*cluster"):
        config.load(profile="nope")


# -- Kafka ----------------------------------------------------------------------------------------


@QUICK
def test_every_broker_is_a_voter_of_the_quorum(cluster: config.StackConfig) -> None:
    brokers = Kafka.instances(cluster)
    assert brokers == 3
    env = {**os.environ, config.PROFILE_ENV: PROFILE}
    out = subprocess.run(
        [
            str(ROOT / "scripts" / "kafka"),
            "metadata-quorum",
            "--bootstrap-server",
            clients.client_env(cluster)["SOUNDLAKE_KAFKA_BROKERS"],
            "describe",
            "--status",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    status = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    voters = json.loads(status["CurrentVoters"].strip())
    assert sorted(v["id"] for v in voters) == [1, 2, 3], out
    assert int(status["LeaderId"]) in (1, 2, 3), out


@pytest.fixture
def replicated_topic(cluster: config.StackConfig) -> Iterator[str]:
    """A new topic with the brokers' default replication factor, deleted after the test."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(
        {"bootstrap.servers": clients.client_env(cluster)["SOUNDLAKE_KAFKA_BROKERS"]}
    )
    name = unique_name("cluster").replace("_", "-")
    admin.create_topics([NewTopic(name, num_partitions=4)])[name].result(timeout=KAFKA_TIMEOUT_S)
    try:
        yield name
    finally:
        admin.delete_topics([name])[name].result(timeout=KAFKA_TIMEOUT_S)


@QUICK
def test_a_topic_has_a_replica_on_every_broker_all_in_sync(
    cluster: config.StackConfig, replicated_topic: str
) -> None:
    from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

    admin = AdminClient(
        {"bootstrap.servers": clients.client_env(cluster)["SOUNDLAKE_KAFKA_BROKERS"]}
    )
    deadline = time.monotonic() + KAFKA_TIMEOUT_S
    while True:
        metadata = admin.list_topics(replicated_topic, timeout=KAFKA_TIMEOUT_S)
        partitions = metadata.topics[replicated_topic].partitions
        in_sync = all(len(p.isrs) == 3 for p in partitions.values())
        if (len(partitions) == 4 and in_sync) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(metadata.brokers) == 3
    assert len(partitions) == 4
    for partition in partitions.values():
        assert sorted(partition.replicas) == [1, 2, 3], partition
        assert sorted(partition.isrs) == [1, 2, 3], partition
    resource = ConfigResource(ResourceType.TOPIC, replicated_topic)
    configs = admin.describe_configs([resource])[resource].result(timeout=KAFKA_TIMEOUT_S)
    assert configs["min.insync.replicas"].value == "2"


# -- HDFS -----------------------------------------------------------------------------------------


@QUICK
def test_hdfs_has_every_datanode_live_and_a_file_three_replicas(
    cluster: config.StackConfig, tmp_path: Path
) -> None:
    state = hdfs.namenode_state(cluster)
    assert state is not None
    assert state["NumLiveDataNodes"] == 3, state
    live = hdfs.live_datanodes(cluster)
    assert live == {f"{cluster.host}:{cluster.port('hdfs_datanode') + i}" for i in range(3)}

    local = tmp_path / "payload"
    local.write_bytes(os.urandom(1 << 20))
    path = f"/{unique_name('cluster-test')}/payload"
    env = {**os.environ, config.PROFILE_ENV: PROFILE}
    tool = str(ROOT / "scripts" / "hdfs")
    try:
        subprocess.run(
            [tool, "dfs", "-mkdir", "-p", path.rsplit("/", 1)[0]],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            [tool, "dfs", "-put", "-f", str(local), path],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        # the NameNode's view: each block of the file and the DataNodes that hold it
        url = f"{clients.client_env(cluster)['SOUNDLAKE_WEBHDFS_URL']}/fsck?path={path}&files=1&blocks=1&locations=1"
        report = http_request(url).decode()
        assert "Status: HEALTHY" in report, report
        assert "Average block replication:\t3.0" in report, report
        assert " Live_repl=3 " in report, report
        for address in live:
            assert f"DatanodeInfoWithStorage[{address}," in report, report
    finally:
        subprocess.run(
            [tool, "dfs", "-rm", "-r", "-f", "-skipTrash", path.rsplit("/", 1)[0]],
            env=env,
            check=False,
            capture_output=True,
            timeout=120,
        )


# -- Spark ----------------------------------------------------------------------------------------

SPARK_JOB = textwrap.dedent(
    """
    import json, os, sys
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master(os.environ["SOUNDLAKE_SPARK_MASTER"])
        .appName("soundlake-cluster-test")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.dynamicAllocation.minExecutors", "2")
        .config("spark.dynamicAllocation.initialExecutors", "2")
        .getOrCreate()
    )


    def where(_: int) -> list[dict[str, object]]:
        import time

        import soundlake_udfs

        time.sleep(1.0)
        return [{
            "cwd": os.getcwd(),
            "python": sys.executable,
            "udfs": soundlake_udfs.__name__,
        }]


    sc = spark.sparkContext
    rows = sc.parallelize(range(16), 16).flatMap(where).collect()
    print(json.dumps({"app": sc.applicationId, "master": sc.master, "rows": rows}))
    spark.stop()
    """
)


@QUICK
def test_spark_master_has_both_workers_and_a_job_runs_on_them(
    cluster: config.StackConfig,
) -> None:
    workers = spark_standalone.alive_workers(cluster)
    ports = {cluster.port("spark_worker") + i for i in range(2)}
    assert {w["port"] for w in workers} == ports, workers

    # a job of its own driver (this Python, the project's venv), on the profile's master
    env = {**os.environ, **clients.client_env(cluster), "PYSPARK_PYTHON": sys.executable}
    done = subprocess.run(
        [sys.executable, "-c", SPARK_JOB],
        env=env,
        capture_output=True,
        text=True,
        timeout=SPARK_JOB_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["master"] == cluster.spark_master
    rows = result["rows"]
    assert len(rows) == 16
    # every task ran in an executor's work dir, under the worker that started it
    app_dirs = {Path(r["cwd"]) for r in rows}
    assert all(d.parent.name == result["app"] for d in app_dirs), app_dirs
    used = {d.parent.parent.name for d in app_dirs}
    assert used == {"spark-worker-1", "spark-worker-2"}, app_dirs
    # with the venv's Python, which imports the Rust UDFs
    assert all(r["python"] == sys.executable for r in rows)
    assert all(r["udfs"] == "soundlake_udfs" for r in rows)


@QUICK
def test_the_spark_daemons_are_scraped_by_the_profiles_prometheus(
    cluster: config.StackConfig,
) -> None:
    """The master and each worker serve Spark's metrics on their web UI (PrometheusServlet)
    and are targets of the profile's Prometheus, all up: a worker that dies is ServiceDown."""
    prometheus = clients.client_env(cluster)["SOUNDLAKE_PROMETHEUS_URL"]
    expected = {
        ("spark-master", f"{cluster.host}:{cluster.port('spark_master_http')}"),
        *(
            ("spark-worker", f"{cluster.host}:{cluster.port('spark_worker_http') + i}")
            for i in range(2)
        ),
    }
    deadline = time.monotonic() + 60  # a new target file is read within seconds, then scraped
    while True:
        answer = json.loads(http_request(f"{prometheus}/api/v1/targets?state=active"))
        health = {
            (t["labels"]["job"], t["labels"]["instance"]): t["health"]
            for t in answer["data"]["activeTargets"]
            if t["labels"]["job"].startswith("spark-")
        }
        if all(health.get(target) == "up" for target in expected) or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert {target: health.get(target) for target in expected} == dict.fromkeys(expected, "up")
    master = f"http://{cluster.host}:{cluster.port('spark_master_http')}"
    text = http_request(f"{master}/metrics/master/prometheus").decode()
    assert "aliveWorkers" in text, text[:2000]


# -- the pipeline on the cluster --------------------------------------------------------------------

# two days of a small seeded simulation (the single-node test's generator settings otherwise)
CLUSTER_DAYS = ("2026-11-02", "2026-11-03")
CLUSTER_SIMULATION = [
    "-c", "eventsim/configs/eventsim-config-example.json",
    "--nusers", "150", "--growth-rate", "20", "--randomseed", "11",
    "--start-time", f"{CLUSTER_DAYS[0]}T00:00:00", "--end-time", "2026-11-04T00:00:00",
    "--progress", "never",
]  # fmt: skip
LANDERS = 2
PARTITIONS = 4


def producing(cfg: config.StackConfig) -> list[str]:
    """eventsim's flags to produce into the profile's Kafka with its schema registry."""
    endpoints = clients.client_env(cfg)
    return ["--kafka-brokers", endpoints["SOUNDLAKE_KAFKA_BROKERS"],
            "--schema-registry-url", endpoints["SOUNDLAKE_SCHEMA_REGISTRY_URL"]]  # fmt: skip


def start_lander(
    cfg: config.StackConfig,
    ingest: str,
    topics: list[str],
    lake_url: str,
    prefix: str,
    number: int,
    *,
    until_caught_up: bool,
) -> subprocess.Popen[str]:
    """Lander `number` of the consumer group `<prefix>landers`, writer id `<prefix>lander<n>`,
    on the profile's Kafka and schema registry."""
    endpoints = clients.client_env(cfg)
    brokers, registry = (
        endpoints["SOUNDLAKE_KAFKA_BROKERS"],
        endpoints["SOUNDLAKE_SCHEMA_REGISTRY_URL"],
    )
    return subprocess.Popen(
        [ingest, "--brokers", brokers, "--schema-registry-url", registry,
         "--topics", ",".join(topics), "--lake-url", lake_url,
         "--group", f"{prefix}landers", "--writer-id", f"{prefix}lander{number}",
         "--metrics-addr", "none", *(["--until-caught-up"] if until_caught_up else [])],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


def bronze_per_partition(spark: SparkSession, table: str) -> dict[int, tuple[int, int]]:
    """partition → (rows, distinct offsets) of a bronze table."""
    from pyspark.sql import functions

    rows = spark.read.parquet(table).groupBy("_kafka_partition")
    counts = rows.agg(
        functions.count("*").alias("n"),
        functions.countDistinct("_kafka_offset").alias("distinct_offsets"),
    )
    return {r["_kafka_partition"]: (r["n"], r["distinct_offsets"]) for r in counts.collect()}


def assert_bronze_equals_kafka(
    spark: SparkSession,
    lake_url: str,
    prefix: str,
    brokers: str,
    events: dict[str, pd.DataFrame],
) -> None:
    """Each partition's records are in bronze once (rows = distinct offsets = the partition's
    watermark span), and each topic holds as many as eventsim wrote."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": brokers, "group.id": f"{prefix}check"})
    try:
        for topic in TOPICS:
            per_partition = bronze_per_partition(spark, f"{lake_url}/bronze/{prefix}{topic}")
            for partition in range(PARTITIONS):
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(f"{prefix}{topic}", partition), timeout=KAFKA_TIMEOUT_S
                )
                n, distinct = per_partition.get(partition, (0, 0))
                assert n == distinct == high - low, (topic, partition, n, distinct, low, high)
            assert sum(n for n, _ in per_partition.values()) == len(events[topic]), topic
    finally:
        consumer.close()


def bronze_writers(spark: SparkSession, lake_url: str, prefix: str) -> set[str]:
    """The writer ids of bronze's data files (`part-<writer>-<start>-<n>.zstd.parquet`)."""
    from pyspark.sql import functions

    writers: set[str] = set()
    for topic in TOPICS:
        table = spark.read.parquet(f"{lake_url}/bronze/{prefix}{topic}")
        files = table.select(functions.input_file_name().alias("file")).distinct().collect()
        writers |= {Path(r["file"]).name.removeprefix("part-").rsplit("-", 2)[0] for r in files}
    return writers


def test_the_pipeline_on_the_cluster_gives_the_generators_numbers(
    cluster: config.StackConfig, tmp_path: Path, spark: SparkSession
) -> None:
    """eventsim → 3 brokers → 2 landers in one consumer group → HDFS (3 DataNodes) → dbt through
    the profile's Thrift server (Spark standalone) → ClickHouse: bronze holds each Kafka record
    once, and the gold reports (in the lake and in ClickHouse) equal an independent
    computation from eventsim's own output of the same simulation."""
    from confluent_kafka.admin import AdminClient, NewTopic

    endpoints = clients.client_env(cluster)
    brokers = endpoints["SOUNDLAKE_KAFKA_BROKERS"]
    eventsim, ingest = binary("eventsim"), binary("soundlake-ingest")
    json_dir = tmp_path / "events"
    run([eventsim, *CLUSTER_SIMULATION, "--output-dir", str(json_dir)])
    events = read_events(json_dir)

    prefix = unique_name("cluster") + "_"
    topics = [f"{prefix}{t}" for t in TOPICS]
    folder = HdfsDir(
        path=f"{HDFS_TEST_ROOT}/{prefix.rstrip('_')}",
        hdfs_url=endpoints["SOUNDLAKE_HDFS_URL"],
        webhdfs_url=endpoints["SOUNDLAKE_WEBHDFS_URL"],
    )
    lake_url = folder.url_of("lake")
    schema = prefix.rstrip("_")
    database = schema
    admin = AdminClient({"bootstrap.servers": brokers})
    landers: list[subprocess.Popen[str]] = []
    try:
        # two landers in one consumer group share the partitions: both own some before a record
        # is produced (else the first to join may land everything before the other joins)
        created = admin.create_topics([NewTopic(t, num_partitions=PARTITIONS) for t in topics])
        for future in created.values():
            future.result(timeout=KAFKA_TIMEOUT_S)
        landers = [
            start_lander(cluster, ingest, topics, lake_url, prefix, n, until_caught_up=False)
            for n in range(1, LANDERS + 1)
        ]
        shared = wait_assignment(admin, f"{prefix}landers", shared_by_all, 120)
        assert len(shared) == LANDERS and all(shared.values()), shared
        run([eventsim, *CLUSTER_SIMULATION, *producing(cluster),
             "--topic-prefix", prefix, "--partitions", str(PARTITIONS)])  # fmt: skip
        t0 = time.monotonic()
        assert wait_bronze(spark, lake_url, topics, sum(len(f) for f in events.values()), 600)
        print(f"landers landed everything {time.monotonic() - t0:.1f}s after eventsim ended")
        for lander in landers:
            lander.terminate()
            output = lander.communicate(timeout=60)[0]
            assert lander.returncode == 0, output[-4000:]

        # bronze: every Kafka record once, per partition, against the brokers' watermarks
        assert_bronze_equals_kafka(spark, lake_url, prefix, brokers, events)
        # both landers wrote: the partitions were shared
        writers = bronze_writers(spark, lake_url, prefix)
        assert writers == {f"{prefix}lander{n}" for n in range(1, LANDERS + 1)}, writers

        # dbt through the profile's Thrift server, whose session runs on the standalone master
        env = thrift_dbt_env(cluster, tmp_path, lake_url, schema, prefix)
        run([SOUNDLAKE_DBT, "build", "--target", "thrift"], env=env, timeout=BUILD_TIMEOUT_S)

        expected = expected_reports(events)
        assert_gold_matches(spark, lake_url, expected)

        # ClickHouse: the loader takes gold from the lake on the 3 DataNodes
        clickhouse(cluster).query(f"CREATE DATABASE {database}")
        run(loader_command(cluster, lake_url, database), env=env)
        assert_clickhouse_matches(cluster, database, expected)
    finally:
        for lander in landers:
            if lander.poll() is None:
                lander.kill()
                lander.communicate(timeout=60)
        delete_topics(admin, topics)
        try:
            drop_schema(cluster, schema)
        finally:
            drop_database(cluster, database)
            folder.webhdfs("", "DELETE", method="DELETE", recursive="true")


SOUNDLAKE_DBT = str(Path(sys.executable).parent / "soundlake-dbt")


def thrift_dbt_env(
    cfg: config.StackConfig, tmp_path: Path, lake_url: str, schema: str, prefix: str
) -> dict[str, str]:
    """soundlake-dbt's environment for a build of the lake `lake_url` (bronze tables of the
    topics named with `prefix`) into `schema`, through the profile's Thrift server."""
    endpoints = clients.client_env(cfg)
    return {
        **dbt_env(
            tmp_path,
            lake_url=lake_url,
            hdfs_url=endpoints["SOUNDLAKE_HDFS_URL"],
            schema=schema,
            topic_prefix=prefix,
        ),
        "SOUNDLAKE_SPARK_THRIFT_HOST": endpoints["SOUNDLAKE_SPARK_THRIFT_HOST"],
        "SOUNDLAKE_SPARK_THRIFT_PORT": endpoints["SOUNDLAKE_SPARK_THRIFT_PORT"],
    }


#: the builds of the fault tests leave out dbt's unit tests: they check SQL on rows of their own,
#: not the data a fault touches (the data tests stay in)
FAULT_BUILD = [SOUNDLAKE_DBT, "build", "--target", "thrift", "--exclude-resource-type", "unit_test"]


def assert_gold_after_build(
    cfg: config.StackConfig,
    spark: SparkSession,
    tmp_path: Path,
    lake_url: str,
    prefix: str,
    events: dict[str, pd.DataFrame],
) -> float:
    """Builds the lake `lake_url` (the topics named with `prefix`) with dbt through the
    profile's Thrift server, and checks that gold equals the independent computation from
    eventsim's `events`; the schema goes afterwards. The build's seconds."""
    schema = prefix.rstrip("_")
    env = thrift_dbt_env(cfg, tmp_path, lake_url, schema, prefix)
    started = time.monotonic()
    try:
        run(FAULT_BUILD, env=env, timeout=BUILD_TIMEOUT_S)
        built = time.monotonic() - started
        assert_gold_matches(spark, lake_url, expected_reports(events))
    finally:
        drop_schema(cfg, schema)
    return built


def drop_schema(cfg: config.StackConfig, schema: str) -> None:
    """Drops a test's schema (its tables' files are in the test's lake) from the Thrift
    server's metastore."""
    from pyhive import hive

    endpoints = clients.client_env(cfg)
    connection = hive.connect(
        host=endpoints["SOUNDLAKE_SPARK_THRIFT_HOST"],
        port=int(endpoints["SOUNDLAKE_SPARK_THRIFT_PORT"]),
        username="tests",
    )
    try:
        connection.cursor().execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        connection.close()


def assert_gold_matches(
    spark: SparkSession, lake_url: str, expected: dict[str, pd.DataFrame]
) -> None:
    """Every gold report in the lake equals the independent computation `expected`."""
    for model, frame in expected.items():
        assert_matches(model, read_gold(spark, lake_url, model), frame)


def loader_command(cfg: config.StackConfig, lake_url: str, database: str) -> list[str]:
    """soundlake-loader from the lake `lake_url` into the profile's ClickHouse `database`."""
    clickhouse = clients.client_env(cfg)["SOUNDLAKE_CLICKHOUSE_URL"]
    return [binary("soundlake-loader"), "--lake-url", lake_url, "--clickhouse-url", clickhouse,
            "--database", database, "--progress", "never", "--metrics-addr", "none"]  # fmt: skip


def clickhouse(cfg: config.StackConfig, database: str = "default") -> ClickHouseDb:
    """The profile's ClickHouse, in `database`."""
    return ClickHouseDb(name=database, url=clients.client_env(cfg)["SOUNDLAKE_CLICKHOUSE_URL"])


def assert_clickhouse_matches(
    cfg: config.StackConfig, database: str, expected: dict[str, pd.DataFrame]
) -> None:
    """Every gold report served by the profile's ClickHouse equals `expected`."""
    served = clickhouse(cfg, database)
    for model, frame in expected.items():
        loaded = pd.DataFrame(served.query_json(f"SELECT * FROM {model}"))  # noqa: S608
        # ClickHouse's JSON quotes 64-bit integers: numbers again, as in the lake
        for column in frame.columns:
            if pd.api.types.is_numeric_dtype(frame[column]):
                loaded[column] = pd.to_numeric(loaded[column])
        assert_matches(f"ClickHouse {model}", loaded, frame)


def drop_database(cfg: config.StackConfig, database: str) -> None:
    clickhouse(cfg).query(f"DROP DATABASE IF EXISTS {database}")


# -- faults -----------------------------------------------------------------------------------------

#: the longest a lander's partitions may stay without a lander after it died: its static
#: membership's session timeout (rust-ingest's consumer) and a rebalance
TAKEOVER_LIMIT_S = 30.0


def wait_assignment(
    admin: AdminClient,
    group: str,
    condition: Callable[[dict[str, int]], bool],
    limit: float,
) -> dict[str, int]:
    """The consumer group's assignment (`group_assignment`) once it meets `condition`, or as it
    is after `limit` seconds."""
    deadline = time.monotonic() + limit
    while True:
        try:
            assignment = group_assignment(admin, group)
        except Exception:  # the group does not exist yet
            assignment = {}
        if condition(assignment) or time.monotonic() > deadline:
            return assignment
        time.sleep(0.25)


def shared_by_all(assignment: dict[str, int]) -> bool:
    """Every lander of the group owns some of the topics' partitions, and each partition has
    an owner."""
    return (
        len(assignment) == LANDERS
        and sum(assignment.values()) == PARTITIONS * len(TOPICS)
        and all(assignment.values())
    )


def wait_bronze(
    spark: SparkSession, lake_url: str, topics: list[str], expected: int, limit: float
) -> bool:
    """Wait until bronze holds `expected` rows in the tables of `topics` (checked exactly
    after); False when it does not within `limit` seconds."""
    deadline = time.monotonic() + limit
    while True:
        landed = 0
        for topic in topics:
            try:
                per_partition = bronze_per_partition(spark, f"{lake_url}/bronze/{topic}")
            except Exception:  # a table without files yet
                per_partition = {}
            landed += sum(n for n, _ in per_partition.values())
        if landed >= expected:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(5)


def group_assignment(admin: AdminClient, group: str) -> dict[str, int]:
    """member (group.instance.id, else client id) → how many partitions it is assigned."""
    described = admin.describe_consumer_groups([group])[group].result(timeout=KAFKA_TIMEOUT_S)
    return {
        (m.group_instance_id or m.client_id): len(m.assignment.topic_partitions)
        for m in described.members
    }


@dataclass
class KilledLander:
    """A landing by two landers of which one was SIGKILLed mid-landing (`killed_lander`)."""

    lake_url: str
    prefix: str
    brokers: str
    events: dict[str, pd.DataFrame]
    victim: str
    survivor: str
    #: the group's assignment once the survivor was alone, and the seconds from the kill to it
    alone: dict[str, int]
    takeover_s: float
    #: whether the survivor still ran once bronze held as many rows as eventsim wrote
    survivor_running: bool


@pytest.fixture(scope="module")
def killed_lander(
    cluster: config.StackConfig, tmp_path_factory: pytest.TempPathFactory, spark: SparkSession
) -> Iterator[KilledLander]:
    """Two landers share the partitions of a landing; once both own some, one is SIGKILLed
    mid-landing. Yields once the survivor was alone in the group and bronze holds as many rows
    as eventsim wrote (or 10 minutes passed); the topics and the lake go after the module."""
    from confluent_kafka.admin import AdminClient

    endpoints = clients.client_env(cluster)
    brokers = endpoints["SOUNDLAKE_KAFKA_BROKERS"]
    eventsim, ingest = binary("eventsim"), binary("soundlake-ingest")
    json_dir = tmp_path_factory.mktemp("killlander") / "events"
    run([eventsim, *CLUSTER_SIMULATION, "--output-dir", str(json_dir)])
    events = read_events(json_dir)
    prefix = unique_name("killlander") + "_"
    topics = [f"{prefix}{t}" for t in TOPICS]
    folder = HdfsDir(
        path=f"{HDFS_TEST_ROOT}/{prefix.rstrip('_')}",
        hdfs_url=endpoints["SOUNDLAKE_HDFS_URL"],
        webhdfs_url=endpoints["SOUNDLAKE_WEBHDFS_URL"],
    )
    lake_url = folder.url_of("lake")
    group = f"{prefix}landers"
    admin = AdminClient({"bootstrap.servers": brokers})
    landers: list[subprocess.Popen[str]] = []
    try:
        run([eventsim, *CLUSTER_SIMULATION, *producing(cluster),
             "--topic-prefix", prefix, "--partitions", str(PARTITIONS)])  # fmt: skip
        landers = [
            start_lander(cluster, ingest, topics, lake_url, prefix, n, until_caught_up=False)
            for n in (1, 2)
        ]
        victim, survivor = f"{prefix}lander1", f"{prefix}lander2"
        total = PARTITIONS * len(TOPICS)

        # both members own partitions (a cooperative rebalance passes through states where
        # the newcomer has none yet)
        shared = wait_assignment(admin, group, shared_by_all, 120)
        assert set(shared) == {victim, survivor} and all(shared.values()), shared

        landers[0].kill()  # SIGKILL, mid-landing
        killed_at = time.monotonic()
        alone = wait_assignment(
            admin, group, lambda a: a == {survivor: total}, TAKEOVER_LIMIT_S + 30
        )
        takeover_s = time.monotonic() - killed_at
        print(f"lander SIGKILLed: the other had all {total} partitions after {takeover_s:.1f}s")

        # the survivor lands the rest
        expected = sum(len(frame) for frame in events.values())
        wait_bronze(spark, lake_url, topics, expected, 600)
        yield KilledLander(
            lake_url=lake_url,
            prefix=prefix,
            brokers=brokers,
            events=events,
            victim=victim,
            survivor=survivor,
            alone=alone,
            takeover_s=takeover_s,
            survivor_running=landers[1].poll() is None,
        )
    finally:
        for lander in landers:
            if lander.poll() is None:
                lander.terminate()
                lander.communicate(timeout=60)
        delete_topics(admin, topics)
        folder.webhdfs("", "DELETE", method="DELETE", recursive="true")


@QUICK
def test_a_killed_lander_hands_its_partitions_to_the_other(
    killed_lander: KilledLander, spark: SparkSession
) -> None:
    """Two landers share the partitions; one is SIGKILLed mid-landing. The other gets all the
    partitions within seconds and lands the rest: every record in bronze once."""
    k = killed_lander
    assert k.alone == {k.survivor: PARTITIONS * len(TOPICS)}, k.alone
    assert k.takeover_s <= TAKEOVER_LIMIT_S, f"takeover took {k.takeover_s:.1f}s"
    assert k.survivor_running, "the surviving lander exited"
    assert_bronze_equals_kafka(spark, k.lake_url, k.prefix, k.brokers, k.events)
    assert bronze_writers(spark, k.lake_url, k.prefix) <= {k.victim, k.survivor}


def test_gold_after_a_killed_lander_equals_the_computation(
    cluster: config.StackConfig, killed_lander: KilledLander, spark: SparkSession, tmp_path: Path
) -> None:
    """A dbt build of the lake the killed lander and the survivor landed gives gold equal to
    the independent computation from eventsim's output."""
    k = killed_lander
    built_s = assert_gold_after_build(cluster, spark, tmp_path, k.lake_url, k.prefix, k.events)
    print(f"gold equal to the computation after a dbt build of {built_s:.1f}s")
