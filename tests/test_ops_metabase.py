"""Metabase's business dashboards as code (ops/metabase/).

Metabase cannot run here: it is published as a Docker image and a jar on its own site, not on
any registry this machine reaches (Maven Central, npm, PyPI, Debian). So the provisioning
command is not run against a Metabase; what can be checked honestly is: the spec refers to the
gold tables and columns of the dbt project, every question's SQL runs on ClickHouse over
gold-shaped tables and returns rows, every dashboard's cards exist and do not overlap, and the
command's own checks and dry run work.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import ClickHouseDb
from ops_support import create_gold_tables, gold_models

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "ops" / "metabase" / "dashboards.json"
SOUNDLAKE = ROOT / "scripts" / "soundlake"


def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SPEC.read_text())
    return loaded


def test_questions_refer_to_gold_tables_and_columns() -> None:
    models = gold_models()
    covered = set()
    for question in spec()["questions"]:
        table = question["table"]
        assert table in models, f"{question['name']}: no gold model {table}"
        columns = {c for c, _ in models[table]}
        assert set(question["columns"]) <= columns, (
            question["name"],
            set(question["columns"]) - columns,
        )
        sql = question["sql"]
        assert re.findall(r"\bFROM (gold_\w+)", sql) and set(
            re.findall(r"\bFROM (gold_\w+)", sql)
        ) == {table}
        for column in question["columns"]:
            assert re.search(rf"\b{column}\b", sql), f"{question['name']}: {column} not in its SQL"
        covered.add(table)
    assert covered == set(models), f"gold tables without a question: {set(models) - covered}"


def test_dashboards_use_every_question_once_without_overlap() -> None:
    names = {q["name"] for q in spec()["questions"]}
    used: list[str] = []
    for dashboard in spec()["dashboards"]:
        cells: set[tuple[int, int]] = set()
        for card in dashboard["cards"]:
            assert card["question"] in names
            assert card["col"] >= 0 and card["col"] + card["size_x"] <= 24
            area = {(card["row"] + r, card["col"] + c)
                    for r in range(card["size_y"]) for c in range(card["size_x"])}  # fmt: skip
            assert not cells & area, f"{dashboard['name']}: {card['question']} overlaps"
            cells |= area
        used += [c["question"] for c in dashboard["cards"]]
    assert sorted(used) == sorted(names)


def test_every_question_runs_on_clickhouse(clickhouse_db: ClickHouseDb) -> None:
    create_gold_tables(clickhouse_db, rows_per_day=24)
    for question in spec()["questions"]:
        rows = clickhouse_db.query_json(question["sql"])
        assert rows, f"{question['name']} returned no rows"


def test_every_question_answers_no_rows_on_empty_gold_tables(clickhouse_db: ClickHouseDb) -> None:
    # a gold report without rows yet is loaded as an empty table: its questions run and answer
    # nothing (Metabase: "No results", which each question's description explains)
    create_gold_tables(clickhouse_db, rows_per_day=0)
    for question in spec()["questions"]:
        assert clickhouse_db.query_json(question["sql"]) == [], question["name"]


def test_provision_dry_run_and_help() -> None:
    dry = subprocess.run([str(SOUNDLAKE), "metabase-provision", "--dry-run"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert dry.stdout.count("question ") == len(spec()["questions"])
    assert dry.stdout.count("No results = no data yet") == len(spec()["questions"])
    assert dry.stdout.count("dashboard ") == len(spec()["dashboards"])
    help_text = subprocess.run([str(SOUNDLAKE), "metabase-provision", "--help"],
                               capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "idempotent" in help_text


def test_provision_refuses_a_spec_with_unknown_questions(tmp_path: Path) -> None:
    broken = spec()
    broken["dashboards"][0]["cards"][0]["question"] = "No such question"
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(broken))
    result = subprocess.run([str(SOUNDLAKE), "metabase-provision", "--dry-run", "--spec", str(path)],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 1
    assert "unknown questions {'No such question'}" in result.stderr


def test_provision_needs_the_admin_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOUNDLAKE_METABASE_ADMIN_PASSWORD", raising=False)
    result = subprocess.run([str(SOUNDLAKE), "metabase-provision", "--url", "http://127.0.0.1:9"],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 1
    assert "no admin password: give --admin-password-file" in result.stderr
