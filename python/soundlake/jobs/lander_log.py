"""A read-only view of the lander's commit log (``bronze/_commits/``, written by
``rust-ingest/src/commit_log.rs``): which bronze files the lander may still touch.

The lander's recovery re-publishes **each writer's last entry**: it renames the entry's files
from staging to their final path, and reports a file missing under both names. Entries before a
writer's last one are final: nothing ever reads their files' names again (the positions live in
the entries' ranges, not in the files). So a bronze file is safe to compact once the entry that
committed it is no longer its writer's last; the files of last entries are *protected*.

Read the log **after** listing the folders to compact: a file is visible only after its entry
exists, so every listed file's entry is then among the entries read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from soundlake.jobs.hadoop_fs import HadoopFs, LakeFsError
from soundlake.lake_layout import CHECKPOINT_PREFIX, COMMITS

_ENTRY = re.compile(r"^(\d{20})\.json$")
_CHECKPOINT = re.compile(rf"^{re.escape(CHECKPOINT_PREFIX)}(\d{{20}})\.json$")


class CommitLogError(Exception):
    """The commit log cannot be read safely (a gap, an unreadable entry)."""


@dataclass
class LanderLog:
    """What the compactor needs of the log."""

    next_seq: int = 0
    last_by_writer: dict[str, int] = field(default_factory=dict)
    #: lake-relative paths of the files of every writer's last entry
    protected: set[str] = field(default_factory=set)


def read_lander_log(fs: HadoopFs, lake_url: str) -> LanderLog:
    """Read the latest checkpoint and the entries after it, then each writer's last entry."""
    commits_url = f"{lake_url}/{COMMITS}"
    entries_seen: list[int] = []
    checkpoints: list[int] = []
    for item in fs.list(commits_url):
        if m := _ENTRY.match(item.name):
            entries_seen.append(int(m.group(1)))
        elif m := _CHECKPOINT.match(item.name):
            checkpoints.append(int(m.group(1)))
    log = LanderLog()
    if checkpoints:
        checkpoint = _read_json(fs, f"{commits_url}/{CHECKPOINT_PREFIX}{max(checkpoints):020}.json")
        log.next_seq = int(checkpoint["next_seq"])
        log.last_by_writer = {str(k): int(v) for k, v in checkpoint["last_by_writer"].items()}
    present = set(entries_seen)
    cache: dict[int, dict[str, Any]] = {}
    while log.next_seq in present:
        entry = _read_entry(fs, commits_url, log.next_seq)
        cache[log.next_seq] = entry
        log.last_by_writer[str(entry["writer"])] = log.next_seq
        log.next_seq += 1
    beyond = [seq for seq in entries_seen if seq > log.next_seq]
    if beyond:
        raise CommitLogError(
            f"{commits_url} has entry {min(beyond)} but not {log.next_seq}: the lander's log has a "
            "gap; the lander refuses to start on it too — inspect the folder before compacting"
        )
    for seq in log.last_by_writer.values():
        entry = cache.get(seq) or _read_entry(fs, commits_url, seq)
        log.protected.update(str(file["path"]) for file in entry.get("files", []))
    return log


def _read_entry(fs: HadoopFs, commits_url: str, seq: int) -> dict[str, Any]:
    entry = _read_json(fs, f"{commits_url}/{seq:020}.json")
    if entry.get("seq") != seq:
        raise CommitLogError(f"{commits_url}/{seq:020}.json says it is entry {entry.get('seq')}")
    return entry


def _read_json(fs: HadoopFs, url: str) -> dict[str, Any]:
    try:
        value = json.loads(fs.read_bytes(url))
    except (LakeFsError, ValueError) as err:
        raise CommitLogError(f"cannot read the lander's commit log file {url}: {err}") from err
    if not isinstance(value, dict):
        raise CommitLogError(f"{url} is not a JSON object")
    return value
