"""Apache Kafka 4 in KRaft mode, each node broker and controller in one JVM; jars from Maven
Central.

The single-node stack runs one node (`kafka`); a profile with `[counts] kafka = 3` runs
`kafka-1` .. `kafka-3`, the 3 voters of a static controller quorum, with topics replicated to 3
and `min.insync.replicas` 2. First start formats each node's log directory
(`kafka.tools.StorageTool format`, `--standalone` for a single node) with a cluster id kept in
the data folder; every start rewrites server.properties and the log4j2 config from stack.toml,
then runs `kafka.Kafka server.properties`.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import subprocess
import sys
from pathlib import Path

from soundlake.paths import STACK_FILES

from .. import java, process
from ..config import StackConfig
from ..installers import maven_jars
from ..service import Service, StackError
from . import jmx_exporter

POM = STACK_FILES / "maven" / "kafka" / "pom.xml"


def lib_dir(cfg: StackConfig) -> Path:
    return cfg.lib_dir / "kafka"


def bootstrap(cfg: StackConfig) -> str:
    """The addresses clients connect to, e.g. 127.0.0.1:9092 (every broker, comma-separated)."""
    return ",".join(f"{cfg.host}:{cfg.port('kafka') + i}" for i in range(Kafka.instances(cfg)))


def replication(cfg: StackConfig) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) of the topics: 1 and 1 on one node; on several,
    up to 3 replicas of which all but one must have a write."""
    factor = min(Kafka.instances(cfg), 3)
    return factor, max(factor - 1, 1)


def node_name(cfg: StackConfig, index: int) -> str:
    """`kafka` on a single node, `kafka-<index + 1>` in a cluster (data, conf and log names)."""
    return "kafka" if Kafka.instances(cfg) == 1 else f"kafka-{index + 1}"


def install(cfg: StackConfig) -> Path:
    """Java, Maven and the Kafka jars of the version in stack.toml (no-op when there)."""
    java.ensure_java()
    java.ensure_maven()
    return maven_jars(POM, lib_dir(cfg), {"kafka.version": cfg.versions["kafka"]})


# -- configuration ------------------------------------------------------------------------------


def server_properties(cfg: StackConfig, log_dirs: Path, index: int = 0) -> str:
    host = cfg.host
    port, controller = cfg.port("kafka") + index, cfg.port("kafka_controller") + index
    nodes = Kafka.instances(cfg)
    factor, min_isr = replication(cfg)
    if nodes == 1:
        # one node that is both broker and the (only) controller of the KRaft quorum
        quorum = {"controller.quorum.bootstrap.servers": f"{host}:{controller}"}
    else:
        # every node is a broker and one of the fixed voters of the controller quorum
        voters = ",".join(
            f"{i + 1}@{host}:{cfg.port('kafka_controller') + i}" for i in range(nodes)
        )
        quorum = {"controller.quorum.voters": voters}
    settings = {
        "process.roles": "broker,controller",
        "node.id": str(index + 1),
        **quorum,
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(log_dirs),
        # topics: created on first use, 4 partitions, a replica on each node up to 3
        "auto.create.topics.enable": "true",
        "num.partitions": "4",
        "default.replication.factor": str(factor),
        "min.insync.replicas": str(min_isr),
        "offsets.topic.replication.factor": str(factor),
        "transaction.state.log.replication.factor": str(factor),
        "transaction.state.log.min.isr": str(min_isr),
        "share.coordinator.state.topic.replication.factor": str(factor),
        "share.coordinator.state.topic.min.isr": str(min_isr),
        # a local node needs fewer than the default 50 partitions for its internal topics
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.num.partitions": "10",
        "group.initial.rebalance.delay.ms": "0",
        "num.network.threads": "2",
        "num.io.threads": "4",
        "log.retention.hours": "168",
    }
    header = "# Written at every start by python/soundlake/stack/services/kafka.py\n"
    return header + "".join(f"{k}={v}\n" for k, v in settings.items())


def log4j2_properties(root_level: str, target: str) -> str:
    """A log4j2 config: one console appender (`target` SYSTEM_OUT or SYSTEM_ERR)."""
    return (
        "# Written by the local stack at every start.\n"
        "status = warn\n"
        "appender.console.type = Console\n"
        "appender.console.name = CONSOLE\n"
        f"appender.console.target = {target}\n"
        "appender.console.layout.type = PatternLayout\n"
        "appender.console.layout.pattern = [%d] %p %m (%c)%n\n"
        f"rootLogger.level = {root_level}\n"
        "rootLogger.appenderRef.console.ref = CONSOLE\n"
        "logger.request.name = kafka.request.logger\n"
        "logger.request.level = WARN\n"
        "logger.statechange.name = state.change.logger\n"
        "logger.statechange.level = WARN\n"
    )


def write_conf(cfg: StackConfig, index: int = 0) -> Path:
    """Write server.properties and the log4j2 configs of node `index`; return its conf dir."""
    conf = cfg.conf(node_name(cfg, index))
    (conf / "server.properties").write_text(server_properties(cfg, log_dirs(cfg, index), index))
    (conf / "log4j2.properties").write_text(log4j2_properties("INFO", "SYSTEM_OUT"))
    write_tools_log4j2(cfg)
    return conf


def write_tools_log4j2(cfg: StackConfig) -> Path:
    """The log4j2 config of the command-line tools: warnings and errors only, on stderr."""
    path = cfg.conf("kafka") / "tools-log4j2.properties"
    path.write_text(log4j2_properties("WARN", "SYSTEM_ERR"))
    return path


