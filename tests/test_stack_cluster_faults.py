"""Faults on the cluster profile (`scripts/stack up --profile cluster`): one node fails while
real data flows, and the pipeline carries on by itself.

The landing faults produce a small seeded simulation with eventsim into the profile's Kafka (a
topic prefix of their own) while two landers of one consumer group land it into the lake on
HDFS, inject their fault, then check that bronze holds each Kafka record once (per partition,
against the brokers' watermarks), that the landers still run, what the profile's Prometheus made
of the fault (ops/prometheus/alerts/), and that a dbt build of the lake gives gold equal to the
independent computation from eventsim's output (test_dbt_pipeline):

- a Kafka broker, leader of some of the topics' partitions, SIGKILLed and started again:
  `ServiceDown` of its target fires and resolves;
- a DataNode SIGKILLed and started again: `ServiceDown` of its target fires and resolves;
- the NameNode stopped (SIGSTOP) for a minute, then continued: shorter than `ServiceDown`'s
  `for`, so the alert only goes pending, and clears;
- the landers SIGKILLed 30 times in a crash loop, then a dbt build straight away: it completes,
  and no alert says HDFS refuses blocks.

The modeling and serving faults share one landing (a module fixture); each dbt build runs in a
lake of its own with a copy of its bronze, through the profile's Thrift server, and gold must
equal the computation too:

- a Spark worker running an executor, and a DataNode, each SIGKILLed during a dbt build: the
  build completes, or fails and runs again with the node back; `ServiceDown` fires and
  resolves;
- ClickHouse SIGKILLed during a load and started once `ClickHouseDown` fires: the served tables
  stay whole and the next load completes.

Each test prints its recovery times in one line. Skips (one line) when the profile is down,
unless SOUNDLAKE_CLUSTER_TESTS=required; `make test-cluster` runs this suite. A test waits
minutes: `ServiceDown` fires after 2 minutes, a dbt build on the profile takes several.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import HDFS_TEST_ROOT, KAFKA_TIMEOUT_S, HdfsDir, http_request, unique_name
from test_dbt_pipeline import (
    BUILD_TIMEOUT_S,
    TOPICS,
    binary,
    delete_topics,
    expected_reports,
    read_events,
    run,
)
from test_stack_cluster import (
    CLUSTER_SIMULATION,
    FAULT_BUILD,
    LANDERS,
    PARTITIONS,
    ROOT,
    assert_bronze_equals_kafka,
    assert_clickhouse_matches,
    assert_gold_after_build,
    assert_gold_matches,
    clickhouse,
    cluster,
    drop_database,
    drop_schema,
    loader_command,
    producing,
    start_lander,
    thrift_dbt_env,
    wait_bronze,
)

from soundlake.stack import clients, config, process
from soundlake.stack.service import Service
from soundlake.stack.services import service_named

if TYPE_CHECKING:
    import pandas as pd
    from confluent_kafka.admin import AdminClient
    from pyspark.sql import SparkSession

__all__ = ["cluster"]  # the profile's fixture, shared with test_stack_cluster

#: the longest the pipeline may take to land everything after a fault
LANDING_LIMIT_S = 600.0
#: ServiceDown's `for` (2 minutes), plus a scrape and an evaluation (15 s each) and slack
FIRING_LIMIT_S = 240.0
#: a restarted node is scraped again (15 s) and the rule evaluated (15 s), plus slack
RESOLVE_LIMIT_S = 120.0
#: how long the NameNode stays stopped
NAMENODE_STOP_S = 60.0
#: how many of a lander's last output lines a failure shows
LOG_TAIL_LINES = 60
#: what a lander logs once it has read the lake's commit log and owns partitions
ASSIGNED_LINE = "assigned; starting at the commit log's positions"


# -- a landing run ----------------------------------------------------------------------------------


@dataclass
class Landing:
    """eventsim producing into topics of their own, two landers landing them into a lake."""

    prefix: str
    brokers: str
    lake_url: str
    events: dict[str, pd.DataFrame]
    admin: AdminClient
    producer: subprocess.Popen[str]
    #: the soundlake-ingest binary
    ingest: str
    #: the profile
    cfg: config.StackConfig
    landers: list[subprocess.Popen[str]] = field(default_factory=list)
    #: each lander's output lines, read as it runs (a fault makes a lander log retries: a pipe
    #: nobody reads fills up and blocks the lander's next log line)
    logs: list[list[str]] = field(default_factory=list)
    readers: list[threading.Thread] = field(default_factory=list)

    def start_landers(self) -> None:
        """Two landers of one consumer group (test_stack_cluster's `start_lander`), their
        output read by a thread each."""
        for number in range(1, LANDERS + 1):
            self.landers.append(self._start_lander(number))
            self.logs.append([])
            self.readers.append(self._read(number))

    def _start_lander(self, number: int) -> subprocess.Popen[str]:
        return start_lander(self.cfg, self.ingest, self.topics, self.lake_url, self.prefix,
                            number, until_caught_up=False)  # fmt: skip

    def _read(self, number: int) -> threading.Thread:
        """A thread reading lander `number`'s output into its log."""
        args = (self.landers[number - 1], self.logs[number - 1])
        reader = threading.Thread(target=_read_into, args=args, daemon=True)
        reader.start()
        return reader

    def kill_and_restart_lander(self, number: int) -> None:
        """SIGKILLs lander `number` and starts it again at once, with the same writer id and
        group instance id (as a supervisor restarts a crashing service); its log goes on."""
        index = number - 1
        self.landers[index].kill()
        self.landers[index].wait(timeout=60)
        self.readers[index].join(timeout=60)
        self.landers[index] = self._start_lander(number)
        self.readers[index] = self._read(number)

    def wait_logged(self, text: str) -> None:
        """Wait until every lander has logged a line holding `text`."""
        deadline = time.monotonic() + KAFKA_TIMEOUT_S
        while time.monotonic() < deadline:
            if all(any(text in line for line in log) for log in self.logs):
                return
            time.sleep(0.2)
        tails = "\n".join("".join(log[-LOG_TAIL_LINES:]) for log in self.logs)
        raise AssertionError(f"the landers did not log {text!r}:\n{tails}")

    def stop(self) -> None:
        """Stop eventsim and the landers, if they still run (SIGKILL for one that does not
        exit on SIGTERM: a lander stuck in write retries)."""
        for child in (self.producer, *self.landers):
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait(timeout=60)
        for reader in self.readers:
            reader.join(timeout=60)

    @property
    def topics(self) -> list[str]:
        return [f"{self.prefix}{t}" for t in TOPICS]

    def produced(self) -> None:
        """Wait for eventsim to have sent every event; fail with its output if it did not."""
        output = self.producer.communicate(timeout=LANDING_LIMIT_S)[0]
        assert self.producer.returncode == 0, output[-4000:]

    def wait_landed(self, spark: SparkSession, limit: float = LANDING_LIMIT_S) -> bool:
        """Wait until bronze holds as many rows as eventsim wrote (checked exactly after);
        False when it does not within `limit` seconds."""
        expected = sum(len(frame) for frame in self.events.values())
        return wait_bronze(spark, self.lake_url, self.topics, expected, limit)

    def assert_gold(self, spark: SparkSession, tmp_path: Path) -> float:
        """A dbt build of this landing's lake gives the computation's gold: its seconds."""
        return assert_gold_after_build(
            self.cfg, spark, tmp_path, self.lake_url, self.prefix, self.events
        )

    def assert_complete(self, spark: SparkSession) -> None:
        """The landers still run, and bronze holds each Kafka record once."""
        for lander, log in zip(self.landers, self.logs, strict=True):
            assert lander.poll() is None, "a lander exited:\n" + "".join(log[-LOG_TAIL_LINES:])
        assert_bronze_equals_kafka(spark, self.lake_url, self.prefix, self.brokers, self.events)


@contextmanager
def landing(cfg: config.StackConfig, tmp_path: Path, name: str) -> Iterator[Landing]:
    """Starts eventsim (the cluster suite's simulation) producing, and once its topics exist,
    two landers in one group; stops them and deletes the topics and the lake afterwards."""
    from confluent_kafka.admin import AdminClient

    endpoints = clients.client_env(cfg)
    brokers = endpoints["SOUNDLAKE_KAFKA_BROKERS"]
    eventsim, ingest = binary("eventsim"), binary("soundlake-ingest")
    json_dir = tmp_path / "events"
    run([eventsim, *CLUSTER_SIMULATION, "--output-dir", str(json_dir)])
    prefix = unique_name(name) + "_"
    folder = HdfsDir(
        path=f"{HDFS_TEST_ROOT}/{prefix.rstrip('_')}",
        hdfs_url=endpoints["SOUNDLAKE_HDFS_URL"],
        webhdfs_url=endpoints["SOUNDLAKE_WEBHDFS_URL"],
    )
    producer = subprocess.Popen(
        [eventsim, *CLUSTER_SIMULATION, *producing(cfg),
         "--topic-prefix", prefix, "--partitions", str(PARTITIONS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    flow = Landing(
        prefix=prefix,
        brokers=brokers,
        lake_url=folder.url_of("lake"),
        events=read_events(json_dir),
        admin=AdminClient({"bootstrap.servers": brokers}),
        producer=producer,
        ingest=ingest,
        cfg=cfg,
    )
    try:
        deadline = time.monotonic() + KAFKA_TIMEOUT_S
        while not _topics_exist(flow.admin, flow.topics) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _topics_exist(flow.admin, flow.topics), f"eventsim made no topics {flow.topics}"
        flow.start_landers()
        yield flow
    finally:
        flow.stop()
        delete_topics(flow.admin, flow.topics)
        folder.webhdfs("", "DELETE", method="DELETE", recursive="true")


def _read_into(child: subprocess.Popen[str], log: list[str]) -> None:
    """Read `child`'s output into `log` until it exits."""
    assert child.stdout is not None
    for line in child.stdout:
        log.append(line)


def _topics_exist(admin: AdminClient, topics: list[str]) -> bool:
    found = admin.list_topics(timeout=KAFKA_TIMEOUT_S).topics
    return all(t in found and len(found[t].partitions) == PARTITIONS for t in topics)


def partition_leaders(admin: AdminClient, topics: list[str]) -> dict[int, int]:
    """broker id → how many of the topics' partitions it leads."""
    leaders: dict[int, int] = {}
    found = admin.list_topics(timeout=KAFKA_TIMEOUT_S).topics
    for topic in topics:
        for partition in found[topic].partitions.values():
            leaders[partition.leader] = leaders.get(partition.leader, 0) + 1
    return leaders


# -- the profile's alerts ---------------------------------------------------------------------------


def alert_states(cfg: config.StackConfig, alertname: str, labels: dict[str, str]) -> set[str]:
    """The states (`pending`, `firing`) of the profile's alerts `alertname` with `labels`."""
    prometheus = clients.client_env(cfg)["SOUNDLAKE_PROMETHEUS_URL"]
    alerts = json.loads(http_request(f"{prometheus}/api/v1/alerts"))["data"]["alerts"]
    return {
        a["state"]
        for a in alerts
        if a["labels"].get("alertname") == alertname
        and all(a["labels"].get(k) == v for k, v in labels.items())
    }


def wait_alert(
    cfg: config.StackConfig,
    alertname: str,
    labels: dict[str, str],
    condition: Callable[[set[str]], bool],
    limit: float,
) -> float | None:
    """Seconds until the states of alert `alertname` with `labels` meet `condition`; None when
    they did not within `limit`."""
    t0 = time.monotonic()
    while True:
        if condition(alert_states(cfg, alertname, labels)):
            return time.monotonic() - t0
        if time.monotonic() - t0 > limit:
            return None
        time.sleep(2)


def firing(states: set[str]) -> bool:
    return "firing" in states


def resolved(states: set[str]) -> bool:
    return not states


def jmx_target(cfg: config.StackConfig, node: Service, port_name: str) -> dict[str, str]:
    """The labels of `node`'s scrape target: its JMX exporter agent's job and address."""
    job = type(node).name
    return {"job": job, "instance": f"{cfg.host}:{cfg.port(port_name) + node.index}"}


def kill_and_restart(
    cfg: config.StackConfig,
    spark: SparkSession,
    tmp_path: Path,
    flow: Landing,
    node: Service,
    port_name: str,
) -> str:
    """SIGKILLs `node`, waits for the pipeline to complete while it is down and for its
    `ServiceDown` to fire, starts it again and waits for the alert to resolve, then builds the
    lake with dbt (gold must equal the computation): the line of recovery times."""
    target = jmx_target(cfg, node, port_name)
    assert resolved(alert_states(cfg, "ServiceDown", target)), "the node was down before"
    assert process.signal_group(node.pidfile, signal.SIGKILL) is not None, f"{node.name} not up"
    killed = time.monotonic()
    producing = flow.producer.poll() is None
    try:
        flow.produced()
        landed = flow.wait_landed(spark, FIRING_LIMIT_S)
        landed_s = time.monotonic() - killed
        firing_after = wait_alert(cfg, "ServiceDown", target, firing, FIRING_LIMIT_S)
        fired_s = None if firing_after is None else time.monotonic() - killed
    finally:
        node.up()  # the next test needs the whole profile
    restarted_s = time.monotonic() - killed
    resolved_s = wait_alert(cfg, "ServiceDown", target, resolved, RESOLVE_LIMIT_S)
    assert landed, f"bronze was not complete {landed_s:.0f}s after {node.name} died"
    flow.assert_complete(spark)
    assert fired_s is not None, f"ServiceDown {target} did not fire within {FIRING_LIMIT_S:.0f}s"
    assert resolved_s is not None, f"ServiceDown {target} still active after the restart"
    built_s = flow.assert_gold(spark, tmp_path)
    return (
        f"{node.name} SIGKILLed (eventsim {'still producing' if producing else 'done'}): "
        f"bronze complete at {landed_s:.1f}s, ServiceDown firing at {fired_s:.1f}s, "
        f"node started again at {restarted_s:.1f}s, alert resolved at "
        f"{restarted_s + resolved_s:.1f}s (all from the kill); gold equal after a dbt build "
        f"of {built_s:.1f}s"
    )


# -- the faults -------------------------------------------------------------------------------------


def test_a_killed_partition_leader_broker_loses_nothing_and_is_reported(
    cluster: config.StackConfig, tmp_path: Path, spark: SparkSession
) -> None:
    """A broker that leads some of the event topics' partitions is SIGKILLed while eventsim
    produces and the landers land: with RF 3 and min.insync.replicas 2 both carry on, bronze
    equals Kafka; its ServiceDown fires, and resolves once it runs again."""
    with landing(cluster, tmp_path, "killbroker") as flow:
        leaders = partition_leaders(flow.admin, flow.topics)
        leader = max(leaders, key=lambda broker: leaders[broker])
        broker = service_named(cluster, f"kafka-{leader}")
        line = kill_and_restart(cluster, spark, tmp_path, flow, broker, "kafka_jmx_metrics")
        print(f"{line}; it led {leaders[leader]} of {sum(leaders.values())} partitions")


def test_a_killed_datanode_loses_nothing_and_is_reported(
    cluster: config.StackConfig, tmp_path: Path, spark: SparkSession
) -> None:
    """A DataNode is SIGKILLed while the landers write: once the NameNode finds it stale it
    places no new block there, the landers' retries (each failed write's file deleted first)
    land on the other two, and bronze equals Kafka before the DataNode runs again; its
    ServiceDown fires, and resolves once it does (the deployment docs, "Faults")."""
    with landing(cluster, tmp_path, "killdatanode") as flow:
        datanode = service_named(cluster, "hdfs-datanode-2")
        print(
            kill_and_restart(cluster, spark, tmp_path, flow, datanode, "hdfs_datanode_jmx_metrics")
        )


def test_a_stopped_namenode_holds_the_landers_which_then_finish(
    cluster: config.StackConfig, tmp_path: Path, spark: SparkSession
) -> None:
    """The NameNode is stopped (SIGSTOP) for a minute while landing (the landers own their
    partitions, their first flush falls in the stop), then continued: the landers wait or
    retry and finish, bronze equals Kafka. A minute is shorter than
    ServiceDown's `for`: its alert goes pending (Prometheus sees the failed scrapes), does not
    fire, and clears once the NameNode answers again."""
    with landing(cluster, tmp_path, "stopnamenode") as flow:
        namenode = service_named(cluster, "hdfs-namenode")
        target = jmx_target(cluster, namenode, "hdfs_namenode_jmx_metrics")
        # a lander that starts while the lake does not answer exits: stop it after its start
        flow.wait_logged(ASSIGNED_LINE)
        assert resolved(alert_states(cluster, "ServiceDown", target)), "the NameNode was down"
        assert process.signal_group(namenode.pidfile, signal.SIGSTOP) is not None
        stopped = time.monotonic()
        seen: dict[str, float] = {}  # alert state → seconds after the stop it was first seen
        try:
            while time.monotonic() - stopped < NAMENODE_STOP_S:
                for state in alert_states(cluster, "ServiceDown", target):
                    seen.setdefault(state, time.monotonic() - stopped)
                time.sleep(2)
        finally:
            process.signal_group(namenode.pidfile, signal.SIGCONT)
        continued_s = time.monotonic() - stopped
        flow.produced()
        flow.wait_landed(spark)
        landed_s = time.monotonic() - stopped
        cleared = wait_alert(cluster, "ServiceDown", target, resolved, RESOLVE_LIMIT_S)
        cleared_s = None if cleared is None else time.monotonic() - stopped
        flow.assert_complete(spark)
        built_s = flow.assert_gold(spark, tmp_path)
        states = ", ".join(f"{s} at {t:.1f}s" for s, t in sorted(seen.items(), key=lambda i: i[1]))
        print(
            f"hdfs-namenode SIGSTOPped, SIGCONT at {continued_s:.1f}s: bronze complete at "
            f"{landed_s:.1f}s, ServiceDown {states or 'never seen'}, no alert left at "
            f"{'never' if cleared_s is None else f'{cleared_s:.1f}s'} (all from the stop); "
            f"gold equal after a dbt build of {built_s:.1f}s"
        )
        assert "pending" in seen, f"Prometheus did not see the NameNode stopped: {seen}"
        assert cleared_s is not None, "ServiceDown of the NameNode still active after SIGCONT"


# -- faults of the modeling and serving stages ------------------------------------------------------

#: models a build has made before the fault strikes
MODELS_BEFORE_FAULT = 3
#: how many of a build's last output lines a failure shows
BUILD_TAIL_LINES = 80
#: ClickHouseDown's `for` (1 minute), plus a scrape and an evaluation (15 s each) and slack
CLICKHOUSE_FIRING_LIMIT_S = 150.0
#: lander SIGKILLs in a crash loop, and the pauses between them (cycled): a kill finds a lander
#: starting, consuming, or in the middle of a flush
LANDER_KILLS = 30
KILL_PAUSES_S = (1.0, 2.5, 4.0)
#: alerts that say HDFS refuses new blocks
REFUSAL_ALERTS = ("HdfsDataNodeRefusesBlocks", "HdfsNoDataNodeTakesBlocks")


@dataclass(frozen=True)
class Landed:
    """A landing whose bronze is complete: the topics' prefix, the lake, eventsim's events."""

    prefix: str
    lake_url: str
    events: dict[str, pd.DataFrame]


@pytest.fixture(scope="module")
def landed(
    cluster: config.StackConfig, tmp_path_factory: pytest.TempPathFactory, spark: SparkSession
) -> Iterator[Landed]:
    """One landing, without a fault, for the tests that fault the stages after it: bronze holds
    each Kafka record once; the landers are stopped."""
    with landing(cluster, tmp_path_factory.mktemp("landed"), "faultsrc") as flow:
        flow.produced()
        assert flow.wait_landed(spark), "bronze was not complete without a fault"
        flow.assert_complete(spark)
        flow.stop()
        yield Landed(flow.prefix, flow.lake_url, flow.events)


@pytest.fixture(scope="module")
def built(
    cluster: config.StackConfig,
    landed: Landed,
    tmp_path_factory: pytest.TempPathFactory,
    spark: SparkSession,
) -> Landed:
    """`landed`'s lake built by dbt on the cluster without a fault: gold equals the
    independent computation from eventsim's output."""
    lake, prefix = landed.lake_url, landed.prefix
    tmp_path = tmp_path_factory.mktemp("built")
    assert_gold_after_build(cluster, spark, tmp_path, lake, prefix, landed.events)
    return landed


@contextmanager
def own_lake(
    cfg: config.StackConfig, spark: SparkSession, landed: Landed, name: str
) -> Iterator[tuple[str, str]]:
    """A lake of the test's own holding a copy of `landed`'s bronze (data, quarantine and
    commit log), and a schema to build it into: (lake URL, schema). Both go afterwards."""
    endpoints = clients.client_env(cfg)
    schema = unique_name(name)
    folder = HdfsDir(
        path=f"{HDFS_TEST_ROOT}/{schema}",
        hdfs_url=endpoints["SOUNDLAKE_HDFS_URL"],
        webhdfs_url=endpoints["SOUNDLAKE_WEBHDFS_URL"],
    )
    lake_url = folder.url_of("lake")
    try:
        copy_tree(spark, f"{landed.lake_url}/bronze", f"{lake_url}/bronze")
        yield lake_url, schema
    finally:
        try:
            drop_schema(cfg, schema)
        finally:
            folder.webhdfs("", "DELETE", method="DELETE", recursive="true")


def copy_tree(spark: SparkSession, source: str, target: str) -> None:
    """Copies the HDFS folder `source` to `target` (Hadoop's FileUtil, in the test's Spark)."""
    jvm = spark._jvm  # py4j: Hadoop's file system API
    assert jvm is not None
    conf = spark._jsc.hadoopConfiguration()
    source_path, target_path = (
        jvm.org.apache.hadoop.fs.Path(source),
        jvm.org.apache.hadoop.fs.Path(target),
    )
    copied = jvm.org.apache.hadoop.fs.FileUtil.copy(
        source_path.getFileSystem(conf), source_path, target_path.getFileSystem(conf),
        target_path, False, conf,
    )  # fmt: skip
    assert copied, f"copying {source} to {target} failed"


class Build:
    """A dbt build running (`FAULT_BUILD`), its output read as it runs."""

    def __init__(self, env: dict[str, str]) -> None:
        self.log: list[str] = []
        self.process = subprocess.Popen(
            FAULT_BUILD,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.reader = threading.Thread(target=_read_into, args=(self.process, self.log))
        self.reader.daemon = True
        self.reader.start()

    def models_done(self) -> int:
        return sum(" OK created " in line for line in self.log)

    def wait_models(self, count: int) -> None:
        """Wait until the build has made `count` models; fail if it ends first."""
        deadline = time.monotonic() + BUILD_TIMEOUT_S
        while self.models_done() < count:
            assert self.process.poll() is None, f"the build ended early:\n{self.tail()}"
            assert time.monotonic() < deadline, f"no {count} models in time:\n{self.tail()}"
            time.sleep(0.5)

    def running(self) -> bool:
        return self.process.poll() is None

    def finish(self) -> int:
        """Wait for the build to end (killing it after BUILD_TIMEOUT_S): its exit code."""
        try:
            self.process.wait(timeout=BUILD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=60)
            raise AssertionError(f"the build hung:\n{self.tail()}") from None
        finally:
            self.reader.join(timeout=60)
        return self.process.returncode

    def tail(self) -> str:
        return "".join(self.log[-BUILD_TAIL_LINES:])


def worker_with_executor(cfg: config.StackConfig) -> Service | None:
    """A Spark worker that runs an executor now (the Thrift server's, during a build)."""
    for index in range(cfg.count("spark_worker")):
        url = f"http://{cfg.host}:{cfg.port('spark_worker_http') + index}/json/"
        answer = process.http_get(url)
        if answer is not None and answer[0] == 200 and json.loads(answer[1]).get("executors"):
            return service_named(cfg, f"spark-worker-{index + 1}")
    return None


def kill_during_build(
    cfg: config.StackConfig,
    spark: SparkSession,
    landed: Landed,
    tmp_path: Path,
    pick: Callable[[], Service | None],
    port_name: str,
) -> str:
    """In a lake of its own with `landed`'s bronze, starts a dbt build, SIGKILLs the node
    `pick` names once the build has made a few models, and waits for the build to end: it
    completes, or it fails (then it runs again with the node back). Either way gold must equal
    the independent computation, and the node's `ServiceDown` must fire and resolve once the
    node runs again. The line of recovery times."""
    with own_lake(cfg, spark, landed, "killbuild") as (lake_url, schema):
        env = thrift_dbt_env(cfg, tmp_path, lake_url, schema, landed.prefix)
        build = Build(env)
        node: Service | None = None
        try:
            build.wait_models(MODELS_BEFORE_FAULT)
            deadline = time.monotonic() + KAFKA_TIMEOUT_S
            while (node := pick()) is None and time.monotonic() < deadline:
                time.sleep(0.5)
            assert node is not None, f"no node to kill during the build:\n{build.tail()}"
            target = jmx_target(cfg, node, port_name)
            assert resolved(alert_states(cfg, "ServiceDown", target)), f"{node.name} was down"
            models_before = build.models_done()
            assert process.signal_group(node.pidfile, signal.SIGKILL) is not None, node.name
            killed = time.monotonic()
            fired_s: float | None = None
            while build.running():
                if fired_s is None and firing(alert_states(cfg, "ServiceDown", target)):
                    fired_s = time.monotonic() - killed
                time.sleep(2)
            status = build.finish()
            ended_s = time.monotonic() - killed
            if fired_s is None:
                waited = wait_alert(cfg, "ServiceDown", target, firing, FIRING_LIMIT_S)
                fired_s = None if waited is None else time.monotonic() - killed
        finally:
            if build.running():
                build.process.kill()
                build.finish()
            if node is not None:
                node.up()  # the next test needs the whole profile
        restarted_s = time.monotonic() - killed
        resolved_s = wait_alert(cfg, "ServiceDown", target, resolved, RESOLVE_LIMIT_S)
        outcome = "completed" if status == 0 else f"failed (exit {status})"
        rerun_s = None
        if status != 0:
            failure = build.tail()
            assert "ERROR" in failure or "Error" in failure, f"no error named:\n{failure}"
            run(FAULT_BUILD, env=env, timeout=BUILD_TIMEOUT_S)
            rerun_s = time.monotonic() - killed
        assert_gold_matches(spark, lake_url, expected_reports(landed.events))
        assert fired_s is not None, f"ServiceDown {target} did not fire"
        assert resolved_s is not None, f"ServiceDown {target} still active after the restart"
        rerun = "" if rerun_s is None else f", the build run again done at {rerun_s:.1f}s"
        return (
            f"{node.name} SIGKILLed after {models_before} models: the build {outcome} at "
            f"{ended_s:.1f}s{rerun}, gold equal to the computation; ServiceDown firing at "
            f"{fired_s:.1f}s, node started again at {restarted_s:.1f}s, alert resolved at "
            f"{restarted_s + resolved_s:.1f}s (all from the kill)"
        )


def test_a_spark_worker_killed_during_a_dbt_build_costs_no_row(
    cluster: config.StackConfig, landed: Landed, tmp_path: Path, spark: SparkSession
) -> None:
    """A worker running the Thrift server's executor is SIGKILLed (with the executor) during a
    dbt build: Spark runs the lost tasks on the other worker's executor and the build
    completes, or the build fails and runs again with the worker back; gold equals the
    computation. The worker's ServiceDown (Spark's own metrics servlet is its target) fires,
    and resolves once it runs again."""
    print(
        kill_during_build(
            cluster, spark, landed, tmp_path, lambda: worker_with_executor(cluster),
            "spark_worker_http",
        )
    )  # fmt: skip


def test_a_datanode_killed_during_a_dbt_build_costs_no_row(
    cluster: config.StackConfig, landed: Landed, tmp_path: Path, spark: SparkSession
) -> None:
    """A DataNode is SIGKILLed during a dbt build: Spark's HDFS client reads the other replicas
    and writes its new blocks to the other two DataNodes; the build completes (or fails and
    runs again with the DataNode back) and gold equals the computation. The DataNode's
    ServiceDown fires, and resolves once it runs again."""
    datanode = service_named(cluster, "hdfs-datanode-2")
    print(
        kill_during_build(
            cluster, spark, landed, tmp_path, lambda: datanode, "hdfs_datanode_jmx_metrics"
        )
    )


def clickhouse_tables(cfg: config.StackConfig, database: str) -> set[str]:
    """The tables of `database` in the profile's ClickHouse."""
    query = f"SELECT name FROM system.tables WHERE database = '{database}'"  # noqa: S608
    return {row["name"] for row in clickhouse(cfg).query_json(query)}


def test_clickhouse_killed_during_a_load_serves_whole_tables_and_the_next_load_completes(
    cluster: config.StackConfig, built: Landed
) -> None:
    """Gold is loaded into ClickHouse; a second (full) load runs, and ClickHouse is SIGKILLed
    while the load fills a staging table, and started again once ClickHouseDown fires. The
    interrupted load ends (its retries give up, or it completes once ClickHouse is back); every
    served table is whole (a table is swapped in only once its staging table is complete and
    checked), and the next load completes. ClickHouseDown fires and resolves."""
    server = service_named(cluster, "clickhouse")
    target = {"job": "clickhouse"}
    database = unique_name("killch")
    expected = expected_reports(built.events)
    load = loader_command(cluster, built.lake_url, database)
    clickhouse(cluster).query(f"CREATE DATABASE {database}")
    try:
        run(load)
        assert_clickhouse_matches(cluster, database, expected)
        assert resolved(alert_states(cluster, "ClickHouseDown", target)), "ClickHouse was down"
        loader = subprocess.Popen([*load, "--full"], cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)  # fmt: skip
        log: list[str] = []
        reader = threading.Thread(target=_read_into, args=(loader, log), daemon=True)
        reader.start()
        try:
            staging: set[str] = set()
            while loader.poll() is None and not staging:
                staging = {t for t in clickhouse_tables(cluster, database) if "_staging_" in t}
                time.sleep(0.02)
            assert staging, "the load ended before a staging table was seen:\n" + "".join(log)
            assert process.signal_group(server.pidfile, signal.SIGKILL) is not None
            killed = time.monotonic()
            fired = wait_alert(cluster, "ClickHouseDown", target, firing, CLICKHOUSE_FIRING_LIMIT_S)
            fired_s = None if fired is None else time.monotonic() - killed
        finally:
            # the load's retries may give up while ClickHouse is down, or outlast the restart
            gave_up = loader.poll() is not None
            server.up()
        restarted_s = time.monotonic() - killed
        status = loader.wait(timeout=LANDING_LIMIT_S)
        reader.join(timeout=60)
        ended_s = time.monotonic() - killed
        assert status in (0, 1), f"the load crashed (exit {status}):\n{''.join(log[-60:])}"
        # whole: each served table is the one loaded before or the new one, complete either way
        assert_clickhouse_matches(cluster, database, expected)
        run([*load, "--full"])
        next_s = time.monotonic() - killed
        assert_clickhouse_matches(cluster, database, expected)
        leftovers = {t for t in clickhouse_tables(cluster, database) if t.startswith("_")}
        assert leftovers <= {"_load_log"}, leftovers
        resolved_s = wait_alert(cluster, "ClickHouseDown", target, resolved, RESOLVE_LIMIT_S)
        assert fired_s is not None, "ClickHouseDown did not fire"
        assert resolved_s is not None, "ClickHouseDown still active after the restart"
        outcome = "completed" if status == 0 else "failed, leaving the served tables,"
        when = "before the restart" if gave_up else f"at {ended_s:.1f}s"
        print(
            f"clickhouse SIGKILLed while loading {sorted(staging)}: ClickHouseDown firing at "
            f"{fired_s:.1f}s, ClickHouse started again at {restarted_s:.1f}s, the interrupted "
            f"load {outcome} {when}, every served table whole, the next load done at "
            f"{next_s:.1f}s, alert resolved at {restarted_s + resolved_s:.1f}s (from the kill)"
        )
    finally:
        drop_database(cluster, database)


def blocks_scheduled(cfg: config.StackConfig) -> dict[str, float]:
    """DataNode → the blocks the NameNode has scheduled on it (the profile's hdfs-exporter)."""
    answer = process.http_get(f"http://{cfg.host}:{cfg.port('hdfs_exporter')}/metrics")
    assert answer is not None and answer[0] == 200, "the profile's hdfs-exporter does not answer"
    scheduled: dict[str, float] = {}
    for line in answer[1].splitlines():
        if line.startswith("soundlake_hdfs_datanode_blocks_scheduled{"):
            labels, value = line.rsplit(" ", 1)
            scheduled[labels.split('datanode="', 1)[1].split('"', 1)[0]] = float(value)
    return scheduled


@dataclass
class RefusalWatch:
    """Samples, every 2 s in a thread, the blocks scheduled per DataNode and the states of the
    alerts that say HDFS refuses blocks."""

    cfg: config.StackConfig
    most_scheduled: dict[str, float] = field(default_factory=dict)
    alerts_seen: set[tuple[str, str]] = field(default_factory=set)
    done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.done.wait(2):
            for datanode, count in blocks_scheduled(self.cfg).items():
                self.most_scheduled[datanode] = max(count, self.most_scheduled.get(datanode, 0))
            for alert in REFUSAL_ALERTS:
                self.alerts_seen |= {(alert, s) for s in alert_states(self.cfg, alert, {})}

    def stop(self) -> None:
        self.done.set()
        self.thread.join(timeout=60)


def test_a_crash_loop_of_landers_leaves_hdfs_writable_for_a_dbt_build(
    cluster: config.StackConfig, tmp_path: Path, spark: SparkSession
) -> None:
    """The two landers are SIGKILLed 30 times in turn during a landing, each started again at
    once (a supervisor restarting a crashing service), and a dbt build runs straight after:
    bronze holds each record once, the build completes and gold equals the computation. Killed
    writers leave open files whose blocks the NameNode keeps scheduled; a lander started again
    deletes its staging folder's files first, which drops them, so HDFS never refuses blocks:
    neither HdfsDataNodeRefusesBlocks nor HdfsNoDataNodeTakesBlocks is even pending."""
    with landing(cluster, tmp_path, "crashloop") as flow:
        flow.wait_logged(ASSIGNED_LINE)
        watch = RefusalWatch(cluster)
        started = time.monotonic()
        try:
            for kill in range(LANDER_KILLS):
                flow.kill_and_restart_lander(kill % LANDERS + 1)
                time.sleep(KILL_PAUSES_S[kill % len(KILL_PAUSES_S)])
            burst_s = time.monotonic() - started
            flow.produced()
            assert flow.wait_landed(spark), "bronze was not complete after the crash loop"
            landed_s = time.monotonic() - started
            flow.assert_complete(spark)
            flow.assert_gold(spark, tmp_path)
            built_s = time.monotonic() - started
        finally:
            watch.stop()
        most = ", ".join(f"{d} {n:.0f}" for d, n in sorted(watch.most_scheduled.items()))
        print(
            f"{LANDER_KILLS} lander SIGKILLs in {burst_s:.1f}s: bronze complete at "
            f"{landed_s:.1f}s, the dbt build done at {built_s:.1f}s (from the first kill); "
            f"most blocks scheduled per DataNode: {most}"
        )
        assert not watch.alerts_seen, f"HDFS refused blocks: {sorted(watch.alerts_seen)}"
