"""Debian packages that ship a daemon: install them without leaving a system instance running.

The packages of ClickHouse, Prometheus and Alertmanager start (and enable) a system service from
their postinst script. The stack runs its own processes on the same ports, so a system instance
would squat them. Two guards:

* while apt-get runs, `/usr/sbin/policy-rc.d` answers 101 ("action forbidden"), which both
  `invoke-rc.d` and `deb-systemd-invoke` honour, so postinst starts nothing;
* afterwards, on a machine booted with systemd, the package's units are stopped and disabled
  so they do not come back at the next boot either.

Both apply only to packages this run installs: a system service the user set up on purpose is
left alone (`up` then reports the busy port and who holds it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from . import installers
from .service import StackError

POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
_POLICY_TEXT = (
    "#!/bin/sh\n"
    "# Written by the Soundlake local stack while it runs apt-get install, removed afterwards:\n"
    "# forbids package scripts to start daemons (exit 101).\n"
    "exit 101\n"
)


def apt_install_without_daemons(packages: list[str], units: list[str]) -> None:
    """Install `packages` if missing; make sure none of `units` runs or starts at boot."""
    if all(_installed(p) for p in packages):
        return
    with _services_forbidden():
        installers.apt_install(packages)
    _stop_and_disable(units)


def _installed(package: str) -> bool:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
    )
    return result.returncode == 0 and "install ok installed" in result.stdout


@contextlib.contextmanager
def _services_forbidden() -> Iterator[None]:
    """A temporary policy-rc.d that forbids starts, unless the machine already has one."""
    if POLICY_RC_D.exists() or os.geteuid() != 0:
        # an existing policy is the administrator's choice; without root apt-get fails anyway
        yield
        return
    POLICY_RC_D.write_text(_POLICY_TEXT)
    POLICY_RC_D.chmod(0o755)
    try:
        yield
    finally:
        POLICY_RC_D.unlink(missing_ok=True)


def _systemd_running() -> bool:
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None


def _stop_and_disable(units: list[str]) -> None:
    if not _systemd_running():
        return
    for unit in units:
        active = _systemctl("is-active", "--quiet", unit) == 0
        enabled = _systemctl("is-enabled", "--quiet", unit) == 0
        if not (active or enabled):
            continue
        if _systemctl("disable", "--now", unit) != 0:
            raise StackError(
                f"the Debian package started the system service {unit}, which takes the port the "
                f"stack needs, and `systemctl disable --now {unit}` failed: run it by hand"
            )
        print(
            f"  stopped and disabled the system service {unit} (the stack runs its own)",
            file=sys.stderr,
        )


def _systemctl(*args: str) -> int:
    return subprocess.run(["systemctl", *args], capture_output=True, check=False).returncode
