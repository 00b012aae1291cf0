"""Where the orchestrated pipeline finds its parts: one home for the orchestrator's settings.

Every value comes from the environment variable the rest of the project already uses for it,
with the local stack's address as the default.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from soundlake.paths import REPO_ROOT
from soundlake.stack import config

#: the dbt project whose models become assets
DBT_PROJECT_DIR = REPO_ROOT / "dbt_spark"
#: the dbt target the orchestrator builds with: the warm Spark Thrift server
DBT_TARGET = "thrift"
#: the Dagster job that builds dbt and loads ClickHouse (sensors.py); its runs' outcomes are
#: exported by runs.py
PIPELINE_JOB = "pipeline"
#: the tag that says whether a pipeline run includes the dbt tests, Dagster's asset checks
#: ("all" or "none"; sensors.py)
CHECKS_TAG = "soundlake/checks"
#: the tag that pins a pipeline run to one state of bronze: the ``_ingested_at`` (epoch
#: microseconds) of the newest commit it was launched for (sensors.py); its dbt build reads
#: only rows ingested up to then (var ``bronze_as_of``, dbt_spark/macros/staging.sql)
BRONZE_AS_OF_TAG = "soundlake/bronze_as_of"
#: the dbt var of that bound
BRONZE_AS_OF_VAR = "bronze_as_of"


@dataclass(frozen=True)
class Settings:
    """The resolved settings of one orchestrator process."""

    #: the lake's root (``SOUNDLAKE_LAKE_URL``): hdfs://host:port/path or file:///path
    lake_url: str
    #: the NameNode's HTTP address (``SOUNDLAKE_WEBHDFS_URL``), for hdfs:// lakes
    webhdfs_url: str
    #: ClickHouse's HTTP address (``SOUNDLAKE_CLICKHOUSE_URL``)
    clickhouse_url: str
    #: the ClickHouse database the loader writes (``SOUNDLAKE_CLICKHOUSE_DATABASE``)
    clickhouse_database: str
    #: the ``soundlake-loader`` binary (``SOUNDLAKE_LOADER_BIN``, else on PATH, else the build's)
    loader_bin: str
    #: where dbt writes its manifest and run artifacts (``SOUNDLAKE_DBT_TARGET_PATH``)
    dbt_target_path: Path
    #: Dagster's instance (``DAGSTER_HOME``, else the local stack's, where ``soundlake run``
    #: keeps it: ``<stack dir>/dagster``)
    dagster_home: Path

    @staticmethod
    def from_env() -> Settings:
        lake_url = os.environ.get("SOUNDLAKE_LAKE_URL", "hdfs://127.0.0.1:8020/lake").rstrip("/")
        return Settings(
            lake_url=lake_url,
            webhdfs_url=os.environ.get("SOUNDLAKE_WEBHDFS_URL", "http://127.0.0.1:9870").rstrip(
                "/"
            ),
            clickhouse_url=os.environ.get(
                "SOUNDLAKE_CLICKHOUSE_URL", "http://127.0.0.1:8123"
            ).rstrip("/"),
            clickhouse_database=os.environ.get("SOUNDLAKE_CLICKHOUSE_DATABASE", "soundlake"),
            loader_bin=os.environ.get("SOUNDLAKE_LOADER_BIN") or binary("soundlake-loader"),
            dbt_target_path=Path(
                os.environ.get("SOUNDLAKE_DBT_TARGET_PATH", str(DBT_PROJECT_DIR / "target"))
            ),
            dagster_home=Path(os.environ.get("DAGSTER_HOME") or config.load().dir / "dagster"),
        )


def binary(name: str) -> str:
    """A workspace binary: on PATH, else the debug build of ``CARGO_TARGET_DIR`` (or target/)."""
    found = shutil.which(name)
    if found:
        return found
    target = Path(os.environ.get("CARGO_TARGET_DIR", str(REPO_ROOT / "target")))
    if not target.is_absolute():
        target = REPO_ROOT / target
    return str(target / "debug" / name)
