"""Faults on the cluster profile (`scripts/stack up --profile cluster`): one node of Kafka or
HDFS fails while real data flows, and the pipeline carries on by itself.

Each test produces a small seeded simulation with eventsim into the profile's Kafka (a topic
prefix of its own) while two landers of one consumer group land it into the lake on HDFS,
injects its fault, then checks that bronze holds each Kafka record once (per partition, against
the brokers' watermarks), that the landers still run, and what the profile's Prometheus made of
the fault (ops/prometheus/alerts/). Each prints its recovery times in one line.

- a Kafka broker, leader of some of the topics' partitions, SIGKILLed and started again:
  `ServiceDown` of its target fires and resolves;
- a DataNode SIGKILLed and started again: `ServiceDown` of its target fires and resolves;
- the NameNode stopped (SIGSTOP) for a minute, then continued: shorter than `ServiceDown`'s
  `for`, so the alert only goes pending, and clears.

Skips (one line) when the profile is down, unless SOUNDLAKE_CLUSTER_TESTS=required;
`make test-cluster` runs this suite. A test waits minutes: `ServiceDown` fires after 2 minutes.
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

from conftest import HDFS_TEST_ROOT, KAFKA_TIMEOUT_S, HdfsDir, http_request, unique_name
from test_dbt_pipeline import TOPICS, binary, delete_topics, read_events, run
from test_stack_cluster import (
    CLUSTER_SIMULATION,
    LANDERS,
    PARTITIONS,
    assert_bronze_equals_kafka,
    bronze_per_partition,
    cluster,
    start_lander,
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
    landers: list[subprocess.Popen[str]] = field(default_factory=list)
    #: each lander's output lines, read as it runs (a fault makes a lander log retries: a pipe
    #: nobody reads fills up and blocks the lander's next log line)
    logs: list[list[str]] = field(default_factory=list)
    readers: list[threading.Thread] = field(default_factory=list)

    def start_landers(self, ingest: str) -> None:
        """Two landers of one consumer group (test_stack_cluster's `start_lander`), their
        output read by a thread each."""
        for number in range(1, LANDERS + 1):
            lander = start_lander(ingest, self.brokers, self.topics, self.lake_url, self.prefix,
                                  number, until_caught_up=False)  # fmt: skip
            log: list[str] = []
            reader = threading.Thread(target=_read_into, args=(lander, log), daemon=True)
            reader.start()
            self.landers.append(lander)
            self.logs.append(log)
            self.readers.append(reader)

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

    def landed(self, spark: SparkSession) -> int:
        """How many rows bronze holds in this run's tables."""
        total = 0
        for topic in self.topics:
            try:
                per_partition = bronze_per_partition(spark, f"{self.lake_url}/bronze/{topic}")
            except Exception:  # a table without files yet
                per_partition = {}
            total += sum(n for n, _ in per_partition.values())
        return total

    def wait_landed(self, spark: SparkSession, limit: float = LANDING_LIMIT_S) -> bool:
        """Wait until bronze holds as many rows as eventsim wrote (checked exactly after);
        False when it does not within `limit` seconds."""
        expected = sum(len(frame) for frame in self.events.values())
        deadline = time.monotonic() + limit
        while self.landed(spark) < expected:
            if time.monotonic() > deadline:
                return False
            time.sleep(5)
        return True

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
        [eventsim, *CLUSTER_SIMULATION, "--kafka-brokers", brokers,
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
    )
    try:
        deadline = time.monotonic() + KAFKA_TIMEOUT_S
        while not _topics_exist(flow.admin, flow.topics) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _topics_exist(flow.admin, flow.topics), f"eventsim made no topics {flow.topics}"
        flow.start_landers(ingest)
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
    cfg: config.StackConfig, spark: SparkSession, flow: Landing, node: Service, port_name: str
) -> str:
    """SIGKILLs `node`, waits for the pipeline to complete while it is down and for its
    `ServiceDown` to fire, starts it again and waits for the alert to resolve: the line of
    recovery times."""
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
    return (
        f"{node.name} SIGKILLed (eventsim {'still producing' if producing else 'done'}): "
        f"bronze complete at {landed_s:.1f}s, ServiceDown firing at {fired_s:.1f}s, "
        f"node started again at {restarted_s:.1f}s, alert resolved at "
        f"{restarted_s + resolved_s:.1f}s (all from the kill)"
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
        line = kill_and_restart(cluster, spark, flow, broker, "kafka_jmx_metrics")
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
        print(kill_and_restart(cluster, spark, flow, datanode, "hdfs_datanode_jmx_metrics"))


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
        states = ", ".join(f"{s} at {t:.1f}s" for s, t in sorted(seen.items(), key=lambda i: i[1]))
        print(
            f"hdfs-namenode SIGSTOPped, SIGCONT at {continued_s:.1f}s: bronze complete at "
            f"{landed_s:.1f}s, ServiceDown {states or 'never seen'}, no alert left at "
            f"{'never' if cleared_s is None else f'{cleared_s:.1f}s'} (all from the stop)"
        )
        assert "pending" in seen, f"Prometheus did not see the NameNode stopped: {seen}"
        assert cleared_s is not None, "ServiceDown of the NameNode still active after SIGCONT"
