"""The orchestrator's /metrics (python/soundlake/orchestrate/freshness.py and runs.py): the gold
tables' end-to-end freshness against the stack's ClickHouse — per gold table with rows, now minus
its newest event time ``_newest_event_at`` — and the pipeline's run outcomes read from a Dagster
instance, in Prometheus' text format."""

# no `from __future__ import annotations`: Dagster checks the op's context annotation at run time

import dataclasses
import time
import urllib.request
from pathlib import Path

from conftest import ClickHouseDb
from dagster import DagsterInstance, DagsterRun, OpExecutionContext, job, op

from soundlake.orchestrate import runs
from soundlake.orchestrate.freshness import METRIC, exposition, newest_events, serve
from soundlake.orchestrate.settings import PIPELINE_JOB, Settings

NOW = 1_800_000_000  # the freshness is measured at this Unix time
DAGSTER_YAML = "telemetry:\n  enabled: false\n"


def test_freshness_of_each_gold_table_with_rows(
    clickhouse_db: ClickHouseDb, tmp_path: Path
) -> None:
    for table in ("gold_a", "gold_b", "gold_empty", "_load_log"):
        clickhouse_db.query(
            f"CREATE TABLE {table} (_ingested_at Nullable(DateTime('UTC')), "
            "_newest_event_at Nullable(DateTime('UTC')), n UInt8) ENGINE = Memory"
        )
    # a gold table loaded before gold had _newest_event_at: no sample until it is reloaded
    clickhouse_db.query(
        "CREATE TABLE gold_before (_ingested_at Nullable(DateTime('UTC')), n UInt8) ENGINE = Memory"
    )
    # events 100 s and 40 s before NOW, landed 10 s and 5 s before NOW; NULL and 7 s before
    # NOW; a table that is not gold
    clickhouse_db.query(
        "INSERT INTO gold_a VALUES (toDateTime(1799999990), toDateTime(1799999900), 1), "
        "(toDateTime(1799999995), toDateTime(1799999960), 2)"
    )
    clickhouse_db.query(
        "INSERT INTO gold_b VALUES (NULL, NULL, 1), "
        "(toDateTime(1799999999), toDateTime(1799999993), 2)"
    )
    clickhouse_db.query(
        "INSERT INTO _load_log VALUES (toDateTime(1800000000), toDateTime(1800000000), 1)"
    )
    clickhouse_db.query("INSERT INTO gold_before VALUES (toDateTime(1799999999), 1)")
    settings = dataclasses.replace(
        Settings.from_env(),
        clickhouse_url=clickhouse_db.url,
        clickhouse_database=clickhouse_db.name,
        dagster_home=tmp_path / "no-instance",
    )
    # the age counts from the newest event, not from the newest landing (5 s and 1 s)
    assert newest_events(settings) == {"gold_a": 1799999960, "gold_b": 1799999993}
    samples = [line for line in exposition(settings, now=NOW).splitlines() if line[0] != "#"]
    assert samples == [f'{METRIC}{{table="gold_a"}} 40.000', f'{METRIC}{{table="gold_b"}} 7.000']
    server = serve("127.0.0.1", 0, settings)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read().decode()
        assert f'{METRIC}{{table="gold_a"}}' in body and f"# TYPE {METRIC} gauge" in body
        # no Dagster instance yet: the run metrics are declared, without samples
        assert f"# TYPE {runs.RUNS} counter" in body
        assert not [line for line in body.splitlines() if line.startswith("soundlake_pipeline")]
    finally:
        server.shutdown()


@op(config_schema={"fail": bool})
def step(context: OpExecutionContext) -> None:
    if context.op_config["fail"]:
        raise RuntimeError("the step failed")


def run_job(instance: DagsterInstance, name: str, *, fail: bool) -> None:
    @job(name=name)
    def the_job() -> None:
        step()

    result = the_job.execute_in_process(
        run_config={"ops": {"step": {"config": {"fail": fail}}}},
        instance=instance,
        raise_on_error=False,
    )
    assert result.success is not fail


def samples(text: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and line[0] != "#"
    }


def test_run_outcomes_of_a_dagster_instance(tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text(DAGSTER_YAML)
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        run_job(instance, PIPELINE_JOB, fail=True)
        before = time.time()
        run_job(instance, PIPELINE_JOB, fail=False)
        after = time.time()
        run_job(instance, PIPELINE_JOB, fail=True)
        # a canceled run neither counts as a failure nor ends a row of them
        canceled = instance.add_run(DagsterRun(job_name=PIPELINE_JOB, run_id="c" * 36))
        instance.report_run_canceled(canceled, "soundlake run stopped")
        run_job(instance, PIPELINE_JOB, fail=True)
        # another job's runs are not the pipeline's
        run_job(instance, "another_job", fail=True)

    text = runs.exposition(tmp_path)
    got = samples(text)
    assert got[f'{runs.RUNS}{{status="success"}}'] == 1
    assert got[f'{runs.RUNS}{{status="failure"}}'] == 3
    assert got[f'{runs.RUNS}{{status="canceled"}}'] == 1
    assert got[runs.CONSECUTIVE_FAILURES] == 2
    assert before <= got[runs.LAST_SUCCESS] <= after
    assert f"# TYPE {runs.RUNS} counter" in text
    assert f"# TYPE {runs.CONSECUTIVE_FAILURES} gauge" in text

    # a success ends the row
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        run_job(instance, PIPELINE_JOB, fail=False)
    assert samples(runs.exposition(tmp_path))[runs.CONSECUTIVE_FAILURES] == 0


def test_run_outcomes_before_any_success(tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text(DAGSTER_YAML)
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        run_job(instance, PIPELINE_JOB, fail=True)
        run_job(instance, PIPELINE_JOB, fail=True)
    got = samples(runs.exposition(tmp_path))
    assert got[runs.CONSECUTIVE_FAILURES] == 2
    assert got[f'{runs.RUNS}{{status="success"}}'] == 0
    assert runs.LAST_SUCCESS not in got
