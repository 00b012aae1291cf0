"""The arguments of ``soundlake_udfs.arrow`` as ``pyarrow.compute`` takes them: scalars (Python
values and ``pyarrow.Scalar``) broadcast to the length of the array arguments, ``ChunkedArray``s,
a scalar result when every argument is a scalar, and clear errors. Needs no stack or Spark."""

from __future__ import annotations

import h3
import pyarrow as pa
import pytest

from soundlake_udfs import arrow

LATS = [40.7128, 34.0522, None, 91.0, 41.8781]
LONS = [-74.0060, -118.2437, 1.0, 0.0, -87.6298]
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
CLEAN = [1_700_000_000_000, 42, "Logged In", "paid", 40.7, -74.0, "10001", "NY"]
EVENT_TYPES = [pa.int64(), pa.int64(), pa.string(), pa.string()]
EVENT_TYPES += [pa.float64(), pa.float64(), pa.string(), pa.string()]


def reference_cell(lat: float | None, lon: float | None, resolution: int) -> int | None:
    if lat is None or lon is None or not -90 <= lat <= 90 or not -180 <= lon <= 180:
        return None
    return int(h3.str_to_int(h3.latlng_to_cell(lat, lon, resolution)))


# --- scalars broadcast to the arrays' length, one function at a time ---------------------------


@pytest.mark.parametrize("resolution", [7, pa.scalar(7), pa.scalar(7, pa.int8())])
def test_h3_cell_takes_a_scalar_resolution(resolution: object) -> None:
    out = arrow.h3_cell(pa.array(LATS), pa.array(LONS), resolution)
    assert isinstance(out, pa.Array)
    assert out.type == pa.int64()
    assert out.to_pylist() == [reference_cell(a, o, 7) for a, o in zip(LATS, LONS, strict=True)]
    columns = arrow.h3_cell(pa.array(LATS), pa.array(LONS), pa.array([7] * len(LATS)))
    assert out.equals(columns)


def test_h3_cell_broadcasts_any_argument() -> None:
    out = arrow.h3_cell(40.7128, pa.array(LONS), pa.array([5, 6, 7, 8, 9]))
    expected = [reference_cell(40.7128, o, r) for o, r in zip(LONS, [5, 6, 7, 8, 9], strict=True)]
    assert out.to_pylist() == expected
    nulls = arrow.h3_cell(None, pa.array(LONS), 7)
    assert nulls.to_pylist() == [None] * len(LONS)


def test_h3_cell_of_scalars_is_a_scalar() -> None:
    out = arrow.h3_cell(40.7128, -74.0060, 7)
    assert isinstance(out, pa.Scalar)
    assert out.type == pa.int64()
    assert out.as_py() == reference_cell(40.7128, -74.0060, 7)
    assert arrow.h3_cell(pa.scalar(91.0), 0.0, 7).as_py() is None


def test_normalize_name_takes_scalars() -> None:
    out = arrow.normalize_name("The Beatles")
    assert isinstance(out, pa.Scalar)
    assert out.as_py() == "beatles"
    assert arrow.normalize_name(pa.scalar("Beyoncé", pa.large_string())).as_py() == "beyonce"
    assert arrow.normalize_name(pa.scalar(None, pa.string())).as_py() is None


def test_parse_user_agent_takes_scalars() -> None:
    out = arrow.parse_user_agent(CHROME)
    assert isinstance(out, pa.Scalar)
    assert out.as_py() == arrow.parse_user_agent(pa.array([CHROME])).to_pylist()[0]
    assert out.as_py()["browser"] == "Chrome"


def test_event_problems_broadcasts_scalar_columns() -> None:
    ts = pa.array([CLEAN[0], None, 1])
    out = arrow.event_problems(ts, *CLEAN[1:])
    assert isinstance(out, pa.Array)
    assert out.to_pylist() == [[], ["ts_missing"], ["ts_out_of_range"]]
    columns = [ts] + [
        pa.array([v] * 3, type=t) for v, t in zip(CLEAN[1:], EVENT_TYPES[1:], strict=True)
    ]
    assert out.equals(arrow.event_problems(*columns))
    one = arrow.event_problems(*CLEAN)
    assert isinstance(one, pa.Scalar)
    assert one.as_py() == []
    guest = arrow.event_problems(CLEAN[0], None, "Guest", "free", *CLEAN[4:])
    assert guest.as_py() == []


