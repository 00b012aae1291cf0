"""Prometheus (Debian 2.42), Alertmanager (Debian 0.25) and node-exporter (Debian 1.5) of the
local stack.

Both run with configs rendered from the repository's templates at every start and checked with
the packages' own tools (`promtool check config`, `amtool check-config`) before the process starts.
The Telegram bot token and chat id reach Alertmanager's config only at render time, from the
environment or secret files; the rendered file (mode 0600) stays under .stack/conf/.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from soundlake.paths import SERVICE_CONF

from .. import process, templates
from ..config import StackConfig
from ..service import Service, StackError
from ..system_packages import apt_install_without_daemons

PROMETHEUS = Path("/usr/bin/prometheus")
PROMTOOL = Path("/usr/bin/promtool")
ALERTMANAGER = Path("/usr/bin/prometheus-alertmanager")
AMTOOL = Path("/usr/bin/amtool")
NODE_EXPORTER = Path("/usr/bin/prometheus-node-exporter")

PROMETHEUS_TEMPLATE = SERVICE_CONF / "prometheus" / "prometheus.local.yml"
ALERTS_DIR = SERVICE_CONF / "prometheus" / "alerts"
ALERTMANAGER_TEMPLATE = SERVICE_CONF / "alertmanager" / "alertmanager.yml.tmpl"
TELEGRAM_TEMPLATE = SERVICE_CONF / "alertmanager" / "telegram.tmpl"

_TELEGRAM_BLOCK = re.compile(r"^[ \t]*# telegram:begin\n.*?^[ \t]*# telegram:end\n", re.S | re.M)


class NodeExporter(Service):
    """The host's CPU, load, memory, filesystems, disk I/O, network and uptime (job "node"):
    only those collectors run, so the scrape stays small and nothing else of the host shows."""

    name = "node-exporter"
    port_names = ("node_exporter",)
    start_timeout = 30.0
    collectors = ("cpu", "loadavg", "meminfo", "filesystem", "diskstats", "netdev", "stat", "time")

    def install(self) -> None:
        apt_install_without_daemons(
            ["prometheus-node-exporter"], ["prometheus-node-exporter.service"]
        )
        _require_binaries("prometheus-node-exporter", NODE_EXPORTER)

    def command(self) -> list[str]:
        return [
            str(NODE_EXPORTER),
            f"--web.listen-address={self.cfg.host}:{self.cfg.port('node_exporter')}",
            "--collector.disable-defaults",
            *(f"--collector.{c}" for c in self.collectors),
        ]

    def healthy(self) -> bool:
        answer = process.http_get(
            f"http://{self.cfg.host}:{self.cfg.port('node_exporter')}/metrics"
        )
        return answer is not None and answer[0] == 200 and "node_cpu_seconds_total" in answer[1]


class Prometheus(Service):
    name = "prometheus"
    port_names = ("prometheus",)
    start_timeout = 60.0

    def __init__(self, cfg: StackConfig) -> None:
        super().__init__(cfg)
        self.conf_dir = cfg.conf_dir / "prometheus"
        self.config_file = self.conf_dir / "prometheus.yml"
        #: file_sd targets: a started Rust service drops `<name>.yml` here (see the template)
        self.targets_dir = self.conf_dir / "targets"

    def install(self) -> None:
        apt_install_without_daemons(
            ["prometheus"], ["prometheus.service", "prometheus-node-exporter.service"]
        )
        _require_binaries("prometheus", PROMETHEUS, PROMTOOL)

    def prepare(self) -> None:
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        values = {
            "host": self.cfg.host,
            "prometheus_port": str(self.cfg.port("prometheus")),
            "alertmanager_port": str(self.cfg.port("alertmanager")),
            "ingest_metrics_port": str(self.cfg.port("ingest_metrics")),
            "loader_metrics_port": str(self.cfg.port("loader_metrics")),
            "eventsim_metrics_port": str(self.cfg.port("eventsim_metrics")),
            "schema_registry_management_port": str(self.cfg.port("schema_registry_management")),
            "clickhouse_http_port": str(self.cfg.port("clickhouse_http")),
            "node_exporter_port": str(self.cfg.port("node_exporter")),
            "hdfs_exporter_port": str(self.cfg.port("hdfs_exporter")),
            "alerts_dir": str(ALERTS_DIR),
            "targets_dir": str(self.targets_dir),
        }
        _write(self.config_file, templates.render(PROMETHEUS_TEMPLATE, values))
        _check(
            [str(PROMTOOL), "check", "config", str(self.config_file)],
            what="promtool check config",
            template=PROMETHEUS_TEMPLATE,
            rendered=self.config_file,
        )

    def command(self) -> list[str]:
        return [
            str(PROMETHEUS),
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={self.cfg.data('prometheus')}",
            "--storage.tsdb.retention.time=7d",
            f"--web.listen-address={self.cfg.host}:{self.cfg.port('prometheus')}",
            "--web.enable-lifecycle",
        ]

    def healthy(self) -> bool:
        return _ready(self.cfg.host, self.cfg.port("prometheus"))


class Alertmanager(Service):
    name = "alertmanager"
    port_names = ("alertmanager",)
    start_timeout = 60.0

    def __init__(self, cfg: StackConfig) -> None:
        super().__init__(cfg)
        self.config_file = cfg.conf_dir / "alertmanager" / "alertmanager.yml"

    def install(self) -> None:
        apt_install_without_daemons(
            ["prometheus-alertmanager"], ["prometheus-alertmanager.service"]
        )
        _require_binaries("prometheus-alertmanager", ALERTMANAGER, AMTOOL)

    def prepare(self) -> None:
        self.cfg.conf("alertmanager")
        telegram = Telegram.from_environment(self.cfg.dir / "secrets")
        text = ALERTMANAGER_TEMPLATE.read_text()
        if telegram is None:
            print(
                "  alertmanager: no Telegram bot token ([SOUNDLAKE_]TELEGRAM_BOT_TOKEN[_FILE] or "
                f"{self.cfg.dir / 'secrets' / 'telegram_bot_token'}): alerts go to a null receiver",
                file=sys.stderr,
            )
            text, n_blocks = _TELEGRAM_BLOCK.subn("", text)
            if n_blocks != 1:
                raise StackError(
                    f"{ALERTMANAGER_TEMPLATE} must hold exactly one '# telegram:begin' ... "
                    f"'# telegram:end' block (found {n_blocks})"
                )
        values = {
            "telegram_template": str(TELEGRAM_TEMPLATE),
            "critical_receiver": "telegram-critical" if telegram else '"null"',
            "warning_receiver": "telegram-warning" if telegram else '"null"',
            # double-quoted: a token holds ':' and '-'
            "telegram_bot_token": _yaml_string(telegram.bot_token) if telegram else '""',
            "telegram_chat_id": str(telegram.chat_id) if telegram else "0",
        }
        _write(self.config_file, templates.fill(text, values, ALERTMANAGER_TEMPLATE), private=True)
        _check(
            [str(AMTOOL), "check-config", str(self.config_file)],
            what="amtool check-config",
            template=ALERTMANAGER_TEMPLATE,
            rendered=self.config_file,
        )

    def command(self) -> list[str]:
        return [
            str(ALERTMANAGER),
            f"--config.file={self.config_file}",
            f"--storage.path={self.cfg.data('alertmanager')}",
            f"--web.listen-address={self.cfg.host}:{self.cfg.port('alertmanager')}",
            "--cluster.listen-address=",  # empty: no gossip cluster, nothing on port 9094
        ]

    def healthy(self) -> bool:
        return _ready(self.cfg.host, self.cfg.port("alertmanager"))


@dataclass(frozen=True)
class Telegram:
    """Where Alertmanager sends notifications; read at render time, never stored in the repo."""

    bot_token: str = field(repr=False)  # a secret: never in logs or tracebacks
    chat_id: int

    @staticmethod
    def from_environment(secrets_dir: Path) -> Telegram | None:
        """From [SOUNDLAKE_]TELEGRAM_BOT_TOKEN / …_CHAT_ID, their *_FILE variants or `secrets_dir`.

        None when neither is configured; a StackError when only one is, or the chat id is not
        a number.
        """
        token = _secret("TELEGRAM_BOT_TOKEN", secrets_dir)
        chat = _secret("TELEGRAM_CHAT_ID", secrets_dir)
        if token is None and chat is None:
            return None
        if token is None or chat is None:
            missing = "TELEGRAM_BOT_TOKEN" if token is None else "TELEGRAM_CHAT_ID"
            raise StackError(
                f"Telegram alerts need both a bot token and a chat id, but {missing} is not set: "
                f"set it (or {missing}_FILE, or write {secrets_dir / missing.lower()}), "
                "or remove the other one"
            )
        if not re.fullmatch(r"-?\d+", chat):
            raise StackError(
                f"TELEGRAM_CHAT_ID must be a number (a group's id starts with '-'), got {chat!r}"
            )
        return Telegram(bot_token=token, chat_id=int(chat))


def _env(name: str) -> str:
    """`$SOUNDLAKE_NAME`, else `$NAME` (the project's prefix first, the short name too)."""
    return (os.environ.get(f"SOUNDLAKE_{name}", "") or os.environ.get(name, "")).strip()


def _secret(name: str, secrets_dir: Path) -> str | None:
    """`$[SOUNDLAKE_]NAME`, else the file named by `$[SOUNDLAKE_]NAME_FILE`, else
    `secrets_dir/name` if it exists."""
    value = _env(name)
    if value:
        return value
    file_name = _env(f"{name}_FILE")
    path = Path(file_name) if file_name else secrets_dir / name.lower()
    if not file_name and not path.is_file():
        return None
    try:
        value = path.read_text().strip()
    except OSError as err:
        raise StackError(
            f"cannot read {name} from {path} ({err.strerror}); fix {name}_FILE or the file"
        ) from None
    if not value:
        raise StackError(
            f"{path} (for {name}) is empty: write the value into it, or delete the file"
        )
    return value


def _yaml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _write(path: Path, text: str, *, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = 0o600 if private else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    path.chmod(mode)  # O_CREAT's mode does not apply to a file that already existed


def _check(argv: list[str], *, what: str, template: Path, rendered: Path) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise StackError(
            f"{what} rejects {rendered} (rendered from {template}); fix the template:\n{output}"
        )


def _require_binaries(package: str, *paths: Path) -> None:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise StackError(
            f"{', '.join(missing)} missing although the Debian package {package} is installed; "
            f"reinstall it: apt-get install --reinstall {package}"
        )


def _ready(host: str, port: int) -> bool:
    answer = process.http_get(f"http://{host}:{port}/-/ready")
    return answer is not None and answer[0] == 200
