"""Installing what services need from the package registries: Debian packages and Maven jars."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .service import StackError

_apt_updated = False


def apt_install(packages: list[str]) -> None:
    """Install Debian packages that are missing (apt-get update once per run)."""
    global _apt_updated
    missing = [p for p in packages if not _dpkg_installed(p)]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise StackError(f"Debian packages {missing} are needed but apt-get is not available")
    print(f"  installing Debian packages: {' '.join(missing)}", file=sys.stderr)
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        _run(["apt-get", "update", "-qq"], env=env, what="apt-get update")
        _apt_updated = True
    _run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        env=env,
        what=f"apt-get install {' '.join(missing)}",
    )


def _dpkg_installed(package: str) -> bool:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
    )
    return result.returncode == 0 and "install ok installed" in result.stdout


def maven_jars(pom: Path, out_dir: Path, properties: dict[str, str] | None = None) -> Path:
    """Copy the runtime dependencies of `pom` (and their transitive closure) into `out_dir`.

    Skipped when `out_dir` already holds the result for the same pom and properties.
    """
    properties = properties or {}
    digest = hashlib.sha256(
        pom.read_bytes() + repr(sorted(properties.items())).encode()
    ).hexdigest()
    marker = out_dir / ".complete"
    if marker.exists() and marker.read_text().strip() == digest:
        return out_dir
    if shutil.which("mvn") is None:
        raise StackError(
            "Maven (mvn) is needed to fetch jars from Maven Central: apt-get install maven"
        )
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    print(
        f"  fetching jars from Maven Central for {pom.parent.name} into {out_dir}", file=sys.stderr
    )
    argv = [
        "mvn",
        "-q",
        "-B",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={out_dir}",
        *[f"-D{k}={v}" for k, v in properties.items()],
    ]
    _run(argv, what=f"mvn dependency:copy-dependencies for {pom}")
    marker.write_text(digest + "\n")
    return out_dir


def _run(argv: list[str], *, what: str, env: dict[str, str] | None = None) -> None:
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(argv, capture_output=True, text=True, env=full_env, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()[-25:]
        raise StackError(f"{what} failed (exit {result.returncode}):\n" + "\n".join(output))
