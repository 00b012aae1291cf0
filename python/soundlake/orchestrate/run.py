"""``soundlake run``: the platform running by itself until Ctrl-C.

Starts the local stack when it is not up (``scripts/stack up``), then four processes of its own,
each in its own process group with its pid file under ``.stack/run/`` and its log under
``.stack/logs/`` (the stack's process helpers, ``soundlake.stack.process``):

    eventsim          ``--continuous``: each event produced to Kafka when its time comes
    soundlake-ingest  the lander, long-running: Kafka → bronze, committed in bronze/_commits/
    dagster-daemon    the sensor on bronze/_commits/ and the runs it launches (dbt, loader)
    dagster-webserver Dagster's UI on 127.0.0.1

Dagster keeps its run history, the sensor's cursor and the asset events in SQLite under
``.stack/dagster/`` (DAGSTER_HOME). Ctrl-C or SIGTERM stops the four (a run in progress is
cancelled with the daemon); the next ``soundlake run`` resumes: the lander from its commit log,
the sensor from its cursor, dbt's incremental models from what gold holds. ``soundlake run``
keeps its own pid in ``.stack/run/soundlake-run.pid``: ``scripts/stack down`` stops a session
through it (``stop_session``) before it stops the stack.

The addresses are the stack's (``stack/stack.toml``) unless the usual variables say otherwise:
SOUNDLAKE_LAKE_URL, SOUNDLAKE_KAFKA_BROKERS, SOUNDLAKE_WEBHDFS_URL, SOUNDLAKE_CLICKHOUSE_URL
(and _DATABASE), SOUNDLAKE_SPARK_THRIFT_HOST/_PORT; SOUNDLAKE_TOPIC_PREFIX names the topics.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from soundlake.lake_layout import TOPICS
from soundlake.orchestrate.settings import Settings, binary
from soundlake.paths import REPO_ROOT
from soundlake.stack import clients, config, process
from soundlake.stack.config import StackConfig

DEFINITIONS_MODULE = "soundlake.orchestrate.definitions"
#: the children's names in the order they start (and the reverse of the order they stop in)
CHILD_NAMES = ("eventsim", "lander", "dagster-daemon", "dagster-webserver")
#: the longest `stop_session` waits for a session to stop its children (each may take
#: process.stop's timeout) before it stops what is left itself
SESSION_STOP_TIMEOUT_S = 150.0
EVENTSIM_CONFIG = REPO_ROOT / "eventsim" / "configs" / "eventsim-config-example.json"
#: one at a time: a run covers every commit since the previous one (see sensors.py)
DAGSTER_YAML = """\
# Written by `soundlake run` (python/soundlake/orchestrate/run.py): do not edit.
run_queue:
  max_concurrent_runs: 1
telemetry:
  enabled: false
