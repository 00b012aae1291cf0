"""The report's gauge and donut drawers (python/soundlake/report/charts.py), checked on the SVG
they write: where a needle points, what each slice holds. No stack needed."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

from soundlake.report import charts, sections

SVG = "{http://www.w3.org/2000/svg}"
BANDS = (
    charts.Segment(0.0, 0.5, "#84BB4C", "few"),
    charts.Segment(0.5, 1.0, "#F9CF48", "some"),
    charts.Segment(1.0, 2.0, "#ED6E6E", "many"),
)


def tree(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - the SVG the drawers under test just wrote


def marks(svg: str) -> list[ET.Element]:
    return [e for e in tree(svg).iter() if e.get("class") == "mark"]


def needle_turn(needle: ET.Element) -> float:
    """The needle's direction as a turn: 0 = up, -0.25 = left, 0.25 = right."""
    dx = float(needle.get("x2", "0")) - float(needle.get("x1", "0"))
    dy = float(needle.get("y2", "0")) - float(needle.get("y1", "0"))
    return math.atan2(dx, -dy) / (2 * math.pi)


def test_a_gauge_needle_points_at_its_value_on_the_scale() -> None:
    values = [0.0, 1.0, 2.0, 0.5, 7.5]
    svg = charts.gauges([charts.Dial(f"d{v}", v, BANDS) for v in values], "skips")
    needles = marks(svg)
    assert [n.find(f"{SVG}title").text for n in needles] == [  # type: ignore[union-attr]
        "d0.0: 0", "d1.0: 1", "d2.0: 2", "d0.5: 0.5", "d7.5: 7.5"
    ]  # fmt: skip
    turns = [needle_turn(n) for n in needles]
    # 0 at 9 o'clock, 1 (the middle of 0..2) straight up, 2 at 3 o'clock, 0.5 at a quarter
    expected = [-0.25, 0.0, 0.25, -0.125, 0.25]  # 7.5 is beyond the scale: pinned at its end
    assert all(abs(t - e) < 0.01 for t, e in zip(turns, expected, strict=True)), turns
    # every dial draws its three bands, each titled with its range
    bands = list(tree(svg).iter(f"{SVG}path"))
    assert len(bands) == 3 * len(values)
    assert bands[0].find(f"{SVG}title").text == "few: 0 to 0.5"  # type: ignore[union-attr]
    # the dials sit side by side, in order
    xs = [float(n.get("x1", "0")) for n in needles]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)


def test_gauges_without_a_scale_draw_nothing() -> None:
    assert charts.gauges([charts.Dial("free", 0.4, ())], "skips") == ""
    assert charts.gauges([], "skips") == ""


def test_a_donut_has_one_slice_per_share_and_the_total() -> None:
    svg = charts.donut([("free", 300.0), ("paid", 100.0), ("none", 0.0)], "levels")
    slices = marks(svg)
    titles = [s.find(f"{SVG}title").text for s in slices]  # type: ignore[union-attr]
    assert titles == ["free: 300 (75.0%)", "paid: 100 (25.0%)"]
    texts = [t.text for t in tree(svg).iter(f"{SVG}text")]
    assert "400" in texts  # the total in the middle
    # the slices' arcs: free covers three quarters of the ring, so its outer arc is the large one
    flags = [re.findall(r"A[\d.]+,[\d.]+ 0 (\d) 1", s.get("d", "")) for s in slices]
    assert flags == [["1"], ["0"]]


def test_a_donut_of_one_level_is_a_whole_ring_and_of_none_is_empty() -> None:
    (ring,) = marks(charts.donut([("paid", 12.0)], "levels"))
    assert "(100.0%)" in ring.find(f"{SVG}title").text  # type: ignore[operator, union-attr]
    assert charts.donut([("paid", 0.0)], "levels") == ""


def test_the_report_gauges_use_the_metabase_dashboards_bands() -> None:
    for level in ("free", "paid"):
        assert sections.metabase_segments(f"Skips per minute, {level} users") == BANDS
    assert sections.metabase_segments("no such question") == ()
