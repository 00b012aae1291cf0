"""Charts as inline SVG strings: lines over days, horizontal bars, heatmaps, gauges, donuts.

Every data point is one element with the class `mark` (and a <title> tooltip), so a reader (or
a test) can count what a chart shows. Text is escaped; nothing refers to anything outside.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

Format = Callable[[float], str]

PALETTE = ("#2563eb", "#f97316", "#16a34a", "#dc2626", "#9333ea", "#0891b2", "#ca8a04")
WIDTH = 640
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def number(value: float) -> str:
    """1234567 -> 1.2M; 0.1234 -> 0.123."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    if value == int(value):
        return str(int(value))
    return f"{value:.3g}"


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def hours(seconds: float) -> str:
    return f"{seconds / 3600:,.0f} h"


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[str, float]]  # (x label, value), x in order


@dataclass(frozen=True)
class Segment:
    """A band of a gauge's scale: values from `low` to `high` read as `label`."""

    low: float
    high: float
    color: str
    label: str


@dataclass(frozen=True)
class Dial:
    """A gauge's value on its scale, the bands of `segments`."""

    name: str
    value: float
    segments: Sequence[Segment]


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _svg(height: int, body: list[str], label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-label="{escape(label)}" {FONT}>' + "".join(body) + "</svg>"
    )


def _legend(names: Sequence[str], y: int) -> list[str]:
    out: list[str] = []
    x = 60
    for i, name in enumerate(names):
        color = PALETTE[i % len(PALETTE)]
        out.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{x + 14}" y="{y}">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    return out


def line_chart(series: Sequence[Series], label: str, fmt: Format = number) -> str:
    """One line per series over the union of their x labels (e.g. days), with a point per value."""
    xs = sorted({x for s in series for x, _ in s.points})
    values = [v for s in series for _, v in s.points]
    if not xs or not values:
        return ""
    height, left, right, top, bottom = 260, 60, 36, 14, 56
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    y_max = _nice_max(max(values))
    y_min = min(0.0, min(values))
    step = plot_w / max(len(xs) - 1, 1)

    def px(x: str) -> float:
        return left + xs.index(x) * step if len(xs) > 1 else left + plot_w / 2

    def py(v: float) -> float:
        return top + plot_h * (1 - (v - y_min) / (y_max - y_min))

    body = [f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#f8fafc"/>']
    for i in range(5):
        v = y_min + (y_max - y_min) * i / 4
        y = py(v)
        body.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e8f0"/>'
        )
        body.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(fmt(v))}</text>'
        )
    every = max(1, math.ceil(len(xs) / 8))
    for i, x in enumerate(xs):
        if i % every == 0:
            body.append(
                f'<text x="{px(x):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{escape(x)}</text>'
            )
    for i, s in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        points = sorted(s.points, key=lambda p: xs.index(p[0]))
        path = " ".join(f"{px(x):.1f},{py(v):.1f}" for x, v in points)
        body.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, v in points:
            body.append(
                f'<circle class="mark" cx="{px(x):.1f}" cy="{py(v):.1f}" r="3" fill="{color}">'
                f"<title>{escape(s.name)} {escape(x)}: {escape(fmt(v))}</title></circle>"
            )
    body += _legend([s.name for s in series], height - 10)
    return _svg(height, body, label)


def bar_chart(bars: Sequence[tuple[str, float]], label: str, fmt: Format = number) -> str:
    """Horizontal bars, in the given order (largest first reads best)."""
    if not bars:
        return ""
    row, left, right, top = 22, 230, 70, 8
    height = top * 2 + row * len(bars)
    plot_w = WIDTH - left - right
    v_max = _nice_max(max(v for _, v in bars))
    body: list[str] = []
    for i, (name, v) in enumerate(bars):
        y = top + i * row
        w = max(plot_w * v / v_max, 1.0)
        shown = name if len(name) <= 36 else name[:35] + "…"
        body.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{escape(shown)}</text>')
        body.append(
            f'<rect class="mark" x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" '
            f'fill="{PALETTE[0]}"><title>{escape(name)}: {escape(fmt(v))}</title></rect>'
        )
        body.append(f'<text x="{left + w + 4:.1f}" y="{y + 15}">{escape(fmt(v))}</text>')
    return _svg(height, body, label)


def heatmap(
    rows: Sequence[str],
    columns: Sequence[str],
    cells: dict[tuple[str, str], float],
    label: str,
    fmt: Format = number,
) -> str:
    """A grid of rows x columns shaded by value (darker = more); empty cells stay blank."""
    if not cells:
        return ""
    left, top, right = 90, 20, 10
    cell_w = (WIDTH - left - right) / max(len(columns), 1)
    cell_h = 20
    height = top + cell_h * len(rows) + 10
    v_max = max(cells.values()) or 1.0
    body: list[str] = []
    for j, column in enumerate(columns):
        if len(columns) <= 12 or j % 2 == 0:
            x = left + (j + 0.5) * cell_w
            body.append(
                f'<text x="{x:.1f}" y="{top - 6}" text-anchor="middle">{escape(column)}</text>'
            )
    for i, row_name in enumerate(rows):
        y = top + i * cell_h
        body.append(
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(row_name)}</text>'
        )
        for j, column in enumerate(columns):
            value = cells.get((row_name, column))
            if value is None:
                continue
            opacity = 0.08 + 0.92 * max(value, 0) / v_max
            body.append(
                f'<rect class="mark" x="{left + j * cell_w:.1f}" y="{y}" width="{cell_w - 1:.1f}" '
                f'height="{cell_h - 1}" fill="{PALETTE[0]}" fill-opacity="{opacity:.2f}">'
                f"<title>{escape(row_name)}, {escape(column)}: {escape(fmt(value))}</title></rect>"
            )
    return _svg(height, body, label)