"""


@dataclass(frozen=True)
class Child:
    """A process `soundlake run` starts and stops."""

    name: str
    argv: list[str]
    env: dict[str, str]
    #: its Prometheus job and /metrics address (a file_sd target while it runs)
    metrics: tuple[str, str] | None = None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="soundlake run",
        description="Run the platform continuously: eventsim (real time), the lander, and "
        "Dagster (its daemon and UI), which builds dbt and loads ClickHouse on new bronze "
        "commits. Ctrl-C stops it; running it again resumes.",
    )
    parser.add_argument(
        "--users",
        type=int,
        default=int(os.environ.get("SOUNDLAKE_RUN_USERS", "2000")),
        help="simulated users: the event rate grows with them (env SOUNDLAKE_RUN_USERS; "
        "default %(default)s)",
    )
    parser.add_argument(
        "--eventsim-config",
        type=Path,
        default=Path(os.environ.get("SOUNDLAKE_RUN_EVENTSIM_CONFIG") or EVENTSIM_CONFIG),
        metavar="FILE",
        help="eventsim's config (env SOUNDLAKE_RUN_EVENTSIM_CONFIG; default "
        "eventsim/configs/eventsim-config-example.json)",
    )
    parser.add_argument(
        "--start-time",
        default=os.environ.get("SOUNDLAKE_RUN_START_TIME"),
        metavar="TIME",
        help="eventsim's first event time, e.g. 2026-12-06T17:00:00 (UTC): what lies before now "
        "is produced at once, the rest when its time comes (env SOUNDLAKE_RUN_START_TIME; "
        "default: eventsim's, some days ago)",
    )
    parser.add_argument(
        "--end-time",
        default=os.environ.get("SOUNDLAKE_RUN_END_TIME"),
        metavar="TIME",
        help="eventsim's last event time (UTC): eventsim exits then and the rest keeps running, "
        "so the lander and Dagster catch up on everything it produced (env "
        "SOUNDLAKE_RUN_END_TIME; default: no end)",
    )
    parser.add_argument(
        "--ui-port",
        type=int,
        default=int(os.environ.get("SOUNDLAKE_DAGSTER_PORT", "3070")),
        help="Dagster's UI on 127.0.0.1:PORT (env SOUNDLAKE_DAGSTER_PORT; default %(default)s)",
    )
    parser.add_argument(
        "--flush-interval",
        type=int,
        default=int(os.environ.get("SOUNDLAKE_RUN_FLUSH_INTERVAL", "30")),
        help="the lander's longest wait before it commits, seconds (env "
        "SOUNDLAKE_RUN_FLUSH_INTERVAL; default %(default)s)",
    )
    parser.add_argument(
        "--sensor-interval",
        type=int,
        default=int(os.environ["SOUNDLAKE_SENSOR_INTERVAL_S"])
        if os.environ.get("SOUNDLAKE_SENSOR_INTERVAL_S")
        else None,
        help="how often the sensor looks for new bronze commits, seconds (env "
        "SOUNDLAKE_SENSOR_INTERVAL_S; default: the sensor's, see docs/orchestration.md)",
    )
    parser.add_argument(
        "--checks-interval",
        type=int,
        default=int(os.environ["SOUNDLAKE_CHECKS_INTERVAL_S"])
        if os.environ.get("SOUNDLAKE_CHECKS_INTERVAL_S")
        else None,
        help="how often a cycle includes the dbt tests (Dagster's asset checks), seconds; 0: "
        "every cycle (env SOUNDLAKE_CHECKS_INTERVAL_S; default: the sensor's, see "
        "docs/orchestration.md)",
    )
    parser.add_argument(
        "--freshness-addr",
        default=os.environ.get("SOUNDLAKE_FRESHNESS_METRICS_ADDR", "127.0.0.1:9467"),
        help="the gold tables' freshness on http://ADDR/metrics (env "
        "SOUNDLAKE_FRESHNESS_METRICS_ADDR; default %(default)s)",
    )
    parser.add_argument(
        "--no-stack-up",
        action="store_true",
        help="do not start the stack (it must be up already)",
    )
    return parser.parse_args(argv)


def dagster_home(cfg: StackConfig) -> Path:
    """DAGSTER_HOME: Dagster's instance (SQLite) under the stack's folder, with its settings."""
    home = cfg.dir / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    return home


def cancel_orphaned_runs(home: Path) -> None:
    """Mark the runs a previous `soundlake run` left unfinished as canceled: no daemon runs
    now, so none of them is running, and the sensor waits while one looks active."""
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    unfinished = [
        DagsterRunStatus.QUEUED,
        DagsterRunStatus.NOT_STARTED,
        DagsterRunStatus.STARTING,
        DagsterRunStatus.STARTED,
        DagsterRunStatus.CANCELING,
    ]
    with DagsterInstance.from_config(str(home)) as instance:
        for run in instance.get_runs(filters=RunsFilter(statuses=unfinished)):
            instance.report_run_canceled(run, "soundlake run stopped before the run finished")
            print(f"  run {run.run_id} of the previous session: canceled", flush=True)


def setting(name: str, default: str) -> str:
    """The environment's value of `name`, else `default`."""
    return os.environ.get(name) or default


