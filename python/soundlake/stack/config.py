"""Settings of the local stack: `stack/stack.toml`, overridden by environment variables.

A profile (`[profiles.<name>]` of stack.toml, chosen with `--profile` or
SOUNDLAKE_STACK_PROFILE) overrides the sections it names: its own folder, ports, heaps and the
number of instances of the services it multiplies (`[counts]`).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soundlake.paths import REPO_ROOT, STACK_FILES

CONFIG_FILE = STACK_FILES / "stack.toml"
#: the environment variable that chooses a profile when `--profile` is not given
PROFILE_ENV = "SOUNDLAKE_STACK_PROFILE"
#: the sections of stack.toml a profile may override
PROFILE_SECTIONS = ("stack", "ports", "versions", "memory", "counts", "spark")


@dataclass(frozen=True)
class StackConfig:
    """Resolved settings: ports, versions, heap sizes and the folders of the stack."""

    root: Path
    dir: Path
    host: str
    ports: dict[str, int]
    versions: dict[str, str]
    memory: dict[str, str]
    #: instances of the services a profile multiplies (kafka, hdfs_datanode, spark_worker);
    #: instance n (from 0) of a service listens on each of its base ports + n
    counts: dict[str, int] = field(default_factory=dict)
    #: [spark]: `master` ("standalone": the profile's spark-master service; unset: the session's
    #: local default) and `worker_cores`
    spark: dict[str, str] = field(default_factory=dict)
    #: the profile these settings come from, None for the single-node stack
    profile: str | None = None
    # SOUNDLAKE_STACK_LIB_DIR: the jars of another stack folder (a second, private stack
    # started by a test shares the main stack's jars instead of copying them again).
    lib_override: Path | None = None

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    @property
    def logs_dir(self) -> Path:
        return self.dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.dir / "run"

    @property
    def lib_dir(self) -> Path:
        return self.lib_override or self.dir / "lib"

    @property
    def conf_dir(self) -> Path:
        return self.dir / "conf"

    def port(self, name: str) -> int:
        try:
            return self.ports[name]
        except KeyError:
            raise KeyError(f"no port named {name!r} in {CONFIG_FILE} [ports]") from None

    @property
    def spark_master(self) -> str | None:
        """The Spark master URL the stack's Spark sessions use, None for the session's default."""
        master = self.spark.get("master")
        if master == "standalone":
            return f"spark://{self.host}:{self.port('spark_master')}"
        return master or None

    def count(self, name: str) -> int:
        """How many instances of service `name` run (1 unless [counts] says otherwise)."""
        return self.counts.get(name, 1)

    def data(self, name: str) -> Path:
        path = self.data_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def conf(self, name: str) -> Path:
        path = self.conf_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def _override(section: str, values: dict[str, object]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in values.items():
        env = f"SOUNDLAKE_{section.upper()}_{key.upper()}"
        out[key] = os.environ.get(env, str(value))
    return out


def _apply_profile(raw: dict[str, Any], name: str, config_file: Path) -> dict[str, Any]:
    """`raw` with the sections of `[profiles.<name>]` laid over the top-level ones."""
    known = raw.get("profiles", {})
    if name not in known:
        raise SystemExit(
            f"error: no profile {name!r} in {config_file} (known: {', '.join(sorted(known)) or 'none'})"
        )
    merged = {key: value for key, value in raw.items() if key != "profiles"}
    for section, values in known[name].items():
        if section not in PROFILE_SECTIONS or not isinstance(values, dict):
            raise SystemExit(
                f"error: [profiles.{name}.{section}] in {config_file} is not one of the sections "
                f"a profile overrides ({', '.join(PROFILE_SECTIONS)})"
            )
        merged[section] = {**raw.get(section, {}), **values}
    return merged


def load(config_file: Path = CONFIG_FILE, profile: str | None = None) -> StackConfig:
    """Read `stack.toml`, lay `profile` (else $SOUNDLAKE_STACK_PROFILE) over it and apply
    `SOUNDLAKE_*` environment overrides."""
    with config_file.open("rb") as fh:
        raw = tomllib.load(fh)
    profile = profile or os.environ.get(PROFILE_ENV) or None
    if profile is not None:
        raw = _apply_profile(raw, profile, config_file)
    stack = raw.get("stack", {})
    dir_value = os.environ.get("SOUNDLAKE_STACK_DIR", stack.get("dir", ".stack"))
    stack_dir = Path(dir_value)
    if not stack_dir.is_absolute():
        stack_dir = REPO_ROOT / stack_dir
    ports_raw = _override("port", raw.get("ports", {}))
    ports: dict[str, int] = {}
    for key, value in ports_raw.items():
        try:
            ports[key] = int(value)
        except ValueError:
            raise SystemExit(
                f"error: port {key!r} is {value!r}, not a number "
                f"(check SOUNDLAKE_PORT_{key.upper()} or {config_file})"
            ) from None
    return StackConfig(
        root=REPO_ROOT,
        dir=stack_dir,
        host=str(stack.get("host", "127.0.0.1")),
        ports=ports,
        versions=_override("version", raw.get("versions", {})),
        memory=_override("heap", raw.get("memory", {})),
        counts={key: int(value) for key, value in raw.get("counts", {}).items()},
        # not from SOUNDLAKE_SPARK_*: those are the Spark sessions' own settings, which
        # `scripts/stack env` exports (SOUNDLAKE_SPARK_MASTER would hide the profile's master)
        spark={key: str(value) for key, value in raw.get("spark", {}).items()},
        profile=profile,
        lib_override=_absolute(os.environ.get("SOUNDLAKE_STACK_LIB_DIR")),
    )


def _absolute(value: str | None) -> Path | None:
    """`value` as a path (relative to the repository root), or None when unset or empty."""
    if not value:
        return None
    path = Path(value)
    return path if path.is_absolute() else REPO_ROOT / path
