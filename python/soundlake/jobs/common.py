"""What every job shares: the lake's root URL, the Spark session, logging and progress."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from soundlake.paths import REPO_ROOT
from soundlake.spark import session as spark_session

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

LAKE_URL_ENV = "SOUNDLAKE_LAKE_URL"
DEFAULT_LAKE_URL = "hdfs://127.0.0.1:8020/lake"

log = logging.getLogger("soundlake.jobs")


def default_lake_url() -> str:
    """The lake root: ``SOUNDLAKE_LAKE_URL``, else the local stack's HDFS lake."""
    return os.environ.get(LAKE_URL_ENV, DEFAULT_LAKE_URL).rstrip("/")


def setup_logging(verbose: bool = False) -> None:
    """Progress lines of the jobs on stderr (``HH:MM:SS soundlake.jobs: message``). Under
    ``spark-submit`` stderr is merged into stdout: results are printed as one JSON line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", "%H:%M:%S"))
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False


def build_session(
    app_name: str, *, catalog: bool = False, extra_conf: Mapping[str, str] | None = None
) -> SparkSession:
    """The Spark session of a job, made by ``soundlake.spark.session.build_session`` (the
    lake's settings from the environment, Rust UDFs registered), so that jobs, ``soundlake-dbt``
    and the Thrift server run with the same settings. Jobs that only read and write paths pass
    ``catalog=False``: an in-memory catalog, which never opens the Hive metastore (an embedded
    Derby metastore admits one process at a time). Under ``spark-submit`` the submitter's
    settings (master, memory) come first: builder settings only add to them."""
    # the metastore and warehouse defaults are relative to the repository, not the cwd
    os.environ.setdefault("SOUNDLAKE_ROOT", str(REPO_ROOT))
    conf = dict(extra_conf or {})
    if not catalog:
        conf.setdefault("spark.sql.catalogImplementation", "in-memory")
    session: SparkSession = spark_session.build_session(app_name, extra_conf=conf)
    # the lake's contract, whatever the session's defaults
    session.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    session.conf.set("spark.sql.session.timeZone", "UTC")
    return session


class Progress:
    """``step i/n`` lines with elapsed time, for long jobs."""

    def __init__(self, total: int, what: str) -> None:
        self.total = total
        self.what = what
        self.done = 0
        self.started = time.monotonic()

    def step(self, message: str) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.started
        log.info("%s %d/%d (%.0fs): %s", self.what, self.done, self.total, elapsed, message)
