"""The orchestrator's reader of the lander's commit log (python/soundlake/orchestrate/
commit_log.py) on entries that are not what the lander writes: a clear error naming the entry,
never a bare TypeError in the sensor. No stack needed (a file:// lake)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soundlake.lake_layout import COMMITS
from soundlake.orchestrate.commit_log import CommitLog, CommitLogError


@pytest.mark.parametrize(
    "entry",
    [
        {"files": "listen_events"},
        {"files": [{"topic": "listen_events", "rows": "many"}]},
        {"files": ["listen_events"]},
        {"files": [], "committed_at_ms": "yesterday"},
        [1, 2, 3],
    ],
)
def test_a_malformed_entry_is_a_clear_error(tmp_path: Path, entry: object) -> None:
    folder = tmp_path / COMMITS
    folder.mkdir(parents=True)
    (folder / f"{7:020}.json").write_text(json.dumps(entry))
    with pytest.raises(CommitLogError, match=f"{COMMITS}/{7:020}.json is not a"):
        CommitLog(f"file://{tmp_path}", "http://unused").since(None)