def _arc_point(cx: float, cy: float, r: float, turn: float) -> tuple[float, float]:
    """The point at `turn` (0 = 12 o'clock, 0.25 = 3 o'clock, clockwise) of a circle."""
    angle = 2 * math.pi * turn
    return cx + r * math.sin(angle), cy - r * math.cos(angle)


def _ring_slice(cx: float, cy: float, outer: float, inner: float, start: float, end: float) -> str:
    """The SVG path of a ring's slice from turn `start` to turn `end` (clockwise)."""
    end = min(end, start + 0.9999)  # a whole turn has equal ends: SVG would draw nothing
    large = 1 if end - start > 0.5 else 0
    x0, y0 = _arc_point(cx, cy, outer, start)
    x1, y1 = _arc_point(cx, cy, outer, end)
    x2, y2 = _arc_point(cx, cy, inner, end)
    x3, y3 = _arc_point(cx, cy, inner, start)
    return (
        f"M{x0:.1f},{y0:.1f} A{outer},{outer} 0 {large} 1 {x1:.1f},{y1:.1f} "
        f"L{x2:.1f},{y2:.1f} A{inner},{inner} 0 {large} 0 {x3:.1f},{y3:.1f} Z"
    )


def gauges(dials: Sequence[Dial], label: str, fmt: Format = number) -> str:
    """One half-circle dial per value, side by side, on the scale of its segments (their bands
    coloured and labelled); the needle is the mark. A value beyond the scale pins the needle at
    its end and is printed as it is."""
    dials = [dial for dial in dials if dial.segments]
    if not dials:
        return ""
    height, radius, inner = 190, 110, 78
    width = WIDTH / len(dials)
    body: list[str] = []
    for i, dial in enumerate(dials):
        name, value = dial.name, dial.value
        low = min(s.low for s in dial.segments)
        high = max(s.high for s in dial.segments)

        def turn(value: float, low: float = low, high: float = high) -> float:
            """From 9 o'clock (low) to 3 o'clock (high) over the top."""
            share = (min(max(value, low), high) - low) / (high - low) if high > low else 0.0
            return -0.25 + 0.5 * share

        cx, cy = width * (i + 0.5), 135.0
        for segment in dial.segments:
            path = _ring_slice(cx, cy, radius, inner, turn(segment.low), turn(segment.high))
            body.append(
                f'<path d="{path}" fill="{escape(segment.color)}">'
                f"<title>{escape(segment.label)}: {escape(fmt(segment.low))} to "
                f"{escape(fmt(segment.high))}</title></path>"
            )
        for edge in (low, high):
            x, y = _arc_point(cx, cy, radius + 10, turn(edge))
            body.append(
                f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">{escape(fmt(edge))}</text>'
            )
        tip_x, tip_y = _arc_point(cx, cy, radius - 4, turn(value))
        body.append(
            f'<line class="mark" x1="{cx:.1f}" y1="{cy:.1f}" x2="{tip_x:.1f}" y2="{tip_y:.1f}" '
            f'stroke="#0f172a" stroke-width="4" stroke-linecap="round">'
            f"<title>{escape(name)}: {escape(fmt(value))}</title></line>"
        )
        body.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="7" fill="#0f172a"/>')
        body.append(
            f'<text x="{cx:.1f}" y="{cy + 26:.1f}" text-anchor="middle" font-size="16" '
            f'font-weight="bold">{escape(fmt(value))}</text>'
        )
        body.append(
            f'<text x="{cx:.1f}" y="{cy + 44:.1f}" text-anchor="middle">{escape(name)}</text>'
        )
    return _svg(height, body, label)


def donut(slices: Sequence[tuple[str, float]], label: str, fmt: Format = number) -> str:
    """A ring of one slice per (name, value) in the given order, the total in its middle, and a
    legend with each slice's value and share. Slices of zero or less are left out."""
    shown = [(name, value) for name, value in slices if value > 0]
    total = sum(value for _, value in shown)
    if not shown:
        return ""
    height, outer, inner = 220, 96, 58
    cx, cy = 160.0, 110.0
    body: list[str] = []
    start = 0.0
    for i, (name, value) in enumerate(shown):
        share = value / total
        color = PALETTE[i % len(PALETTE)]
        path = _ring_slice(cx, cy, outer, inner, start, start + share)
        body.append(
            f'<path class="mark" d="{path}" fill="{color}" stroke="#ffffff" stroke-width="1">'
            f"<title>{escape(name)}: {escape(fmt(value))} ({percent(share)})</title></path>"
        )
        y = 60 + i * 24
        body.append(f'<rect x="300" y="{y - 10}" width="12" height="12" fill="{color}"/>')
        body.append(
            f'<text x="318" y="{y}">{escape(name)}: {escape(fmt(value))} ({percent(share)})</text>'
        )
        start += share
    body.append(
        f'<text x="{cx}" y="{cy + 2}" text-anchor="middle" font-size="18" font-weight="bold">'
        f"{escape(fmt(total))}</text>"
    )
    body.append(f'<text x="{cx}" y="{cy + 20}" text-anchor="middle">total</text>')
    return _svg(height, body, label)
