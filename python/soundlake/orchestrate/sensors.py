"""The pipeline job and what starts it: a sensor on the lander's commit log.

Every ``minimum_interval_seconds`` (``SOUNDLAKE_SENSOR_INTERVAL_S``, default 30) the sensor
reads the entries of ``bronze/_commits/`` after its cursor (the last sequence number it
reported). New entries: it reports each bronze topic's
materialization with the rows landed and launches the pipeline job (dbt build, then the
ClickHouse load). While a pipeline run is queued or running it waits, cursor unchanged, so the
next run covers every commit since the last one: nothing is skipped and runs never pile up.
"""

# no `from __future__ import annotations`: Dagster checks the decorated functions' context
# annotations at run time
import os

from dagster import (
    AssetMaterialization,
    AssetSelection,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    sensor,
)

from soundlake.orchestrate.bronze import bronze_key
from soundlake.orchestrate.clickhouse import GROUP as CLICKHOUSE_GROUP
from soundlake.orchestrate.commit_log import CommitLog, CommitLogError
from soundlake.orchestrate.dbt import LAYERS
from soundlake.orchestrate.settings import PIPELINE_JOB, Settings

#: how often the sensor looks at the commit log (``soundlake run --sensor-interval``)
SENSOR_INTERVAL_S = int(os.environ.get("SOUNDLAKE_SENSOR_INTERVAL_S") or 30)
_ACTIVE = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]

#: every asset Dagster materializes: the dbt layers, then ClickHouse
pipeline_job = define_asset_job(
    PIPELINE_JOB,
    selection=AssetSelection.groups(*LAYERS, CLICKHOUSE_GROUP),
    description="dbt build of staging, silver and gold, then the ClickHouse load",
)


@sensor(
    job=pipeline_job,
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=DefaultSensorStatus.RUNNING,
)
def bronze_commits(context: SensorEvaluationContext) -> SensorResult | SkipReason:
    """Launch the pipeline when the lander has committed since the last launch."""
    active = context.instance.get_runs(
        filters=RunsFilter(job_name=PIPELINE_JOB, statuses=_ACTIVE), limit=1
    )
    if active:
        return SkipReason(f"run {active[0].run_id} is not finished yet")
    settings = Settings.from_env()
    after = int(context.cursor) if context.cursor else None
    try:
        new = CommitLog(settings.lake_url, settings.webhdfs_url).since(after)
    except CommitLogError as err:
        return SkipReason(f"the commit log cannot be read: {err}")
    if new.newest_seq is None or new.newest_seq == after:
        return SkipReason("no new bronze commits")
    events = [
        AssetMaterialization(
            bronze_key(topic),
            metadata={"rows_landed": rows, "commit_seq": new.newest_seq},
        )
        for topic, rows in sorted(new.rows.items())
    ]
    return SensorResult(
        run_requests=[RunRequest(run_key=f"bronze-commit-{new.newest_seq}")],
        asset_events=events,
        cursor=str(new.newest_seq),
    )
