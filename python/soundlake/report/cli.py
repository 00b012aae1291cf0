"""`soundlake report --out FILE`: reads the gold tables from ClickHouse, writes one HTML file."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from soundlake.clickhouse import ClickHouse, ClickHouseError

from . import page
from .sections import SECTIONS, is_empty, last_load, query

LOAD_LOG = "_load_log"  # soundlake-loader's log of every table load (rust-loader/README.md)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="soundlake report",
        description=(
            "Write a self-contained HTML report (inline SVG charts, no network needed to view "
            "it) of Soundlake's gold reports, read from ClickHouse."
        ),
    )
    p.add_argument("--out", required=True, type=Path, help="the HTML file to write")
    p.add_argument(
        "--clickhouse-url",
        default=os.environ.get("SOUNDLAKE_CLICKHOUSE_URL", "http://127.0.0.1:8123"),
        help="ClickHouse's HTTP interface [env SOUNDLAKE_CLICKHOUSE_URL; default %(default)s]",
    )
    p.add_argument(
        "--database",
        default=os.environ.get("SOUNDLAKE_CLICKHOUSE_DATABASE", "soundlake"),
        help="the database of the gold tables [env SOUNDLAKE_CLICKHOUSE_DATABASE; "
        "default %(default)s]",
    )
    p.add_argument(
        "--user",
        default=os.environ.get("SOUNDLAKE_CLICKHOUSE_USER", "default"),
        help="ClickHouse user [env SOUNDLAKE_CLICKHOUSE_USER; default %(default)s]; the "
        "password comes from SOUNDLAKE_CLICKHOUSE_PASSWORD or SOUNDLAKE_CLICKHOUSE_PASSWORD_FILE",
    )
    p.add_argument(
        "--days", type=int, default=30,
        help="days of data per chart, up to each table's latest day [default %(default)s]",
    )  # fmt: skip
    return p


def password() -> str:
    file_name = os.environ.get("SOUNDLAKE_CLICKHOUSE_PASSWORD_FILE", "")
    if file_name:
        return Path(file_name).read_text().strip()
    return os.environ.get("SOUNDLAKE_CLICKHOUSE_PASSWORD", "")


def build(clickhouse: ClickHouse, days: int) -> list[page.Figure]:
    tables = clickhouse.tables()
    figures = []
    for n, section in enumerate(SECTIONS, 1):
        print(f"[{n}/{len(SECTIONS)}] {section.title} ({section.table})", file=sys.stderr)
        if section.table not in tables:
            problem = missing_table(clickhouse, section.table, LOAD_LOG in tables)
            figures.append(page.Figure(section.title, section.caption, section.table, "", problem))
            continue
        rows = query(section, clickhouse, days)
        svg = section.draw(rows, section.title)
        note = ""
        if not svg and is_empty(clickhouse, section.table):
            note = (
                f"no data yet: {clickhouse.database}.{section.table} is loaded but has no rows "
                "(the report has counted nothing so far)"
            )
        figures.append(page.Figure(section.title, section.caption, section.table, svg, note=note))
    return figures


def missing_table(clickhouse: ClickHouse, table: str, log_exists: bool) -> str:
    """Why `table` is not in ClickHouse, as far as soundlake-loader's load log tells."""
    name = f"{clickhouse.database}.{table}"
    if not log_exists:
        return (
            f"table {name} does not exist: soundlake-loader has not loaded this database yet "
            "(run soundlake-loader)"
        )
    last = last_load(clickhouse, LOAD_LOG, table)
    if last is None:
        return (
            f"table {name} does not exist: soundlake-loader found no gold table {table} on the "
            f"lake (build its dbt model: soundlake-dbt build --select {table}; then run "
            "soundlake-loader)"
        )
    if last["status"] != "success":
        return f"table {name} does not exist: its load failed at {last['finished']} UTC: {last['error']}"
    return (
        f"table {name} does not exist although soundlake-loader loaded it at "
        f"{last['finished']} UTC: it was dropped since (run soundlake-loader to load it again)"
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.days < 1:
        parser().error("--days must be at least 1")
    clickhouse = ClickHouse(args.clickhouse_url, args.database, args.user, password())
    try:
        figures = build(clickhouse, args.days)
    except ClickHouseError as err:
        print(f"soundlake report: {err}", file=sys.stderr)
        return 1
    html = page.render(
        figures,
        source=f"ClickHouse {args.clickhouse_url}, database {args.database}",
        days=args.days,
        generated=datetime.now(UTC),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(html, encoding="utf-8")
    empty = [f.title for f in figures if not f.svg]
    print(
        f"wrote {args.out} ({len(figures) - len(empty)} of {len(figures)} charts with data"
        + (f"; without: {', '.join(empty)}" if empty else "")
        + ")",
        file=sys.stderr,
    )
    return 0
