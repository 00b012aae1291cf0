"""`soundlake report --out FILE`: reads the gold tables from ClickHouse, writes one HTML file."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from . import page
from .clickhouse import ClickHouse, ClickHouseError
from .sections import SECTIONS, query


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
            problem = (
                f"table {clickhouse.database}.{section.table} does not exist (load the gold "
                "tables with soundlake-loader)"
            )
            figures.append(page.Figure(section.title, section.caption, section.table, "", problem))
            continue
        rows = query(section, clickhouse, days)
        svg = section.draw(rows, section.title)
        figures.append(page.Figure(section.title, section.caption, section.table, svg))
    return figures


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
