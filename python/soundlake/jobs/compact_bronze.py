"""Compaction of the lander's small bronze files, one hour partition at a time.

The lander rolls a file per flush, so a quiet topic leaves many small files per hour. This job
rewrites the small files of a closed hour (``bronze/<topic>/event_date=…/hour=…/``) into a few
files of about ``--target-file-mb``, and swaps them in without losing or duplicating a row, even
when it is killed at any instant. The protocol (docs/spark-jobs.md has the crash table):

1. **Lock** ``bronze/_compaction/lock.json`` (create-exclusive): one compactor at a time. A lock
   left by a dead process on this host, or older than ``--lock-timeout-hours``, is taken over.
2. **Recover**: finish every committed compaction (record without ``.done``), delete every
   staging folder without a record (an attempt that crashed before its commit point).
3. **Plan**: list the hour's files, *then* read the lander's commit log; files of a writer's last
   entry are left alone (the lander's recovery may rename them again, see ``lander_log``).
4. **Stage**: Spark reads the inputs and writes the outputs to ``bronze/_compaction/<id>/``
   (sorted by Kafka partition and offset); per Kafka partition the row count, the first and last
   offset and the sum of offsets of the outputs must equal the inputs'.
5. **Commit**: ``bronze/_compactions/<id>.json`` written create-exclusive, listing the inputs and
   the outputs. This is the commit point: before it the attempt is rolled back, after it rolled
   forward.
6. **Publish**: rename each output into the hour's folder (never overwriting), then delete the
   inputs, then write ``<id>.done`` and delete the staging folder. Every step is idempotent.

Outputs go in before inputs go out, so a reader listing the folder during the swap (a few
NameNode calls) may see rows twice, never miss one; staging models deduplicate on
(topic, partition, offset). Output names start with ``part-compacted-``; the records in
``bronze/_compactions/`` say which lander files they replaced (for the lander's
``unreferenced_files`` scan, which must count them as referenced).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import socket
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from soundlake.jobs.common import build_session, default_lake_url, log, setup_logging
from soundlake.jobs.hadoop_fs import AlreadyExistsError, FileInfo, HadoopFs, NotFoundError
from soundlake.jobs.lander_log import read_lander_log
from soundlake.lake_layout import BRONZE, COMPACTION_STAGING, COMPACTIONS, TOPICS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

LOCK = f"{COMPACTION_STAGING}/lock.json"
OUTPUT_PREFIX = "part-compacted-"
FORMAT = 1
PARTITION_COLUMN = "_kafka_partition"
OFFSET_COLUMN = "_kafka_offset"

_DATE_DIR = re.compile(r"^event_date=(\d{4}-\d{2}-\d{2})$")
_HOUR_DIR = re.compile(r"^hour=(\d{2})$")
_RECORD = re.compile(r"^(c[0-9a-z-]+)\.json$")


#: per Kafka partition: (partition, rows, distinct offsets, first, last, sum of offsets)
Fingerprint = list[tuple[int, ...]]


class CompactionError(Exception):
    """Compaction cannot go on safely; the message says what to inspect."""


@dataclass(frozen=True)
class Options:
    lake_url: str
    topics: tuple[str, ...] = TOPICS
    from_date: date | None = None
    to_date: date | None = None
    min_age: timedelta = timedelta(hours=2)
    target_bytes: int = 128 * 1024 * 1024
    min_files: int = 2
    lock_timeout: timedelta = timedelta(hours=6)


@dataclass(frozen=True)
class HourPartition:
    topic: str
    event_date: date
    hour: int

    @property
    def path(self) -> str:
        """Lake-relative folder, e.g. ``bronze/listen_events/event_date=2026-01-02/hour=03``."""
        return (
            f"{BRONZE}/{self.topic}/event_date={self.event_date.isoformat()}/hour={self.hour:02d}"
        )

    @property
    def end(self) -> datetime:
        start = datetime(
            self.event_date.year, self.event_date.month, self.event_date.day, tzinfo=UTC
        )
        return start + timedelta(hours=self.hour + 1)


@dataclass(frozen=True)
class Plan:
    """The small files of one hour to rewrite into ``outputs`` files."""

    id: str
    partition: HourPartition
    inputs: tuple[FileInfo, ...]
    outputs: int

    @property
    def input_bytes(self) -> int:
        return sum(f.size for f in self.inputs)


@dataclass
class OutputFile:
    staged: str  # lake-relative
    path: str  # lake-relative
    bytes: int


@dataclass
class Record:
    """``bronze/_compactions/<id>.json``: what a committed compaction replaces with what."""

    id: str
    topic: str
    partition: str
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    rows: int
    spans: list[dict[str, int]]
    committed_at_ms: int = 0
    writer: str = ""
    format: int = FORMAT

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Record:
        fields = {name: raw[name] for name in cls.__dataclass_fields__ if name in raw}
        return cls(**fields)


@dataclass
class Summary:
    """What a run did (printed as one JSON line on stdout)."""

    partitions_compacted: int = 0
    files_replaced: int = 0
    files_written: int = 0
    rows: int = 0
    bytes_in: int = 0
    rolled_forward: int = 0
    rolled_back: int = 0
    skipped_protected: int = 0
    plans: list[str] = field(default_factory=list)


class Compactor:
    """The protocol's steps, each usable on its own (the tests stop between them)."""

    def __init__(self, spark: SparkSession, options: Options) -> None:
        self.spark = spark
        self.options = options
        self.fs = HadoopFs(spark)
        self.lake = options.lake_url.rstrip("/")
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        #: per plan id, the outputs' fingerprint checked by ``stage`` (saves a read in ``commit``)
        self._checked: dict[str, Fingerprint] = {}

    def url(self, relative: str) -> str:
        return f"{self.lake}/{relative}"

    def relative(self, url: str) -> str:
        """Lake-relative path of a URL the file system returned (it may add the authority)."""
        marker = f"/{BRONZE}/"
        root_path = re.sub(r"^[a-z]+://[^/]*", "", self.lake)
        path = re.sub(r"^[a-z]+:(//[^/]*)?", "", url)
        if root_path and path.startswith(root_path + "/"):
            return path[len(root_path) + 1 :]
        return BRONZE + "/" + path.split(marker, 1)[1]

    # -- 1. lock ------------------------------------------------------------------------------

    def acquire_lock(self) -> None:
        body = json.dumps({"owner": self.owner, "started_ms": _now_ms()}).encode()
        temp = self.url(f"{COMPACTION_STAGING}/.lock-{uuid.uuid4().hex}")
        try:
            self.fs.create_exclusive(self.url(LOCK), body, temp)
            return
        except AlreadyExistsError:
            pass
        except NotFoundError:
            # our temporary file was removed by the recovery of the run that holds the lock
            raise CompactionError(f"another compaction holds {self.url(LOCK)}") from None
        holder = self._lock_holder()
        if not self._lock_is_stale(holder):
            raise CompactionError(
                f"another compaction holds {self.url(LOCK)} ({holder}); wait for it to finish. "
                "If that process is gone, delete the lock file and run again"
            )
        log.warning("taking over the stale compaction lock of %s", holder)
        # moved aside by an atomic rename, not deleted: of two runs taking over at once, only
        # one moves it; the other then fails to create the lock (AlreadyExists) or to move it
        stale = self.url(f"{COMPACTION_STAGING}/.stale-lock-{uuid.uuid4().hex}")
        try:
            self.fs.rename_no_replace(self.url(LOCK), stale)
            self.fs.create_exclusive(self.url(LOCK), body, temp)
        except (NotFoundError, AlreadyExistsError):
            raise CompactionError(
                f"another compaction took over the stale lock {self.url(LOCK)} at the same time"
            ) from None
        self.fs.delete(stale)

    def release_lock(self) -> None:
        holder = self._lock_holder()
        if holder.get("owner") == self.owner:
            self.fs.delete(self.url(LOCK))

    def _lock_holder(self) -> dict[str, Any]:
        try:
            holder: dict[str, Any] = json.loads(self.fs.read_bytes(self.url(LOCK)))
        except (NotFoundError, ValueError):
            return {}
        return holder

    def _lock_is_stale(self, holder: dict[str, Any]) -> bool:
        host, _, pid = str(holder.get("owner", "")).rpartition(":")
        age_ms = _now_ms() - int(holder.get("started_ms", 0))
        if age_ms > self.options.lock_timeout.total_seconds() * 1000:
            return True
        if host == socket.gethostname() and pid.isdigit():
            return not _pid_alive(int(pid))
        return False

    # -- 2. recover ---------------------------------------------------------------------------

    def recover(self) -> tuple[int, int]:
        """Roll committed compactions forward and uncommitted ones back. Needs the lock.
        Returns (rolled forward, rolled back)."""
        forward = back = 0
        records = {
            m.group(1) for f in self.fs.list(self.url(COMPACTIONS)) if (m := _RECORD.match(f.name))
        }
        for record_id in sorted(records):
            if not self.fs.exists(self.url(f"{COMPACTIONS}/{record_id}.done")):
                log.info("finishing compaction %s (committed by a run that stopped)", record_id)
                self.publish(self.read_record(record_id))
                forward += 1
        for entry in self.fs.list(self.url(COMPACTION_STAGING)):
            if not entry.is_dir and entry.name.startswith((".lock-", ".stale-lock-")):
                self.fs.delete(entry.url)  # left by a run stopped while taking the lock
            elif entry.is_dir and entry.name.startswith("c"):
                if entry.name not in records:
                    log.info("rolling back compaction %s (stopped before its commit)", entry.name)
                    back += 1
                self.fs.delete(entry.url, recursive=True)
        return forward, back

    # -- 3. plan ------------------------------------------------------------------------------

    def plan(self, summary: Summary | None = None) -> list[Plan]:
        """The hours worth compacting, with their input files (lander-protected ones excluded)."""
        candidates: list[tuple[HourPartition, list[FileInfo]]] = []
        for partition in self.partitions():
            small = [
                f
                for f in self.fs.list(self.url(partition.path))
                if not f.is_dir
                and f.name.endswith(".parquet")
                and not f.name.startswith(("_", "."))
                and f.size < self.options.target_bytes
            ]
            if len(small) >= self.options.min_files:
                candidates.append((partition, small))
        if not candidates:
            return []
        protected = read_lander_log(self.fs, self.lake).protected  # after listing: see lander_log
        plans = []
        for partition, small in candidates:
            inputs = tuple(f for f in small if self.relative(f.url) not in protected)
            if summary is not None:
                summary.skipped_protected += len(small) - len(inputs)
            if len(inputs) < self.options.min_files:
                continue
            outputs = max(1, math.ceil(sum(f.size for f in inputs) / self.options.target_bytes))
            plan_id = f"c{_now_ms()}-{uuid.uuid4().hex[:8]}"
            plans.append(Plan(plan_id, partition, inputs, outputs))
        return plans

    def partitions(self) -> list[HourPartition]:
        """Closed hours (ended at least ``min_age`` ago) in the date range, of every topic."""
        newest_end = datetime.now(UTC) - self.options.min_age
        found = []
        for topic in self.options.topics:
            for day_dir in self.fs.list(self.url(f"{BRONZE}/{topic}")):
                m = _DATE_DIR.match(day_dir.name)
                if not (day_dir.is_dir and m):
                    continue
                day = date.fromisoformat(m.group(1))
                if (self.options.from_date and day < self.options.from_date) or (
                    self.options.to_date and day > self.options.to_date
                ):
                    continue
                for hour_dir in self.fs.list(day_dir.url):
                    h = _HOUR_DIR.match(hour_dir.name)
                    if hour_dir.is_dir and h:
                        partition = HourPartition(topic, day, int(h.group(1)))
                        if partition.end <= newest_end:
                            found.append(partition)
        return found

    # -- 4. stage -----------------------------------------------------------------------------

    def stage(self, plan: Plan) -> list[OutputFile]:
        """Write the outputs to ``bronze/_compaction/<id>/`` and check them against the inputs."""
        staging = f"{COMPACTION_STAGING}/{plan.id}"
        # mergeSchema: files written before and after a schema change keep all their columns
        inputs = self.spark.read.option("mergeSchema", "true").parquet(
            *(f.url for f in plan.inputs)
        )
        expected = _fingerprint(inputs)
        (
            inputs.coalesce(plan.outputs)
            .sortWithinPartitions(PARTITION_COLUMN, OFFSET_COLUMN)
            .write.option("compression", "zstd")
            .parquet(self.url(f"{staging}/out"))
        )
        written = [
            f
            for f in self.fs.list(self.url(f"{staging}/out"))
            if f.name.endswith(".parquet") and not f.name.startswith(("_", "."))
        ]
        actual = _fingerprint(self.spark.read.parquet(*(f.url for f in written)))
        if actual != expected:
            raise CompactionError(
                f"the rewrite of {plan.partition.path} does not hold the same rows "
                f"(inputs {expected}, outputs {actual}); nothing was changed, the staged files "
                f"in {self.url(staging)} are removed by the next run"
            )
        self._checked[plan.id] = actual
        return [
            OutputFile(
                staged=f"{staging}/out/{f.name}",
                path=f"{plan.partition.path}/{OUTPUT_PREFIX}{plan.id}-{i:05d}.zstd.parquet",
                bytes=f.size,
            )
            for i, f in enumerate(written)
        ]

    # -- 5. commit ----------------------------------------------------------------------------

    def commit(self, plan: Plan, outputs: list[OutputFile]) -> Record:
        """Write the record: the commit point. Inputs must all still be there."""
        missing = [f.url for f in plan.inputs if not self.fs.exists(f.url)]
        if missing:
            raise CompactionError(
                f"input files of {plan.partition.path} vanished while compacting ({missing[:3]}); "
                "nothing was committed, run again"
            )
        fingerprint = self._checked.pop(plan.id, None) or _fingerprint(
            self.spark.read.parquet(*(self.url(o.staged) for o in outputs))
        )
        spans = _spans(fingerprint)
        record = Record(
            id=plan.id,
            topic=plan.partition.topic,
            partition=plan.partition.path,
            inputs=[{"path": self.relative(f.url), "bytes": f.size} for f in plan.inputs],
            outputs=[asdict(o) for o in outputs],
            rows=sum(s["rows"] for s in spans),
            spans=spans,
            committed_at_ms=_now_ms(),
            writer=self.owner,
        )
        body = json.dumps(asdict(record), indent=2).encode()
        temp = self.url(f"{COMPACTION_STAGING}/{plan.id}/record.json")
        self.fs.create_exclusive(self.url(f"{COMPACTIONS}/{plan.id}.json"), body, temp)
        return record

    def read_record(self, record_id: str) -> Record:
        raw = json.loads(self.fs.read_bytes(self.url(f"{COMPACTIONS}/{record_id}.json")))
        return Record.parse(raw)

    # -- 6. publish ---------------------------------------------------------------------------

    def publish(self, record: Record) -> None:
        """Outputs in, inputs out, ``.done``, staging removed. Idempotent."""
        for output in record.outputs:
            staged, path = self.url(output["staged"]), self.url(output["path"])
            try:
                self.fs.rename_no_replace(staged, path)
            except NotFoundError:
                if not self.fs.exists(path):
                    raise CompactionError(
                        f"compaction {record.id}: output {path} is missing under both names "
                        f"(staged {staged}); its inputs are kept. Inspect {self.url(COMPACTIONS)}/"
                        f"{record.id}.json before running again"
                    ) from None
            except AlreadyExistsError:
                self.fs.delete(staged)  # both names: the target is the file
        for source in record.inputs:
            self.fs.delete(self.url(source["path"]))
        with contextlib.suppress(AlreadyExistsError):
            self.fs.write_new(self.url(f"{COMPACTIONS}/{record.id}.done"), b"")
        self.fs.delete(self.url(f"{COMPACTION_STAGING}/{record.id}"), recursive=True)

    # -- everything ---------------------------------------------------------------------------

    def run(self, *, dry_run: bool = False) -> Summary:
        summary = Summary()
        self.acquire_lock()
        try:
            summary.rolled_forward, summary.rolled_back = self.recover()
            plans = self.plan(summary)
            log.info("%d hour(s) to compact", len(plans))
            for i, plan in enumerate(plans, start=1):
                log.info(
                    "[%d/%d] %s: %d files, %.1f MB -> %d file(s)%s",
                    i,
                    len(plans),
                    plan.partition.path,
                    len(plan.inputs),
                    plan.input_bytes / 1e6,
                    plan.outputs,
                    " (dry run)" if dry_run else "",
                )
                summary.plans.append(plan.partition.path)
                if dry_run:
                    continue
                record = self.commit(plan, self.stage(plan))
                self.publish(record)
                summary.partitions_compacted += 1
                summary.files_replaced += len(record.inputs)
                summary.files_written += len(record.outputs)
                summary.rows += record.rows
                summary.bytes_in += plan.input_bytes
        finally:
            self.release_lock()
        return summary


