"""Dagster's ``Definitions`` of the platform: what ``dagster-daemon`` and ``dagster-webserver``
load (``-m soundlake.orchestrate.definitions``).

The asset graph, in the order data flows: Kafka topics → bronze topics (``bronze.py``) → dbt's
staging, silver and gold models (``dbt.py``) → the ClickHouse tables (``clickhouse.py``).

The gold models and the ClickHouse tables carry Dagster's freshness policy (``FRESHNESS``): the
daemon's freshness evaluation marks each of them WARN, then FAIL, when its last materialization
grows older than the windows, and the UI shows that state per asset. It watches the pipeline's
cycles; the age of the data itself, by event time, is ``freshness.py``'s metric.
"""

from __future__ import annotations

from datetime import timedelta

from dagster import (
    AssetSpec,
    Definitions,
    FreshnessPolicy,
    apply_freshness_policy,
    map_asset_specs,
)

from soundlake.orchestrate import bronze
from soundlake.orchestrate.clickhouse import GROUP as CLICKHOUSE_GROUP
from soundlake.orchestrate.clickhouse import clickhouse_tables
from soundlake.orchestrate.dbt import dbt_models, project, resource
from soundlake.orchestrate.sensors import bronze_commits, pipeline_job

#: while events flow, each bronze commit starts a cycle that materializes gold and ClickHouse
#: again: a table not materialized for ten minutes is late (WARN), for twenty it fails, as the
#: alert GoldNotFresh (ops/prometheus/alerts/freshness.rules.yml) fires on the data's age
FRESHNESS = FreshnessPolicy.time_window(
    fail_window=timedelta(minutes=20), warn_window=timedelta(minutes=10)
)
#: the groups whose assets carry it: what the platform serves
FRESHNESS_GROUPS = ("gold", CLICKHOUSE_GROUP)


def with_freshness(spec: AssetSpec) -> AssetSpec:
    """`spec` with the freshness policy when its group is one of ``FRESHNESS_GROUPS``."""
    if spec.group_name in FRESHNESS_GROUPS:
        return apply_freshness_policy(spec, FRESHNESS)
    return spec


defs = Definitions(
    assets=map_asset_specs(
        with_freshness,
        [*bronze.specs(), dbt_models, clickhouse_tables(project.manifest_path)],
    ),
    jobs=[pipeline_job],
    sensors=[bronze_commits],
    resources={"dbt": resource()},
)
