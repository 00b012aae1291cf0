"""Where a dbt build's time goes: per model and test, per kind of SQL statement.

Reads dbt's JSON log file (run dbt with ``--log-format-file json --log-level-file debug``) and
pairs each SQL statement dbt sent (``SQLQuery``) with its status (``SQLQueryStatus``, the
statement's wall time in Spark), then sums them per node and per kind:

    work          the statement that builds the model (create/insert ... select) or runs a test
    watermark     an incremental model's ``max(_ingested_at)`` and its new-days queries
    introspection what dbt asks the catalog (show tables/databases, describe, ...)
    schema file   the gold models' post-hook writing ``_schema/``
    ddl           drop/create view/table/schema, bronze registration, refresh, ...
    dbt           the node's time outside any SQL (compilation, Jinja, dbt's bookkeeping)

    python -m benchmarks.dbt_profile LOG [--top N] [--json OUT]

Run from ``python/`` (``cd python && python -m benchmarks.dbt_profile ...``) or with the
package installed; scripts/bench-dbt calls it on each build it times.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("work", "watermark", "introspection", "schema file", "ddl", "dbt")

_COMMENT = re.compile(r"/\*.*?\*/", re.S)


def kind_of(sql: str) -> str:
    """The kind of one SQL statement dbt sent (see the module doc)."""
    text = " ".join(_COMMENT.sub(" ", sql).split()).lower()
    if text.startswith(
        ("select cast(max(_ingested_at)", "select distinct cast(event_date as string)")
    ):
        return "watermark"
    if text.startswith("insert overwrite directory") and "/_schema/" in text:
        return "schema file"
    if text.startswith(("show ", "describe ", "desc ")):
        return "introspection"
    if text.startswith(("drop ", "create schema", "create database", "refresh ", "alter ")):
        return "ddl"
    if text.startswith("create table") and " location " in text and " as " not in text:
        return "ddl"  # the bronze tables, no data written
    if text.startswith(("create or replace temporary view", "create temporary view")):
        return "ddl"  # dbt-spark's incremental temp view: lazy, analysed only
    return "work"


@dataclass
class Node:
    """One dbt node (model, test, hook) and the time of its statements by kind."""

    unique_id: str
    label: str = ""  # the node's name (a test's unique id ends in a hash)
    seconds: float = 0.0  # dbt's execution_time for the node (0 for the run's hooks)
    by_kind: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    statements: int = 0

    @property
    def resource(self) -> str:
        return self.unique_id.split(".", 1)[0]

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        return self.unique_id.split(".")[-1] if "." in self.unique_id else self.unique_id


def _events(lines: Iterable[str]) -> Iterator[dict]:
    for line in lines:
        line = line.strip()
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def profile(lines: Iterable[str]) -> dict[str, Node]:
    """Nodes by unique id (``hooks`` for on-run-start/end, ``master`` for dbt's own catalog
    queries between nodes), from the lines of a JSON dbt log."""
    nodes: dict[str, Node] = {}
    pending: dict[str, tuple[str, str]] = {}  # thread -> (node, kind) of the running SQL

    def node(uid: str) -> Node:
        return nodes.setdefault(uid, Node(uid))

    for event in _events(lines):
        info, data = event.get("info", {}), event.get("data", {})
        name, thread = info.get("name"), info.get("thread", "")
        if name == "SQLQuery":
            conn = data.get("conn_name") or "master"
            uid = "master" if conn == "list_schemas" else conn
            if "on-run-start" in conn or "on-run-end" in conn or conn.startswith("macro_"):
                uid = "hooks"
            pending[thread] = (uid, kind_of(data.get("sql", "")))
        elif name == "SQLQueryStatus" and thread in pending:
            uid, kind = pending.pop(thread)
            n = node(uid)
            n.by_kind[kind] += float(data.get("elapsed", 0.0))
            n.statements += 1
        elif name == "NodeFinished":
            uid = data.get("node_info", {}).get("unique_id", "")
            if uid:
                n = node(uid)
                n.label = data.get("node_info", {}).get("node_name", "")
                n.seconds = float(data.get("run_result", {}).get("execution_time", 0.0))
    for n in nodes.values():
        sql = sum(v for k, v in n.by_kind.items() if k != "dbt")
        if n.seconds > sql:
            n.by_kind["dbt"] = n.seconds - sql
        n.seconds = max(n.seconds, sql)
    return nodes


def summary(nodes: dict[str, Node]) -> dict[str, dict[str, float]]:
    """Seconds by resource (model, test, other) and kind."""
    result: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for n in nodes.values():
        resource = n.resource if n.resource in ("model", "test") else "other"
        for kind, seconds in n.by_kind.items():
            result[resource][kind] += seconds
    return result


def render(nodes: dict[str, Node], top: int) -> str:
    lines = []
    totals = summary(nodes)
    header = f"{'':10}" + "".join(f"{k:>14}" for k in KINDS) + f"{'total':>10}"
    lines.append(header)
    for resource in ("model", "test", "other"):
        row = totals.get(resource, {})
        cells = "".join(f"{row.get(k, 0.0):14.1f}" for k in KINDS)
        lines.append(f"{resource:10}{cells}{sum(row.values()):10.1f}")
    everything = sum(sum(r.values()) for r in totals.values())
    tests = sum(totals.get("test", {}).values())
    lines.append(f"tests' share of the build: {tests / everything:.0%}" if everything else "")
    lines.append("")
    lines.append(f"slowest {top} nodes (seconds):")
    ranked = sorted(nodes.values(), key=lambda n: n.seconds, reverse=True)[:top]
    for n in ranked:
        parts = ", ".join(
            f"{k} {v:.1f}" for k, v in sorted(n.by_kind.items(), key=lambda x: -x[1]) if v >= 0.05
        )
        lines.append(f"  {n.seconds:7.1f}  {n.resource:6} {n.name[:60]:60} {parts}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.dbt_profile",
        description="Where a dbt build's time goes, from dbt's JSON debug log.",
    )
    parser.add_argument("log", type=Path, help="dbt.log written with --log-format-file json")
    parser.add_argument("--top", type=int, default=15, help="slowest nodes to list (default 15)")
    parser.add_argument("--json", type=Path, help="also write the per-node numbers here")
    args = parser.parse_args(argv)
    try:
        text = args.log.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        print(f"dbt_profile: error: cannot read {args.log}: {e}", file=sys.stderr)
        return 2
    nodes = profile(text.splitlines())
    if not nodes:
        print(
            f"dbt_profile: error: no SQL statements in {args.log}; run dbt with "
            "--log-format-file json --log-level-file debug",
            file=sys.stderr,
        )
        return 2
    print(render(nodes, args.top))
    if args.json:
        args.json.write_text(
            json.dumps(
                {uid: {"seconds": n.seconds, **n.by_kind} for uid, n in nodes.items()}, indent=1
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
