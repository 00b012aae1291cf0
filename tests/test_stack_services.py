"""Smoke tests of the local stack: each service does real work, driven the way the project
drives it (confluent-kafka for Kafka, HTTP for ClickHouse, the Rust hdfs-native writer and
Spark for HDFS)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from confluent_kafka import Consumer, Message, Producer

if TYPE_CHECKING:
    from conftest import ClickHouseDb, Endpoints, HdfsDir
    from pyspark.sql import SparkSession

REPO_ROOT = Path(__file__).resolve().parent.parent
CONSUME_TIMEOUT_S = 30.0
# The Rust test kit's writer (soundlake-testkit/examples/hdfs_put.rs): stdin → an HDFS file.
# Debug profile: `scripts/setup` has already built every example that way.
HDFS_PUT = ["cargo", "run", "--quiet", "-p", "soundlake-testkit", "--example", "hdfs_put", "--"]
HDFS_PUT_TIMEOUT_S = 600.0


def consume(brokers: str, topic: str, count: int) -> list[Message]:
    """Read ``count`` messages of ``topic`` from the start, or fail after CONSUME_TIMEOUT_S."""
    consumer = Consumer(
        {
            "bootstrap.servers": brokers,
            "group.id": f"{topic}-reader",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    received: list[Message] = []
    deadline = time.monotonic() + CONSUME_TIMEOUT_S
    try:
        while len(received) < count and time.monotonic() < deadline:
            message = consumer.poll(timeout=1.0)
            if message is None:
                continue
            assert message.error() is None, f"consuming {topic}: {message.error()}"
            received.append(message)
    finally:
        consumer.close()
    assert len(received) == count, (
        f"got {len(received)} of {count} messages from {topic} in {CONSUME_TIMEOUT_S:.0f}s"
    )
    return received


def test_kafka_round_trip(stack: Endpoints, kafka_topic: str) -> None:
    sent = {f"user-{i}".encode(): f"event {i}".encode() for i in range(100)}
    failures: list[str] = []

    def on_delivery(err: object, message: Message) -> None:
        if err is not None:
            failures.append(f"{message.key()!r}: {err}")

    producer = Producer({"bootstrap.servers": stack.kafka_brokers, "enable.idempotence": True})
    for key, value in sent.items():
        producer.produce(kafka_topic, key=key, value=value, on_delivery=on_delivery)
    assert producer.flush(timeout=CONSUME_TIMEOUT_S) == 0, "messages left unsent"
    assert failures == []

    received = consume(stack.kafka_brokers, kafka_topic, len(sent))

    assert {m.key(): m.value() for m in received} == sent
    offsets = [m.offset() for m in received]
    assert offsets == sorted(offsets), "one partition: the order of production"


def test_clickhouse_create_insert_select(clickhouse_db: ClickHouseDb) -> None:
    clickhouse_db.query(
        "CREATE TABLE plays (user_id UInt32, song String, seconds Float64)"
        " ENGINE = MergeTree ORDER BY user_id"
    )
    rows = b"".join(
        f'{{"user_id": {i % 3}, "song": "song {i}", "seconds": {i}.5}}\n'.encode()
        for i in range(10)
    )
    clickhouse_db.query("INSERT INTO plays FORMAT JSONEachRow", data=rows)

    result = clickhouse_db.query_json(
        "SELECT user_id, count() AS plays, sum(seconds) AS seconds"
        " FROM plays GROUP BY user_id ORDER BY user_id"
    )

    # ClickHouse's JSON quotes 64-bit integers (count() is UInt64).
    assert [(r["user_id"], int(r["plays"]), r["seconds"]) for r in result] == [
        (0, 4, 0.5 + 3.5 + 6.5 + 9.5),
        (1, 3, 1.5 + 4.5 + 7.5),
        (2, 3, 2.5 + 5.5 + 8.5),
    ]


def hdfs_put(local_file: Path, hdfs_url: str) -> None:
    """Copy ``local_file`` to ``hdfs_url`` with the Rust writer (built on first use)."""
    with local_file.open("rb") as stdin:
        done = subprocess.run(
            [*HDFS_PUT, hdfs_url],
            stdin=stdin,
            capture_output=True,
            cwd=REPO_ROOT,
            env={**os.environ, "CARGO_TERM_PROGRESS_WHEN": "never"},
            timeout=HDFS_PUT_TIMEOUT_S,
            check=False,
        )
    assert done.returncode == 0, (
        f"hdfs_put {hdfs_url} failed (exit {done.returncode}):\n{done.stderr.decode()}"
    )


def test_spark_reads_csv_written_to_hdfs_by_rust(
    spark: SparkSession, hdfs_dir: HdfsDir, tmp_path: Path
) -> None:
    people = tmp_path / "people.csv"
    people.write_text(
        "name,city,age\n"
        "Ada,London,36\n"
        "Grace,New York,45\n"
        "Alan,London,41\n"
        "Linus,Helsinki,21\n"
        "Barbara,New York,30\n"
    )
    hdfs_put(people, hdfs_dir.url_of("people.csv"))
    assert hdfs_dir.list_names() == ["people.csv"]
    assert hdfs_dir.read_bytes("people.csv") == people.read_bytes()

    frame = spark.read.csv(hdfs_dir.url_of("people.csv"), header=True, inferSchema=True)
    frame.createOrReplaceTempView("people")
    rows = spark.sql(
        "SELECT city, count(*) AS people, sum(age) AS total_age, max(name) AS last_name"
        " FROM people GROUP BY city ORDER BY city"
    ).collect()

    assert [tuple(row) for row in rows] == [
        ("Helsinki", 1, 21, "Linus"),
        ("London", 2, 77, "Alan"),
        ("New York", 2, 75, "Grace"),
    ]


# What ops/grafana and ops/prometheus/alerts/node.rules.yml read from node-exporter.
NODE_METRICS = (
    "node_cpu_seconds_total",
    "node_load1",
    "node_memory_MemAvailable_bytes",
    "node_memory_MemTotal_bytes",
    "node_filesystem_avail_bytes",
    "node_filesystem_size_bytes",
    "node_filesystem_readonly",
    "node_disk_read_bytes_total",
    "node_disk_written_bytes_total",
    "node_network_receive_bytes_total",
    "node_network_transmit_bytes_total",
    "node_boot_time_seconds",
    "node_time_seconds",
)


def test_node_exporter_serves_the_host_metrics(stack: Endpoints) -> None:
    from soundlake.stack import config
    from soundlake.stack.process import http_get

    cfg = config.load()
    url = f"http://{cfg.host}:{cfg.port('node_exporter')}/metrics"
    answer = http_get(url)
    assert answer is not None, f"nothing answers at {url}: `scripts/stack up node-exporter`"
    status, body = answer
    assert status == 200, f"{url} answered {status}"
    served = {line.split("{")[0].split(" ")[0] for line in body.splitlines() if line[:1] != "#"}
    assert set(NODE_METRICS) - served == set(), f"missing from {url}"
    # only the chosen collectors run: nothing of the host beyond them shows
    assert not any(
        name.startswith(("node_systemd_", "node_hwmon_", "node_arp_")) for name in served
    )
