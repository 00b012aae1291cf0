"""Grafana's provisioning and dashboards (ops/grafana/): every panel's PromQL parses (promtool
checks it as a recording rule) and names only metrics that Soundlake's parts really export.

Grafana itself is not installable here (no Debian package, not on the reachable registries), so
its JSON is checked for what the provisioning relies on, and the queries against:
- the /metrics of an eventsim and a soundlake-ingest started by the test (Kafka and the
  schema registry of the stack);
- ClickHouse's metrics, through the SELECT the local Prometheus scrapes (prometheus.local.yml);
- for the JMX exporter's names (Kafka, HDFS): the live agents when the stack runs them, and the
  names the rules in ops/jmx/*.yml produce;
- for the loader: the metric table of docs/operations.md, which its helper keeps with the code;
- for the hosts: the live node-exporter of the stack (service "node-exporter");
- for the orchestrator (`soundlake run`): the metric families its /metrics declares;
- `up`, `ALERTS` and the recording rules of ops/prometheus/alerts/.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import Endpoints, ServiceError, http_request, unique_name
from ops_support import EVENTSIM_CONFIG, Started, answers, rust_binaries

from soundlake.stack.process import free_port
from soundlake.stack.services.monitoring import PROMTOOL

ROOT = Path(__file__).resolve().parents[1]
GRAFANA = ROOT / "ops" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
JMX_RULES = sorted((ROOT / "ops" / "jmx").glob("*.yml"))
OPERATIONS_DOC = ROOT / "docs" / "operations.md"
# The JVM metrics the JMX exporter agent always serves (io.prometheus.jmx 1.x)
JVM_METRICS = {"jvm_memory_used_bytes"}
BUILTIN = {"up", "ALERTS", "ALERTS_FOR_STATE"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
                "and", "or", "unless", "offset", "inf", "nan"}  # fmt: skip


def panels() -> Iterator[tuple[str, dict[str, object]]]:
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            yield path.name, panel


def exprs() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, PromQL) of every query."""
    return [
        (name, str(panel["title"]), target["expr"])
        for name, panel in panels()
        for target in panel["targets"]  # type: ignore[attr-defined]
    ]


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (label matchers, strings, durations, grouping
    clauses and function names removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end() :].lstrip()
        if following.startswith("(") or match.group(0).lower() in PROMQL_WORDS:
            continue
        names.add(match.group(0))
    return names


def test_provisioning_points_at_the_dashboards_and_the_datasource() -> None:
    datasources = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    (prometheus,) = datasources["datasources"]
    assert (prometheus["type"], prometheus["uid"]) == ("prometheus", "prometheus")
    assert prometheus["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/soundlake.yml").read_text())
    (provider,) = providers["providers"]
    compose = yaml.safe_load((ROOT / "docker" / "docker-compose.yaml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"../ops/grafana/dashboards:{provider['options']['path']}:ro" in mounts
    assert "../ops/grafana/provisioning:/etc/grafana/provisioning:ro" in mounts


def test_dashboards_are_complete() -> None:
    names = {p.stem for p in DASHBOARDS}
    assert {"pipeline-health", "eventsim", "ingest", "loader", "clickhouse", "kafka",
            "hdfs", "node", "jvm"} <= names  # fmt: skip
    uids = [json.loads(p.read_text())["uid"] for p in DASHBOARDS]
    assert len(set(uids)) == len(uids), "dashboard uids must be unique"
    for name, panel in panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}, name
        assert panel["targets"], f"{name}: panel {panel['title']} has no query"
    pipeline = {str(p["title"]) for n, p in panels() if n == "pipeline-health.json"}
    for topic in ("lag", "quarantine", "file size", "commit latency", "loads", "freshness"):
        assert any(topic in t.lower() for t in pipeline), f"pipeline health lacks {topic}"


def test_every_panel_query_parses(tmp_path: Path) -> None:
    rules = {
        "groups": [{
            "name": "grafana-panels",
            "rules": [{"record": f"panel:check_{i}", "expr": e} for i, (_, _, e) in enumerate(exprs())],
        }]
    }  # fmt: skip
    rule_file = tmp_path / "panels.yml"
    rule_file.write_text(yaml.safe_dump(rules))
    result = subprocess.run([str(PROMTOOL), "check", "rules", str(rule_file)],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs())} rules found" in result.stdout


def jmx_rule_names() -> set[str]:
    """Every name the rules of ops/jmx/ can produce (alternatives of the captured groups)."""
    names: set[str] = set()
    for path in JMX_RULES:
        for rule in yaml.safe_load(path.read_text())["rules"]:
            groups = [g.split("|") for g in re.findall(r"\(([A-Za-z|]+)\)", rule["pattern"])]
            for choice in itertools.product(*groups) if groups else [()]:
                name = rule["name"]
                for i, value in enumerate(choice, 1):
                    name = name.replace(f"${i}", value)
                if "$" not in name:
                    names.add(name.lower())
    return names


def scrape(url: str) -> set[str]:
    body = http_request(url).decode()
    return {re.split(r"[{ ]", line, maxsplit=1)[0] for line in body.splitlines()
            if line and not line.startswith("#")}  # fmt: skip


def clickhouse_names(clickhouse_url: str) -> set[str]:
    """ClickHouse's metrics through the SELECT that the local Prometheus scrapes."""
    template = (ROOT / "ops" / "prometheus" / "prometheus.local.yml").read_text()
    config = yaml.safe_load(template)
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "clickhouse"]
    (query,) = job["params"]["query"]
    return scrape(f"{clickhouse_url}/?{urllib.parse.urlencode({'query': query})}")


