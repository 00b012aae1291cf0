"""`scripts/stack down` stops what `soundlake run` started before the stack: real processes
with pid files under a temporary stack folder, no stack needed."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from soundlake.orchestrate import run
from soundlake.stack import config, process
from soundlake.stack.cli import cmd_down

#: a child that notes its name in ORDER when it gets SIGTERM, then exits
CHILD = """
import signal, sys, time
name, order = sys.argv[1], sys.argv[2]
def stop(signum, frame):
    with open(order, "a") as fh:
        fh.write(name + "\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print("ready", flush=True)
while True:
    time.sleep(0.1)
"""


@pytest.fixture
def cfg(tmp_path: Path) -> config.StackConfig:
    """The stack's settings with its folder moved to a temporary one."""
    return dataclasses.replace(config.load(), dir=tmp_path / "stack")


def spawn_child(cfg: config.StackConfig, name: str, order: Path) -> process.PidRecord:
    """A child as `soundlake run` starts it: its own process group, `run-<name>.pid`."""
    record = process.spawn(
        [sys.executable, "-c", CHILD, name, str(order)],
        pidfile=run.child_pidfile(cfg, name),
        logfile=cfg.logs_dir / f"run-{name}.log",
    )
    log = cfg.logs_dir / f"run-{name}.log"
    deadline = time.monotonic() + 30
    while "ready" not in log.read_text().splitlines():  # its SIGTERM handler is in place
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    return record


def test_the_children_are_named_in_their_start_order(cfg: config.StackConfig) -> None:
    args = run.parse_args([])
    assert tuple(c.name for c in run.children(args, cfg)) == run.CHILD_NAMES


def test_stack_down_stops_what_soundlake_run_left_daemon_first(
    cfg: config.StackConfig, tmp_path: Path
) -> None:
    order = tmp_path / "order"
    records = {name: spawn_child(cfg, name, order) for name in run.CHILD_NAMES}
    target = run.add_target(cfg, "lander", "rust-ingest", "127.0.0.1:1")
    kept = run.targets_dir(cfg) / "stack.yml"  # a target of the stack's own: not ours to remove
    kept.write_text("- targets: []\n")

    assert cmd_down(cfg, [], None, whole=True) == 0

    assert not any(process.is_alive(r) for r in records.values())
    assert order.read_text().split() == list(reversed(run.CHILD_NAMES))
    assert not list(cfg.run_dir.glob("*.pid"))
    assert not target.exists() and kept.exists()


def test_stack_down_asks_a_running_session_to_stop_first(
    cfg: config.StackConfig, tmp_path: Path
) -> None:
    order = tmp_path / "order"
    daemon = spawn_child(cfg, "dagster-daemon", order)
    # the session itself: not a group leader of its own, it gets SIGTERM as Ctrl-C
    session = subprocess.Popen([sys.executable, "-c", CHILD, "soundlake run", str(order)],
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert session.stdout is not None and session.stdout.readline().strip() == "ready"
        ticks = process.start_ticks(session.pid)
        assert ticks is not None
        run.session_pidfile(cfg).write_text(process.PidRecord(session.pid, ticks).serialize())
        assert run.running_session(cfg) is not None

        assert cmd_down(cfg, [], None, whole=True) == 0

        assert session.wait(timeout=5) == 0
        assert order.read_text().splitlines() == ["soundlake run", "dagster-daemon"]
        assert not process.is_alive(daemon)
        assert run.running_session(cfg) is None
    finally:
        session.kill()
        session.wait()


def test_stack_down_of_some_services_leaves_a_session_alone(
    cfg: config.StackConfig, tmp_path: Path
) -> None:
    lander = spawn_child(cfg, "lander", tmp_path / "order")
    try:
        assert cmd_down(cfg, [], None, whole=False) == 0
        assert process.is_alive(lander)
    finally:
        os.killpg(lander.pid, 9)


def test_the_children_reach_every_broker_of_a_profile_with_several(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SOUNDLAKE_KAFKA_BROKERS", "SOUNDLAKE_LAKE_URL", "SOUNDLAKE_STACK_DIR"):
        monkeypatch.delenv(name, raising=False)
    cluster = config.load(profile="cluster")
    first = cluster.port("kafka")
    every = ",".join(f"127.0.0.1:{first + i}" for i in range(3))
    by_name = {c.name: c for c in run.children(run.parse_args([]), cluster)}
    for name, option in (("eventsim", "--kafka-brokers"), ("lander", "--brokers")):
        argv = by_name[name].argv
        assert argv[argv.index(option) + 1] == every, argv
