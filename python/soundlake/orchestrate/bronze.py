"""The start of the lineage: the Kafka topics and the bronze topics the lander writes.

Neither is materialized by Dagster: eventsim produces the topics, the lander (rust-ingest) lands
them into bronze and records each landing in its commit log. They are external assets; the
sensor (``sensors.py``) reports a bronze topic's materialization, with the rows landed, when the
commit log has new entries for it.

A bronze topic's key is ``bronze/<topic>``: dagster-dbt gives the dbt source
``source('bronze', '<topic>')`` (dbt_spark/models/staging/_bronze__sources.yml) the same key,
so the staging models hang below it.
"""

from __future__ import annotations

from dagster import AssetKey, AssetSpec

from soundlake.lake_layout import TOPICS

KAFKA_GROUP = "kafka"
BRONZE_GROUP = "bronze"


def topic_key(topic: str) -> AssetKey:
    """The Kafka topic's asset."""
    return AssetKey([KAFKA_GROUP, topic])


def bronze_key(topic: str) -> AssetKey:
    """The bronze topic's asset (dagster-dbt's key of the dbt source of the same name)."""
    return AssetKey([BRONZE_GROUP, topic])


def specs() -> list[AssetSpec]:
    """Every topic twice: in Kafka, and landed in bronze below it."""
    kafka = [
        AssetSpec(
            topic_key(topic),
            group_name=KAFKA_GROUP,
            kinds={"kafka"},
            description=f"Kafka topic {topic}: eventsim's Avro records",
        )
        for topic in TOPICS
    ]
    bronze = [
        AssetSpec(
            bronze_key(topic),
            deps=[topic_key(topic)],
            group_name=BRONZE_GROUP,
            kinds={"parquet", "hdfs"},
            description=f"bronze/{topic}/ on the lake, landed by soundlake-ingest exactly once",
        )
        for topic in TOPICS
    ]
    return kafka + bronze
