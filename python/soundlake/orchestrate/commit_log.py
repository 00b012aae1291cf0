"""The lander's commit log (``bronze/_commits/``), read without a Spark driver.

The sensor ticks every few seconds, so it reads the log over the NameNode's WebHDFS API (an
``hdfs://`` lake) or from a local folder (a ``file://`` lake) rather than through a JVM. The
log's format is ``rust-ingest/src/commit_log.rs``'s: ``<seq>.json`` entries, 20 digits, each
listing the files it committed with their topic and row count (see
rust-ingest/DESIGN-exactly-once.md).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from soundlake.lake_layout import COMMITS

_ENTRY = re.compile(r"^(\d{20})\.json$")
HTTP_TIMEOUT_S = 10.0


class CommitLogError(Exception):
    """The commit log cannot be read (the lake does not answer, an entry is not JSON)."""


@dataclass
class NewCommits:
    """What the lander committed after a given sequence number."""

    #: the newest entry's sequence number (None: the log is empty)
    newest_seq: int | None = None
    #: rows committed per topic by the entries read
    rows: Counter[str] = field(default_factory=Counter)
    #: the newest commit time (ms since the epoch) of the entries read
    committed_at_ms: int | None = None
    #: the newest ``ingested_at_us`` of the entries read: the ``_ingested_at`` their rows carry
    #: (one per flush, in commit order; entries of landers from before it have none)
    ingested_at_us: int | None = None


class CommitLog:
    """The commit log of the lake at ``lake_url``."""

    def __init__(self, lake_url: str, webhdfs_url: str) -> None:
        self.lake_url = lake_url.rstrip("/")
        self.webhdfs_url = webhdfs_url.rstrip("/")
        parsed = urllib.parse.urlparse(f"{self.lake_url}/{COMMITS}")
        if parsed.scheme not in ("hdfs", "file"):
            raise CommitLogError(f"cannot read a commit log at {self.lake_url}: hdfs:// or file://")
        self.scheme = parsed.scheme
        self.path = parsed.path

    def sequences(self) -> list[int]:
        """The sequence numbers of the entries present, ascending."""
        return sorted(int(m.group(1)) for name in self._list() if (m := _ENTRY.match(name)))

    def since(self, after: int | None, max_entries: int = 200) -> NewCommits:
        """The entries after ``after`` (all when None), reading at most the newest
        ``max_entries`` of them for their row counts."""
        seqs = [seq for seq in self.sequences() if after is None or seq > after]
        result = NewCommits(newest_seq=seqs[-1] if seqs else after)
        for seq in seqs[-max_entries:]:
            name = f"{seq:020}.json"
            entry = self._read_json(name)
            try:
                files = entry.get("files", [])
                if not isinstance(files, list):
                    raise TypeError("'files' is not a list")
                for file in files:
                    result.rows[str(file.get("topic", ""))] += int(file.get("rows", 0))
                at = int(str(entry.get("committed_at_ms", 0)))
                stamp = entry.get("ingested_at_us")
                if stamp is not None:
                    result.ingested_at_us = max(result.ingested_at_us or 0, int(str(stamp)))
            except (AttributeError, TypeError, ValueError) as err:
                raise CommitLogError(
                    f"{self.lake_url}/{COMMITS}/{name} is not a commit entry ({err}); "
                    "see rust-ingest/DESIGN-exactly-once.md for its fields"
                ) from err
            result.committed_at_ms = max(result.committed_at_ms or 0, at)
        return result

    def _list(self) -> list[str]:
        if self.scheme == "file":
            folder = Path(self.path)
            return [p.name for p in folder.iterdir()] if folder.is_dir() else []
        try:
            body = self._webhdfs(self.path, "LISTSTATUS")
        except FileNotFoundError:
            return []
        statuses = json.loads(body)["FileStatuses"]["FileStatus"]
        return [str(s["pathSuffix"]) for s in statuses]

    def _read_json(self, name: str) -> dict[str, object]:
        if self.scheme == "file":
            body = (Path(self.path) / name).read_bytes()
        else:
            body = self._webhdfs(f"{self.path}/{name}", "OPEN")
        try:
            value = json.loads(body)
        except ValueError as err:
            raise CommitLogError(f"{self.lake_url}/{COMMITS}/{name} is not JSON: {err}") from err
        if not isinstance(value, dict):
            raise CommitLogError(f"{self.lake_url}/{COMMITS}/{name} is not a JSON object")
        return value

    def _webhdfs(self, path: str, op: str) -> bytes:
        url = f"{self.webhdfs_url}/webhdfs/v1{urllib.parse.quote(path)}?op={op}"
        if not url.startswith(("http://", "https://")):
            raise CommitLogError(f"not an HTTP URL: {url}")
        try:
            with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as response:  # noqa: S310
                body: bytes = response.read()
                return body
        except urllib.error.HTTPError as err:
            if err.code == 404:
                raise FileNotFoundError(path) from err
            raise CommitLogError(f"WebHDFS {op} {path}: HTTP {err.code}") from err
        except (urllib.error.URLError, OSError) as err:
            raise CommitLogError(f"WebHDFS {op} {path}: {err}") from err
