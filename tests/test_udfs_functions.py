"""The Rust UDFs of soundlake_udfs against their references: on pyarrow arrays (no Spark), as
Column functions in a DataFrame, and from Spark SQL after ``register``. Needs no stack."""

from __future__ import annotations

import itertools
import math
import random
import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

import h3
import pyarrow as pa
import pytest
import ua_parser

import soundlake_udfs
from soundlake_udfs import arrow

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# --- normalize_name --------------------------------------------------------------------------


def reference_normalize(text: str) -> str:
    """normalize_name written with the standard library, step by step."""
    decomposed = unicodedata.normalize("NFKD", text)
    unmarked = "".join(c for c in decomposed if not unicodedata.category(c).startswith("M"))
    spaced = re.sub(r"[\W_]+", " ", unmarked.lower()).strip()
    return spaced.removeprefix("the ")


NAMES = [
    "The Beatles",
    "the the",
    "The",
    "Theory of a Deadman",
    "  The   Rolling--Stones!! ",
    "Beyoncé",
    "Sigur Rós",
    "Motörhead",
    "Björk Guðmundsdóttir",
    "ＡＢＢＡ",  # noqa: RUF001 - full-width letters are the point
    "ﬁre & ﬂame",
    "AC/DC",
    "Guns N' Roses",
    "Mötley Crüe",
    "Ølafur Arnalds",
    "Мумий Тролль",
    "Ελληνικά τραγούδια",
    "坂本 龍一",
    "東京事変",
    "BTS (방탄소년단)",
    "Zoë_Keating",
    "½ Japanese",
    "déjà vu — remix",
    "",
    " ",
    "!!!",
    "\t\nThe\u00a0Killers",
]


@pytest.mark.parametrize("name", NAMES)
def test_normalize_name_matches_the_reference(name: str) -> None:
    out = arrow.normalize_name(pa.array([name]))
    assert out.to_pylist() == [reference_normalize(name)]


def test_normalize_name_examples() -> None:
    names = ["The Beatles", "Beyoncé", "AC/DC", "ＡＢＢＡ", None, ""]  # noqa: RUF001
    out = arrow.normalize_name(pa.array(names))
    assert out.to_pylist() == ["beatles", "beyonce", "ac dc", "abba", None, ""]
    assert out.type == pa.string()


def test_normalize_name_takes_large_strings_slices_and_empty_arrays() -> None:
    large = pa.array(["x", "The Who", None, "Ünïcödé"], type=pa.large_string()).slice(1)
    assert arrow.normalize_name(large).to_pylist() == ["who", None, "unicode"]
    assert arrow.normalize_name(pa.array([], type=pa.string())).to_pylist() == []
    assert arrow.normalize_name(pa.array([None, None])).to_pylist() == [None, None]


def test_normalize_name_rejects_numbers() -> None:
    with pytest.raises(ValueError, match="normalize_name takes strings"):
        arrow.normalize_name(pa.array([1, 2]))


# --- h3_cell ---------------------------------------------------------------------------------


def reference_cell(lat: float, lon: float, resolution: int) -> int:
    return h3.str_to_int(h3.latlng_to_cell(lat, lon, resolution))


def random_points(count: int, seed: int) -> list[tuple[float, float, int]]:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    return [
        (rng.uniform(-90, 90), rng.uniform(-180, 180), rng.randint(0, 15)) for _ in range(count)
    ]


EDGE_POINTS = [
    (0.0, 0.0),
    (90.0, 0.0),
    (-90.0, 0.0),
    (0.0, 180.0),
    (0.0, -180.0),
    (90.0, 180.0),
    (-90.0, -180.0),
    (45.0, 179.9999999),
    (-0.0, -0.0),
    (37.7749, -122.4194),  # San Francisco
    (40.7128, -74.0060),  # New York
    (64.8378, -147.7164),  # Fairbanks
    (21.3069, -157.8583),  # Honolulu
    (1e-12, -1e-12),
]


