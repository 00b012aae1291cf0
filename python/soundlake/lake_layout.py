"""The names of the lake's bronze folders, relative to the lake's root (``SOUNDLAKE_LAKE_URL``).

The lander (rust-ingest) writes this layout and its names live in ``rust-ingest/src/layout.rs``;
this module mirrors them for the Python jobs, and ``tests/test_lake_layout.py`` checks that every
path constant here equals the Rust constant of the same name.

    bronze/<topic>/event_date=YYYY-MM-DD/hour=HH/<file>.parquet   landed records
    bronze/_commits/<seq>.json, checkpoint-<seq>.json             the lander's commit log
    bronze/_staging/<writer>/...                                  files not yet committed
    bronze/_orphans/<topic>/...                                   files no commit refers to
    bronze/_quarantine/<topic>/...                                records that cannot be landed
    bronze/_compactions/<id>.json, <id>.done                      compaction records
    bronze/_compaction/<id>/..., lock.json                        compaction staging and lock
"""

from __future__ import annotations

#: the bronze layer: one folder per topic
BRONZE = "bronze"
#: the lander's exactly-once commit log
COMMITS = "bronze/_commits"
#: the lander's files being written, not yet committed
STAGING = "bronze/_staging"
#: bronze files that no commit refers to, moved aside
ORPHANS = "bronze/_orphans"
#: records that cannot be landed, with their raw bytes and the reason
QUARANTINE = "bronze/_quarantine"
#: the compaction job's records: which files it wrote in place of which
COMPACTIONS = "bronze/_compactions"
#: the compaction job's staging folders and its lock
COMPACTION_STAGING = "bronze/_compaction"
#: the name prefix of the commit log's checkpoints (``checkpoint-<seq>.json``)
CHECKPOINT_PREFIX = "checkpoint-"

#: the event topics landed into bronze, one folder each
TOPICS = ("listen_events", "page_view_events", "auth_events", "status_change_events")

#: the path constants that mirror the lander's (tests/test_lake_layout.py compares them)
PATHS = {
    "BRONZE": BRONZE,
    "COMMITS": COMMITS,
    "STAGING": STAGING,
    "ORPHANS": ORPHANS,
    "QUARANTINE": QUARANTINE,
    "COMPACTIONS": COMPACTIONS,
    "COMPACTION_STAGING": COMPACTION_STAGING,
    "CHECKPOINT_PREFIX": CHECKPOINT_PREFIX,
}