def children(args: argparse.Namespace, cfg: StackConfig) -> list[Child]:
    host = cfg.host
    # the stack's addresses (every broker of a profile with several), unless the environment
    # points elsewhere
    stack = clients.client_env(cfg)
    lake_url = setting("SOUNDLAKE_LAKE_URL", stack["SOUNDLAKE_LAKE_URL"])
    brokers = setting("SOUNDLAKE_KAFKA_BROKERS", stack["SOUNDLAKE_KAFKA_BROKERS"])
    # the topics' name prefix, for eventsim, the lander and dbt's bronze sources alike
    prefix = setting("SOUNDLAKE_TOPIC_PREFIX", "")
    bin_dir = Path(sys.executable).parent
    eventsim_metrics = setting(
        "SOUNDLAKE_EVENTSIM_METRICS_ADDR", f"{host}:{cfg.port('eventsim_metrics')}"
    )
    ingest_metrics = setting(
        "SOUNDLAKE_INGEST_METRICS_ADDR", f"{host}:{cfg.port('ingest_metrics')}"
    )
    dagster_env = {
        "DAGSTER_HOME": str(dagster_home(cfg)),
        "SOUNDLAKE_LAKE_URL": lake_url,
        **{
            name: setting(name, stack[name])
            for name in (
                "SOUNDLAKE_WEBHDFS_URL",
                "SOUNDLAKE_CLICKHOUSE_URL",
                "SOUNDLAKE_SPARK_THRIFT_HOST",
                "SOUNDLAKE_SPARK_THRIFT_PORT",
            )
        },
    }
    if args.sensor_interval is not None:
        dagster_env["SOUNDLAKE_SENSOR_INTERVAL_S"] = str(args.sensor_interval)
    if args.checks_interval is not None:
        dagster_env["SOUNDLAKE_CHECKS_INTERVAL_S"] = str(args.checks_interval)
    return [
        Child(
            "eventsim",
            [
                binary("eventsim"),
                "-c",
                str(args.eventsim_config),
                "--nusers",
                str(args.users),
                "--continuous",
                *(["--start-time", args.start_time] if args.start_time else []),
                *(["--end-time", args.end_time] if args.end_time else []),
                "--kafka-brokers",
                brokers,
                "--topic-prefix",
                prefix,
                "--metrics-addr",
                eventsim_metrics,
                "--progress",
                "never",
            ],
            {},
            ("eventsim", eventsim_metrics),
        ),
        Child(
            "lander",
            [
                binary("soundlake-ingest"),
                "--brokers",
                brokers,
                "--topics",
                ",".join(f"{prefix}{topic}" for topic in TOPICS),
                "--lake-url",
                lake_url,
                "--writer-id",
                "run",
                "--flush-interval",
                str(args.flush_interval),
                # on a fresh stack the topics appear once eventsim's first events arrive:
                # look for them every few seconds, not after librdkafka's default minutes
                "-X",
                "topic.metadata.refresh.interval.ms=5000",
                "--metrics-addr",
                ingest_metrics,
            ],
            {},
            ("rust-ingest", ingest_metrics),
        ),
        Child(
            "dagster-daemon",
            [str(bin_dir / "dagster-daemon"), "run", "-m", DEFINITIONS_MODULE],
            dagster_env,
        ),
        Child(
            "dagster-webserver",
            [
                str(bin_dir / "dagster-webserver"),
                "-h",
                host,
                "-p",
                str(args.ui_port),
                "-m",
                DEFINITIONS_MODULE,
            ],
            dagster_env,
        ),
    ]


def targets_dir(cfg: StackConfig) -> Path:
    """Prometheus' file_sd folder of the local stack (ops/prometheus/prometheus.local.yml)."""
    return cfg.conf_dir / "prometheus" / "targets"


def add_target(cfg: StackConfig, name: str, job: str, address: str) -> Path:
    """Make `address` a Prometheus target of job `job` while it runs; the file to remove."""
    target = targets_dir(cfg) / f"run-{name}.yml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f'- targets: ["{address}"]\n  labels: {{job: {job}}}\n')
    return target


def pidfile(cfg: StackConfig, child: Child) -> Path:
    return child_pidfile(cfg, child.name)


def child_pidfile(cfg: StackConfig, name: str) -> Path:
    return cfg.run_dir / f"run-{name}.pid"


def logfile(cfg: StackConfig, child: Child) -> Path:
    return cfg.logs_dir / f"run-{child.name}.log"


def session_pidfile(cfg: StackConfig) -> Path:
    """The pid file of `soundlake run` itself (not a process group: it runs in the caller's)."""
    return cfg.run_dir / "soundlake-run.pid"


def running_session(cfg: StackConfig) -> process.PidRecord | None:
    """The `soundlake run` of this stack folder that is running, if one is."""
    record = process.read_pidfile(session_pidfile(cfg))
    return record if record is not None and process.is_alive(record) else None


