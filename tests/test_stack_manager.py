"""The local stack manager itself: pid files, stopping only what it started, port conflicts."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from soundlake.stack import config, process
from soundlake.stack.cli import cmd_reset, cmd_up
from soundlake.stack.service import Service, StackError
from soundlake.stack.services import service_named
from soundlake.stack.services.hdfs import hdfs_site
from soundlake.stack.services.kafka import Kafka


@pytest.fixture
def cfg(tmp_path: Path) -> config.StackConfig:
    """The stack's settings with its folder moved to a temporary one."""
    return dataclasses.replace(config.load(), dir=tmp_path / "stack")


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A port on 127.0.0.1 that something else already listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


class Sleeper(Service):
    """A service whose process is `sleep`: healthy as soon as it runs."""

    name = "sleeper"
    start_timeout = 5.0

    def install(self) -> None:
        pass

    def command(self) -> list[str]:
        return ["sleep", "60"]

    def healthy(self) -> bool:
        return self.running()


def test_pid_record_round_trip_and_rejects_garbage() -> None:
    record = process.PidRecord(1234, 5678)
    assert process.PidRecord.parse(record.serialize()) == record
    assert process.PidRecord.parse("not a pid") is None
    assert process.PidRecord.parse("12") is None


def test_own_process_is_alive_and_a_reused_pid_is_not() -> None:
    ticks = process.start_ticks(os.getpid())
    assert ticks is not None
    assert process.is_alive(process.PidRecord(os.getpid(), ticks))
    # same pid, other start time: a pid the kernel gave to another process
    assert not process.is_alive(process.PidRecord(os.getpid(), ticks + 1))


def test_up_is_idempotent_and_down_stops_the_process(cfg: config.StackConfig) -> None:
    svc = Sleeper(cfg)
    assert svc.up() == "started"
    record = process.read_pidfile(svc.pidfile)
    assert record is not None and process.is_alive(record)
    assert svc.up() == "already running"
    assert process.read_pidfile(svc.pidfile) == record
    assert svc.down()
    assert not process.is_alive(record)
    assert not svc.pidfile.exists()
    assert not svc.down()  # nothing left to stop


def test_down_leaves_alone_a_process_it_did_not_start(cfg: config.StackConfig) -> None:
    other = subprocess.Popen(["sleep", "60"])
    try:
        ticks = process.start_ticks(other.pid)
        assert ticks is not None
        svc = Sleeper(cfg)
        svc.pidfile.parent.mkdir(parents=True, exist_ok=True)
        # a stale pid file whose pid now belongs to another process
        svc.pidfile.write_text(process.PidRecord(other.pid, ticks + 7).serialize())
        assert not svc.down()
        assert other.poll() is None, "down killed a process the stack did not start"
    finally:
        other.kill()
        other.wait()