def _fingerprint(frame: DataFrame) -> Fingerprint:
    """Per Kafka partition: partition, rows, distinct offsets, first, last, sum of offsets."""
    from pyspark.sql import functions as F

    rows = (
        frame.groupBy(PARTITION_COLUMN)
        .agg(
            F.count(F.lit(1)),
            F.countDistinct(OFFSET_COLUMN),
            F.min(OFFSET_COLUMN),
            F.max(OFFSET_COLUMN),
            F.sum(OFFSET_COLUMN),
        )
        .collect()
    )
    return sorted(tuple(int(v) for v in row) for row in rows)


def _spans(fingerprint: Fingerprint) -> list[dict[str, int]]:
    return [
        {"partition": p, "first_offset": lo, "last_offset": hi, "rows": n}
        for p, n, _, lo, hi, _ in fingerprint
    ]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="compact_bronze",
        description="Rewrite the small bronze files of closed hours into a few large ones, "
        "atomically and crash-safely (a re-run finishes or rolls back a stopped one). "
        "Prints a JSON summary on stdout.",
    )
    parser.add_argument(
        "--lake-url",
        default=default_lake_url(),
        help="lake root (env SOUNDLAKE_LAKE_URL; default %(default)s)",
    )
    parser.add_argument(
        "--topics",
        default=",".join(TOPICS),
        help="comma-separated topics (default: the four event topics)",
    )
    parser.add_argument(
        "--from-date", type=date.fromisoformat, help="first event_date (YYYY-MM-DD)"
    )
    parser.add_argument("--to-date", type=date.fromisoformat, help="last event_date (YYYY-MM-DD)")
    parser.add_argument(
        "--min-age-hours",
        type=float,
        default=2.0,
        help="only hours that ended at least this long ago (default %(default)s)",
    )
    parser.add_argument(
        "--target-file-mb",
        type=float,
        default=128.0,
        help="size of the files written; smaller files are compacted (default %(default)s)",
    )
    parser.add_argument(
        "--min-files",
        type=int,
        default=2,
        help="compact an hour only if it has this many small files (default %(default)s)",
    )
    parser.add_argument(
        "--lock-timeout-hours",
        type=float,
        default=6.0,
        help="a lock older than this is taken over (default %(default)s)",
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would be compacted")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    if args.min_files < 2:
        parser.error("--min-files must be at least 2")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    options = Options(
        lake_url=args.lake_url,
        topics=tuple(t.strip() for t in args.topics.split(",") if t.strip()),
        from_date=args.from_date,
        to_date=args.to_date,
        min_age=timedelta(hours=args.min_age_hours),
        target_bytes=int(args.target_file_mb * 1024 * 1024),
        min_files=args.min_files,
        lock_timeout=timedelta(hours=args.lock_timeout_hours),
    )
    spark = build_session("soundlake-compact-bronze")
    try:
        summary = Compactor(spark, options).run(dry_run=args.dry_run)
    except CompactionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        spark.stop()
    print(json.dumps(asdict(summary)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
