"""A small ClickHouse client over its HTTP interface (stdlib only): SELECTs as rows of dicts,
for the report and the orchestrator."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any


class ClickHouseError(Exception):
    """ClickHouse did not answer, or rejected a query."""


@dataclass(frozen=True)
class ClickHouse:
    url: str  # e.g. http://127.0.0.1:8123
    database: str
    user: str = "default"
    password: str = field(default="", repr=False)
    timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if urllib.parse.urlsplit(self.url).scheme not in ("http", "https"):
            raise ClickHouseError(f"not an HTTP URL of ClickHouse: {self.url!r}")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.database):
            raise ClickHouseError(f"not a ClickHouse database name: {self.database!r}")

    def select(self, sql: str) -> list[dict[str, Any]]:
        """The rows of `sql` (a SELECT without FORMAT) as dicts, numbers as Python numbers."""
        params = {
            "database": self.database,
            "query": f"{sql} FORMAT JSON",
            # 64-bit integers as JSON numbers, not strings
            "output_format_json_quote_64bit_integers": "0",
        }
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
            f"{self.url.rstrip('/')}/?{urllib.parse.urlencode(params)}",
            headers={"X-ClickHouse-User": self.user, "X-ClickHouse-Key": self.password},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                body = response.read()
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace").strip()
            raise ClickHouseError(
                f"ClickHouse at {self.url} rejected a query on database {self.database}: "
                f"{detail[:500]}"
            ) from None
        except (urllib.error.URLError, OSError) as err:
            raise ClickHouseError(
                f"cannot reach ClickHouse at {self.url} ({err}); is it running? "
                "(locally: scripts/stack up clickhouse; elsewhere: --clickhouse-url)"
            ) from None
        rows: list[dict[str, Any]] = json.loads(body)["data"]
        return rows

    def tables(self) -> set[str]:
        rows = self.select("SELECT name FROM system.tables WHERE database = currentDatabase()")
        return {row["name"] for row in rows}
