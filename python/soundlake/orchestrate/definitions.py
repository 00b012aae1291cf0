"""Dagster's ``Definitions`` of the platform: what ``dagster-daemon`` and ``dagster-webserver``
load (``-m soundlake.orchestrate.definitions``).

The asset graph, in the order data flows: Kafka topics → bronze topics (``bronze.py``) → dbt's
staging, silver and gold models (``dbt.py``) → the ClickHouse tables (``clickhouse.py``).
"""

from __future__ import annotations

from dagster import Definitions

from soundlake.orchestrate import bronze
from soundlake.orchestrate.clickhouse import clickhouse_tables
from soundlake.orchestrate.dbt import dbt_models, project, resource
from soundlake.orchestrate.sensors import bronze_commits, pipeline_job

defs = Definitions(
    assets=[*bronze.specs(), dbt_models, clickhouse_tables(project.manifest_path)],
    jobs=[pipeline_job],
    sensors=[bronze_commits],
    resources={"dbt": resource()},
)
