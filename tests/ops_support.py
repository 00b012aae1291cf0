"""Helpers of the ops tests: the project's Rust binaries run as real processes with Prometheus
file_sd targets (removed again by `Started.stop`), and gold-shaped ClickHouse tables with data."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ClickHouseDb, ServiceError, cargo_binaries, http_request

ROOT = Path(__file__).resolve().parents[1]
TARGETS_DIR = ROOT / ".stack" / "conf" / "prometheus" / "targets"
EVENTSIM_CONFIG = ROOT / "eventsim" / "configs" / "eventsim-config-example.json"
GOLD_YAML = ROOT / "dbt_spark" / "models" / "gold" / "_gold__models.yml"
# headless Chromium (Debian's) for the tests that open a page: it must not reach out, so no
# background services and a proxy on a closed port (each test adds its own flags)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--proxy-server=http://127.0.0.1:9",
]
CLICKHOUSE_TYPES = {
    "date": "Date",
    "timestamp": "DateTime",
    "bigint": "Int64",
    "int": "Int32",
    "double": "Float64",
    "string": "String",
}
# tables with one row per day, or per day and level (free, paid)
ROWS_PER_DAY = {
    "gold_daily_active_users": 1,
    "gold_conversion_free_to_paid": 1,
    "gold_new_user_first_week": 1,
    "gold_free_vs_paid": 2,
    "gold_churn": 2,
    "gold_session_duration": 2,
    "gold_skipping_sessions": 2,
}
DAYS = [date(2026, 11, 1) + timedelta(days=i) for i in range(14)]


def rust_binaries() -> Path:
    """Builds eventsim and soundlake-ingest (a no-op when up to date); returns their folder."""
    return cargo_binaries("eventsim", "soundlake-ingest")


def chromium() -> str:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("Debian's chromium is not installed: run scripts/setup", pytrace=False)
    return binary


class Started:
    """Processes and files this test made, removed in reverse order."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []
        self.files: list[Path] = []

    def run(self, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        self.processes.append(proc)
        return proc

    def target(self, name: str, port: int, labels: dict[str, str]) -> None:
        path = TARGETS_DIR / f"{name}.yml"
        path.write_text(json.dumps([{"targets": [f"127.0.0.1:{port}"], "labels": labels}]))
        self.files.append(path)

    def stop(self) -> None:
        for path in self.files:
            path.unlink(missing_ok=True)
        for proc in reversed(self.processes):
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def answers(port: int) -> bool:
    try:
        http_request(f"http://127.0.0.1:{port}/metrics", timeout=2)
    except ServiceError:  # not up yet
        return False
    return True


# --- gold-shaped ClickHouse tables (the contract: dbt_spark/models/gold/*.yml) ----------------


def gold_models() -> dict[str, list[tuple[str, str]]]:
    """Gold table -> [(column, dbt data_type)] from the dbt project's YAML (the contract)."""
    models = yaml.safe_load(GOLD_YAML.read_text())["models"]
    return {m["name"]: [(c["name"], c["data_type"]) for c in m["columns"]] for m in models}


def value(column: str, data_type: str, day: date, rng: random.Random, i: int) -> Any:
    """A plausible value of a gold column (categories cycle so that every group has rows)."""
    categories = {
        "level": ["free", "paid"],
        "device_type": ["desktop", "mobile", "tablet"],
        "browser": ["Chrome", "Firefox", "Safari"],
        "method": ["GET", "PUT"],
        "page": ["NextSong", "Home", "Settings"],
        "weekday_name": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    }
    if column in categories:
        return categories[column][i % len(categories[column])]
    if column in ("song_key", "artist_key", "song", "artist", "city", "state", "os"):
        return f"{column}-{i % 12}"
    if column == "status":
        return [404, 500, 503][i % 3]
    if column == "hour":
        return i % 24
    if column == "weekday":
        return i % 7 + 1
    if column in ("week_number", "rank", "days_observed"):
        return i % 6
    if data_type == "date":
        return day.isoformat()
    if data_type == "timestamp":
        return f"{day.isoformat()} 12:00:00"
    if data_type in ("bigint", "int"):
        return rng.randint(1, 5000)
    if data_type == "double":
        return round(rng.uniform(0.01, 0.9) if "rate" in column or "share" in column
                     else rng.uniform(1, 4000), 4)  # fmt: skip
    return f"{column}-{i}"


def create_gold_tables(db: ClickHouseDb, rows_per_day: int) -> None:
    rng = random.Random(8)  # noqa: S311 - test data, not secrets
    for table, columns in gold_models().items():
        # as soundlake-loader creates them: Spark writes every column nullable but the
        # partition column (rust-loader/README.md, the type mapping)
        ddl = ", ".join(
            f"`{c}` {CLICKHOUSE_TYPES[t] if c == 'event_date' else f'Nullable({CLICKHOUSE_TYPES[t]})'}"
            for c, t in columns
        )
        db.query(f"CREATE TABLE {table} ({ddl}) ENGINE = MergeTree ORDER BY tuple()")
        if rows_per_day == 0:
            continue
        per_day = min(rows_per_day, ROWS_PER_DAY.get(table, rows_per_day))
        lines = [
            json.dumps({c: value(c, t, day, rng, i) for c, t in columns})
            for day in DAYS
            for i in range(per_day)
        ]
        db.query(f"INSERT INTO {table} FORMAT JSONEachRow", "\n".join(lines).encode())
