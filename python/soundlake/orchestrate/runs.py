"""The outcomes of the ``pipeline`` job's runs, read from Dagster's instance, for Prometheus.

A failed step is retried by its retry policy (``dbt.py``, ``clickhouse.py``) within the run; a
run fails when its retries are spent, and the sensor launches the next one on the next bronze
commit. Three series say how that goes, read from the instance in ``DAGSTER_HOME`` (its SQLite
run storage) on each scrape of the orchestrator's ``/metrics`` (``freshness.py``):

    soundlake_pipeline_runs_total{status}             finished runs, by success, failure, canceled
    soundlake_pipeline_consecutive_failed_runs        failed runs since the last successful one
    soundlake_pipeline_last_success_timestamp_seconds when the last successful run ended

A canceled run (``soundlake run`` stopped, or someone canceled it in the UI) neither counts as a
failure nor breaks a row of them. The alert rule: ops/prometheus/alerts/pipeline.rules.yml.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from soundlake.orchestrate.settings import PIPELINE_JOB

RUNS = "soundlake_pipeline_runs_total"
CONSECUTIVE_FAILURES = "soundlake_pipeline_consecutive_failed_runs"
LAST_SUCCESS = "soundlake_pipeline_last_success_timestamp_seconds"
#: consecutive failures are counted up to this many (each scrape reads their records)
MAX_COUNTED = 1000
#: the finished statuses, with their label value
FINISHED = {
    DagsterRunStatus.SUCCESS: "success",
    DagsterRunStatus.FAILURE: "failure",
    DagsterRunStatus.CANCELED: "canceled",
}


@dataclass(frozen=True)
class Outcomes:
    """What the instance says of the pipeline's finished runs."""

    #: finished runs per status label (success, failure, canceled)
    runs: dict[str, int]
    #: failed runs since the last successful one (up to ``MAX_COUNTED``; every failed run
    #: when none succeeded)
    consecutive_failures: int
    #: when the last successful run ended (Unix seconds), None before the first
    last_success_at: float | None


def read(dagster_home: Path) -> Outcomes | None:
    """The outcomes of the instance in `dagster_home`; None while it has none yet (``soundlake
    run`` writes its ``dagster.yaml`` before it starts Dagster)."""
    if not (dagster_home / "dagster.yaml").is_file():
        return None
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        runs = {
            label: instance.get_runs_count(RunsFilter(job_name=PIPELINE_JOB, statuses=[status]))
            for status, label in FINISHED.items()
        }
        last = instance.get_run_records(
            RunsFilter(job_name=PIPELINE_JOB, statuses=[DagsterRunStatus.SUCCESS]), limit=1
        )
        failures = RunsFilter(job_name=PIPELINE_JOB, statuses=[DagsterRunStatus.FAILURE])
        if last:
            # the failed runs stored after it (the cursor: runs after this one, oldest first)
            since = instance.get_run_records(
                failures, cursor=last[0].dagster_run.run_id, ascending=True, limit=MAX_COUNTED
            )
            consecutive = len(since)
        else:
            consecutive = runs[FINISHED[DagsterRunStatus.FAILURE]]
        return Outcomes(
            runs=runs,
            consecutive_failures=consecutive,
            last_success_at=last[0].end_time if last else None,
        )


def exposition(dagster_home: Path) -> str:
    """The run outcomes in Prometheus' text format (no samples while there is no instance)."""
    outcomes = read(dagster_home)
    lines = [
        f"# HELP {RUNS} Finished runs of the Dagster job {PIPELINE_JOB}, by status.",
        f"# TYPE {RUNS} counter",
    ]
    if outcomes:
        lines += [f'{RUNS}{{status="{label}"}} {n}' for label, n in outcomes.runs.items()]
    lines += [
        f"# HELP {CONSECUTIVE_FAILURES} Failed runs of {PIPELINE_JOB} since its last success.",
        f"# TYPE {CONSECUTIVE_FAILURES} gauge",
    ]
    if outcomes:
        lines.append(f"{CONSECUTIVE_FAILURES} {outcomes.consecutive_failures}")
    lines += [
        f"# HELP {LAST_SUCCESS} When the last successful run of {PIPELINE_JOB} ended.",
        f"# TYPE {LAST_SUCCESS} gauge",
    ]
    if outcomes and outcomes.last_success_at is not None:
        lines.append(f"{LAST_SUCCESS} {outcomes.last_success_at:.3f}")
    return "\n".join(lines) + "\n"
