"""The ``soundlake`` command: one entry point for the project's operator and analyst tools.

    soundlake report --out report.html   self-contained HTML report of the gold tables
    soundlake metabase-provision ...     Metabase's questions and dashboards
    soundlake stack up|down|status|...   the local stack of real services
    soundlake kafka TOOL [ARGS...]       Kafka's command-line tools with the stack's jars
    soundlake hdfs TOOL [ARGS...]        HDFS's command-line tools with the stack's jars

Each subcommand is imported only when it runs, and takes ``--help``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass


def _report(args: list[str]) -> int:
    from soundlake.report.cli import main

    return main(args)


def _metabase_provision(args: list[str]) -> int:
    from soundlake.metabase import main

    return main(args)


def _stack(args: list[str]) -> int:
    from soundlake.stack.cli import main

    return main(args)


def _run(args: list[str]) -> int:
    from soundlake.orchestrate.run import main

    return main(args)


def _kafka(args: list[str]) -> int:
    from soundlake.stack.tools import main

    return main(["kafka", *args])


def _hdfs(args: list[str]) -> int:
    from soundlake.stack.tools import main

    return main(["hdfs", *args])


@dataclass(frozen=True)
class Command:
    summary: str
    run: Callable[[list[str]], int]


COMMANDS: dict[str, Command] = {
    "report": Command(
        "write a self-contained HTML report of the gold tables (ClickHouse)", _report
    ),
    "metabase-provision": Command(
        "create Metabase's admin, ClickHouse connection, questions, dashboards",
        _metabase_provision,
    ),
    "stack": Command("install, start, check and stop the local stack (see `stack --help`)", _stack),
    "run": Command("run the platform continuously under Dagster until Ctrl-C", _run),
    "kafka": Command("run one of Kafka's command-line tools with the stack's jars", _kafka),
    "hdfs": Command("run one of HDFS's command-line tools with the stack's jars and conf", _hdfs),
}


def usage() -> str:
    lines = [f"usage: soundlake {{{'|'.join(COMMANDS)}}} [--help | options]"]
    lines += [f"  {name:<19} {command.summary}" for name, command in COMMANDS.items()]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help", "help"):
        sys.stdout.write(usage())
        return 0
    command = COMMANDS.get(args[0]) if args else None
    if command is None:
        sys.stderr.write(usage())
        return 2
    return command.run(args[1:])


if __name__ == "__main__":
    sys.exit(main())
