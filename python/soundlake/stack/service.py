"""The contract every service of the local stack fulfils, and the generic up/down logic."""

from __future__ import annotations

import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path

from . import process
from .config import StackConfig


class StackError(Exception):
    """A failure the user can act on: the message says what, where and what to do."""


class Service(ABC):
    """One long-running process of the stack.

    Subclasses say how to install it (idempotent; called before every start), how to prepare its
    data on first start (format, config files), which command runs it and when it is healthy.
    """

    #: short name used in pid/log file names and on the command line
    name: str = ""
    #: names of entries in [ports] of stack.toml that this process listens on
    port_names: tuple[str, ...] = ()
    #: seconds to wait for health after start
    start_timeout: float = 120.0

    def __init__(self, cfg: StackConfig) -> None:
        self.cfg = cfg

    # -- what a service defines ---------------------------------------------------------------

    @abstractmethod
    def install(self) -> None:
        """Make the service's software available (no-op when already there)."""

    def prepare(self) -> None:
        """Write config files and initialise data (e.g. format) before a start."""

    @abstractmethod
    def command(self) -> list[str]:
        """The argv of the service's process."""

    def env(self) -> dict[str, str]:
        return {}

    @abstractmethod
    def healthy(self) -> bool:
        """True when the service answers its clients."""

    def address(self) -> str:
        return ", ".join(f"{self.cfg.host}:{self.cfg.port(p)}" for p in self.port_names)

    def cwd(self) -> Path | None:
        return None

    # -- generic behaviour --------------------------------------------------------------------

    @property
    def pidfile(self) -> Path:
        return self.cfg.run_dir / f"{self.name}.pid"

    @property
    def logfile(self) -> Path:
        return self.cfg.logs_dir / f"{self.name}.log"

    def running(self) -> bool:
        record = process.read_pidfile(self.pidfile)
        return record is not None and process.is_alive(record)

    def up(self) -> str:
        """Start the service unless it already runs; wait until healthy. Returns a status word."""
        if self.running():
            if self.wait_healthy(timeout=self.start_timeout, quiet=True):
                return "already running"
            raise StackError(
                f"{self.name} runs (pid file {self.pidfile}) but does not answer on {self.address()}; "
                f"see {self.logfile}, or restart it with `scripts/stack down {self.name}` then `up`"
            )
        for port_name in self.port_names:
            port = self.cfg.port(port_name)
            if process.port_open(self.cfg.host, port):
                raise StackError(
                    f"cannot start {self.name}: port {port} ({port_name}) is already taken by "
                    f"{process.port_owner(port)}. Stop that process, or move {self.name} with "
                    f"SOUNDLAKE_PORT_{port_name.upper()}=<free port>"
                )
        self.install()
        self.prepare()
        process.spawn(
            self.command(),
            pidfile=self.pidfile,
            logfile=self.logfile,
            env=self.env(),
            cwd=self.cwd(),
        )
        t0 = time.monotonic()
        if not self.wait_healthy(timeout=self.start_timeout):
            alive = self.running()
            self.down()
            why = (
                f"did not become healthy within {self.start_timeout:.0f}s"
                if alive
                else f"exited after {time.monotonic() - t0:.0f}s"
            )
            raise StackError(
                f"{self.name} {why}; last lines of {self.logfile}:\n{process.tail(self.logfile)}"
            )
        return "started"

    def wait_healthy(self, *, timeout: float, quiet: bool = False) -> bool:
        deadline = time.monotonic() + timeout
        dots = 0
        while time.monotonic() < deadline:
            if self.healthy():
                if dots and not quiet:
                    sys.stderr.write("\n")
                return True
            if not self.running():
                return False
            if not quiet and sys.stderr.isatty():
                sys.stderr.write(".")
                sys.stderr.flush()
                dots += 1
            time.sleep(0.5)
        return self.healthy()

    def down(self) -> bool:
        return process.stop(self.pidfile)
