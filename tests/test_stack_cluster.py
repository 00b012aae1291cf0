"""The cluster profile of the local stack (`scripts/stack up --profile cluster`): every part
really runs as several nodes.

- Kafka: all brokers are voters of the KRaft quorum; a new topic gets a replica on each and
  all are in sync; the brokers demand `min.insync.replicas` 2.
- HDFS: the NameNode counts every DataNode live and a file written has a replica on each.
- Spark: the standalone master has every worker alive; a job's executors run on both workers,
  in JVMs of their own, and their Python workers import `soundlake_udfs`.

Runs when the profile is up; skips (one line) when it is down, unless
SOUNDLAKE_CLUSTER_TESTS=required, which makes a down profile a failure. `make test-cluster`
runs this suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import KAFKA_TIMEOUT_S, http_request, unique_name

from soundlake.stack import clients, config
from soundlake.stack.services import hdfs, spark_standalone
from soundlake.stack.services.kafka import Kafka

ROOT = Path(__file__).resolve().parent.parent
PROFILE = "cluster"
REQUIRED_ENV = "SOUNDLAKE_CLUSTER_TESTS"
SPARK_JOB_TIMEOUT_S = 600


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
    return {
        "kafka": Kafka(cfg, 0).healthy(),
        "hdfs": hdfs.namenode_state(cfg) is not None,
        "spark-master": spark_standalone.master_state(cfg) is not None,
    }


# -- Kafka ----------------------------------------------------------------------------------------


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
