"""The HTML page: one <figure class="chart"> per section, styles inline, no script, no links out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; background: #f1f5f9; color: #0f172a; }
header { background: #0f172a; color: #f8fafc; padding: 20px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #cbd5e1; font-size: 13px; }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(600px, 1fr)); gap: 16px;
       padding: 16px 32px 32px; }
figure.chart { background: #fff; margin: 0; padding: 14px 16px; border-radius: 8px;
               box-shadow: 0 1px 2px rgba(15, 23, 42, .08); }
figure.chart h2 { font-size: 15px; margin: 0 0 2px; }
figure.chart p { font-size: 12px; color: #475569; margin: 0 0 8px; }
figure.chart .empty { color: #b91c1c; font-size: 13px; padding: 24px 0; }
figure.chart .empty.yet { color: #475569; }
figcaption { font-size: 11px; color: #64748b; margin-top: 4px; }
"""


@dataclass(frozen=True)
class Figure:
    title: str
    caption: str
    table: str
    svg: str  # "" when the table had no rows for the period
    problem: str = ""  # why there is no chart (missing table, failed query)
    note: str = ""  # why there is no chart when nothing is wrong (an empty table: no data yet)


def render(figures: Sequence[Figure], *, source: str, days: int, generated: datetime) -> str:
    charts = []
    for i, f in enumerate(figures):
        if f.svg:
            content = f.svg
        elif f.problem:
            content = f'<div class="empty">No data: {escape(f.problem)}</div>'
        elif f.note:
            content = f'<div class="empty yet">{escape(f.note[:1].upper() + f.note[1:])}</div>'
        else:
            content = '<div class="empty yet">No data: no rows for this period</div>'
        charts.append(
            f'<figure class="chart" id="chart-{i + 1}" data-table="{escape(f.table)}">'
            f"<h2>{escape(f.title)}</h2><p>{escape(f.caption)}</p>{content}"
            f"<figcaption>{escape(f.table)}</figcaption></figure>"
        )
    stamp = generated.strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Soundlake report</title>"
        f"<style>{STYLE}</style></head><body>"
        "<header><h1>Soundlake report</h1>"
        f"<p>Gold reports of the last {days} days of data, from {escape(source)} — generated "
        f"{stamp}</p></header>"
        f"<main>{''.join(charts)}</main></body></html>\n"
    )
