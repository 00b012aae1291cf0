"""`soundlake report`: gold-shaped tables with data in a unique ClickHouse database, the report
rendered from them, then opened in headless Chromium (Debian's): the screenshot must not be blank
and every chart of the page must draw marks."""

from __future__ import annotations

import re
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

from conftest import ClickHouseDb
from ops_support import CHROMIUM_FLAGS, chromium, create_gold_tables

ROOT = Path(__file__).resolve().parents[1]
SOUNDLAKE = ROOT / "scripts" / "soundlake"
# chromium must not reach out: no DNS, no proxy that answers, no background services
REPORT_FLAGS = [*CHROMIUM_FLAGS, "--hide-scrollbars", "--host-resolver-rules=MAP * ~NOTFOUND"]


def report(db: ClickHouseDb, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SOUNDLAKE), "report", "--out", str(out), "--clickhouse-url", db.url,
         "--database", db.name, "--days", "30"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


class Charts(HTMLParser):
    """Counts the elements of class `mark` inside each <figure class="chart">."""

    def __init__(self) -> None:
        super().__init__()
        self.marks: dict[str, int] = {}
        self.current: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "figure" and "chart" in classes:
            self.current = a.get("id") or f"figure-{len(self.marks)}"
            self.marks[self.current] = 0
        elif "mark" in classes and self.current is not None:
            self.marks[self.current] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self.current = None


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and rows of RGB(A) bytes of an 8-bit PNG (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6), f"unexpected PNG format {depth}/{color}"
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, rows = zlib.decompress(idat), width * channels, []
    previous = bytearray(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up, up_left = previous[x], previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                line[x] = (line[x] + predictor) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, [r[: width * channels] if channels == 3 else
                           bytes(b for i, b in enumerate(r) if i % 4 != 3) for r in rows]  # fmt: skip


def test_report_renders_every_gold_chart_in_chromium(
    clickhouse_db: ClickHouseDb, tmp_path: Path
) -> None:
    create_gold_tables(clickhouse_db, rows_per_day=24)
    out = tmp_path / "report.html"
    result = report(clickhouse_db, out)
    assert result.returncode == 0, result.stderr
    assert "23 of 23 charts with data" in result.stderr
    html = out.read_text()
    # self-contained: nothing to fetch (the SVG namespace is a name, not a request)
    assert not re.search(r"<script|<link|<img|<iframe|\bsrc=|\bhref=|url\(|@import", html)

    browser = chromium()
    dom = subprocess.run(
        [browser, *REPORT_FLAGS, "--dump-dom", out.as_uri()],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    charts = Charts()
    charts.feed(dom)
    assert len(charts.marks) == 23, charts.marks
    assert all(n > 0 for n in charts.marks.values()), f"charts without marks: {charts.marks}"

    shot = tmp_path / "report.png"
    subprocess.run(
        [browser, *REPORT_FLAGS, f"--screenshot={shot}", "--window-size=1400,3000", out.as_uri()],
        capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    width, height, rows = png_pixels(shot)
    assert (width, height) == (1400, 3000)
    colors = {row[x : x + 3] for row in rows[::10] for x in range(0, len(row), 30)}
    not_white = sum(
        1 for row in rows[::10] for x in range(0, len(row), 30) if row[x : x + 3] != b"\xff\xff\xff"
    )
    sampled = len(rows[::10]) * len(range(0, len(rows[0]), 30))
    assert len(colors) > 20, f"the screenshot has {len(colors)} colours: blank?"
    assert not_white > sampled // 4, "the screenshot is mostly white"


def test_report_without_data_says_so_per_chart(clickhouse_db: ClickHouseDb, tmp_path: Path) -> None:
    create_gold_tables(clickhouse_db, rows_per_day=0)
    clickhouse_db.query("DROP TABLE gold_churn")
    out = tmp_path / "empty.html"
    result = report(clickhouse_db, out)
    assert result.returncode == 0, result.stderr
    assert "0 of 23 charts with data" in result.stderr
    html = out.read_text()
    # an empty gold table (a report with no rows yet, loaded empty): no data yet, no advice
    assert html.count("No data yet: ") == 22, html
    assert f"No data yet: {clickhouse_db.name}.gold_top_songs is loaded but has no rows" in html
    assert "does not exist" not in html.replace("gold_churn does not exist", "")
    # a table that really is missing, in a database the loader never loaded: says so
    assert (
        f"table {clickhouse_db.name}.gold_churn does not exist: soundlake-loader has not loaded "
        "this database yet (run soundlake-loader)"
    ) in html


LOAD_LOG_DDL = (
    "CREATE TABLE _load_log (`table` String, `mode` String, `status` String, `rows` UInt64, "
    "`finished` String, `seq` UInt64, `error` String) ENGINE = MergeTree ORDER BY (`table`, seq)"
)


def test_report_says_why_a_gold_table_is_missing(
    clickhouse_db: ClickHouseDb, tmp_path: Path
) -> None:
    create_gold_tables(clickhouse_db, rows_per_day=2)
    for table in ("gold_churn", "gold_device_mix", "gold_top_songs"):
        clickhouse_db.query(f"DROP TABLE {table}")
    clickhouse_db.query(LOAD_LOG_DDL)
    clickhouse_db.query(
        "INSERT INTO _load_log FORMAT JSONEachRow",
        b'{"table": "gold_churn", "mode": "full", "status": "failed", "finished": '
        b'"2026-11-20 10:00:00", "seq": 2, "error": "ClickHouse at x: boom"}\n'
        b'{"table": "gold_churn", "mode": "full", "status": "success", "finished": '
        b'"2026-11-19 10:00:00", "seq": 1, "error": ""}\n'
        b'{"table": "gold_top_songs", "mode": "full", "status": "success", "finished": '
        b'"2026-11-19 10:00:00", "seq": 1, "error": ""}\n',
    )
    out = tmp_path / "missing.html"
    result = report(clickhouse_db, out)
    assert result.returncode == 0, result.stderr
    html = out.read_text()
    name = clickhouse_db.name
    assert (
        f"table {name}.gold_churn does not exist: its load failed at 2026-11-20 10:00:00 UTC: "
        "ClickHouse at x: boom"
    ) in html
    assert (
        f"table {name}.gold_device_mix does not exist: soundlake-loader found no gold table "
        "gold_device_mix on the lake (build its dbt model"
    ) in html
    assert f"table {name}.gold_top_songs does not exist although soundlake-loader loaded it" in html
    assert "No data yet" not in html


def test_report_fails_clearly_when_clickhouse_is_away(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(SOUNDLAKE), "report", "--out", str(tmp_path / "r.html"),
         "--clickhouse-url", "http://127.0.0.1:9"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "cannot reach ClickHouse at http://127.0.0.1:9" in result.stderr
    assert not (tmp_path / "r.html").exists()