def node_exporter_names() -> set[str]:
    """The metric names the stack's node-exporter serves (stack.toml's node_exporter port)."""
    from soundlake.stack import config

    cfg = config.load()
    return scrape(f"http://{cfg.host}:{cfg.port('node_exporter')}/metrics")


def live_jmx_names() -> set[str]:
    from soundlake.stack import config

    cfg = config.load()
    names: set[str] = set()
    for port_name in (name for name in cfg.ports if name.endswith("_jmx_metrics")):
        try:
            names |= scrape(f"http://{cfg.host}:{cfg.port(port_name)}/metrics")
        except ServiceError:
            continue  # a stack started before the agent was added: the rules' names below
    return names


def documented_loader_names() -> set[str]:
    return set(re.findall(r"`(soundlake_loader_[a-z_]+)`", OPERATIONS_DOC.read_text()))


def orchestrator_names(clickhouse_url: str, dagster_home: Path) -> set[str]:
    """The metric families the /metrics of `soundlake run` declares (orchestrate/freshness.py
    and runs.py), from an endpoint started here on the stack's ClickHouse: its ``# TYPE`` lines,
    since a database without gold tables has no freshness samples."""
    import dataclasses

    from soundlake.orchestrate.freshness import serve
    from soundlake.orchestrate.settings import Settings

    dagster_home.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    settings = dataclasses.replace(
        Settings.from_env(),
        clickhouse_url=clickhouse_url,
        clickhouse_database="default",
        dagster_home=dagster_home,
    )
    server = serve("127.0.0.1", 0, settings)
    try:
        body = http_request(f"http://127.0.0.1:{server.server_address[1]}/metrics").decode()
    finally:
        server.shutdown()
    return {line.split()[2] for line in body.splitlines() if line.startswith("# TYPE ")}


def recorded_names() -> set[str]:
    names = set()
    for path in (ROOT / "ops" / "prometheus" / "alerts").glob("*.rules.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            names |= {r["record"] for r in group["rules"] if "record" in r}
    return names


@pytest.fixture
def running_services(stack: Endpoints, tmp_path: Path) -> Iterator[set[str]]:
    """The metric names served by an eventsim (to Kafka) and a soundlake-ingest started here."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient

    binaries = rust_binaries()
    prefix = f"{unique_name('opsdash')}_"
    started = Started()
    eventsim_port, ingest_port = free_port(), free_port()
    try:
        started.run(
            [str(binaries / "eventsim"), "--config", str(EVENTSIM_CONFIG), "--nusers", "20",
             "--from", "1", "--continuous", "--kafka-brokers", stack.kafka_brokers,
             "--topic-prefix", prefix, "--metrics-addr", f"127.0.0.1:{eventsim_port}",
             "--progress", "never"],
            tmp_path / "eventsim.log",
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not answers(eventsim_port) and time.monotonic() < deadline:
            time.sleep(1)  # its topics exist once it serves metrics
        # one record that is not Avro in the Confluent wire format: quarantined (bad magic byte),
        # so that the quarantine counter has a series
        producer = Producer({"bootstrap.servers": stack.kafka_brokers})
        producer.produce(f"{prefix}listen_events", key=b"poison", value=b"not avro")
        assert producer.flush(15) == 0, "the poison record was not delivered"
        started.run(
            [str(binaries / "soundlake-ingest"), "--brokers", stack.kafka_brokers,
             "--topics", f"{prefix}listen_events", "--group", f"{prefix}group",
             "--writer-id", f"{prefix}writer", "--lake-url", (tmp_path / "lake").as_uri(),
             "--metrics-addr", f"127.0.0.1:{ingest_port}", "--flush-interval", "2"],
            tmp_path / "ingest.log",
        )  # fmt: skip
        names: set[str] = set()
        deadline = time.monotonic() + 120
        wanted = {"soundlake_ingest_flush_duration_seconds_bucket",
                  "soundlake_ingest_consumer_lag_records",
                  "soundlake_ingest_quarantined_records_total",
                  "soundlake_eventsim_delivered_events_total"}  # fmt: skip
        while time.monotonic() < deadline and not wanted <= names:
            time.sleep(2)
            for port in (eventsim_port, ingest_port):
                if answers(port):
                    names |= scrape(f"http://127.0.0.1:{port}/metrics")
        yield names
    finally:
        started.stop()
        admin = AdminClient({"bootstrap.servers": stack.kafka_brokers})
        topics = [t for t in admin.list_topics(timeout=15).topics if t.startswith(prefix)]
        futures = [*admin.delete_topics(topics).values()] if topics else []
        futures += admin.delete_consumer_groups([f"{prefix}group"]).values()
        for future in futures:
            try:
                future.result(timeout=30)
            except Exception as err:  # cleanup: report, do not mask the test's outcome
                print(f"cleanup of {prefix}*: {err}")


def test_every_panel_uses_metrics_that_are_exported(
    stack: Endpoints, running_services: set[str], tmp_path: Path
) -> None:
    orchestrator = orchestrator_names(stack.clickhouse_url, tmp_path / "dagster")
    exported = (
        running_services
        | orchestrator
        | clickhouse_names(stack.clickhouse_url)
        | live_jmx_names()
        | node_exporter_names()
        | jmx_rule_names()
        | JVM_METRICS
        | documented_loader_names()
        | recorded_names()
        | BUILTIN
    )
    assert "soundlake_ingest_consumer_lag_records" in running_services
    assert "ClickHouseMetrics_Query" in exported
    assert "node_cpu_seconds_total" in exported
    assert "soundlake_gold_freshness_seconds" in orchestrator
    missing = {
        (dashboard, title, name)
        for dashboard, title, expr in exprs()
        for name in metric_names(expr)
        if name not in exported
    }
    assert missing == set(), "panels query metrics nobody exports"
