"""Soundlake's UDFs on pyarrow arrays, without Spark: the same names and the same results as in
Spark SQL, for pandas/polars users, notebooks and tests.

Every function takes its arguments as ``pyarrow.compute`` does (see :data:`Datum`): arrays
(anything with ``__arrow_c_array__``), ``pyarrow.ChunkedArray``s, and scalars — a
``pyarrow.Scalar`` or a plain Python value such as ``7`` or ``"free"`` — which stand for a
column of that value as long as the array arguments, so ``h3_cell(lat, lon, 7)`` needs no
column of 7s. The result has the shape of the arguments: a ``pyarrow.Array`` of their length, a
``pyarrow.ChunkedArray`` when one of them is chunked, and a ``pyarrow.Scalar`` when all of them
are scalars. Array arguments of different lengths raise ``ValueError``; a null input gives a
null output. The work is done in Rust (``soundlake_udfs._native``); the arrays cross the
boundary through the Arrow C data interface, without copying.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import pyarrow as pa

from soundlake_udfs import _native

#: An argument of the functions below, as ``pyarrow.compute`` takes one: an array (anything with
#: ``__arrow_c_array__``), a ``pyarrow.ChunkedArray``, a ``pyarrow.Scalar`` or a Python value
#: that ``pyarrow.scalar`` takes (a scalar, broadcast to the length of the array arguments); a
#: list, tuple or NumPy array is made an array by ``pyarrow.array``.
Datum: TypeAlias = (
    pa.Array | pa.ChunkedArray | pa.Scalar | bool | int | float | str | bytes | Sequence[Any] | None
)

#: A result: an array, a chunked array when an argument is chunked, a scalar when every argument
#: is a scalar.
Result: TypeAlias = pa.Array | pa.ChunkedArray | pa.Scalar

__all__ = [
    "EVENT_PROBLEM_RULES",
    "Datum",
    "Result",
    "event_problems",
    "h3_cell",
    "normalize_name",
    "parse_user_agent",
    "sessionize",
    "sessionize_table",
]

#: The code of each data quality rule of :func:`event_problems`, with what it means, in the
#: order the codes appear in a row's list.
EVENT_PROBLEM_RULES: dict[str, str] = dict(_native.event_problem_rules())


def normalize_name(texts: Datum) -> Result:
    """The deduplication key of an artist or song name (``string`` → ``string``).

    Unicode NFKD, combining marks removed (accents go), lower case, every run of characters
    that are not letters or digits turned into one space, trimmed, and a leading article
    ``"the "`` removed: ``"The Beatles"`` → ``"beatles"``, ``"Beyoncé"`` → ``"beyonce"``,
    ``"AC/DC"`` → ``"ac dc"``. Accepts ``string`` and ``large_string``; returns ``string``.
    """
    return _native.normalize_name(texts)


def h3_cell(lat: Datum, lon: Datum, resolution: Datum) -> Result:
    """The H3 cell id that contains each point, as ``int64``.

    The id equals ``h3.str_to_int(h3.latlng_to_cell(lat, lon, resolution))`` of the Python
    ``h3`` package. Coordinates and resolution may be of any numeric type. The result is null
    when an input is null, a coordinate is not finite, the latitude is outside [-90, 90], the
    longitude outside [-180, 180], or the resolution outside 0..15. A constant resolution is
    given as a scalar: ``h3_cell(lat, lon, 7)``.
    """
    return _native.h3_cell(lat, lon, resolution)


def event_problems(
    ts: Datum,
    user_id: Datum,
    auth: Datum,
    level: Datum,
    lat: Datum,
    lon: Datum,
    zip: Datum,
    state: Datum,
) -> Result:
    """The data quality problems of each event, as ``list<string>`` (empty when clean, never
    null): the silver layer's rules in one place, see :data:`EVENT_PROBLEM_RULES`.

    ``ts`` is epoch milliseconds (any integer type) or a timestamp; ``user_id`` an integer or
    a string (``""`` counts as no user); ``auth``, ``level``, ``zip`` and ``state`` strings;
    ``lat`` and ``lon`` numbers. A column that is all null may have the ``null`` type.
    """
    return _native.event_problems(ts, user_id, auth, level, lat, lon, zip, state)


def parse_user_agent(agents: Datum) -> Result:
    """Browser, OS and device type of each user agent string, as a struct array with the
    string fields ``browser``, ``browser_version``, ``os``, ``os_version``, ``device_type``.

    ``browser`` and ``os`` are uap-core's families (as the Python ``ua-parser`` package
    gives them: "Chrome", "Mobile Safari", "Mac OS X", "Other" when unknown); versions are
    "major.minor.patch" up to the first missing part, or null. ``device_type`` is "bot",
    "tablet", "mobile", "desktop" or "other". Surrounding double quotes (eventsim writes its
    agents quoted) are ignored. A null agent gives a null struct.
    """
    return _native.parse_user_agent(agents)


def sessionize(ts: Datum, gap_seconds: float) -> Result:
    """Session numbers (``int64``: 1, 2, …) of one user's event times, sorted ascending with
    nulls last: a session starts at the first event and at every event more than
    ``gap_seconds`` after the previous one. ``ts`` is epoch milliseconds (any integer type)
    or a timestamp; a null time gets a null number. Unsorted input raises ValueError. The
    chunks of a ``ChunkedArray`` are one sequence (a session may span them).
    """
    return _native.sessionize(ts, gap_millis(gap_seconds))


def sessionize_table(
    table: pa.Table, gap_seconds: float, ts: str = "ts", output: str = "session_number"
) -> pa.Table:
    """``table`` (one user's events) sorted by ``ts`` (nulls last), with the column ``output``
    of :func:`sessionize` appended."""
    ordered = table.sort_by([(ts, "ascending")])
    times = ordered.column(ts).combine_chunks()
    return ordered.append_column(output, sessionize(times, gap_seconds))


def gap_millis(gap_seconds: float) -> int:
    """The session gap in whole milliseconds (ValueError unless a number >= 0)."""
    if not gap_seconds >= 0 or gap_seconds == float("inf"):
        raise ValueError(
            f"the session gap must be a finite number of seconds >= 0, got {gap_seconds}"
        )
    return round(gap_seconds * 1000)