def check_cells(points: list[tuple[float, float, int]]) -> None:
    lats, lons, resolutions = zip(*points, strict=True)
    out = arrow.h3_cell(pa.array(lats), pa.array(lons), pa.array(resolutions))
    assert out.type == pa.int64()
    assert out.to_pylist() == [reference_cell(*point) for point in points]


def test_h3_cell_matches_h3_on_random_points() -> None:
    check_cells(random_points(20_000, seed=5))


def test_h3_cell_matches_h3_on_edge_points_at_every_resolution() -> None:
    check_cells([(lat, lon, res) for lat, lon in EDGE_POINTS for res in range(16)])


def test_h3_cell_matches_h3_on_us_points_as_float32_and_int32() -> None:
    rng = random.Random(7)  # noqa: S311 - reproducible test data
    points = [(rng.uniform(18, 72), rng.uniform(-170, -65)) for _ in range(2_000)]
    lats = pa.array([p[0] for p in points], type=pa.float32())
    lons = pa.array([p[1] for p in points], type=pa.float32())
    resolutions = pa.array([7] * len(points), type=pa.int32())
    out = arrow.h3_cell(lats, lons, resolutions)
    # the reference gets the same float32-rounded coordinates
    expected = [
        reference_cell(lat, lon, 7)
        for lat, lon in zip(lats.to_pylist(), lons.to_pylist(), strict=True)
    ]
    assert out.to_pylist() == expected


@pytest.mark.parametrize(
    ("lat", "lon", "resolution"),
    [
        (None, 0.0, 7),
        (0.0, None, 7),
        (0.0, 0.0, None),
        (math.nan, 0.0, 7),
        (0.0, math.inf, 7),
        (-math.inf, 0.0, 7),
        (90.000001, 0.0, 7),
        (-91.0, 0.0, 7),
        (0.0, 180.5, 7),
        (0.0, -720.0, 7),
        (0.0, 0.0, 16),
        (0.0, 0.0, -1),
        (0.0, 0.0, 2**40),
    ],
)
def test_h3_cell_is_null_for_invalid_input(
    lat: float | None, lon: float | None, resolution: int | None
) -> None:
    out = arrow.h3_cell(
        pa.array([lat], type=pa.float64()),
        pa.array([lon], type=pa.float64()),
        pa.array([resolution], type=pa.int64()),
    )
    assert out.to_pylist() == [None]


def test_h3_cell_of_repeated_points_and_slices() -> None:
    """Repeated points (each thread keeps its recent cells) give the reference's cells in every
    call, at every resolution, also from sliced arrays with nulls."""
    rng = random.Random(11)  # noqa: S311 - reproducible test data
    places = [(rng.uniform(25, 49), rng.uniform(-124, -67)) for _ in range(300)]
    points = [(*rng.choice(places), rng.choice([0, 7, 7, 9, 15])) for _ in range(20_000)]
    for _ in range(2):
        check_cells(points)
    lats = pa.array([None, *(p[0] for p in points)])
    lons = pa.array([0.0, *(p[1] for p in points)])
    resolutions = pa.array([7, *(p[2] for p in points[:-1]), None])
    out = arrow.h3_cell(lats.slice(0, 1000), lons.slice(0, 1000), resolutions.slice(0, 1000))
    assert out.to_pylist() == [None] + [reference_cell(*p) for p in points[:999]]
    tail = arrow.h3_cell(lats.slice(1), lons.slice(1), resolutions.slice(1)).to_pylist()
    assert tail[:-1] == [reference_cell(*p) for p in points[:-1]]
    assert tail[-1] is None


def test_h3_cell_rejects_bad_arrays() -> None:
    one, two = pa.array([1.0]), pa.array([1.0, 2.0])
    with pytest.raises(ValueError, match="one length"):
        arrow.h3_cell(one, two, pa.array([7]))
    with pytest.raises(ValueError, match="lat must be numeric"):
        arrow.h3_cell(pa.array(["1"]), one, pa.array([7]))


def test_h3_cell_of_empty_arrays() -> None:
    empty = pa.array([], type=pa.float64())
    assert arrow.h3_cell(empty, empty, pa.array([], type=pa.int32())).to_pylist() == []


