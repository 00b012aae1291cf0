"""The pipeline job and what starts it: a sensor on the lander's commit log.

Every ``minimum_interval_seconds`` (``SOUNDLAKE_SENSOR_INTERVAL_S``, default 30) the sensor
reads the entries of ``bronze/_commits/`` after its cursor (the last sequence number it
reported). New entries: it reports each bronze topic's
materialization with the rows landed and launches the pipeline job (dbt build, then the
ClickHouse load), pinned to the newest entry: its dbt build reads bronze as of that commit
(tag ``soundlake/bronze_as_of``, the entry's ``ingested_at_us``), so that every model of the run
sees the same rows while the lander goes on committing. While a pipeline run is queued or running it waits, cursor unchanged, so the
next run covers every commit since the last one: nothing is skipped and runs never pile up.

The dbt project's data and unit tests (Dagster's asset checks on the models) are not on every
cycle's path to fresh gold: a run includes them when the last run that did was requested
``SOUNDLAKE_CHECKS_INTERVAL_S`` (default 900; 0: every run) or more seconds ago, and the first
run of a fresh instance always does, and so does every run after a checked run that failed,
until one passes. The other runs build the models alone. A checked run is a
plain ``dbt build``: each model's tests run right after it, and a failing test stops what
depends on it, as in a one-shot build (docs/orchestration.md, "Data tests").
"""

# no `from __future__ import annotations`: Dagster checks the decorated functions' context
# annotations at run time
import json
import os
import time
from dataclasses import dataclass

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
    in_process_executor,
    sensor,
)

from soundlake.orchestrate.bronze import bronze_key
from soundlake.orchestrate.clickhouse import GROUP as CLICKHOUSE_GROUP
from soundlake.orchestrate.commit_log import CommitLog, CommitLogError
from soundlake.orchestrate.dbt import LAYERS
from soundlake.orchestrate.settings import BRONZE_AS_OF_TAG, CHECKS_TAG, PIPELINE_JOB, Settings

#: how often the sensor looks at the commit log (``soundlake run --sensor-interval``)
SENSOR_INTERVAL_S = int(os.environ.get("SOUNDLAKE_SENSOR_INTERVAL_S") or 30)
#: how often a run includes the asset checks (``soundlake run --checks-interval``)
CHECKS_INTERVAL_S = float(os.environ.get("SOUNDLAKE_CHECKS_INTERVAL_S") or 900)
_ACTIVE = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]

#: every asset Dagster materializes: the dbt layers, then ClickHouse (and the models' checks)
PIPELINE_SELECTION = AssetSelection.groups(*LAYERS, CLICKHOUSE_GROUP)
#: its two steps (the dbt build, then the load) run in the run's own process, one after the
#: other: a process per step would load the definitions twice more per cycle for nothing
pipeline_job = define_asset_job(
    PIPELINE_JOB,
    selection=PIPELINE_SELECTION,
    executor_def=in_process_executor,
    description="dbt build of staging, silver and gold, then the ClickHouse load",
)


@dataclass(frozen=True)
class Cursor:
    """What the sensor remembers between ticks: the newest commit a launched run covers, and
    when it last launched a run with the asset checks (Unix seconds)."""

    seq: int | None = None
    checked_at: float | None = None

    @classmethod
    def parse(cls, text: str | None) -> "Cursor":
        """The cursor as stored; a bare sequence number is an older sensor's cursor."""
        if not text:
            return cls()
        value = json.loads(text)
        if isinstance(value, int):
            return cls(seq=value)
        return cls(seq=value.get("seq"), checked_at=value.get("checked_at"))

    def dump(self) -> str:
        return json.dumps({"seq": self.seq, "checked_at": self.checked_at})

    def checks_due(self, now: float, interval_s: float) -> bool:
        """Whether a run launched at `now` includes the asset checks."""
        return self.checked_at is None or now - self.checked_at >= interval_s


def last_checks_failed(context: SensorEvaluationContext) -> bool:
    """Whether the last run with the checks failed: then every run keeps them until one passes,
    so that a failing test fails run after run (and alerts) instead of between passing runs."""
    checked = context.instance.get_runs(
        filters=RunsFilter(job_name=PIPELINE_JOB, tags={CHECKS_TAG: "all"}), limit=1
    )
    return bool(checked) and checked[0].status == DagsterRunStatus.FAILURE


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
    cursor = Cursor.parse(context.cursor)
    try:
        new = CommitLog(settings.lake_url, settings.webhdfs_url).since(cursor.seq)
    except CommitLogError as err:
        return SkipReason(f"the commit log cannot be read: {err}")
    if new.newest_seq is None or new.newest_seq == cursor.seq:
        return SkipReason("no new bronze commits")
    events = [
        AssetMaterialization(
            bronze_key(topic),
            metadata={"rows_landed": rows, "commit_seq": new.newest_seq},
        )
        for topic, rows in sorted(new.rows.items())
    ]
    now = time.time()
    # the daemon's context always has the definitions; without them, the whole job (checks too)
    graph = context.repository_def.asset_graph if context.repository_def else None
    run_key = f"bronze-commit-{new.newest_seq}"
    # every model of the run reads bronze as of the newest commit, however many land meanwhile
    pinned = {} if new.ingested_at_us is None else {BRONZE_AS_OF_TAG: str(new.ingested_at_us)}
    if graph is None or cursor.checks_due(now, CHECKS_INTERVAL_S) or last_checks_failed(context):
        request = RunRequest(run_key=run_key, tags={CHECKS_TAG: "all", **pinned})
        checked_at: float | None = now
    else:
        request = RunRequest(
            run_key=run_key,
            asset_selection=sorted(PIPELINE_SELECTION.resolve(graph)),
            asset_check_keys=[],
            tags={CHECKS_TAG: "none", **pinned},
        )
        checked_at = cursor.checked_at
    return SensorResult(
        run_requests=[request],
        asset_events=events,
        cursor=Cursor(seq=new.newest_seq, checked_at=checked_at).dump(),
    )
