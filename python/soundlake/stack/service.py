"""The contract every service of the local stack fulfils, and the generic up/down logic."""

from __future__ import annotations

import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from . import process
from .config import StackConfig


class StackError(Exception):
    """A failure the user can act on: the message says what, where and what to do."""


class Service(ABC):
    """One long-running process of the stack.

    Subclasses say how to install it (idempotent; called before every start), how to prepare its
    data on first start (format, config files), which command runs it and when it is healthy.

    A service that a profile multiplies names its `[counts]` key in `count_key`: instance
    `index` (from 0) is named `<name>-<index + 1>` when there are several, and listens on each
    of its ports + `index` (`self.port(..)`).
    """

    #: short name used in pid/log file names and on the command line
    name: str = ""
    #: names of entries in [ports] of stack.toml that this process listens on
    port_names: tuple[str, ...] = ()
    #: seconds to wait for health after start
    start_timeout: float = 120.0
    #: the [counts] key of stack.toml that says how many instances run (None: one)
    count_key: str | None = None

    def __init__(self, cfg: StackConfig, index: int = 0) -> None:
        self.cfg = cfg
        self.index = index
        if self.instances(cfg) > 1:
            self.name = f"{type(self).name}-{index + 1}"

    @classmethod
    def instances(cls, cfg: StackConfig) -> int:
        """How many instances of this service the stack runs."""
        return cfg.count(cls.count_key) if cls.count_key else 1

    def port(self, port_name: str) -> int:
        """This instance's port `port_name`: the [ports] value + its index."""
        return self.cfg.port(port_name) + self.index

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
        return ", ".join(f"{self.cfg.host}:{self.port(p)}" for p in self.port_names)

    def cwd(self) -> Path | None:
        return None

    def started(self) -> bool:
        """True when `up` may go on to the next service (by default: when healthy)."""
        return self.healthy()

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
            if self.wait_healthy(timeout=self.start_timeout, quiet=True, check=self.started):
                return "already running"
            raise StackError(
                f"{self.name} runs (pid file {self.pidfile}) but does not answer on {self.address()}; "
                f"see {self.logfile}, or restart it with `scripts/stack down {self.name}` then `up`"
            )
        for port_name in self.port_names:
            port = self.port(port_name)
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
        if not self.wait_healthy(timeout=self.start_timeout, check=self.started):
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

    def wait_healthy(
        self, *, timeout: float, quiet: bool = False, check: Callable[[], bool] | None = None
    ) -> bool:
        """Wait until `check` (default: `healthy`) holds; False when the process exits first."""
        check = check or self.healthy
        deadline = time.monotonic() + timeout
        dots = 0
        while time.monotonic() < deadline:
            if check():
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
        return check()

    def down(self) -> bool:
        return process.stop(self.pidfile)