def stop_session(cfg: StackConfig) -> list[str]:
    """Stop what `soundlake run` started on this stack folder; the names of what was running.

    A running session is asked to stop (SIGTERM, as Ctrl-C) and stops its children itself, in
    the reverse order of their start; then whatever is left (a session killed outright leaves
    its children and pid files) is stopped by pid file in the same order, and the Prometheus
    targets of the session are removed.
    """
    stopped: list[str] = []
    session = running_session(cfg)
    if session is not None:
        os.kill(session.pid, signal.SIGTERM)
        deadline = time.monotonic() + SESSION_STOP_TIMEOUT_S
        while process.is_alive(session) and time.monotonic() < deadline:
            time.sleep(0.2)
        stopped.append("soundlake run")
    session_pidfile(cfg).unlink(missing_ok=True)
    others = sorted(
        p.name[len("run-") : -len(".pid")]
        for p in cfg.run_dir.glob("run-*.pid")
        if p.name[len("run-") : -len(".pid")] not in CHILD_NAMES
    )
    for name in [*others, *reversed(CHILD_NAMES)]:
        if process.stop(child_pidfile(cfg, name)):
            stopped.append(name)
    for target in targets_dir(cfg).glob("run-*.yml"):
        target.unlink(missing_ok=True)
    return stopped


def exit_code(record: process.PidRecord) -> int | None:
    """The exit code of a child of this process that exited, or None if it is not ours."""
    try:
        pid, status = os.waitpid(record.pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(status) if pid == record.pid else None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = config.load()
    other = running_session(cfg)
    if other is not None:
        print(
            f"error: soundlake run is running already (pid {other.pid}, "
            f"{session_pidfile(cfg)}); stop it first",
            file=sys.stderr,
        )
        return 1
    if not args.no_stack_up and subprocess.call([str(REPO_ROOT / "scripts" / "stack"), "up"]):
        print("error: the stack did not start (see above)", file=sys.stderr)
        return 1
    stop = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    started: list[tuple[Child, process.PidRecord]] = []
    targets: list[Path] = []
    clickhouse_url = setting(
        "SOUNDLAKE_CLICKHOUSE_URL", f"http://{cfg.host}:{cfg.port('clickhouse_http')}"
    )
    host, port = args.freshness_addr.rsplit(":", 1)
    try:
        # here, not at the top: `scripts/stack down` imports this module for stop_session, and
        # the stack manager needs only the standard library (the endpoint reads Dagster's runs)
        from soundlake.orchestrate.freshness import serve

        freshness = serve(
            host, int(port), dataclasses.replace(Settings.from_env(), clickhouse_url=clickhouse_url)
        )
    except (OSError, ValueError) as err:
        print(f"error: cannot serve freshness on {args.freshness_addr}: {err}", file=sys.stderr)
        return 1
    code = 0
    own = process.PidRecord(os.getpid(), process.start_ticks(os.getpid()) or 0)
    session_pidfile(cfg).parent.mkdir(parents=True, exist_ok=True)
    session_pidfile(cfg).write_text(own.serialize())
    try:
        targets.append(add_target(cfg, "freshness", "soundlake-freshness", args.freshness_addr))
        spawned = children(args, cfg)
        for child in spawned:
            # a previous session that was killed outright: stop what it left
            process.stop(pidfile(cfg, child))
        cancel_orphaned_runs(dagster_home(cfg))
        for child in spawned:
            record = process.spawn(
                child.argv,
                pidfile=pidfile(cfg, child),
                logfile=logfile(cfg, child),
                env=child.env,
                cwd=REPO_ROOT,
            )
            started.append((child, record))
            if child.metrics:
                targets.append(add_target(cfg, child.name, *child.metrics))
            print(f"  {child.name:<18} pid {record.pid}, log {logfile(cfg, child)}", flush=True)
        print(
            f"Dagster's UI: http://{cfg.host}:{args.ui_port} — Ctrl-C stops everything", flush=True
        )
        watched = list(started)
        while not stop:
            time.sleep(1.0)
            for child, record in watched:
                if not process.is_alive(record):
                    if child.name == "eventsim" and args.end_time and exit_code(record) == 0:
                        print(f"  eventsim reached --end-time {args.end_time}", flush=True)
                        watched.remove((child, record))
                        break
                    print(
                        f"error: {child.name} exited; its log ends:\n"
                        f"{process.tail(logfile(cfg, child))}",
                        file=sys.stderr,
                    )
                    stop, code = True, 1
                    break
    finally:
        print("stopping", flush=True)
        for target in targets:
            target.unlink(missing_ok=True)
        freshness.shutdown()
        for child, _record in reversed(started):
            process.stop(pidfile(cfg, child))
            print(f"  {child.name} stopped", flush=True)
        if process.read_pidfile(session_pidfile(cfg)) == own:
            session_pidfile(cfg).unlink()
    return code
