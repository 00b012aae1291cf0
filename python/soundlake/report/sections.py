"""What the report shows: one section per gold table (dbt_spark/models/gold/), each a chart drawn
from one SELECT over the last `days` days of that table (up to its latest event_date)."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from soundlake.clickhouse import ClickHouse
from soundlake.metabase import SPEC, load_spec

from . import charts
from .charts import Series

Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class Section:
    table: str
    title: str
    caption: str
    sql: str  # {table} and {window}: `event_date >= <latest day> - (days - 1)`
    draw: Callable[[Rows, str], str]  # rows, label -> SVG ("" when there is nothing to draw)


def window(table: str, days: int) -> str:
    """SQL of the last `days` days of `table` (a checked database name + a constant table)."""
    return f"event_date >= (SELECT max(event_date) FROM {table}) - {int(days) - 1}"  # noqa: S608


def lines(
    x: str, series: dict[str, str], fmt: charts.Format = charts.number
) -> Callable[[Rows, str], str]:
    """One line per column named in `series` (column -> legend)."""

    def draw(rows: Rows, label: str) -> str:
        return charts.line_chart(
            [
                Series(
                    legend, [(str(r[x]), float(r[column])) for r in rows if r[column] is not None]
                )
                for column, legend in series.items()
            ],
            label,
            fmt,
        )

    return draw


def lines_by(
    x: str, key: str, value: str, fmt: charts.Format = charts.number
) -> Callable[[Rows, str], str]:
    """One line per distinct value of column `key`."""

    def draw(rows: Rows, label: str) -> str:
        grouped: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for r in rows:
            if r[value] is not None:
                grouped[str(r[key])].append((str(r[x]), float(r[value])))
        return charts.line_chart([Series(k, v) for k, v in sorted(grouped.items())], label, fmt)

    return draw


def bars(name: str, value: str, fmt: charts.Format = charts.number) -> Callable[[Rows, str], str]:
    def draw(rows: Rows, label: str) -> str:
        return charts.bar_chart([(str(r[name]), float(r[value])) for r in rows], label, fmt)

    return draw


@functools.cache
def metabase_segments(question: str) -> tuple[charts.Segment, ...]:
    """The gauge bands of a question of the Metabase spec (ops/metabase/dashboards.json), so
    that the report's gauge reads as the dashboard's; none when it has no such question. Read
    once per question and process, not once per dial drawn."""
    for q in load_spec(SPEC)["questions"]:
        if q["name"] == question:
            bands = q.get("visualization_settings", {}).get("gauge.segments", [])
            return tuple(
                charts.Segment(float(b["min"]), float(b["max"]), str(b["color"]), str(b["label"]))
                for b in bands
            )
    return ()


def dials(name: str, value: str, question: str) -> Callable[[Rows, str], str]:
    """One gauge per row, on the bands of the Metabase question `question` (with {name}: the
    row's `name`)."""

    def draw(rows: Rows, label: str) -> str:
        return charts.gauges(
            [
                charts.Dial(
                    str(r[name]),
                    float(r[value]),
                    metabase_segments(question.format(name=r[name])),
                )
                for r in rows
                if r[value] is not None
            ],
            label,
        )

    return draw


def donut(name: str, value: str, fmt: charts.Format = charts.number) -> Callable[[Rows, str], str]:
    def draw(rows: Rows, label: str) -> str:
        return charts.donut([(str(r[name]), float(r[value])) for r in rows], label, fmt)

    return draw


def grid(
    row: str, column: str, value: str, fmt: charts.Format = charts.number
) -> Callable[[Rows, str], str]:
    def draw(rows: Rows, label: str) -> str:
        row_names = list(dict.fromkeys(str(r[row]) for r in rows))
        columns = sorted({r[column] for r in rows})
        cells = {(str(r[row]), str(r[column])): float(r[value]) for r in rows}
        return charts.heatmap(row_names, [str(c) for c in columns], cells, label, fmt)

    return draw


SECTIONS: tuple[Section, ...] = (
    Section(
        "gold_daily_active_users",
        "Daily active users",
        "Logged-in users with at least one event, by their level at the day's last event.",
        "SELECT toString(event_date) AS day, active_users, paid_active_users, free_active_users "
        "FROM {table} WHERE {window} ORDER BY day",
        lines(
            "day", {"active_users": "all", "paid_active_users": "paid", "free_active_users": "free"}
        ),
    ),
    Section(
        "gold_daily_active_users",
        "Listening time per active user",
        "Minutes of music played per active user and day.",
        "SELECT toString(event_date) AS day, listening_seconds_per_user "
        "FROM {table} WHERE {window} ORDER BY day",
        lines("day", {"listening_seconds_per_user": "per user"}, charts.minutes),
    ),
    Section(
        "gold_top_songs",
        "Top songs",
        "Plays over the period, the 10 most played songs.",
        "SELECT concat(any(song), ' — ', any(artist)) AS name, sum(play_count) AS plays "
        "FROM {table} WHERE {window} GROUP BY song_key ORDER BY plays DESC, song_key LIMIT 10",
        bars("name", "plays"),
    ),
    Section(
        "gold_top_artists",
        "Top artists",
        "Plays over the period, the 10 most played artists.",
        "SELECT any(artist) AS name, sum(play_count) AS plays FROM {table} WHERE {window} "
        "GROUP BY artist_key ORDER BY plays DESC, artist_key LIMIT 10",
        bars("name", "plays"),
    ),
    Section(
        "gold_city_activity",
        "Most active cities",
        "Page views over the period, the 12 busiest cities.",
        "SELECT concat(city, ', ', state) AS name, sum(page_views) AS views FROM {table} "
        "WHERE {window} GROUP BY city, state ORDER BY views DESC, name LIMIT 12",
        bars("name", "views"),
    ),
    Section(
        "gold_free_vs_paid",
        "Free vs paid: songs per active user",
        "Songs played per active user and day, by subscription level.",
        "SELECT toString(event_date) AS day, level, listens_per_user FROM {table} "
        "WHERE {window} ORDER BY day, level",
        lines_by("day", "level", "listens_per_user"),
    ),
    Section(
        "gold_conversion_free_to_paid",
        "Free → paid conversion",
        "Share of the day's active free users who upgraded that day.",
        "SELECT toString(event_date) AS day, conversion_rate FROM {table} "
        "WHERE {window} AND conversion_rate IS NOT NULL ORDER BY day",
        lines("day", {"conversion_rate": "conversion"}, charts.percent),
    ),
    Section(
        "gold_churn",
        "Churn: cancellations per day",
        "Cancellation Confirmation events, by the level the user had.",
        "SELECT toString(event_date) AS day, level, sum(cancellations) AS cancellations "
        "FROM {table} WHERE {window} GROUP BY day, level ORDER BY day, level",
        lines_by("day", "level", "cancellations"),
    ),
    Section(
        "gold_session_duration",
        "Average session duration",
        "Mean time from a session's first to its last event, by level.",
        "SELECT toString(event_date) AS day, level, avg_duration_seconds FROM {table} "
        "WHERE {window} ORDER BY day, level",
        lines_by("day", "level", "avg_duration_seconds", charts.minutes),
    ),
    Section(
        "gold_skipping_sessions",
        "Songs skipped",
        "Share of the songs that were skipped (the next song started early), by level.",
        "SELECT toString(event_date) AS day, level, skip_rate FROM {table} "
        "WHERE {window} ORDER BY day, level",
        lines_by("day", "level", "skip_rate", charts.percent),
    ),
    Section(
        "gold_error_status_by_page",
        "Errors by page and status",
        "Error responses over the period, the 10 most frequent page/method/status.",
        "SELECT concat(page, ' ', method, ' ', toString(status)) AS name, sum(errors) AS n "
        "FROM {table} WHERE {window} GROUP BY page, method, status ORDER BY n DESC, name LIMIT 10",
        bars("name", "n"),
    ),
    Section(
        "gold_listening_by_weekday_hour",
        "Listening by weekday and hour (UTC)",
        "Songs played over the period, per weekday and hour of day.",
        "SELECT weekday, any(weekday_name) AS day, hour, sum(listen_events) AS plays "
        "FROM {table} WHERE {window} GROUP BY weekday, hour ORDER BY weekday, hour",
        grid("day", "hour", "plays"),
    ),
    Section(
        "gold_new_user_first_week",
        "New users and their first week",
        "Users registered each day, and the mean days (of 7) they came back.",
        "SELECT toString(event_date) AS day, new_users, avg_active_days FROM {table} "
        "WHERE {window} ORDER BY day",
        lines("day", {"new_users": "new users", "avg_active_days": "active days of 7"}),
    ),
    Section(
        "gold_device_mix",
        "Devices and browsers",
        "Page views over the period, by device type and browser.",
        "SELECT concat(device_type, ' / ', browser) AS name, sum(page_views) AS views "
        "FROM {table} WHERE {window} GROUP BY device_type, browser ORDER BY views DESC, name LIMIT 10",
        bars("name", "views"),
    ),
    Section(
        "gold_retention_cohorts",
        "Weekly retention by registration cohort",
        "Share of each week's new users still active N weeks later.",
        "SELECT toString(event_date) AS cohort, week_number, retention_rate FROM {table} "
        "WHERE {window} ORDER BY cohort, week_number",
        grid("cohort", "week_number", "retention_rate", charts.percent),
    ),
    # the original platform's "General" and "System Health Check" dashboards, panel for panel
    Section(
        "gold_user_sessions",
        "Skips per minute, free and paid users",
        "Mean skipped songs per minute of the period's sessions with songs, by level.",
        "SELECT level, avg(skips_per_minute) AS skips_per_minute FROM {table} "
        "WHERE {window} AND songs > 0 GROUP BY level ORDER BY level",
        dials("level", "skips_per_minute", "Skips per minute, {name} users"),
    ),
    Section(
        "gold_user_daily",
        "Paid vs free users",
        "Active users of the latest day, by their level at the day's last event.",
        "SELECT level, uniqExact(user_id) AS users FROM {table} "
        "WHERE event_date = (SELECT max(event_date) FROM {table}) GROUP BY level ORDER BY level",
        donut("level", "users"),
    ),
    Section(
        "gold_user_daily",
        "Average listening time per weekday",
        "Mean listening time of an active user on each weekday of the period.",
        "SELECT toDayOfWeek(event_date) AS weekday, "
        "['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'][weekday] AS day, "
        "avg(listening_seconds) AS seconds FROM {table} WHERE {window} "
        "GROUP BY weekday, day ORDER BY weekday",
        bars("day", "seconds", charts.minutes),
    ),
    Section(
        "gold_user_daily",
        "Daily user song count by week",
        "Songs an active user played per day, mean and median, by week.",
        "SELECT toString(toMonday(event_date)) AS week, avg(songs) AS mean_songs, "
        "quantileExact(0.5)(songs) AS median_songs FROM {table} WHERE {window} "
        "GROUP BY week ORDER BY week",
        lines("week", {"mean_songs": "mean", "median_songs": "median"}),
    ),
    Section(
        "gold_city_activity",
        "City active users by state",
        "Active users of the latest day summed over each state's cities, the 12 busiest states.",
        "SELECT state, sum(active_users) AS users FROM {table} "
        "WHERE event_date = (SELECT max(event_date) FROM {table}) "
        "GROUP BY state ORDER BY users DESC, state LIMIT 12",
        bars("state", "users"),
    ),
    Section(
        "gold_song_plays",
        "Top 5 artists, all time",
        "Plays of every day loaded, the 5 most played artists.",
        "SELECT any(artist) AS name, sum(play_count) AS plays FROM {table} "
        "GROUP BY splitByChar('|', assumeNotNull(song_key))[1] AS artist_key "
        "ORDER BY plays DESC, artist_key LIMIT 5",
        bars("name", "plays"),
    ),
    Section(
        "gold_user_daily",
        "Weekday statistics",
        "Mean songs played per day on each weekday of the period (all active users).",
        "SELECT toDayOfWeek(event_date) AS weekday, "
        "['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'][weekday] AS day, "
        "sum(songs) / uniqExact(event_date) AS songs FROM {table} WHERE {window} "
        "GROUP BY weekday, day ORDER BY weekday",
        bars("day", "songs"),
    ),
    Section(
        "gold_status_codes",
        "Error status codes by week and status category",
        "Error responses (status 400 and above) per week, by status category.",
        "SELECT toString(toMonday(event_date)) AS week, status_category, sum(events) AS errors "
        "FROM {table} WHERE {window} AND status >= 400 "
        "GROUP BY week, status_category ORDER BY week, status_category",
        grid("week", "status_category", "errors"),
    ),
)


def query(section: Section, clickhouse: ClickHouse, days: int) -> Rows:
    table = f"{clickhouse.database}.{section.table}"
    return clickhouse.select(section.sql.format(table=table, window=window(table, days)))


def is_empty(clickhouse: ClickHouse, table: str) -> bool:
    """Whether the table has no rows at all (not just none in the report's period)."""
    rows = clickhouse.select(f"SELECT count() AS n FROM {clickhouse.database}.{table}")  # noqa: S608
    return not rows or int(rows[0]["n"]) == 0


def last_load(clickhouse: ClickHouse, log: str, table: str) -> dict[str, Any] | None:
    """The newest load-log entry of `table` (status, finished, error), if any."""
    if not table.replace("_", "").isalnum():
        raise ValueError(f"not a table name: {table!r}")
    rows = clickhouse.select(
        f"SELECT status, finished, error FROM {clickhouse.database}.{log} "  # noqa: S608
        f"WHERE `table` = '{table}' ORDER BY seq DESC LIMIT 1"
    )
    return rows[0] if rows else None
