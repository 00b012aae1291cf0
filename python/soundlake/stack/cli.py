"""`soundlake stack` (and its wrapper `scripts/stack`): install, start, check and stop the local
stack of real services."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from soundlake.orchestrate.run import stop_session

from . import clients, config, process
from .service import Service, StackError
from .services import GROUPS, all_services


def _select(services: list[Service], names: list[str]) -> list[Service]:
    if not names:
        return services
    wanted: list[str] = []
    for name in names:
        wanted.extend(GROUPS.get(name, [name]))
    # a multiplied service's own name (`kafka`) stands for all its instances (`kafka-1`, ...);
    # a group may name services this profile does not run (`spark-master` on a single node)
    known = {s.name for s in services} | {type(s).name for s in services}
    unknown = [n for n in names if n not in known and n not in GROUPS]
    if unknown:
        raise StackError(
            f"unknown service(s) {', '.join(unknown)}; known: {', '.join(sorted(known | GROUPS.keys()))}"
        )
    return [s for s in services if s.name in wanted or type(s).name in wanted]


def cmd_up(services: list[Service], record: Path | None) -> int:
    """Start each service in order; if one fails, stop those this call started, then raise."""
    started: list[Service] = []
    try:
        for svc in services:
            t0 = time.monotonic()
            print(f"{svc.name:<16} starting on {svc.address()} ...", file=sys.stderr, flush=True)
            word = svc.up()
            print(
                f"{svc.name:<16} {word} ({time.monotonic() - t0:.1f}s)", file=sys.stderr, flush=True
            )
            if word == "started":
                started.append(svc)
                if record is not None:
                    with record.open("a") as fh:
                        fh.write(svc.name + "\n")
    except (StackError, KeyboardInterrupt):
        if started:
            names = ", ".join(s.name for s in started)
            print(
                f"stack up did not finish: stopping what it had started ({names})",
                file=sys.stderr,
                flush=True,
            )
            for svc in reversed(started):
                svc.down()
                print(f"{svc.name:<16} stopped", file=sys.stderr, flush=True)
        raise
    return 0


def cmd_down(
    cfg: config.StackConfig, services: list[Service], record: Path | None, *, whole: bool
) -> int:
    """Stop the services (those named in `record`, if given). `whole`: the whole stack goes
    down, so what `soundlake run` started on it goes first, the daemon before the services its
    runs use."""
    if whole:
        for name in stop_session(cfg):
            print(f"{name:<16} stopped", file=sys.stderr)
    if record is not None:
        names = set(record.read_text().split()) if record.exists() else set()
        services = [s for s in services if s.name in names]
        record.unlink(missing_ok=True)
    for svc in reversed(services):
        stopped = svc.down()
        print(f"{svc.name:<16} {'stopped' if stopped else 'was not running'}", file=sys.stderr)
    return 0


def cmd_status(services: list[Service]) -> int:
    bad = 0
    width = max([len("address"), *(len(s.address()) for s in services)])
    print(f"{'service':<16} {'address':<{width}} {'pid':<8} state")
    for svc in services:
        record = process.read_pidfile(svc.pidfile)
        ours = record is not None and process.is_alive(record)
        answers = svc.healthy()
        state = "healthy" if answers else "not answering"
        if answers and not ours:
            state = "answering, but not started by this stack"
        if not answers:
            bad += 1
        pid = str(record.pid) if ours and record else "-"
        print(f"{svc.name:<16} {svc.address():<{width}} {pid:<8} {state}", flush=True)
    return 0 if bad == 0 else 3


def cmd_logs(services: list[Service], lines: int, follow: bool) -> int:
    files = [str(s.logfile) for s in services if s.logfile.exists()]
    if not files:
        print("no logs yet", file=sys.stderr)
        return 0
    argv = ["tail", "-n", str(lines), *(["-F"] if follow else []), *files]
    return subprocess.call(argv)


def cmd_env(cfg: config.StackConfig) -> int:
    """Print the stack's client variables as shell `export` lines."""
    sys.stdout.write(clients.exports(cfg))
    return 0


def cmd_install(services: list[Service]) -> int:
    for svc in services:
        t0 = time.monotonic()
        svc.install()
        print(f"{svc.name:<16} installed ({time.monotonic() - t0:.1f}s)", file=sys.stderr)
    return 0


