"""``soundlake-dbt``: dbt run inside the Spark session of :mod:`soundlake.spark.session`.

dbt models call the Rust UDFs, which Spark SQL only resolves in a session where they are
registered. ``soundlake-dbt`` creates that session, then runs dbt in the same process through
``dbtRunner``, whose ``session`` target picks the running session up (dbt-spark calls
``SparkSession.builder.getOrCreate()``)::

    soundlake-dbt build --project-dir dbt_spark --target session
    soundlake-dbt build --vars '{start_date: 2026-11-01, end_date: 2026-11-02}'
    soundlake-dbt build --full-refresh

Settings: those of the session (see :mod:`soundlake.spark.session`), and
``SOUNDLAKE_DBT_PROJECT_DIR``: dbt_spark under SOUNDLAKE_ROOT (when --project-dir is not given).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from soundlake.spark.session import build_session, repo_root

__all__ = ["dbt_args", "dbt_target", "main"]

HELP = """\
usage: soundlake-dbt DBT_COMMAND [DBT_OPTIONS...]

Runs dbt (e.g. `build`, `run`, `test`, `seed`, `docs generate`) in a Spark session where
Soundlake's Rust UDFs are registered, so that the dbt_spark models can call them. Every
argument goes to dbt unchanged; when missing, `--project-dir` defaults to
$SOUNDLAKE_DBT_PROJECT_DIR (else <repo>/dbt_spark) and `--profiles-dir` to the project dir.

examples:
  soundlake-dbt build                                   # run and test every model
  soundlake-dbt build --full-refresh                    # rebuild silver and gold
  soundlake-dbt build --vars '{start_date: 2026-11-01, end_date: 2026-11-02}'
  soundlake-dbt run --select gold_daily_active_users+

Spark settings come from the environment (SOUNDLAKE_SPARK_MASTER, SOUNDLAKE_HDFS_URL,
SOUNDLAKE_SPARK_METASTORE_URL, SOUNDLAKE_SPARK_WAREHOUSE, ...; see docs/dbt.md); the lake
root from SOUNDLAKE_LAKE_URL. `soundlake-dbt --help` shows this text, `soundlake-dbt
DBT_COMMAND --help` dbt's help for that command. Exit status: 0 when dbt succeeded, 1 when a
model or test failed, 2 when dbt could not run.
"""


def _has_option(args: Sequence[str], option: str) -> bool:
    return any(a == option or a.startswith(f"{option}=") for a in args)


def dbt_args(args: Sequence[str], env: Mapping[str, str] | None = None) -> list[str]:
    """``args`` with ``--project-dir``, ``--profiles-dir`` and ``--target`` added when missing
    (the project from SOUNDLAKE_DBT_PROJECT_DIR, else <SOUNDLAKE_ROOT>/dbt_spark; profiles
    beside it; the target from :func:`dbt_target`)."""
    env = os.environ if env is None else env
    result = list(args)
    if not result or result[0].startswith("-"):
        return result  # `dbt --version` and the like take no project
    project = env.get("SOUNDLAKE_DBT_PROJECT_DIR") or str(repo_root(env) / "dbt_spark")
    if _has_option(result, "--project-dir"):
        index = next(i for i, a in enumerate(result) if a.startswith("--project-dir"))
        value = result[index].partition("=")[2] or (
            result[index + 1] if index + 1 < len(result) else ""
        )
        project = value or project
    else:
        result += ["--project-dir", project]
    if not _has_option(result, "--profiles-dir") and not env.get("DBT_PROFILES_DIR"):
        result += ["--profiles-dir", project]
    if not _explicit_target(result):
        result += ["--target", dbt_target(result, env)]
    return result


def _explicit_target(args: Sequence[str]) -> bool:
    return any(a in ("--target", "-t") or a.startswith("--target=") for a in args)


def dbt_target(args: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """The profile target soundlake-dbt runs: ``--target``, else SOUNDLAKE_DBT_TARGET, else
    ``session`` (the profile's own default is ``thrift``, for plain dbt: see docs/dbt.md)."""
    env = os.environ if env is None else env
    for i, arg in enumerate(args):
        if arg in ("--target", "-t") and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--target="):
            return arg.partition("=")[2]
    return env.get("SOUNDLAKE_DBT_TARGET", "session")


def main(argv: Sequence[str] | None = None) -> int:
    """The ``soundlake-dbt`` command: dbt in a Spark session with the UDFs registered."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(HELP, end="")
        return 0 if args else 2
    args = dbt_args(args)
    project = Path(args[args.index("--project-dir") + 1]) if "--project-dir" in args else None
    if project is not None and not (project / "dbt_project.yml").is_file():
        print(
            f"soundlake-dbt: error: no dbt_project.yml in {project}; pass --project-dir or "
            "set SOUNDLAKE_DBT_PROJECT_DIR (or SOUNDLAKE_ROOT) to the repository's dbt_spark",
            file=sys.stderr,
        )
        return 2
    from dbt.cli.main import dbtRunner

    # Everything but these opens a connection, which must be this session (its catalog, UDFs);
    # the thrift target connects to a server that has its own.
    if args[0] not in ("parse", "deps", "clean", "init") and dbt_target(args) == "session":
        build_session("soundlake-dbt")
    result = dbtRunner().invoke(args)
    if result.exception is not None:
        print(f"soundlake-dbt: error: dbt could not run: {result.exception}", file=sys.stderr)
        return 2
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
