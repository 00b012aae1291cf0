"""The IngestStalled alert, end to end in the local stack's Prometheus.

eventsim produces slowly (real time) to unique topics, a soundlake-ingest lands them into a
`file://` lake; both are registered as Prometheus targets through file_sd files (as the stack's
services are). Once Prometheus sees the lander keep up (and the alert silent), the lander is
frozen with SIGSTOP while events keep flowing, and the alert must become pending (its `for:` is
5 minutes: pending is what a test can wait for) for that lander and topic.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Endpoints, http_request, unique_name
from ops_support import EVENTSIM_CONFIG, TARGETS_DIR, Started, answers, rust_binaries

from soundlake.stack.process import free_port

ALERT = "IngestStalled"
RECORDING = "soundlake:kafka_topic_messages_in:rate5m"
ALERT_RULES = Path(__file__).resolve().parents[1] / "ops" / "prometheus" / "alerts"
STREAMS = ("listen_events", "page_view_events")
WAIT_S = 240.0


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return json.loads(http_request(f"{self.url}/api/v1/{path}{query}"))["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.api("query", query=promql)["result"]
        return result

    def rule_names(self) -> dict[str, str]:
        """Loaded rule names and their queries."""
        return {
            rule["name"]: rule["query"]
            for group in self.api("rules")["groups"]
            for rule in group["rules"]
        }

    def alerts(self, name: str, **labels: str) -> list[dict[str, Any]]:
        return [
            a
            for a in self.api("alerts")["alerts"]
            if a["labels"].get("alertname") == name
            and all(a["labels"].get(k) == v for k, v in labels.items())
        ]


def wait_for(what: str, check: Callable[[], bool], timeout: float, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(2)
    tails = "\n".join(f"--- {p.name}:\n{p.read_text(errors='replace')[-2000:]}" for p in logs)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{tails}", pytrace=False)


@pytest.fixture
def prometheus(stack: Endpoints) -> Prometheus:
    """The stack's Prometheus, with the repository's current rules loaded: reloaded first
    (Prometheus re-reads ops/prometheus/alerts/*.yml; unchanged rules keep their alert state)."""
    prom = Prometheus(stack.prometheus_url)
    http_request(f"{stack.prometheus_url}/-/reload", method="POST")
    rules = prom.rule_names()
    expected = {
        str(rule.get("alert") or rule.get("record"))
        for path in ALERT_RULES.glob("*.rules.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    }
    if not expected <= set(rules) or "topic_prefix" not in rules.get(RECORDING, ""):
        pytest.fail(
            f"Prometheus at {stack.prometheus_url} does not load ops/prometheus/alerts/*.yml even "
            "after a reload (its config predates the rules?): restart it with `scripts/stack down "
            "prometheus && scripts/stack up prometheus` (its log: .stack/logs/prometheus.log)",
            pytrace=False,
        )
    if not TARGETS_DIR.is_dir():
        pytest.fail(f"{TARGETS_DIR} is missing: start Prometheus with `scripts/stack up`")
    return prom


@pytest.fixture
def started() -> Iterator[Started]:
    s = Started()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def topic_prefix(stack: Endpoints) -> Iterator[str]:
    """A unique topic prefix; its topics and the consumer group are deleted after the test."""
    from confluent_kafka.admin import AdminClient

    prefix = f"{unique_name('opsstall')}_"
    yield prefix
    admin = AdminClient({"bootstrap.servers": stack.kafka_brokers})
    topics = [t for t in admin.list_topics(timeout=15).topics if t.startswith(prefix)]
    for future in [
        *admin.delete_topics(topics).values(),
        *admin.delete_consumer_groups([f"{prefix}group"]).values(),
    ]:
        try:
            future.result(timeout=30)
        except Exception as err:  # cleanup: report, do not mask the test's own outcome
            print(f"cleanup of {prefix}*: {err}")


def test_stopping_the_lander_while_events_flow_makes_ingest_stalled_pending(
    stack: Endpoints,
    prometheus: Prometheus,
    topic_prefix: str,  # before `started`: its processes stop before the topics are deleted
    started: Started,
    tmp_path: Path,
) -> None:
    binaries = rust_binaries()
    eventsim_port, ingest_port = free_port(), free_port()
    lander = f"127.0.0.1:{ingest_port}"
    topics = [f"{topic_prefix}{s}" for s in STREAMS]
    logs = [tmp_path / "eventsim.log", tmp_path / "ingest.log"]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    started.run(
        [str(binaries / "eventsim"), "--config", str(EVENTSIM_CONFIG), "--continuous",
         "--start-time", now, "--nusers", "5000", "--kafka-brokers", stack.kafka_brokers,
         "--topic-prefix", topic_prefix, "--metrics-addr", f"127.0.0.1:{eventsim_port}",
         "--progress", "never"],
        logs[0],
    )  # fmt: skip
    # the topics exist once eventsim has created them
    wait_for("eventsim's metrics", lambda: answers(eventsim_port), 60, logs)
    ingest = started.run(
        [str(binaries / "soundlake-ingest"), "--brokers", stack.kafka_brokers,
         "--topics", ",".join(topics), "--group", f"{topic_prefix}group",
         "--writer-id", f"{topic_prefix}writer", "--lake-url", (tmp_path / "lake").as_uri(),
         "--metrics-addr", lander, "--flush-interval", "5"],
        logs[1],
    )  # fmt: skip
    # scraped every 5 s (the stack's default is 15 s): the rates are there sooner, and a frozen
    # lander's scrape times out after 4 s
    fast = {"__scrape_interval__": "5s", "__scrape_timeout__": "4s"}
    started.target(f"{topic_prefix}eventsim", eventsim_port,
                   {"job": "eventsim", "topic_prefix": topic_prefix, **fast})  # fmt: skip
    started.target(f"{topic_prefix}ingest", ingest_port, {"job": "rust-ingest", **fast})

    def consuming_every_topic() -> bool:
        rates = prometheus.query(
            f'rate(soundlake_ingest_consumed_records_total{{instance="{lander}"}}[5m]) > 0'
        )
        arriving = prometheus.query(
            f'soundlake:kafka_topic_messages_in:rate5m{{topic=~"{topic_prefix}.*"}} > 0'
        )
        # (eventsim's other streams, e.g. auth_events, may receive events too: not landed here)
        consumed = {r["metric"]["topic"] for r in rates}
        return consumed == set(topics) and consumed <= {r["metric"]["topic"] for r in arriving}

    wait_for("Prometheus to see events arrive and the lander consume them",
             consuming_every_topic, WAIT_S, logs)  # fmt: skip
    # healthy: a lander that keeps up raises nothing
    time.sleep(20)  # one more evaluation with both rates in place
    assert prometheus.alerts(ALERT, instance=lander) == []

    os.kill(ingest.pid, signal.SIGSTOP)  # hung: no consuming, no scrape answer
    stalled_topic = f"{topic_prefix}listen_events"

    def stalled() -> bool:
        return any(
            a["state"] in ("pending", "firing")
            for a in prometheus.alerts(ALERT, instance=lander, topic=stalled_topic)
        )

    wait_for(f"{ALERT} to become pending for {lander}, {stalled_topic}", stalled, WAIT_S, logs)
    (alert,) = prometheus.alerts(ALERT, instance=lander, topic=stalled_topic)
    assert alert["labels"]["severity"] == "critical"
    assert alert["labels"]["job"] == "rust-ingest"
    assert stalled_topic in alert["annotations"]["summary"]