def test_sessionize_of_a_scalar_is_one_session() -> None:
    out = arrow.sessionize(1_700_000_000_000, 1800)
    assert isinstance(out, pa.Scalar)
    assert out.as_py() == 1
    assert arrow.sessionize(pa.scalar(None, pa.int64()), 1800).as_py() is None


def test_lists_are_arrays_as_in_pyarrow_compute() -> None:
    out = arrow.h3_cell([40.7128, 34.0522], (-74.0060, -118.2437), 7)
    assert out.to_pylist() == [
        reference_cell(40.7128, -74.0060, 7),
        reference_cell(34.0522, -118.2437, 7),
    ]


# --- chunked arrays ------------------------------------------------------------------------------


def test_chunked_arguments_give_a_chunked_result_with_their_chunks() -> None:
    lat = pa.chunked_array([LATS[:2], LATS[2:]])
    lon = pa.chunked_array([LONS[:2], LONS[2:]])
    out = arrow.h3_cell(lat, lon, 7)
    assert isinstance(out, pa.ChunkedArray)
    assert [len(c) for c in out.chunks] == [2, 3]
    assert out.to_pylist() == arrow.h3_cell(pa.array(LATS), pa.array(LONS), 7).to_pylist()
    names = arrow.normalize_name(pa.chunked_array([["The Beatles"], ["AC/DC", None]]))
    assert isinstance(names, pa.ChunkedArray)
    assert names.to_pylist() == ["beatles", "ac dc", None]
    agents = arrow.parse_user_agent(pa.chunked_array([[CHROME], [None]]))
    assert isinstance(agents, pa.ChunkedArray)
    assert agents.to_pylist()[1] is None


def test_chunked_arguments_with_other_chunks_or_arrays_are_combined() -> None:
    lat = pa.chunked_array([LATS[:1], LATS[1:]])
    lon = pa.chunked_array([LONS[:3], LONS[3:]])
    expected = arrow.h3_cell(pa.array(LATS), pa.array(LONS), 7).to_pylist()
    out = arrow.h3_cell(lat, lon, 7)
    assert isinstance(out, pa.ChunkedArray)
    assert out.to_pylist() == expected
    mixed = arrow.h3_cell(lat, pa.array(LONS), 7)
    assert isinstance(mixed, pa.ChunkedArray)
    assert mixed.to_pylist() == expected
    columns = [
        pa.chunked_array([[v], [v]], type=t) for v, t in zip(CLEAN, EVENT_TYPES, strict=True)
    ]
    problems = arrow.event_problems(*columns)
    assert isinstance(problems, pa.ChunkedArray)
    assert problems.to_pylist() == [[], []]


def test_empty_chunked_arrays() -> None:
    out = arrow.normalize_name(pa.chunked_array([], type=pa.string()))
    assert isinstance(out, pa.ChunkedArray)
    assert len(out) == 0
    assert out.type == pa.string()


def test_sessionize_counts_sessions_across_chunks() -> None:
    ts = pa.chunked_array([[0, 1_000], [2_500, 2_600], [10_000]], type=pa.int64())
    out = arrow.sessionize(ts, 1)
    assert isinstance(out, pa.ChunkedArray)
    assert out.to_pylist() == [1, 1, 2, 2, 3]


# --- errors --------------------------------------------------------------------------------------


def test_arrays_of_different_lengths_are_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"h3_cell: .*one length.*lat has 5 values, lon has 2"):
        arrow.h3_cell(pa.array(LATS), pa.array([1.0, 2.0]), 7)
    with pytest.raises(ValueError, match="one length"):
        arrow.h3_cell(pa.chunked_array([LATS]), pa.array([1.0]), 7)
    with pytest.raises(ValueError, match=r"event_problems: .*ts has 3 values, state has 2"):
        arrow.event_problems(pa.array([1, 2, 3]), *CLEAN[1:7], pa.array(["NY", "CA"]))


def test_what_is_no_scalar_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="h3_cell: resolution must be a pyarrow Array"):
        arrow.h3_cell(pa.array(LATS), pa.array(LONS), object())  # type: ignore[arg-type]


def test_a_scalar_of_the_wrong_type_is_the_kernels_value_error() -> None:
    with pytest.raises(ValueError, match="lat must be numeric"):
        arrow.h3_cell("40.7", pa.array(LONS), 7)
    with pytest.raises(ValueError):
        arrow.normalize_name(7)