def _state(pid: int) -> str:
    """The process' state letter of /proc/<pid>/stat (R, S, T for stopped, ...)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2 :].split()[0]


def test_signal_group_stops_continues_and_kills_only_what_runs(cfg: config.StackConfig) -> None:
    svc = Sleeper(cfg)
    assert process.signal_group(svc.pidfile, signal.SIGKILL) is None  # nothing started yet
    svc.up()
    try:
        record = process.signal_group(svc.pidfile, signal.SIGSTOP)
        assert record is not None and record == process.read_pidfile(svc.pidfile)
        deadline = time.monotonic() + 5
        while _state(record.pid) != "T" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _state(record.pid) == "T"
        assert process.signal_group(svc.pidfile, signal.SIGCONT) == record
        assert process.signal_group(svc.pidfile, signal.SIGKILL) == record
        deadline = time.monotonic() + 5
        while svc.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not svc.running()
        assert svc.pidfile.exists()  # a killed node stays the stack's: `up` starts it again
        assert svc.up() == "started"
    finally:
        svc.down()


def test_service_named_is_one_instance_of_the_profile() -> None:
    cluster = config.load(profile="cluster")
    broker = service_named(cluster, "kafka-2")
    assert isinstance(broker, Kafka) and broker.index == 1
    assert broker.port("kafka") == cluster.port("kafka") + 1
    assert service_named(cluster, "hdfs-namenode").name == "hdfs-namenode"
    with pytest.raises(StackError, match=r"no service instance 'kafka-4'.*kafka-3"):
        service_named(cluster, "kafka-4")


def test_hdfs_writes_around_a_silent_datanode_and_declares_it_dead_in_a_minute() -> None:
    """With replication 3 on the cluster's 3 DataNodes, a DataNode that stops heartbeating must
    leave the write pipelines soon (stale, avoided for writes), not after Hadoop's 10.5 minutes
    until it is declared dead; Hadoop refuses a stale interval under 3 heartbeats."""
    site = hdfs_site(config.load(profile="cluster"))
    heartbeat_s = int(site["dfs.heartbeat.interval"])
    assert site["dfs.namenode.avoid.write.stale.datanode"] == "true"
    stale_s = int(site["dfs.namenode.stale.datanode.interval"]) / 1000
    assert 3 * heartbeat_s <= stale_s <= 30
    dead_s = 2 * int(site["dfs.namenode.heartbeat.recheck-interval"]) / 1000 + 10 * heartbeat_s
    assert stale_s < dead_s <= 120


def test_a_taken_port_is_a_clear_error(cfg: config.StackConfig, listening_port: int) -> None:
    cfg = dataclasses.replace(cfg, ports={**cfg.ports, "sleeper": listening_port})

    class PortSleeper(Sleeper):
        port_names = ("sleeper",)

    with pytest.raises(StackError) as err:
        PortSleeper(cfg).up()
    message = str(err.value)
    assert f"port {listening_port}" in message
    assert f"pid {os.getpid()}" in message  # who holds it
    assert "SOUNDLAKE_PORT_SLEEPER" in message  # how to move the service


def test_a_service_that_exits_at_once_reports_its_log(cfg: config.StackConfig) -> None:
    class Crasher(Sleeper):
        name = "crasher"

        def command(self) -> list[str]:
            return ["sh", "-c", "echo 'bad config line 3' >&2; exit 1"]

        def healthy(self) -> bool:
            return False

    started = time.monotonic()
    with pytest.raises(StackError) as err:
        Crasher(cfg).up()
    assert time.monotonic() - started < 5, "an exited service must not wait for its timeout"
    assert "exited" in str(err.value)
    assert "bad config line 3" in str(err.value)


def test_environment_overrides_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOUNDLAKE_PORT_KAFKA", "19092")
    assert config.load().port("kafka") == 19092
    monkeypatch.setenv("SOUNDLAKE_PORT_KAFKA", "x")
    with pytest.raises(SystemExit, match="SOUNDLAKE_PORT_KAFKA"):
        config.load()


class Broken(Sleeper):
    """A service that cannot be installed."""

    name = "broken"

    def install(self) -> None:
        raise StackError("broken cannot be installed")


def test_up_that_fails_half_way_stops_what_it_started(cfg: config.StackConfig) -> None:
    first, second = Sleeper(cfg), Broken(cfg)
    record = cfg.dir / "started"
    cfg.run_dir.mkdir(parents=True)
    with pytest.raises(StackError, match="broken cannot be installed"):
        cmd_up([first, second], record)
    assert not first.running(), "the service started before the failure still runs"
    assert not first.pidfile.exists()


def test_up_that_fails_leaves_alone_what_ran_before(cfg: config.StackConfig) -> None:
    first = Sleeper(cfg)
    assert first.up() == "started"
    try:
        with pytest.raises(StackError):
            cmd_up([first, Broken(cfg)], None)
        assert first.running(), "a service that was already running was stopped"
    finally:
        first.down()


def test_reset_stops_the_stack_and_deletes_its_data_but_not_its_software(
    cfg: config.StackConfig,
) -> None:
    svc = Sleeper(cfg)
    assert svc.up() == "started"
    (cfg.data("kafka") / "segment").write_text("events")
    (cfg.lib_dir / "kafka").mkdir(parents=True)
    (cfg.lib_dir / "kafka" / "kafka.jar").write_text("jar")
    (cfg.dir / "report.html").write_text("<html>")
    record = process.read_pidfile(svc.pidfile)
    assert record is not None

    assert cmd_reset(cfg, [svc], yes=True) == 0

    assert not process.is_alive(record)
    assert not cfg.data_dir.exists() and not cfg.logs_dir.exists() and not cfg.run_dir.exists()
    assert not (cfg.dir / "report.html").exists()
    assert (cfg.lib_dir / "kafka" / "kafka.jar").read_text() == "jar"
    assert cmd_reset(cfg, [svc], yes=True) == 0  # nothing left: says so, fails nothing


def test_reset_without_yes_and_without_a_terminal_deletes_nothing(
    cfg: config.StackConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = cfg.data("kafka") / "segment"
    kept.write_text("events")
    with Path(os.devnull).open() as no_terminal:
        monkeypatch.setattr("sys.stdin", no_terminal)
        with pytest.raises(StackError, match="--yes"):
            cmd_reset(cfg, [Sleeper(cfg)], yes=False)
    assert kept.read_text() == "events"


def imported_after(statement: str) -> set[str]:
    """The modules loaded by running ``statement`` in a fresh interpreter of this venv."""
    probe = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return set(result.stdout.split())


def test_the_stack_manager_needs_only_the_standard_library() -> None:
    # what the interpreter loads by itself (the venv's .pth hooks) is not the manager's doing
    loaded = imported_after("import soundlake.stack.cli, soundlake.stack.tools")
    loaded -= imported_after("pass")
    outside = {
        name
        for name in loaded
        if name.split(".")[0] not in sys.stdlib_module_names and name.split(".")[0] != "soundlake"
    }
    assert outside == set()
    assert "soundlake.stack.services" in loaded


def test_services_do_not_import_the_tool_wrappers() -> None:
    # tools.py runs the services' tools, so it imports them; never the other way round
    loaded = imported_after("import soundlake.stack.services")
    assert "soundlake.stack.java" in loaded
    assert "soundlake.stack.tools" not in loaded
