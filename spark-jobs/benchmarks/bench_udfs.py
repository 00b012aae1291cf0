"""Benchmark of the Soundlake Rust UDFs (issue 5): each UDF side by side, in one Spark run,
with the identity ``arrow_udf`` over the same input columns (the cost of moving the data
between the JVM and Python: the floor of any Python-side UDF) and, for ``parse_user_agent``
and ``h3_cell``, the same computation in a ``pandas_udf`` with the Python package
(``ua-parser`` with ``ua-parser-builtins``, ``h3``).

The input is built once from eventsim's data (user agents, US places with jitter, artist
names with accents), cached and materialized; each measurement then forces the full
evaluation of one column with the ``noop`` sink. The targets: each Rust UDF ≤ 1.3x its
floor; ``parse_user_agent`` ≥ 10x and ``h3_cell`` ≥ 5x faster than the Python reference.

Usage: .venv/bin/python spark-jobs/benchmarks/bench_udfs.py [--rows N] [--python-rows N]
       [--repeat K] [--only NAME ...]
(or the same arguments after ``spark-submit spark-jobs/benchmarks/bench_udfs.py``).
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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

ROOT = Path(__file__).resolve().parents[2]
EVENTSIM_DATA = ROOT / "eventsim" / "data"
H3_RESOLUTION = 7
FLOOR_TARGET = 1.3
SPEEDUP_TARGETS = {"parse_user_agent": 10.0, "h3_cell": 5.0}
UDF_NAMES = ("normalize_name", "h3_cell", "parse_user_agent", "event_problems")

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
    """One timed variant of one function: its label, kind and the column it computes."""

    function: str
    kind: str  # "floor", "rust" or "python"
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
        "--only", nargs="+", choices=UDF_NAMES, default=list(UDF_NAMES), help="functions to time"
    )
    parser.add_argument("--master", default="local[*]", help="Spark master (default local[*])")
    parser.add_argument("--driver-memory", default="4g", help="spark.driver.memory")
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
    """``rows`` listen-like events: userAgent (eventsim's quoted agents), lat/lon (US places
    with up to ±0.05° of jitter), artist (names with accents, some with a first name), and
    the other columns of event_problems (with a few bad values)."""
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
        (F.element_at(lats, index) + (F.rand(3) - 0.5) / 10).alias("lat"),
        (F.element_at(lons, index) + (F.rand(4) - 0.5) / 10).alias("lon"),
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


INPUTS: dict[str, tuple[str, ...]] = {
    "normalize_name": ("artist",),
    "h3_cell": ("lat", "lon"),
    "parse_user_agent": ("userAgent",),
    "event_problems": ("ts", "userId", "auth", "level", "lat", "lon", "zip", "state"),
}


def identity_1(a: pa.Array) -> pa.Array:
    from soundlake_udfs import arrow_identity

    result: pa.Array = arrow_identity(a)
    return result


def identity_2(a: pa.Array, b: pa.Array) -> pa.Array:
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
IDENTITIES: dict[int, Callable[..., pa.Array]] = {1: identity_1, 2: identity_2, 8: identity_8}


def identity_floor(function: str, input_type: str) -> Measure:
    """The identity arrow_udf over the same input columns as ``function``: it returns its
    first input unchanged (through the Rust ``arrow_identity``, no copy)."""
    from pyspark.sql import functions as F
    from pyspark.sql.functions import arrow_udf

    identity = IDENTITIES[len(INPUTS[function])]
    udf = arrow_udf(identity, returnType=input_type)
    columns = [F.col(c) for c in INPUTS[function]]
    return Measure(function, "floor", "identity arrow_udf", lambda: udf(*columns))


def rust_udf(function: str) -> Measure:
    import soundlake_udfs

    makers: dict[str, Callable[[], Column]] = {
        "normalize_name": lambda: soundlake_udfs.normalize_name("artist"),
        "h3_cell": lambda: soundlake_udfs.h3_cell("lat", "lon", H3_RESOLUTION),
        "parse_user_agent": lambda: soundlake_udfs.parse_user_agent("userAgent"),
        "event_problems": lambda: soundlake_udfs.event_problems(),
    }
    return Measure(function, "rust", "Rust arrow_udf", makers[function])


def python_h3() -> Measure:
    """h3_cell in a pandas_udf with the Python ``h3`` package."""
    from pyspark.sql import functions as F
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("bigint")  # type: ignore[call-overload,misc]
    def h3_cell_py(lat: pd.Series, lon: pd.Series) -> pd.Series:
        import h3

        cells = [
            h3.str_to_int(h3.latlng_to_cell(a, b, H3_RESOLUTION))
            for a, b in zip(lat, lon, strict=True)
        ]
        return pd.Series(cells, dtype="int64")

    return Measure(
        "h3_cell", "python", "pandas_udf h3", lambda: h3_cell_py(F.col("lat"), F.col("lon"))
    )


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


def python_user_agent() -> Measure:
    """parse_user_agent in a pandas_udf with the Python ``ua-parser`` (``ua_parser.parse``,
    its default resolver over ua-parser-builtins' rules)."""
    from pyspark.sql import functions as F
    from pyspark.sql.functions import pandas_udf

    fields = ["browser", "browser_version", "os", "os_version", "device_type"]
    schema = ", ".join(f"{name}: string" for name in fields)

    @pandas_udf(f"struct<{schema}>")  # type: ignore[call-overload,misc]
    def parse_user_agent_py(agents: pd.Series) -> pd.DataFrame:
        rows = [ua_fields(a) if a is not None else (None,) * 5 for a in agents]
        return pd.DataFrame(rows, columns=fields)

    return Measure(
        "parse_user_agent",
        "python",
        "pandas_udf ua-parser",
        lambda: parse_user_agent_py(F.col("userAgent")),
    )


def measures(function: str, frame: DataFrame) -> list[Measure]:
    first = INPUTS[function][0]
    result = [identity_floor(function, frame.schema[first].dataType.simpleString())]
    result.append(rust_udf(function))
    if function == "h3_cell":
        result.append(python_h3())
    if function == "parse_user_agent":
        result.append(python_user_agent())
    return result


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
    print(f"  {measure.function:<17} {measure.label:<22} {rows:>10,} rows: {runs} s", flush=True)
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
        by_function.setdefault(timing.measure.function, {})[timing.measure.kind] = timing
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
                    want = SPEEDUP_TARGETS[function]
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
    # A cached copy, not a bare limit: a limit would stop reading the UDF's output early.
    warm_up = cached(frame.limit(1000))
    print(f"input built and cached in {time.perf_counter() - started:.1f} s", flush=True)
    timings: list[Timing] = []
    for function in args.only:
        for measure in measures(function, frame):
            if measure.kind == "python":
                timings.append(time_measure(measure, small, warm_up, args.python_rows, args.repeat))
            else:
                timings.append(time_measure(measure, frame, warm_up, args.rows, args.repeat))
    report(timings, args.rows)
    spark.stop()


if __name__ == "__main__":
    main()
