"""ClickHouse from Debian's `clickhouse-server` package (18.16 on bookworm), run with our config.

Version 18.16 differs from the modern ClickHouse of the deployment images (see DESIGN.md, "facts
measured"): no DateTime64, EXCHANGE TABLES, Parquet/Arrow formats, RowBinaryWithNamesAndTypes or
Prometheus endpoint; LowCardinality only with `allow_experimental_low_cardinality_type=1`.
Code that talks to ClickHouse must detect the version where behaviour differs.
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.sax.saxutils import escape

from soundlake.paths import STACK_FILES

from .. import process, templates
from ..config import StackConfig
from ..service import Service, StackError
from ..system_packages import apt_install_without_daemons

SERVER = Path("/usr/sbin/clickhouse-server")
CLIENT = Path("/usr/bin/clickhouse-client")
TEMPLATES = STACK_FILES / "clickhouse"

_MIB = 1024 * 1024
_DEFAULT_MEMORY = "2g"
_CACHE_BYTES = 256 * _MIB


class ClickHouse(Service):
    name = "clickhouse"
    port_names = ("clickhouse_http", "clickhouse_native")
    start_timeout = 60.0

    def __init__(self, cfg: StackConfig) -> None:
        super().__init__(cfg)
        self.conf_dir = cfg.conf_dir / "clickhouse"
        self.config_file = self.conf_dir / "config.xml"
        self.users_file = self.conf_dir / "users.xml"

    def install(self) -> None:
        apt_install_without_daemons(
            ["clickhouse-server", "clickhouse-client"], ["clickhouse-server.service"]
        )
        if not SERVER.exists():
            raise StackError(
                f"{SERVER} is missing although the Debian package clickhouse-server is installed; "
                "reinstall it: apt-get install --reinstall clickhouse-server"
            )

    def prepare(self) -> None:
        data_dir = self.cfg.data("clickhouse")
        for sub in ("tmp", "user_files", "format_schemas"):
            (data_dir / sub).mkdir(exist_ok=True)
        self.cfg.conf("clickhouse")
        max_memory = _parse_bytes(self.cfg.memory.get("clickhouse", _DEFAULT_MEMORY))
        values = {
            "host": self.cfg.host,
            "http_port": str(self.cfg.port("clickhouse_http")),
            "tcp_port": str(self.cfg.port("clickhouse_native")),
            "data_dir": str(data_dir),
            "users_config": str(self.users_file),
            "uncompressed_cache_bytes": str(_CACHE_BYTES),
            "mark_cache_bytes": str(_CACHE_BYTES),
            "max_memory_bytes": str(max_memory),
            "spill_bytes": str(max_memory // 2),
        }
        _render(TEMPLATES / "config.xml.tmpl", self.config_file, values)
        _render(TEMPLATES / "users.xml.tmpl", self.users_file, values)

    def command(self) -> list[str]:
        return [str(SERVER), f"--config-file={self.config_file}"]

    def cwd(self) -> Path | None:
        # the server resolves relative paths and writes preprocessed configs beside its config
        return self.conf_dir

    def healthy(self) -> bool:
        answer = process.http_get(f"http://{self.cfg.host}:{self.cfg.port('clickhouse_http')}/ping")
        return answer is not None and answer[0] == 200 and answer[1].strip() == "Ok."

    def client_command(self, query: str) -> list[str]:
        """argv of clickhouse-client running `query` against this server (scripts, checks)."""
        return [
            str(CLIENT),
            f"--host={self.cfg.host}",
            f"--port={self.cfg.port('clickhouse_native')}",
            f"--query={query}",
        ]


def _render(template: Path, target: Path, values: dict[str, str]) -> None:
    """Fill an XML template (values XML-escaped) into `target`."""
    target.write_text(templates.render(template, {k: escape(v) for k, v in values.items()}))


def _parse_bytes(size: str) -> int:
    """'512m', '2g', '1073741824' -> bytes (k/m/g are powers of 1024, as for JVM heaps)."""
    match = re.fullmatch(r"\s*(\d+)\s*([kmgKMG]?)[bB]?\s*", size)
    if match is None:
        raise StackError(
            f"ClickHouse memory limit {size!r} is not a size like '2g' or '1536m' "
            "(stack.toml [memory] clickhouse or SOUNDLAKE_HEAP_CLICKHOUSE)"
        )
    number, unit = int(match.group(1)), match.group(2).lower()
    return number * {"": 1, "k": 1024, "m": _MIB, "g": 1024 * _MIB}[unit]