def log_dirs(cfg: StackConfig, index: int = 0) -> Path:
    return cfg.data(node_name(cfg, index)) / "kraft-combined-logs"


def random_cluster_id() -> str:
    """A Kafka Uuid as Kafka prints it: 16 random bytes, URL-safe base64 without padding."""
    while True:
        text = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        if not text.startswith("-"):  # Kafka avoids ids that read like a CLI flag
            return text


def cluster_id(cfg: StackConfig) -> str:
    """The cluster id of this stack's Kafka, generated once and kept in its data folder."""
    path = cfg.data("kafka") / "cluster-id"
    if path.exists():
        return path.read_text().strip()
    value = random_cluster_id()
    path.write_text(value + "\n")
    return value


# -- the Kafka protocol, enough to ask for metadata ----------------------------------------------


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        data += chunk
    return data


def metadata_broker_count(host: str, port: int, timeout: float = 2.0) -> int:
    """Send a Metadata request (v4, no topics) and return how many brokers the cluster lists.

    A broker that accepts connections but has not joined its cluster yet lists none.
    Raises OSError when nothing answers, ValueError on an unexpected answer.
    """
    api_key, api_version, correlation_id, client_id = 3, 4, 7, b"soundlake-stack"
    header = struct.pack(">hhih", api_key, api_version, correlation_id, len(client_id)) + client_id
    body = struct.pack(">i?", 0, False)  # topics: empty array; allow_auto_topic_creation: false
    request = header + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        if not 12 <= size <= 1 << 20:
            raise ValueError(f"an answer of {size} bytes is no Metadata response: not Kafka?")
        response = _recv_exact(sock, size)
    got_correlation, _throttle_ms, brokers = struct.unpack_from(">iii", response)
    if got_correlation != correlation_id:
        raise ValueError(
            f"correlation id {got_correlation} in the answer, expected {correlation_id}"
        )
    return int(brokers)


# -- the service --------------------------------------------------------------------------------


#: Kafka's own launch options for the broker (bin/kafka-run-class.sh): a short-pause G1
BROKER_GC_OPTS = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
)


def jvm_command(
    cfg: StackConfig,
    main_class: str,
    args: list[str],
    *,
    log4j2: Path,
    heap: str,
    jvm_opts: tuple[str, ...] = (),
) -> list[str]:
    return [
        java.ensure_java(),
        *jvm_opts,
        *java.heap_opts(heap),
        f"-Dlog4j2.configurationFile={log4j2}",
        "-cp",
        java.classpath(lib_dir(cfg)),
        main_class,
        *args,
    ]


def tool_command(cfg: StackConfig, main_class: str, args: list[str]) -> list[str]:
    """The argv that runs one of Kafka's command-line tools (warnings only, on stderr)."""
    install(cfg)
    return jvm_command(cfg, main_class, args, log4j2=write_tools_log4j2(cfg), heap="256m")


class Kafka(Service):
    name = "kafka"
    port_names = ("kafka", "kafka_controller", "kafka_jmx_metrics")
    start_timeout = 90.0
    count_key = "kafka"

    def install(self) -> None:
        install(self.cfg)
        jmx_exporter.install(self.cfg)

    def prepare(self) -> None:
        conf = write_conf(self.cfg, self.index)
        jmx_exporter.register_target(
            self.cfg, "kafka", "kafka_jmx_metrics", instance=self.name, index=self.index
        )
        if not (log_dirs(self.cfg, self.index) / "meta.properties").exists():
            self._format(conf)

    def _format(self, conf: Path) -> None:
        logs = log_dirs(self.cfg, self.index)
        print(f"  formatting Kafka's log directory {logs}", file=sys.stderr)
        # one node formats as the standalone controller; a quorum's voters are in the config
        standalone = ["--standalone"] if self.instances(self.cfg) == 1 else []
        argv = jvm_command(
            self.cfg,
            "kafka.tools.StorageTool",
            [
                "format",
                *standalone,
                "--cluster-id",
                cluster_id(self.cfg),
                "--config",
                str(conf / "server.properties"),
            ],
            log4j2=write_tools_log4j2(self.cfg),
            heap="256m",
        )
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            raise StackError(
                f"formatting Kafka's log directory {logs} failed "
                f"(exit {result.returncode}):\n{output[-3000:]}\n"
                f"If that folder holds an old, broken install, remove {logs.parent} and retry."
            )

    def command(self) -> list[str]:
        conf = self.cfg.conf(node_name(self.cfg, self.index))
        return jvm_command(
            self.cfg,
            "kafka.Kafka",
            [str(conf / "server.properties")],
            log4j2=conf / "log4j2.properties",
            heap=self.cfg.memory["kafka"],
            jvm_opts=(
                *BROKER_GC_OPTS,
                *jmx_exporter.agent_opts(
                    self.cfg, "kafka_jmx_metrics", "kafka.yml", index=self.index
                ),
            ),
        )

    def brokers_seen(self) -> int:
        """How many brokers this node's metadata lists (0 when it does not answer)."""
        try:
            return metadata_broker_count(self.cfg.host, self.port("kafka"))
        except (OSError, ValueError, struct.error):
            return 0

    def healthy(self) -> bool:
        return self.brokers_seen() >= 1

    def started(self) -> bool:
        """A voter of a quorum cannot serve before a majority runs: the nodes before the last
        go on once their controller listens; the last waits until the metadata lists them all."""
        if self.index < self.instances(self.cfg) - 1:
            return process.port_open(self.cfg.host, self.port("kafka_controller"))
        return self.brokers_seen() >= self.instances(self.cfg)
