"""The orchestrator's definitions without the stack: the asset graph from the Kafka topics to the
ClickHouse tables, the freshness policy of gold and ClickHouse, and the sensor on the lander's
commit log (a ``file://`` lake)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    Definitions,
    SensorResult,
    SkipReason,
    build_sensor_context,
)

from soundlake.lake_layout import COMMITS, TOPICS
from soundlake.orchestrate.bronze import bronze_key, topic_key
from soundlake.orchestrate.clickhouse import table_key
from soundlake.orchestrate.commit_log import CommitLog
from soundlake.orchestrate.dbt import dbt_args, gold_models, project
from soundlake.orchestrate.definitions import FRESHNESS, defs
from soundlake.orchestrate.run import DAGSTER_YAML
from soundlake.orchestrate.sensors import (
    CHECKS_INTERVAL_S,
    PIPELINE_SELECTION,
    Cursor,
    bronze_commits,
)
from soundlake.orchestrate.settings import BRONZE_AS_OF_TAG, CHECKS_TAG, PIPELINE_JOB


def test_definitions_load() -> None:
    Definitions.validate_loadable(defs)
    assert defs.resolve_job_def(PIPELINE_JOB).name == PIPELINE_JOB
    assert defs.resolve_sensor_def("bronze_commits").job_name == PIPELINE_JOB


def test_every_topic_flows_from_kafka_to_staging() -> None:
    graph = defs.resolve_asset_graph()
    for topic in TOPICS:
        assert graph.get(bronze_key(topic)).parent_keys == {topic_key(topic)}
        assert bronze_key(topic) in graph.get(AssetKey([f"stg_{topic}"])).parent_keys


def test_every_gold_model_has_its_clickhouse_table() -> None:
    graph = defs.resolve_asset_graph()
    gold = gold_models(project.manifest_path)
    assert len(gold) >= 10
    clickhouse = {key for key in graph.get_all_asset_keys() if key.path[0] == "clickhouse"}
    assert clickhouse == {table_key(table) for table in gold}
    for table, model in gold.items():
        assert graph.get(table_key(table)).parent_keys == {model}
        assert graph.get(model).group_name == "gold"


def test_gold_and_clickhouse_carry_the_freshness_policy(tmp_path: Path) -> None:
    graph = defs.resolve_asset_graph()
    gold = gold_models(project.manifest_path)
    watched = {table_key(table) for table in gold} | set(gold.values())
    for key in graph.get_all_asset_keys():
        policy = graph.get(key).freshness_policy
        assert policy == (FRESHNESS if key in watched else None), key
    assert FRESHNESS.warn_window and FRESHNESS.warn_window.to_timedelta() < (
        FRESHNESS.fail_window.to_timedelta()
    )
    # what evaluates it: the daemon's freshness evaluation, on in the instance `soundlake run`
    # writes
    (tmp_path / "dagster.yaml").write_text(DAGSTER_YAML)
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        assert "FRESHNESS_DAEMON" in instance.get_required_daemon_types()


def layers_above(key: AssetKey) -> set[str]:
    """The groups of every asset upstream of `key`."""
    graph = defs.resolve_asset_graph()
    seen: set[AssetKey] = set()
    todo = [key]
    while todo:
        for parent in graph.get(todo.pop()).parent_keys - seen:
            seen.add(parent)
            todo.append(parent)
    return {str(graph.get(k).group_name) for k in seen}


def test_clickhouse_tables_trace_back_through_every_layer_to_kafka() -> None:
    layers = layers_above(table_key("gold_daily_active_users"))
    assert {"kafka", "bronze", "staging", "silver", "gold"} <= layers


# --- the commit log and the sensor ------------------------------------------------------------


def commit(lake: Path, seq: int, rows: dict[str, int], ingested_at_us: int | None = None) -> None:
    folder = lake / COMMITS
    folder.mkdir(parents=True, exist_ok=True)
    entry: dict[str, object] = {
        "format": 1,
        "seq": seq,
        "writer": "test",
        "nonce": "n",
        "committed_at_ms": 1_700_000_000_000 + seq,
        "ranges": [],
        "files": [
            {"topic": topic, "staged": "", "path": "", "bytes": 1, "rows": n, "spans": []}
            for topic, n in rows.items()
        ],
    }
    if ingested_at_us is not None:
        entry["ingested_at_us"] = ingested_at_us
    (folder / f"{seq:020}.json").write_text(json.dumps(entry))


def test_commit_log_reads_rows_per_topic_after_a_sequence(tmp_path: Path) -> None:
    commit(tmp_path, 0, {"listen_events": 5})
    commit(tmp_path, 1, {"listen_events": 2, "auth_events": 3})
    (tmp_path / COMMITS / "checkpoint-00000000000000000001.json").write_text("{}")
    log = CommitLog(f"file://{tmp_path}", "http://unused")
    assert log.sequences() == [0, 1]
    everything = log.since(None)
    assert (everything.newest_seq, dict(everything.rows)) == (
        1,
        {"listen_events": 7, "auth_events": 3},
    )
    after_first = log.since(0)
    assert dict(after_first.rows) == {"listen_events": 2, "auth_events": 3}
    assert log.since(1).newest_seq == 1 and not log.since(1).rows


def test_commit_log_reads_the_newest_ingestion_stamp(tmp_path: Path) -> None:
    """The newest ``ingested_at_us`` of the entries read (a lander from before the stamp
    writes none; two landers may commit their stamps out of order)."""
    log = CommitLog(f"file://{tmp_path}", "http://unused")
    commit(tmp_path, 0, {"listen_events": 1})
    assert log.since(None).ingested_at_us is None
    commit(tmp_path, 1, {"listen_events": 1}, ingested_at_us=2_000)
    commit(tmp_path, 2, {"listen_events": 1}, ingested_at_us=1_500)
    assert log.since(None).ingested_at_us == 2_000
    assert log.since(1).ingested_at_us == 1_500


def test_commit_log_of_a_lake_without_commits_is_empty(tmp_path: Path) -> None:
    assert CommitLog(f"file://{tmp_path}", "http://unused").since(None).newest_seq is None


def tick(instance: DagsterInstance, cursor: str | None) -> SensorResult | SkipReason:
    context = build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    result = bronze_commits(context)
    assert isinstance(result, SensorResult | SkipReason)
    return result


def test_sensor_launches_the_pipeline_once_per_new_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOUNDLAKE_LAKE_URL", f"file://{tmp_path}")
    with DagsterInstance.ephemeral() as instance:
        assert isinstance(tick(instance, None), SkipReason)
        commit(tmp_path, 0, {"listen_events": 4, "page_view_events": 6})
        first = tick(instance, None)
        assert isinstance(first, SensorResult)
        assert Cursor.parse(first.cursor).seq == 0 and len(first.run_requests or []) == 1
        reported = {e.asset_key: e.metadata["rows_landed"].value for e in first.asset_events}
        assert reported == {bronze_key("listen_events"): 4, bronze_key("page_view_events"): 6}
        assert isinstance(tick(instance, first.cursor), SkipReason)
        assert BRONZE_AS_OF_TAG not in (first.run_requests or [])[0].tags  # an older lander
        commit(tmp_path, 1, {"listen_events": 1}, ingested_at_us=1_764_054_000_000_000)
        second = tick(instance, first.cursor)
        assert isinstance(second, SensorResult) and Cursor.parse(second.cursor).seq == 1
        assert second.run_requests and second.run_requests[0].run_key == "bronze-commit-1"
        # the run reads bronze as of the commit it was launched for
        assert second.run_requests[0].tags[BRONZE_AS_OF_TAG] == "1764054000000000"


def test_sensor_includes_the_checks_once_per_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first run has every asset check; a run within the interval has every asset of the
    job and no check; once the interval has passed, the checks again."""
    monkeypatch.setenv("SOUNDLAKE_LAKE_URL", f"file://{tmp_path}")
    job_assets = PIPELINE_SELECTION.resolve(defs.resolve_asset_graph())
    with DagsterInstance.ephemeral() as instance:
        commit(tmp_path, 0, {"listen_events": 4})
        first = tick(instance, None)
        assert isinstance(first, SensorResult) and first.run_requests
        checked = first.run_requests[0]
        assert checked.tags[CHECKS_TAG] == "all"
        assert checked.asset_selection is None and checked.asset_check_keys is None
        checked_at = Cursor.parse(first.cursor).checked_at
        assert checked_at is not None and abs(time.time() - checked_at) < 60

        commit(tmp_path, 1, {"listen_events": 1})
        second = tick(instance, first.cursor)
        assert isinstance(second, SensorResult) and second.run_requests
        light = second.run_requests[0]
        assert light.tags[CHECKS_TAG] == "none" and light.asset_check_keys == []
        assert set(light.asset_selection or []) == job_assets
        assert Cursor.parse(second.cursor).checked_at == checked_at

        commit(tmp_path, 2, {"listen_events": 1})
        overdue = Cursor(seq=1, checked_at=time.time() - CHECKS_INTERVAL_S - 1).dump()
        third = tick(instance, overdue)
        assert isinstance(third, SensorResult) and third.run_requests
        assert third.run_requests[0].tags[CHECKS_TAG] == "all"
        assert Cursor.parse(third.cursor).checked_at != Cursor.parse(overdue).checked_at