# --- event_problems --------------------------------------------------------------------------

TS_MIN_MS = 946_684_800_000  # 2000-01-01 UTC
TS_END_MS = 4_102_444_800_000  # 2100-01-01 UTC
# fmt: off
US_STATES = {
    "AK", "AL", "AR", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "HI", "IA",
    "ID", "IL", "IN", "KS", "KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MS",
    "MT", "NC", "ND", "NE", "NH", "NJ", "NM", "NV", "NY", "OH", "OK", "OR", "PA",
    "RI", "SC", "SD", "TN", "TX", "UT", "VA", "VT", "WA", "WI", "WV", "WY",
}
# fmt: on
Event = tuple[
    int | None,
    int | None,
    str | None,
    str | None,
    float | None,
    float | None,
    str | None,
    str | None,
]
CLEAN_EVENT: Event = (1_700_000_000_000, 42, "Logged In", "paid", 40.7, -74.0, "10001", "NY")


def reference_problems(event: Event) -> list[str]:
    """The rules of EVENT_PROBLEM_RULES written again in Python, in the same order."""
    ts, user, auth, level, lat, lon, zip_code, state = event
    found: list[str] = []
    if ts is None:
        found.append("ts_missing")
    elif not TS_MIN_MS <= ts < TS_END_MS:
        found.append("ts_out_of_range")
    if auth is None:
        found.append("auth_missing")
    elif auth in ("Logged In", "Cancelled"):
        if user is None:
            found.append("user_missing_for_logged_in")
    elif auth in ("Guest", "Logged Out"):
        if user is not None:
            found.append("guest_has_user")
    else:
        found.append("auth_invalid")
    if user is not None and user <= 0:
        found.append("user_id_invalid")
    if level is None:
        found.append("level_missing")
    elif level not in ("free", "paid"):
        found.append("level_invalid")
    for name, value, limit in (("lat", lat, 90.0), ("lon", lon, 180.0)):
        if value is None:
            found.append(f"{name}_missing")
        elif not -limit <= value <= limit:
            found.append(f"{name}_out_of_range")
    if zip_code is None:
        found.append("zip_missing")
    elif not (len(zip_code) == 5 and zip_code.isascii() and zip_code.isdigit()):
        found.append("zip_invalid")
    if state is None:
        found.append("state_missing")
    elif state not in US_STATES:
        found.append("state_invalid")
    return found


