"""The ``soundlake`` command: one entry point for the project's operator and analyst tools.

    soundlake generate [ARGS...]         the event generator (the `eventsim` binary)
    soundlake land [ARGS...]             the lander, Kafka to bronze (`soundlake-ingest`)
    soundlake dbt [ARGS...]              dbt in a Spark session with the UDFs (`soundlake-dbt`)
    soundlake load [ARGS...]             the loader, gold to ClickHouse (`soundlake-loader`)
    soundlake report --out report.html   self-contained HTML report of the gold tables
    soundlake metabase-provision ...     Metabase's questions and dashboards
    soundlake stack up|down|status|...   the local stack of real services
    soundlake kafka TOOL [ARGS...]       Kafka's command-line tools with the stack's jars
    soundlake hdfs TOOL [ARGS...]        HDFS's command-line tools with the stack's jars

Each subcommand is imported only when it runs, and takes ``--help``. The Rust binaries are run
with the arguments as given (``soundlake land --help`` is the lander's own help); scripts/setup
copies them into the venv's ``bin/``, beside this command.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

# The venv's bin/: this command's home, where scripts/setup copies the Rust binaries.
VENV_BIN = Path(sys.executable).parent


def find_binary(name: str) -> str | None:
    """The installed binary ``name``: the venv's ``bin/`` (this command's home) first, then PATH."""
    beside = VENV_BIN / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def run_binary(name: str, args: list[str]) -> int:
    """Run the Rust binary ``name`` with ``args`` in place of this process."""
    path = find_binary(name)
    if path is None:
        sys.stderr.write(
            f"soundlake: the `{name}` binary is not installed (neither in {VENV_BIN}"
            " nor on PATH): run scripts/setup, which builds the Rust binaries and copies them there\n"
        )
        return 127
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(path, [path, *args])


def _binary(name: str) -> Callable[[list[str]], int]:
    return lambda args: run_binary(name, args)


def _dbt(args: list[str]) -> int:
    from soundlake.spark.dbt import main

    return main(args)


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
    "generate": Command(
        "generate listening events into Kafka, or JSON lines (runs `eventsim`)", _binary("eventsim")
    ),
    "land": Command(
        "land Kafka's events as bronze Parquet on HDFS (runs `soundlake-ingest`)",
        _binary("soundlake-ingest"),
    ),
    "dbt": Command("run dbt in a Spark session with the UDFs registered (`soundlake-dbt`)", _dbt),
    "load": Command(
        "load the gold tables into ClickHouse (runs `soundlake-loader`)",
        _binary("soundlake-loader"),
    ),
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
