"""Benchmark of the Soundlake Rust UDFs: each UDF side by side, in one Spark run,
with the identity ``arrow_udf`` over the same input columns (the cost of moving the data
between the JVM and Python: the floor of any Python-side UDF) and, for ``parse_user_agent``
and ``h3_cell``, the same computation in a ``pandas_udf`` with the Python package
(``ua-parser`` with ``ua-parser-builtins``, ``h3``).

The input is built once from eventsim's data (its quoted user agents with their weights' mix
of 30 agents, its US places, artist names with accents), cached and materialized; each
measurement then forces the full evaluation of one column with the ``noop`` sink. All the
variants of a function take the same input columns (a literal argument such as the H3
resolution is a column too, as Spark sends it) and return the same type. ``h3_cell`` is timed
twice: on eventsim's points (every event of a user carries the exact coordinates of the
user's city, so points repeat) and on unique points (each city jittered by up to ±0.05° per
row: no point repeats, the worst case for any cache). The targets: each Rust UDF ≤ 1.3x its
floor; ``parse_user_agent`` ≥ 10x and ``h3_cell`` ≥ 5x faster than the Python reference.

Usage: .venv/bin/python python/benchmarks/bench_udfs.py [--rows N] [--python-rows N]
       [--repeat K] [--only NAME ...]
(or the same arguments after ``spark-submit python/benchmarks/bench_udfs.py``).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from soundlake.paths import REPO_ROOT

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

EVENTSIM_DATA = REPO_ROOT / "eventsim" / "data"
H3_RESOLUTION = 7
FLOOR_TARGET = 1.3
SPEEDUP_TARGETS = {"parse_user_agent": 10.0, "h3_cell": 5.0}
# What is timed: each UDF on its usual input, and h3_cell again on points that never repeat.
CASES = ("normalize_name", "h3_cell", "h3_cell_unique", "parse_user_agent", "event_problems")

# Artist and song names of the kind normalize_name deduplicates: accents, articles, symbols.
NAMES = (
    "The Beatles",
    "Beyoncé",
    "Sigur Rós",
    "Motörhead",
    "Björk",
    "Mötley Crüe",
    "The Killers",
    "Céline Dion",
    "Queensrÿche",
    "AC/DC",
    "Guns N' Roses",
    "Röyksopp",
    "Héroes del Silencio",
    "Zoé",
    "Jóhann Jóhannsson",
    "The Notorious B.I.G.",
    "Ólafur Arnalds",
    "Édith Piaf",
    "Los Tigres del Norte",
    "Sinéad O'Connor",
)


@dataclass(frozen=True)
class Measure:
    """One timed variant of one case: its label, kind and the column it computes."""

    case: str
    kind: str  # "floor", "result floor", "rust" or "python"
    label: str
    make_column: Callable[[], Column]


@dataclass(frozen=True)
class Timing:
    measure: Measure
    rows: int
    seconds: float  # the median of the repeats


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Time each soundlake_udfs UDF against the identity arrow_udf floor and the "
            "Python references (pandas_udf), side by side in one local Spark run."
        )
    )
    parser.add_argument("--rows", type=int, default=5_000_000, help="input rows (default 5M)")
    parser.add_argument(
        "--python-rows",
        type=int,
        default=None,
        help="rows for the Python references (default: --rows); with fewer rows their time "
        "is extrapolated linearly to --rows and marked so",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument(
        "--only", nargs="+", choices=CASES, default=list(CASES), help="cases to time"
    )
    parser.add_argument("--master", default="local[*]", help="Spark master (default local[*])")
    parser.add_argument("--driver-memory", default="4g", help="spark.driver.memory")
    parser.add_argument(
        "--kernel-rows",
        type=int,
        default=200_000,
        help="rows for timing each function alone, without Spark (0: skip; default 200k)",
    )
    args = parser.parse_args(argv)
    if args.rows <= 0 or args.repeat <= 0:
        parser.error("--rows and --repeat must be positive")
    if args.python_rows is None:
        args.python_rows = args.rows
    if not 0 < args.python_rows <= args.rows:
        parser.error("--python-rows must be between 1 and --rows")
    return args


def tsv_rows(name: str) -> list[list[str]]:
    """The rows of eventsim/data/<name> (tab-separated, '#' lines are comments)."""
    path = EVENTSIM_DATA / name
    if not path.is_file():
        sys.exit(f"bench_udfs: {path} not found (run from a Soundlake checkout)")
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]


def spark_session(master: str, driver_memory: str) -> SparkSession:
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(master)
        .appName("soundlake-bench-udfs")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", driver_memory)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    return spark


def pick(values: Sequence[Any], seed: int) -> Column:
    """A column taking one of ``values`` per row, chosen by a hash of the row id."""
    from pyspark.sql import functions as F

    choices = F.array(*[F.lit(v) for v in values])
    index = F.pmod(F.xxhash64(F.col("id"), F.lit(seed)), F.lit(len(values))) + 1
    return F.element_at(choices, index.cast("int"))


def input_frame(spark: SparkSession, rows: int) -> DataFrame:
    """``rows`` listen-like events: userAgent (eventsim's quoted agents), lat/lon (eventsim's
    US places, exact, as eventsim writes them), lat_unique/lon_unique (the same places with
    up to ±0.05° of jitter per row), artist (names with accents, some with a first name),
    and the other columns of event_problems (with a few bad values)."""
    from pyspark.sql import functions as F

    agents = [row[1] for row in tsv_rows("user_agents.tsv")]
    places = tsv_rows("us_places.tsv")
    first_names = [row[0] for row in tsv_rows("first_names.tsv")]
    artists = [*NAMES, *(f"{f} {n}" for f, n in itertools.product(first_names[:50], NAMES[:8]))]
    place = F.pmod(F.xxhash64(F.col("id"), F.lit(2)), F.lit(len(places))) + 1
    lats = F.array(*[F.lit(float(p[3])) for p in places])
    lons = F.array(*[F.lit(float(p[4])) for p in places])
    zips = F.array(*[F.lit(p[2]) for p in places])
    states = F.array(*[F.lit(p[1]) for p in places])
    index = place.cast("int")
    return spark.range(rows).select(
        pick(agents, 1).alias("userAgent"),
        F.element_at(lats, index).alias("lat"),
        F.element_at(lons, index).alias("lon"),
        (F.element_at(lats, index) + (F.rand(3) - 0.5) / 10).alias("lat_unique"),
        (F.element_at(lons, index) + (F.rand(4) - 0.5) / 10).alias("lon_unique"),
        pick(artists, 5).alias("artist"),
        (F.lit(1_538_352_000_000) + F.col("id") * 997).alias("ts"),
        F.when(F.col("id") % 97 == 0, F.lit(""))
        .otherwise((F.col("id") % 5000).cast("string"))
        .alias("userId"),
        pick(["Logged In", "Logged In", "Logged Out", "Guest"], 6).alias("auth"),
        pick(["free", "paid", "paid"], 7).alias("level"),
        F.element_at(zips, index).alias("zip"),
        F.element_at(states, index).alias("state"),
    )


def arguments(case: str) -> list[Column]:
    """The argument columns of ``case``, the same for every variant of it."""
    from pyspark.sql import functions as F

    names = {
        "normalize_name": ["artist"],
        "h3_cell": ["lat", "lon"],
        "h3_cell_unique": ["lat_unique", "lon_unique"],
        "parse_user_agent": ["userAgent"],
        "event_problems": ["ts", "userId", "auth", "level", "lat", "lon", "zip", "state"],
    }[case]
    columns = [F.col(name) for name in names]
    if case.startswith("h3_cell"):
        columns.append(F.lit(H3_RESOLUTION))
    return columns


def function_of(case: str) -> str:
    return "h3_cell" if case.startswith("h3_cell") else case


def identity_1(a: pa.Array) -> pa.Array:
    from soundlake_udfs import arrow_identity

    result: pa.Array = arrow_identity(a)
    return result


def identity_3(a: pa.Array, b: pa.Array, c: pa.Array) -> pa.Array:
    return identity_1(a)


def identity_8(
    a: pa.Array,
    b: pa.Array,
    c: pa.Array,
    d: pa.Array,
    e: pa.Array,
    f: pa.Array,
    g: pa.Array,
    h: pa.Array,
) -> pa.Array:
    return identity_1(a)


# pyspark infers an arrow_udf's kind from its type hints, which cannot be ``*args``.
IDENTITIES: dict[int, Callable[..., pa.Array]] = {1: identity_1, 3: identity_3, 8: identity_8}


def identity_floor(case: str, input_type: str) -> Measure:
    """The identity arrow_udf over the same input columns as ``case``: it returns its first
    input unchanged (through the Rust ``arrow_identity``, no copy)."""
    from pyspark.sql.functions import arrow_udf

    columns = arguments(case)
    udf = arrow_udf(IDENTITIES[len(columns)], returnType=input_type)
    return Measure(case, "floor", "identity arrow_udf", lambda: udf(*columns))


def rust_udf(case: str) -> Measure:
    """The Rust UDF through its Column function in ``soundlake_udfs``."""
    import soundlake_udfs

    function = getattr(soundlake_udfs, function_of(case))
    return Measure(case, "rust", "Rust arrow_udf", lambda: function(*arguments(case)))


def h3_cells_py(lat: pd.Series, lon: pd.Series, resolution: pd.Series) -> pd.Series:
    """h3_cell with the Python ``h3`` package, as its documentation has it for integer cells
    (``h3.api.basic_int``: no string ids to convert)."""
    import h3.api.basic_int as h3

    cells = [h3.latlng_to_cell(a, b, r) for a, b, r in zip(lat, lon, resolution, strict=True)]
    return pd.Series(cells, dtype="int64")


def python_h3(case: str) -> Measure:
    """h3_cell in a pandas_udf with the Python ``h3`` package."""
    from pyspark.sql.functions import pandas_udf

    udf = pandas_udf(h3_cells_py, "bigint")  # type: ignore[call-overload]
    return Measure(case, "python", "pandas_udf h3", lambda: udf(*arguments(case)))


UA_FIELDS = ["browser", "browser_version", "os", "os_version", "device_type"]


def ua_fields(agent: str) -> tuple[str | None, ...]:
    """browser, browser_version, os, os_version, device family of ``agent`` by ua-parser."""
    import ua_parser

    result = ua_parser.parse(agent.strip().strip('"'))
    browser, system, device = result.user_agent, result.os, result.device

    def version(*parts: str | None) -> str | None:
        present = list(itertools.takewhile(lambda p: p is not None, parts))
        return ".".join(present) if present else None  # type: ignore[arg-type]

    return (
        browser.family if browser else "Other",
        version(browser.major, browser.minor, browser.patch) if browser else None,
        system.family if system else "Other",
        version(system.major, system.minor, system.patch, system.patch_minor) if system else None,
        device.family if device else "Other",
    )


def user_agents_py(agents: pd.Series) -> pd.DataFrame:
    """parse_user_agent with the Python ``ua-parser`` (``ua_parser.parse``, its default
    resolver over ua-parser-builtins' rules, with its own cache)."""
    rows = [ua_fields(a) if a is not None else (None,) * 5 for a in agents]
    return pd.DataFrame(rows, columns=UA_FIELDS)


def constant_agents(agents: pa.Array) -> pa.Array:
    """A struct array of parse_user_agent's type with the same five short strings in every row:
    what moving parse_user_agent's result back to the JVM costs, without parsing anything."""
    values = pa.array(["Chrome", "36.0.1985", "Windows", "7", "desktop"])
    columns = [pa.repeat(values[i], len(agents)) for i in range(len(UA_FIELDS))]
    return pa.StructArray.from_arrays(columns, UA_FIELDS)


def user_agent_result_floor() -> Measure:
    """An arrow_udf over userAgent that returns a constant struct of parse_user_agent's type:
    the floor for that result type (a struct of five strings costs the JVM more to take back
    than the one string the identity returns)."""
    from pyspark.sql.functions import arrow_udf

    schema = ", ".join(f"{name}: string" for name in UA_FIELDS)
    udf = arrow_udf(constant_agents, returnType=f"struct<{schema}>")
    return Measure(
        "parse_user_agent",
        "result floor",
        "constant struct arrow_udf",
        lambda: udf(*arguments("parse_user_agent")),
    )


def python_user_agent() -> Measure:
    """parse_user_agent in a pandas_udf with the Python ``ua-parser``."""
    from pyspark.sql.functions import pandas_udf

    schema = ", ".join(f"{name}: string" for name in UA_FIELDS)
    udf = pandas_udf(user_agents_py, f"struct<{schema}>")  # type: ignore[call-overload]
    return Measure(
        "parse_user_agent",
        "python",
        "pandas_udf ua-parser",
        lambda: udf(*arguments("parse_user_agent")),
    )


def measures(case: str, frame: DataFrame) -> list[Measure]:
    first = frame.select(arguments(case)[0]).schema[0].dataType.simpleString()
    result = [identity_floor(case, first), rust_udf(case)]
    if function_of(case) == "h3_cell":
        result.append(python_h3(case))
    if case == "parse_user_agent":
        result += [user_agent_result_floor(), python_user_agent()]
    return result


def kernel_report(frame: DataFrame, cases: Sequence[str], rows: int, batch: int) -> None:
    """Each function alone, without Spark, on ``batch``-row slices of ``rows`` input rows
    (pyarrow arrays for Rust, pandas Series for the Python references, converted beforehand):
    what a row costs inside the Python worker, against what it costs end to end above."""
    import soundlake_udfs
    from soundlake_udfs import arrow

    print(f"\nKernels alone, ns per row (one thread, {rows:,} rows in {batch:,}-row batches):")
    print("| case | identity | Rust | Python reference |")
    print("| --- | ---: | ---: | ---: |")
    for case in cases:
        table = frame.select(*arguments(case)).limit(rows).toArrow()
        args = [table.column(i).combine_chunks() for i in range(table.num_columns)]
        slices = [[a.slice(start, batch) for a in args] for start in range(0, len(table), batch)]
        rust = getattr(arrow, function_of(case))
        python: Callable[..., Any] | None = {"h3_cell": h3_cells_py}.get(function_of(case))
        if case == "parse_user_agent":
            python = user_agents_py
        series = [[a.to_pandas() for a in one] for one in slices]
        identity = nanos_per_row(lambda a, *_: soundlake_udfs.arrow_identity(a), slices)
        reference = f"{nanos_per_row(python, series):,.0f}" if python else ""
        print(f"| {case} | {identity:,.0f} | {nanos_per_row(rust, slices):,.0f} | {reference} |")


def nanos_per_row(run: Callable[..., Any], batches: list[list[Any]]) -> float:
    """The time of ``run`` over every batch (of one column or more), in ns per row."""
    run(*batches[0])  # warm-up: caches, compiled rules
    started = time.perf_counter()
    for batch in batches:
        run(*batch)
    rows = sum(len(batch[0]) for batch in batches)
    return (time.perf_counter() - started) / rows * 1e9


def run_once(frame: DataFrame, column: Column) -> float:
    started = time.perf_counter()
    frame.select(column.alias("x")).write.format("noop").mode("overwrite").save()
    return time.perf_counter() - started


def time_measure(
    measure: Measure, frame: DataFrame, warm_up: DataFrame, rows: int, repeat: int
) -> Timing:
    """The median of ``repeat`` runs of ``measure`` over ``frame``, after one run over the
    small ``warm_up`` frame (Python workers started, imports done, rules compiled)."""
    column = measure.make_column()
    run_once(warm_up, column)
    seconds = [run_once(frame, column) for _ in range(repeat)]
    timing = Timing(measure, rows, statistics.median(seconds))
    runs = ", ".join(f"{s:.2f}" for s in seconds)
    print(f"  {measure.case:<17} {measure.label:<22} {rows:>10,} rows: {runs} s", flush=True)
    return timing


def cached(frame: DataFrame) -> DataFrame:
    frame = frame.cache()
    frame.count()
    return frame


def report(timings: list[Timing], rows: int) -> None:
    """The table: seconds (at ``rows``), ratio to the floor, speed-up over Python, targets."""
    print()
    print(
        f"| function | variant | rows timed | seconds at {rows:,} rows | x floor | "
        "speed-up vs Python | target | met |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | --- | --- |")
    by_function: dict[str, dict[str, Timing]] = {}
    for timing in timings:
        by_function.setdefault(timing.measure.case, {})[timing.measure.kind] = timing
    for function, kinds in by_function.items():
        scaled = {kind: t.seconds * rows / t.rows for kind, t in kinds.items()}
        floor, rust, python = scaled["floor"], scaled["rust"], scaled.get("python")
        for kind, timing in kinds.items():
            seconds = scaled[kind]
            note = "" if timing.rows == rows else " (extrapolated)"
            ratio = f"{seconds / floor:.2f}"
            speedup, target, met = "", "", ""
            if kind == "rust":
                target = f"≤ {FLOOR_TARGET}x floor"
                met = "yes" if seconds / floor <= FLOOR_TARGET else "NO"
                if python is not None:
                    want = SPEEDUP_TARGETS[function_of(function)]
                    speedup = f"{python / rust:.1f}x"
                    target += f"; ≥ {want:g}x Python"
                    met += "; " + ("yes" if python / rust >= want else "NO")
            print(
                f"| {function} | {timing.measure.label} | {timing.rows:,} | "
                f"{seconds:.2f}{note} | {ratio} | {speedup} | {target} | {met} |"
            )


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    spark = spark_session(args.master, args.driver_memory)
    import soundlake_udfs

    print(
        f"soundlake_udfs {soundlake_udfs.__version__}, Spark {spark.version}, "
        f"master {args.master}, {os.cpu_count()} CPUs; rows {args.rows:,}, "
        f"Python references on {args.python_rows:,} rows, median of {args.repeat}",
        flush=True,
    )
    started = time.perf_counter()
    frame = cached(input_frame(spark, args.rows))
    small = frame if args.python_rows == args.rows else cached(input_frame(spark, args.python_rows))
    # A cached copy, not a bare limit: a limit would stop reading the UDF's output early. One
    # partition per core, so that every Python worker of the timed runs is warmed up.
    parallelism = spark.sparkContext.defaultParallelism
    warm_up = cached(frame.limit(1000 * parallelism).repartition(parallelism))
    print(f"input built and cached in {time.perf_counter() - started:.1f} s", flush=True)
    timings: list[Timing] = []
    for case in args.only:
        for measure in measures(case, frame):
            if measure.kind == "python":
                timings.append(time_measure(measure, small, warm_up, args.python_rows, args.repeat))
            else:
                timings.append(time_measure(measure, frame, warm_up, args.rows, args.repeat))
    report(timings, args.rows)
    if args.kernel_rows > 0:
        kernel_report(frame, args.only, args.kernel_rows, batch=10_000)
    spark.stop()


if __name__ == "__main__":
    main()
