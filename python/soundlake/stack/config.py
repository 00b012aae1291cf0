"""Settings of the local stack: `stack/stack.toml`, overridden by environment variables."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from soundlake.paths import REPO_ROOT, STACK_FILES

CONFIG_FILE = STACK_FILES / "stack.toml"


@dataclass(frozen=True)
class StackConfig:
    """Resolved settings: ports, versions, heap sizes and the folders of the stack."""

    root: Path
    dir: Path
    host: str
    ports: dict[str, int]
    versions: dict[str, str]
    memory: dict[str, str]
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


def load(config_file: Path = CONFIG_FILE) -> StackConfig:
    """Read `stack.toml` and apply `SOUNDLAKE_*` environment overrides."""
    with config_file.open("rb") as fh:
        raw = tomllib.load(fh)
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
        lib_override=_absolute(os.environ.get("SOUNDLAKE_STACK_LIB_DIR")),
    )


def _absolute(value: str | None) -> Path | None:
    """`value` as a path (relative to the repository root), or None when unset or empty."""
    if not value:
        return None
    path = Path(value)
    return path if path.is_absolute() else REPO_ROOT / path