def cmd_reset(cfg: config.StackConfig, services: list[Service], yes: bool) -> int:
    """Stop every service of the stack, then delete its data, logs and rendered configs.

    The installed software (`lib/`) stays, so the next `up` starts at once on empty services.
    """
    doomed = [d for d in (cfg.data_dir, cfg.logs_dir, cfg.conf_dir, cfg.run_dir) if d.exists()]
    doomed += sorted(p for p in cfg.dir.glob("*") if p.is_file()) if cfg.dir.exists() else []
    running = [s for s in services if s.running()]
    if not doomed and not running:
        print(f"nothing to reset: {cfg.dir} holds no data", file=sys.stderr)
        return 0
    print(
        "this stops the stack and deletes all its data (Kafka topics, HDFS lake, metastore,",
        file=sys.stderr,
    )
    print(
        "ClickHouse tables, Prometheus history, logs); the installed software stays:",
        file=sys.stderr,
    )
    for path in doomed:
        print(f"  {path}", file=sys.stderr)
    if not yes:
        if not sys.stdin.isatty():
            raise StackError("`scripts/stack reset` deletes data: confirm with --yes")
        if input("delete? [y/N] ").strip().lower() not in ("y", "yes"):
            print("nothing deleted", file=sys.stderr)
            return 1
    for name in stop_session(cfg):
        print(f"{name:<16} stopped", file=sys.stderr)
    for svc in reversed(running):
        svc.down()
        print(f"{svc.name:<16} stopped", file=sys.stderr)
    for path in doomed:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    print(f"reset: {cfg.dir} holds no data now; `scripts/stack up` starts afresh", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="soundlake stack",
        description=(
            "The local stack: Kafka (KRaft), HDFS, the schema registry, ClickHouse, Prometheus "
            "and Alertmanager as plain processes on 127.0.0.1, data under .stack/. "
            "Settings: stack/stack.toml and SOUNDLAKE_* environment variables."
        ),
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--profile",
        default=None,
        help=(
            "a profile of stack/stack.toml ([profiles.<name>], e.g. `cluster`): its own folder, "
            f"ports and instance counts (env {config.PROFILE_ENV}; default: the single-node stack)"
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in [
        ("up", "install what is missing, start services and wait until each is healthy"),
        (
            "down",
            "stop what `soundlake run` started, then the services this stack started (by pid file)",
        ),
        (
            "status",
            "print each service, its address and whether it answers (exit 3 if any does not)",
        ),
        ("install", "install the services' software without starting them"),
    ]:
        p = sub.add_parser(name, help=text, description=text, parents=[common])
        p.add_argument("services", nargs="*", help="service names (default: all)")
        if name in ("up", "down"):
            p.add_argument(
                "--record",
                type=Path,
                metavar="FILE",
                help=(
                    "up: append the names of the services this call started to FILE; "
                    "down: stop only the services named in FILE (then delete it)"
                ),
            )
    sub.add_parser(
        "env",
        parents=[common],
        help="print the variables that point the project's tools at this stack",
        description=(
            "Print `export` lines of the SOUNDLAKE_* variables (Kafka brokers, HDFS, ClickHouse, "
            "Prometheus, the Thrift server, the Spark master) with this stack's addresses: "
            'eval "$(scripts/stack env --profile cluster)"'
        ),
    )
    reset = sub.add_parser(
        "reset",
        parents=[common],
        help="stop the stack and delete all its data (the installed software stays)",
        description=(
            "Stop every service of the stack, then delete .stack/data, logs, rendered configs "
            "and pid files: the next `up` starts on empty services. The installed jars and "
            "packages stay."
        ),
    )
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    logs = sub.add_parser(
        "logs",
        help="show the services' logs",
        description="show the services' logs",
        parents=[common],
    )
    logs.add_argument("services", nargs="*", help="service names (default: all)")
    logs.add_argument("-n", "--lines", type=int, default=40, help="lines per log (default 40)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep following the logs")
    args = parser.parse_args(argv)

    cfg = config.load(profile=args.profile)
    try:
        services = _select(all_services(cfg), getattr(args, "services", []))
        if args.command == "up":
            return cmd_up(services, args.record)
        if args.command == "down":
            whole = not args.services and args.record is None
            return cmd_down(cfg, services, args.record, whole=whole)
        if args.command == "status":
            return cmd_status(services)
        if args.command == "env":
            return cmd_env(cfg)
        if args.command == "install":
            return cmd_install(services)
        if args.command == "reset":
            return cmd_reset(cfg, services, args.yes)
        return cmd_logs(services, args.lines, args.follow)
    except StackError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `scripts/stack status | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