def test_sensor_keeps_the_checks_after_a_checked_run_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing test must fail run after run (and alert): after a checked run failed, the
    next run is checked again however recent the checks, until one succeeds."""
    monkeypatch.setenv("SOUNDLAKE_LAKE_URL", f"file://{tmp_path}")
    recent = Cursor(seq=0, checked_at=time.time()).dump()
    with DagsterInstance.ephemeral() as instance:
        commit(tmp_path, 0, {"listen_events": 4})
        commit(tmp_path, 1, {"listen_events": 1})

        def checks_of_next_run() -> str:
            result = tick(instance, recent)
            assert isinstance(result, SensorResult) and result.run_requests
            return result.run_requests[0].tags[CHECKS_TAG]

        assert checks_of_next_run() == "none"
        for status, expected in [
            (DagsterRunStatus.FAILURE, "all"),
            (DagsterRunStatus.SUCCESS, "none"),
        ]:
            instance.add_run(
                DagsterRun(
                    job_name=PIPELINE_JOB,
                    run_id=str(uuid.uuid4()),
                    status=status,
                    tags={CHECKS_TAG: "all"},
                )
            )
            assert checks_of_next_run() == expected, status


def test_sensor_cursor_of_an_older_sensor_is_a_sequence_number() -> None:
    assert Cursor.parse("7") == Cursor(seq=7, checked_at=None)
    assert Cursor.parse(None) == Cursor()
    assert Cursor.parse(Cursor(seq=3, checked_at=1.5).dump()) == Cursor(seq=3, checked_at=1.5)
    assert Cursor().checks_due(now=10.0, interval_s=900)
    assert not Cursor(seq=1, checked_at=5.0).checks_due(now=10.0, interval_s=900)
    assert Cursor(seq=1, checked_at=5.0).checks_due(now=10.0, interval_s=0)


# --- the dbt step -------------------------------------------------------------------------------


def test_the_dbt_command_follows_the_run_tags() -> None:
    """``build`` with checks, ``run`` without; a pinned run passes its bronze bound as a var;
    a bound that is not epoch microseconds is refused before dbt starts."""
    assert dbt_args({}) == ["build"]
    assert dbt_args({CHECKS_TAG: "all"}) == ["build"]
    assert dbt_args({CHECKS_TAG: "none", BRONZE_AS_OF_TAG: "1764054000000000"}) == [
        "run",
        "--vars",
        '{"bronze_as_of": 1764054000000000}',
    ]
    with pytest.raises(ValueError, match="not a time in epoch microseconds"):
        dbt_args({BRONZE_AS_OF_TAG: "yesterday"})
