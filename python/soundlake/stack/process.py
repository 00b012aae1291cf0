"""Processes of the stack: start detached, remember by pid file, stop only what we started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PidRecord:
    """A started process: its pid and its kernel start time (guards against pid reuse)."""

    pid: int
    start_ticks: int

    def serialize(self) -> str:
        return f"{self.pid} {self.start_ticks}\n"

    @staticmethod
    def parse(text: str) -> PidRecord | None:
        parts = text.split()
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            return None
        return PidRecord(int(parts[0]), int(parts[1]))


def start_ticks(pid: int) -> int | None:
    """The process' start time in clock ticks since boot, or None if it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces: split after its closing parenthesis
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie is gone for our purposes
        return None
    return int(fields[19])


def read_pidfile(path: Path) -> PidRecord | None:
    try:
        return PidRecord.parse(path.read_text())
    except OSError:
        return None


def is_alive(record: PidRecord) -> bool:
    return start_ticks(record.pid) == record.start_ticks


def spawn(
    argv: list[str],
    *,
    pidfile: Path,
    logfile: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> PidRecord:
    """Start `argv` in its own session, output appended to `logfile`, pid saved in `pidfile`."""
    logfile.parent.mkdir(parents=True, exist_ok=True)
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    with logfile.open("ab") as log:
        log.write(
            f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(argv)}\n".encode()
        )
        log.flush()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
        )
    ticks = start_ticks(proc.pid)
    record = PidRecord(proc.pid, ticks if ticks is not None else 0)
    pidfile.write_text(record.serialize())
    return record


def stop(pidfile: Path, *, timeout: float = 30.0) -> bool:
    """Stop the process group recorded in `pidfile`: SIGTERM, then SIGKILL after `timeout`.

    Returns True if something of ours was running.
    """
    record = read_pidfile(pidfile)
    if record is None:
        pidfile.unlink(missing_ok=True)
        return False
    if not is_alive(record):
        pidfile.unlink(missing_ok=True)
        return False
    _signal_group(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_alive(record) and not _group_alive(record.pid):
            break
        time.sleep(0.2)
    else:
        _signal_group(record.pid, signal.SIGKILL)
        for _ in range(50):
            if not is_alive(record):
                break
            time.sleep(0.1)
    pidfile.unlink(missing_ok=True)
    return True


def signal_group(pidfile: Path, sig: signal.Signals) -> PidRecord | None:
    """Send `sig` to the process group recorded in `pidfile` (a fault test's SIGKILL, SIGSTOP
    or SIGCONT of one node), leaving the pid file in place; None when nothing of ours runs."""
    record = read_pidfile(pidfile)
    if record is None or not is_alive(record):
        return None
    _signal_group(record.pid, sig)
    return record


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def _group_alive(pgid: int) -> bool:
    """True while a process of group `pgid` still runs (zombies waiting to be reaped don't)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now (the system picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_owner(port: int) -> str:
    """A human description of who listens on `port` (best effort, from /proc)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    if not inodes:
        return "an unknown process"
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = str(fd.readlink())
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    cmd = (
                        (proc / "cmdline")
                        .read_bytes()
                        .replace(b"\0", b" ")
                        .decode(errors="replace")
                    )
                    return f"pid {proc.name} ({cmd[:120].strip()})"
        except OSError:
            continue
    return "another user's process"


def http_get(url: str, timeout: float = 2.0) -> tuple[int, str] | None:
    """GET `url`; (status, body) or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - local URLs only
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")
    except (urllib.error.URLError, OSError):
        return None


def tail(path: Path, lines: int = 30, width: int = 300) -> str:
    """The last `lines` lines of a log, each cut to `width` characters (classpaths are long)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    cut = [
        line if len(line) <= width else line[:width] + " …" for line in text.splitlines()[-lines:]
    ]
    return "\n".join(cut)
