"""The Prometheus JMX exporter java agent on the stack's JVM services (Kafka, HDFS), and the
file_sd targets through which the local Prometheus finds the stack's services.

`io.prometheus.jmx:jmx_prometheus_javaagent` from Maven Central serves a JVM's MBeans, renamed by
the rules in ops/jmx/*.yml, on its own port (stack.toml: `kafka_jmx_metrics`,
`hdfs_namenode_jmx_metrics`, `hdfs_datanode_jmx_metrics`). A service that runs with the agent
drops a file_sd target for the local Prometheus (ops/prometheus/prometheus.local.yml), so that a service
the stack never started is not a target that is down.
"""

from __future__ import annotations

import json
from pathlib import Path

from soundlake.paths import SERVICE_CONF, STACK_FILES

from ..config import StackConfig
from ..installers import maven_jars
from ..service import StackError

POM = STACK_FILES / "maven" / "jmx-exporter" / "pom.xml"
RULES_DIR = SERVICE_CONF / "jmx"


def lib_dir(cfg: StackConfig) -> Path:
    return cfg.lib_dir / "jmx-exporter"


def install(cfg: StackConfig) -> Path:
    """The agent's jar (fetched once per version)."""
    version = cfg.versions["jmx_exporter"]
    maven_jars(POM, lib_dir(cfg), {"jmx_exporter.version": version})
    jar = lib_dir(cfg) / f"jmx_prometheus_javaagent-{version}.jar"
    if not jar.is_file():
        raise StackError(f"{jar} is missing after fetching {POM}; delete {lib_dir(cfg)} and retry")
    return jar


def agent_opts(cfg: StackConfig, port_name: str, rules: str, *, index: int = 0) -> list[str]:
    """The JVM option that attaches the agent on `port_name` (+ the instance's `index`) with
    ops/jmx/`rules`."""
    config = RULES_DIR / rules
    if not config.is_file():
        raise StackError(f"the JMX exporter rules {config} are missing")
    return [f"-javaagent:{install(cfg)}={cfg.host}:{cfg.port(port_name) + index}:{config}"]


def register_target(
    cfg: StackConfig,
    job: str,
    port_name: str,
    *,
    instance: str | None = None,
    index: int = 0,
    metrics_path: str | None = None,
) -> Path:
    """Writes the file_sd target of `job` for the local Prometheus (read on change); an
    instance of a multiplied service (`instance`, e.g. kafka-2) gets a file of its own. A
    service serving its metrics elsewhere than `/metrics` names the path (`metrics_path`)."""
    targets = cfg.conf("prometheus") / "targets"
    targets.mkdir(parents=True, exist_ok=True)
    path = targets / f"{instance or job}.yml"
    address = f"{cfg.host}:{cfg.port(port_name) + index}"
    labels = {"job": job}
    if metrics_path is not None:
        labels["__metrics_path__"] = metrics_path
    entry = [{"targets": [address], "labels": labels}]
    path.write_text(json.dumps(entry) + "\n")
    return path