def random_events(count: int, seed: int) -> list[Event]:
    """Mostly clean events, each field spoiled now and then (nulls, junk, non-ASCII)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    choices: list[list[object]] = [
        [1_700_000_000_000, None, 0, TS_END_MS, TS_MIN_MS, TS_MIN_MS - 1, -5],
        [42, None, 0, -3, 7],
        ["Logged In", "Logged Out", "Guest", "Cancelled", None, "", "logged in", "Gäst"],
        ["free", "paid", None, "", "Paid", "prémium"],
        [40.7, None, math.nan, 90.0, -90.0, 90.5, -1e9],
        [-74.0, None, math.inf, 180.0, -180.0, -180.01],
        ["10001", None, "", "1000", "100010", "1000a", "\uff11\uff12\uff13\uff14\uff15", " 1000"],
        ["NY", None, "", "ny", "N", "PR", "XX", "Ñ"],
    ]
    events: list[Event] = []
    for _ in range(count):
        fields = [
            rng.choice(options) if rng.random() < 0.3 else CLEAN_EVENT[i]
            for i, options in enumerate(choices)
        ]
        events.append(tuple(fields))  # type: ignore[arg-type]
    return events


EVENT_TYPES = [pa.int64(), pa.int64(), pa.string(), pa.string()]
EVENT_TYPES += [pa.float64(), pa.float64(), pa.string(), pa.string()]


def event_arrays(events: list[Event]) -> list[pa.Array]:
    columns = list(zip(*events, strict=True)) if events else [()] * 8
    return [pa.array(c, type=t) for c, t in zip(columns, EVENT_TYPES, strict=True)]


def test_event_problems_of_a_clean_event_is_empty() -> None:
    out = arrow.event_problems(*event_arrays([CLEAN_EVENT]))
    assert out.type == pa.list_(pa.string())
    assert out.to_pylist() == [[]]


def test_event_problems_matches_the_reference_on_random_events() -> None:
    events = random_events(20_000, seed=3)
    out = arrow.event_problems(*event_arrays(events))
    assert out.null_count == 0
    assert out.to_pylist() == [reference_problems(e) for e in events]


def test_event_problems_codes_are_the_documented_rules() -> None:
    codes = list(arrow.EVENT_PROBLEM_RULES)
    seen = {code for e in random_events(5_000, seed=4) for code in reference_problems(e)}
    assert seen == set(codes)
    assert all(arrow.EVENT_PROBLEM_RULES[c] for c in codes)


def test_event_problems_takes_other_types() -> None:
    ts = pa.array([1_700_000_000_000_000, None], type=pa.timestamp("us", tz="UTC"))
    user_ids = pa.array(["", "abc"])  # string ids: "" is no user
    auth = pa.array(["Guest", "Logged In"], type=pa.large_string())
    level = pa.array(["free", "free"])
    lat = pa.array([40, 41], type=pa.int32())
    lon = pa.array([-74.0, -75.0], type=pa.float32())
    nulls = pa.nulls(2)
    out = arrow.event_problems(ts, user_ids, auth, level, lat, lon, nulls, nulls)
    assert out.to_pylist() == [
        ["zip_missing", "state_missing"],
        ["ts_missing", "user_id_invalid", "zip_missing", "state_missing"],
    ]


def test_event_problems_of_empty_arrays() -> None:
    assert arrow.event_problems(*event_arrays([])).to_pylist() == []


def test_event_problems_rejects_bad_arrays() -> None:
    arrays = event_arrays([CLEAN_EVENT])
    with pytest.raises(ValueError, match="one length"):
        arrow.event_problems(*arrays[:7], pa.array(["NY", "CA"]))
    with pytest.raises(ValueError, match="takes lat as a number"):
        arrow.event_problems(*arrays[:4], pa.array(["40"]), *arrays[5:])


# --- parse_user_agent ------------------------------------------------------------------------

EVENTSIM_AGENTS = Path(__file__).resolve().parent.parent / "eventsim" / "data" / "user_agents.tsv"
COMMON_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.4.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/124.0.6367.82 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/123.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/124.0.0.0 Safari/537.36 OPR/109.0.0.0",
    "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; Trident/6.0)",
    "Mozilla/5.0 (Windows NT 6.3; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "curl/8.5.0",
    "python-requests/2.31.0",
    "Opera/9.80 (Windows NT 6.1; U; en) Presto/2.10.289 Version/12.02",
    "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950)"
    " AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36"
    " Edge/15.15063",
    "",
    "   ",
    "not a browser at all",
    "Mozilla/5.0 (Ünïcödé; 日本語) Gecko/20100101 Firefox/99.0",
]


def eventsim_agents() -> list[str]:
    lines = EVENTSIM_AGENTS.read_text(encoding="utf-8").splitlines()
    return [line.split("\t", 1)[1] for line in lines if line and not line.startswith("#")]


def reference_agent(agent: str) -> dict[str, str | None]:
    """The fields of parse_user_agent computed with the Python ua-parser package."""
    result = ua_parser.parse(agent.strip().strip('"'))
    browser, os = result.user_agent, result.os

    def version(*parts: str | None) -> str | None:
        present = list(itertools.takewhile(lambda p: p is not None, parts))
        return ".".join(present) if present else None  # type: ignore[arg-type]

    return {
        "browser": browser.family if browser else "Other",
        "browser_version": version(browser.major, browser.minor, browser.patch)
        if browser
        else None,
        "os": os.family if os else "Other",
        "os_version": version(os.major, os.minor, os.patch, os.patch_minor) if os else None,
    }


def without_device_type(parsed: dict[str, str | None]) -> dict[str, str | None]:
    return {k: v for k, v in parsed.items() if k != "device_type"}


@pytest.mark.parametrize("agent", COMMON_AGENTS)
def test_parse_user_agent_matches_ua_parser_on_common_agents(agent: str) -> None:
    [parsed] = arrow.parse_user_agent(pa.array([agent])).to_pylist()
    assert without_device_type(parsed) == reference_agent(agent)


def test_parse_user_agent_matches_ua_parser_on_eventsim_agents() -> None:
    agents = eventsim_agents()
    assert len(agents) >= 10
    assert all(a.startswith('"') and a.endswith('"') for a in agents)
    parsed = arrow.parse_user_agent(pa.array(agents)).to_pylist()
    for agent, got in zip(agents, parsed, strict=True):
        assert without_device_type(got) == reference_agent(agent), agent
        assert got["device_type"] in {"desktop", "mobile", "tablet"}, agent


def test_parse_user_agent_device_types() -> None:
    agents = [COMMON_AGENTS[i] for i in (0, 4, 5, 6, 12, 14)]
    parsed = arrow.parse_user_agent(pa.array(agents)).to_pylist()
    assert [p["device_type"] for p in parsed] == [
        "desktop",
        "mobile",
        "tablet",
        "mobile",
        "bot",
        "other",
    ]


def test_parse_user_agent_keeps_nulls_and_repeats() -> None:
    agents = pa.array([COMMON_AGENTS[0], None, COMMON_AGENTS[0], ""] * 100, type=pa.large_string())
    out = arrow.parse_user_agent(agents)
    assert out.type == pa.struct(
        [(name, pa.string()) for name in ("browser", "browser_version", "os", "os_version")]
        + [("device_type", pa.string())]
    )
    rows = out.to_pylist()
    assert rows[1] is None
    assert rows[0] == rows[2]
    assert rows[3] == {
        "browser": "Other",
        "browser_version": None,
        "os": "Other",
        "os_version": None,
        "device_type": "other",
    }
    assert arrow.parse_user_agent(pa.array([], type=pa.string())).to_pylist() == []


def test_parse_user_agent_is_the_same_in_every_batch() -> None:
    """Parsed agents are kept process-wide: later batches, in another order, sliced, with
    nulls, give what the reference gives."""
    agents = eventsim_agents() + COMMON_AGENTS
    expected = [reference_agent(a) for a in agents]
    first = arrow.parse_user_agent(pa.array(agents)).to_pylist()
    rng = random.Random(3)  # noqa: S311 - reproducible test data
    order = [rng.randrange(len(agents)) for _ in range(5_000)]
    batch = pa.array([None, *(agents[i] for i in order), None])
    for _ in range(2):
        again = arrow.parse_user_agent(batch.slice(1, len(order))).to_pylist()
        assert [without_device_type(p) for p in again] == [expected[i] for i in order]
        assert again == [first[i] for i in order]
    assert arrow.parse_user_agent(batch.slice(0, 2)).to_pylist()[0] is None


def test_parse_user_agent_of_many_distinct_agents() -> None:
    """Thousands of distinct agents in one batch (the cache's bound itself is covered by the
    Rust unit tests of agent_cache.rs), then some of them again."""
    count = 2_000
    agents = [
        f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
        f" Chrome/{100 + i // 1000}.0.{i % 1000}.1 Safari/537.36"
        for i in range(count)
    ]
    parsed = arrow.parse_user_agent(pa.array(agents)).to_pylist()
    assert [p["browser_version"] for p in parsed] == [
        f"{100 + i // 1000}.0.{i % 1000}" for i in range(count)
    ]
    assert {(p["browser"], p["os"], p["device_type"]) for p in parsed} == {
        ("Chrome", "Linux", "desktop")
    }
    sample = agents[:50] + agents[-50:]
    again = arrow.parse_user_agent(pa.array(sample)).to_pylist()
    assert [without_device_type(p) for p in again] == [reference_agent(a) for a in sample]


def test_parse_user_agent_rejects_numbers() -> None:
    with pytest.raises(ValueError, match="parse_user_agent takes strings"):
        arrow.parse_user_agent(pa.array([1]))


# --- sessionize -------------------------------------------------------------------------------


def reference_sessions(times: list[int | None], gap_ms: int) -> list[int | None]:
    """Session numbers of sorted times (nulls last), written again in Python."""
    numbers: list[int | None] = []
    session, previous = 0, None
    for now in times:
        if now is None:
            numbers.append(None)
            continue
        if previous is None or now - previous > gap_ms:
            session += 1
        numbers.append(session)
        previous = now
    return numbers


def test_sessionize_matches_the_reference() -> None:
    rng = random.Random(21)  # noqa: S311 - reproducible test data
    times = sorted(rng.randrange(0, 10_000_000) for _ in range(5_000))
    times_or_null: list[int | None] = [*times, None, None]
    out = arrow.sessionize(pa.array(times_or_null, type=pa.int64()), 1800)
    assert out.type == pa.int64()
    assert out.to_pylist() == reference_sessions(times_or_null, 1_800_000)


def test_sessionize_edges() -> None:
    assert arrow.sessionize(pa.array([0, 1000, 2001], type=pa.int64()), 1).to_pylist() == [1, 1, 2]
    assert arrow.sessionize(pa.array([], type=pa.int64()), 1).to_pylist() == []
    assert arrow.sessionize(pa.array([7, 7], type=pa.int32()), 0).to_pylist() == [1, 1]
    assert arrow.sessionize(pa.nulls(2), 1).to_pylist() == [None, None]
    micros = pa.array([0, 60_000_000, 200_000_000], type=pa.timestamp("us", tz="UTC"))
    assert arrow.sessionize(micros, 60).to_pylist() == [1, 1, 2]


@pytest.mark.parametrize(
    ("times", "gap", "message"),
    [
        ([2, 1], 1.0, "sorted ascending"),
        ([None, 1], 1.0, "after a null"),
        ([1], -1.0, "gap must be"),
        ([1], math.nan, "gap must be"),
    ],
)
def test_sessionize_rejects(times: list[int | None], gap: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        arrow.sessionize(pa.array(times, type=pa.int64()), gap)


def test_sessionize_table_sorts_and_appends() -> None:
    table = pa.table({"ts": [5_000, None, 0, 1_000], "page": ["c", "d", "a", "b"]})
    out = arrow.sessionize_table(table, 2, output="session")
    assert out.column_names == ["ts", "page", "session"]
    assert out.to_pydict() == {
        "ts": [0, 1_000, 5_000, None],
        "page": ["a", "b", "c", "d"],
        "session": [1, 1, 2, None],
    }


# --- in Spark --------------------------------------------------------------------------------


def test_register_returns_every_sql_name(spark: SparkSession) -> None:
    names = ["event_problems", "h3_cell", "normalize_name", "parse_user_agent"]
    assert soundlake_udfs.register(spark) == names
    assert soundlake_udfs.sql_names() == names


def test_sql_calls(spark: SparkSession) -> None:
    soundlake_udfs.register(spark)
    row = spark.sql(
        "select normalize_name('The Beatles') as name, normalize_name(null) as none,"
        " h3_cell(37.77, -122.4, 7) as cell, h3_cell(91.0, 0.0, 7) as bad"
    ).first()
    assert row is not None
    assert row.asDict() == {
        "name": "beatles",
        "none": None,
        "cell": reference_cell(37.77, -122.4, 7),
        "bad": None,
    }


def test_sql_over_a_view(spark: SparkSession) -> None:
    soundlake_udfs.register(spark)
    rows = [("Motörhead", 64.8378, -147.7164), ("The Who", None, 0.0), (None, 0.0, 0.0)]
    df = spark.createDataFrame(rows, "artist string, lat double, lon double")
    df.createOrReplaceTempView("udf_test_events")
    result = spark.sql(
        "select normalize_name(artist) as key, h3_cell(lat, lon, 5) as cell from udf_test_events"
    ).collect()
    assert [(r.key, r.cell) for r in result] == [
        ("motorhead", reference_cell(64.8378, -147.7164, 5)),
        ("who", None),
        (None, reference_cell(0.0, 0.0, 5)),
    ]


def test_column_functions_in_a_dataframe(spark: SparkSession) -> None:
    from pyspark.sql import functions as F

    points = random_points(3_000, seed=11)
    names = [NAMES[i % len(NAMES)] for i in range(len(points))]
    rows = [(name, lat, lon, res) for name, (lat, lon, res) in zip(names, points, strict=True)]
    df = spark.createDataFrame(rows, "name string, lat double, lon double, res int").repartition(3)
    out = df.select(
        "name",
        "lat",
        "lon",
        "res",
        soundlake_udfs.normalize_name("name").alias("key"),
        soundlake_udfs.h3_cell("lat", "lon", F.col("res")).alias("cell"),
        soundlake_udfs.h3_cell(F.col("lat"), F.col("lon"), 7).alias("cell7"),
    ).collect()
    assert len(out) == len(rows)
    for r in out:
        assert r.key == reference_normalize(r.name)
        assert r.cell == reference_cell(r.lat, r.lon, r.res)
        assert r.cell7 == reference_cell(r.lat, r.lon, 7)


def test_event_problems_in_spark(spark: SparkSession) -> None:
    soundlake_udfs.register(spark)
    events = random_events(2_000, seed=9)
    schema = (
        "ts bigint, userId bigint, auth string, level string, lat double, lon double,"
        " zip string, state string"
    )
    df = spark.createDataFrame(events, schema).repartition(2)
    got = df.select("*", soundlake_udfs.event_problems().alias("problems")).collect()
    for row in got:
        assert row.problems == reference_problems(tuple(row)[:8])  # type: ignore[arg-type]
    df.createOrReplaceTempView("udf_test_bronze")
    counted = spark.sql(
        "select code, count(*) as n from udf_test_bronze"
        " lateral view explode(event_problems(ts, userId, auth, level, lat, lon, zip, state))"
        " p as code group by code"
    ).collect()
    expected: dict[str, int] = {}
    for event in events:
        for code in reference_problems(event):
            expected[code] = expected.get(code, 0) + 1
    assert {r.code: r.n for r in counted} == expected


def test_parse_user_agent_in_spark(spark: SparkSession) -> None:
    soundlake_udfs.register(spark)
    agents = eventsim_agents() + COMMON_AGENTS + [None]
    df = spark.createDataFrame([(a,) for a in agents], "userAgent string")
    df.createOrReplaceTempView("udf_test_agents")
    sql = spark.sql(
        "select userAgent, parse_user_agent(userAgent).browser as browser,"
        " parse_user_agent(userAgent).os as os from udf_test_agents"
    ).collect()
    for row in sql:
        if row.userAgent is None:
            assert (row.browser, row.os) == (None, None)
        else:
            expected = reference_agent(row.userAgent)
            assert (row.browser, row.os) == (expected["browser"], expected["os"])
    columns = df.select(soundlake_udfs.parse_user_agent().alias("ua")).collect()
    assert [r.ua.asDict() if r.ua else None for r in columns] == arrow.parse_user_agent(
        pa.array(agents)
    ).to_pylist()


def test_sessionize_in_spark(spark: SparkSession) -> None:
    rng = random.Random(33)  # noqa: S311 - reproducible test data
    rows = [(user, rng.randrange(0, 50_000_000), f"p{i}") for i in range(3_000) for user in [i % 7]]
    rows += [(3, None, "no time")]
    df = spark.createDataFrame(rows, "userId bigint, ts bigint, page string")
    out = soundlake_udfs.sessionize(df, 600).collect()
    assert len(out) == len(rows)
    assert set(out[0].asDict()) == {"userId", "ts", "page", "session_number"}
    by_user: dict[int, list[tuple[int | None, int | None]]] = {}
    for row in out:
        by_user.setdefault(row.userId, []).append((row.ts, row.session_number))
    for events in by_user.values():
        times = [t for t, _ in events]
        assert times == sorted(times, key=lambda t: (t is None, t or 0))
        assert [n for _, n in events] == reference_sessions(times, 600_000)
    with pytest.raises(ValueError, match="gap must be"):
        soundlake_udfs.sessionize(df, -5)
