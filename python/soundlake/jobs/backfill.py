"""Backfill of silver and gold for a date range: ``soundlake-dbt build`` with the dbt vars
``start_date`` / ``end_date``, which restrict the incremental facts and gold reports to those
``event_date`` partitions (insert_overwrite: a re-run replaces a day, never adds to it).

By default one dbt build per day, oldest first, all in one Spark session (one JVM start): a
failure names the day, and ``--start-date <that day>`` resumes there. ``--chunk-days N`` builds
N days per dbt run (fewer runs, larger ones). Arguments after ``--`` go to dbt unchanged, e.g.
``-- --select fact_listen_events+``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Sequence
from datetime import date, timedelta

from soundlake.jobs.common import build_session, log, setup_logging
from soundlake.spark import dbt


def date_chunks(start: date, end: date, chunk_days: int) -> list[tuple[date, date]]:
    """``[start, end]`` cut into consecutive inclusive ranges of ``chunk_days`` days."""
    chunks = []
    first = start
    while first <= end:
        last = min(first + timedelta(days=chunk_days - 1), end)
        chunks.append((first, last))
        first = last + timedelta(days=1)
    return chunks


def dbt_build_args(first: date, last: date, dbt_args: Sequence[str]) -> list[str]:
    variables = {"start_date": first.isoformat(), "end_date": last.isoformat()}
    return ["build", "--vars", json.dumps(variables), *dbt_args]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="backfill",
        description="Rebuild silver and gold for a date range with `soundlake-dbt build` and "
        "the vars start_date/end_date, day by day (or --chunk-days at a time), with progress. "
        "Arguments after `--` go to dbt (e.g. -- --select gold_top_songs --target session).",
    )
    parser.add_argument(
        "--start-date", type=date.fromisoformat, required=True, help="first day (YYYY-MM-DD)"
    )
    parser.add_argument(
        "--end-date", type=date.fromisoformat, required=True, help="last day, inclusive"
    )
    parser.add_argument(
        "--chunk-days",
        type=int,
        default=1,
        help="days per dbt build (default %(default)s: one build per day)",
    )
    parser.add_argument(
        "--keep-going",
        action="store_true",
        help="go on with the next days after a failed one (default: stop at the first)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the dbt commands, run nothing"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("dbt_args", nargs="*", help="after `--`: arguments passed to dbt")
    args = parser.parse_args(argv)
    if args.end_date < args.start_date:
        parser.error("--end-date is before --start-date")
    if args.chunk_days < 1:
        parser.error("--chunk-days must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    chunks = date_chunks(args.start_date, args.end_date, args.chunk_days)
    if args.dry_run:
        for first, last in chunks:
            print(shlex.join(["soundlake-dbt", *dbt_build_args(first, last, args.dbt_args)]))
        return 0
    # one session for every run: dbt's session target picks it up (getOrCreate)
    build_session("soundlake-backfill", catalog=True)
    started = time.monotonic()
    failed: list[str] = []
    for n, (first, last) in enumerate(chunks, start=1):
        label = first.isoformat() if first == last else f"{first.isoformat()}..{last.isoformat()}"
        log.info("[%d/%d] building %s", n, len(chunks), label)
        t0 = time.monotonic()
        status = dbt.main(dbt_build_args(first, last, args.dbt_args))
        elapsed = time.monotonic() - started
        eta = elapsed / n * (len(chunks) - n)
        if status != 0:
            failed.append(label)
            log.error("[%d/%d] %s failed (dbt exit %d)", n, len(chunks), label, status)
            if not args.keep_going:
                print(
                    f"error: the build of {label} failed (see dbt's output above); fix it, then "
                    f"resume with --start-date {first.isoformat()}",
                    file=sys.stderr,
                )
                break
        else:
            log.info(
                "[%d/%d] %s built in %.0fs (total %.0fs, about %.0fs left)",
                n,
                len(chunks),
                label,
                time.monotonic() - t0,
                elapsed,
                eta,
            )
    print(json.dumps({"chunks": len(chunks), "failed": failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
