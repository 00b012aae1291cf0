"""The stack's JVM services run with the Prometheus JMX exporter java agent (from Maven Central)
and register themselves as Prometheus targets; the metric names the agent's rules produce from
real Kafka and HDFS MBeans are checked by tests/test_ops_dashboards.py when the agents run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from soundlake.stack import config
from soundlake.stack.service import Service
from soundlake.stack.services import jmx_exporter
from soundlake.stack.services.hdfs import HdfsDataNode, HdfsNameNode
from soundlake.stack.services.kafka import Kafka
from soundlake.stack.services.spark_thrift import SparkThrift

ROOT = Path(__file__).resolve().parents[1]
CASES = [
    (Kafka, "kafka", "kafka_jmx_metrics", "kafka.yml", "kafka.Kafka"),
    (HdfsNameNode, "hdfs-namenode", "hdfs_namenode_jmx_metrics", "hadoop.yml", "NameNode"),
    (HdfsDataNode, "hdfs-datanode", "hdfs_datanode_jmx_metrics", "hadoop.yml", "DataNode"),
]


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> config.StackConfig:
    """The stack's settings with its folder in a temporary place (the agent's jar is fetched
    there from Maven Central, or Maven's local cache)."""
    return dataclasses.replace(config.load(), dir=tmp_path_factory.mktemp("stack"))


@pytest.mark.parametrize(("service", "job", "port_name", "rules", "main"), CASES)
def test_jvm_service_runs_with_the_agent_and_registers_a_target(
    cfg: config.StackConfig,
    service: type[Service],
    job: str,
    port_name: str,
    rules: str,
    main: str,
) -> None:
    svc = service(cfg)
    assert port_name in svc.port_names  # checked for conflicts before the start
    argv = svc.command()
    agents = [a for a in argv if a.startswith("-javaagent:")]
    jar = jmx_exporter.lib_dir(cfg) / f"jmx_prometheus_javaagent-{cfg.versions['jmx_exporter']}.jar"
    port = cfg.port(port_name)
    assert agents == [f"-javaagent:{jar}={cfg.host}:{port}:{ROOT / 'ops' / 'jmx' / rules}"]
    assert jar.is_file()
    main_index = next(i for i, a in enumerate(argv) if a.endswith(main))
    assert argv.index(agents[0]) < main_index, "JVM options go before the main class"

    target = jmx_exporter.register_target(cfg, job, port_name)
    assert target.parent == cfg.conf_dir / "prometheus" / "targets"
    assert json.loads(target.read_text()) == [
        {"targets": [f"{cfg.host}:{port}"], "labels": {"job": job}}
    ]


def test_spark_thrift_driver_runs_with_the_agent_and_spark_metrics_in_jmx(
    cfg: config.StackConfig,
) -> None:
    """The Thrift server's driver JVM is started by pyspark, so the agent goes in through the
    server's --driver-java-options (spark.driver.extraJavaOptions). What it serves is checked
    on a running server by tests/test_spark_thrift.py."""
    from soundlake.jobs import thrift_server

    svc = SparkThrift(cfg)
    assert "spark_thrift_jmx_metrics" in svc.port_names
    jar = jmx_exporter.lib_dir(cfg) / f"jmx_prometheus_javaagent-{cfg.versions['jmx_exporter']}.jar"
    port = cfg.port("spark_thrift_jmx_metrics")
    agent = f"-javaagent:{jar}={cfg.host}:{port}:{ROOT / 'ops' / 'jmx' / 'spark.yml'}"
    options = [a for a in svc.command() if a.startswith("--driver-java-options")]
    assert options == [f"--driver-java-options={agent}"]
    assert jar.is_file()
    args = thrift_server.parse_args(options)
    assert args.driver_java_options == agent


def test_a_target_served_elsewhere_than_metrics_names_its_path(cfg: config.StackConfig) -> None:
    """Spark's daemons serve Prometheus text on their web UI, not on `/metrics`: the target
    carries `__metrics_path__`, which Prometheus takes over the scrape job's default."""
    target = jmx_exporter.register_target(
        cfg, "spark-worker", "spark_thrift", instance="spark-worker-2", index=1,
        metrics_path="/metrics/prometheus",
    )  # fmt: skip
    assert target.name == "spark-worker-2.yml"
    port = cfg.port("spark_thrift") + 1
    assert json.loads(target.read_text()) == [
        {
            "targets": [f"{cfg.host}:{port}"],
            "labels": {"job": "spark-worker", "__metrics_path__": "/metrics/prometheus"},
        }
    ]
