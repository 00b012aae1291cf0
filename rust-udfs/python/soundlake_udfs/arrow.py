"""Soundlake's UDFs on pyarrow arrays, without Spark: the same names and the same results as in
Spark SQL, for pandas/polars users, notebooks and tests.

Every function takes ``pyarrow.Array`` arguments of one length (anything with
``__arrow_c_array__`` works) and returns a new ``pyarrow.Array`` of that length; a null input
gives a null output. The work is done in Rust (``soundlake_udfs._native``); the arrays cross
the boundary through the Arrow C data interface, without copying.
"""

from __future__ import annotations

import pyarrow as pa

from soundlake_udfs import _native

__all__ = [
    "EVENT_PROBLEM_RULES",
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


def normalize_name(texts: pa.Array) -> pa.Array:
    """The deduplication key of an artist or song name (``string`` → ``string``).

    Unicode NFKD, combining marks removed (accents go), lower case, every run of characters
    that are not letters or digits turned into one space, trimmed, and a leading article
    ``"the "`` removed: ``"The Beatles"`` → ``"beatles"``, ``"Beyoncé"`` → ``"beyonce"``,
    ``"AC/DC"`` → ``"ac dc"``. Accepts ``string`` and ``large_string``; returns ``string``.
    """
    result: pa.Array = _native.normalize_name(texts)
    return result


def h3_cell(lat: pa.Array, lon: pa.Array, resolution: pa.Array) -> pa.Array:
    """The H3 cell id that contains each point, as ``int64``.

    The id equals ``h3.str_to_int(h3.latlng_to_cell(lat, lon, resolution))`` of the Python
    ``h3`` package. Coordinates and resolution may be of any numeric type. The result is null
    when an input is null, a coordinate is not finite, the latitude is outside [-90, 90], the
    longitude outside [-180, 180], or the resolution outside 0..15.
    """
    result: pa.Array = _native.h3_cell(lat, lon, resolution)
    return result


def event_problems(
    ts: pa.Array,
    user_id: pa.Array,
    auth: pa.Array,
    level: pa.Array,
    lat: pa.Array,
    lon: pa.Array,
    zip: pa.Array,
    state: pa.Array,
) -> pa.Array:
    """The data quality problems of each event, as ``list<string>`` (empty when clean, never
    null): the silver layer's rules in one place, see :data:`EVENT_PROBLEM_RULES`.

    ``ts`` is epoch milliseconds (any integer type) or a timestamp; ``user_id`` an integer or
    a string (``""`` counts as no user); ``auth``, ``level``, ``zip`` and ``state`` strings;
    ``lat`` and ``lon`` numbers. A column that is all null may have the ``null`` type.
    """
    result: pa.Array = _native.event_problems(ts, user_id, auth, level, lat, lon, zip, state)
    return result


def parse_user_agent(agents: pa.Array) -> pa.Array:
    """Browser, OS and device type of each user agent string, as a struct array with the
    string fields ``browser``, ``browser_version``, ``os``, ``os_version``, ``device_type``.

    ``browser`` and ``os`` are uap-core's families (as the Python ``ua-parser`` package
    gives them: "Chrome", "Mobile Safari", "Mac OS X", "Other" when unknown); versions are
    "major.minor.patch" up to the first missing part, or null. ``device_type`` is "bot",
    "tablet", "mobile", "desktop" or "other". Surrounding double quotes (eventsim writes its
    agents quoted) are ignored. A null agent gives a null struct.
    """
    result: pa.Array = _native.parse_user_agent(agents)
    return result


def sessionize(ts: pa.Array, gap_seconds: float) -> pa.Array:
    """Session numbers (``int64``: 1, 2, …) of one user's event times, sorted ascending with
    nulls last: a session starts at the first event and at every event more than
    ``gap_seconds`` after the previous one. ``ts`` is epoch milliseconds (any integer type)
    or a timestamp; a null time gets a null number. Unsorted input raises ValueError.
    """
    result: pa.Array = _native.sessionize(ts, gap_millis(gap_seconds))
    return result


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
