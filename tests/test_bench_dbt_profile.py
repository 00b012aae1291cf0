"""scripts/bench-dbt's profile of a dbt build (python/benchmarks/dbt_profile.py), on a dbt JSON
log written here: statements paired with their status, summed per node and kind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def event(name: str, thread: str, **data: object) -> str:
    return json.dumps({"info": {"name": name, "thread": thread, "msg": ""}, "data": data})


def test_statements_are_summed_per_node_and_kind(tmp_path: Path) -> None:
    model = "model.soundlake.fact_page_views"
    test = "test.soundlake.not_null_columns_fact_page_views.abc123"
    lines = [
        event("SQLQuery", "t1", conn_name=model,
              sql="/* {} */ select cast(max(_ingested_at) as string) from s.fact_page_views"),
        event("SQLQueryStatus", "t1", elapsed=0.5, status="OK"),
        event("SQLQuery", "t1", conn_name=model,
              sql="insert overwrite table s.fact_page_views partition (event_date) select 1"),
        event("SQLQueryStatus", "t1", elapsed=4.0, status="OK"),
        event("NodeFinished", "t1", node_info={"unique_id": model, "node_name": "fact_page_views"},
              run_result={"execution_time": 5.0}),
        event("SQLQuery", "t2", conn_name=test, sql="select count(*) from x"),
        event("SQLQueryStatus", "t2", elapsed=1.0, status="OK"),
        event("NodeFinished", "t2", node_info={"unique_id": test, "node_name": "not_null"},
              run_result={"execution_time": 1.0}),
        event("SQLQuery", "t0", conn_name="master", sql="show table extended in s like '*'"),
        event("SQLQueryStatus", "t0", elapsed=2.0, status="OK"),
        "not json",
    ]  # fmt: skip
    log = tmp_path / "dbt.log"
    log.write_text("\n".join(lines))
    out = tmp_path / "profile.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.dbt_profile", str(log), "--json", str(out)],
        cwd=ROOT / "python", capture_output=True, text=True, check=True,
    )  # fmt: skip
    nodes = json.loads(out.read_text())
    assert nodes[model] == {"seconds": 5.0, "watermark": 0.5, "work": 4.0, "dbt": 0.5}
    assert nodes[test] == {"seconds": 1.0, "work": 1.0}
    assert nodes["master"] == {"seconds": 2.0, "introspection": 2.0}
    assert "tests' share of the build: 12%" in result.stdout  # 1 of 8 seconds


def test_a_log_without_statements_is_an_error(tmp_path: Path) -> None:
    log = tmp_path / "dbt.log"
    log.write_text("plain text log\n")
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.dbt_profile", str(log)],
        cwd=ROOT / "python", capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--log-format-file json" in result.stderr
