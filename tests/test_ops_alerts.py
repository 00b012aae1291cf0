"""Alert rules, Prometheus and Alertmanager configs, and the Telegram template, checked with the
tools of the Prometheus and Alertmanager releases the local stack runs (promtool, amtool).

Every alert needs a unit test in ops/prometheus/alerts/tests/ that sees it fire and one that sees it stay
silent (`promtool test rules`).
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from soundlake.stack import config
from soundlake.stack.services.monitoring import (
    AMTOOL,
    PROMTOOL,
    Alertmanager,
    Prometheus,
)

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
OPS = ROOT / "ops"
ALERTS = OPS / "prometheus" / "alerts"
RULE_FILES = sorted(ALERTS.glob("*.rules.yml"))
TEST_FILES = sorted((ALERTS / "tests").glob("*.test.yml"))
TELEGRAM_TEMPLATE = OPS / "alertmanager" / "telegram.tmpl"
# the shape of a Telegram bot token: <bot id>:<35 characters>
BOT_TOKEN = re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}\b")


def run_tool(argv: list[str | Path]) -> str:
    """Run promtool/amtool; fail with its output (and how to install it) when it fails."""
    tool = Path(argv[0])
    if not tool.exists():
        pytest.fail(
            f"{tool} is missing: install it with `scripts/stack install prometheus alertmanager`",
            pytrace=False,
        )
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(map(str, argv))} failed:\n{output}"
    return output


def alert_names(rule_file: Path) -> set[str]:
    groups = yaml.safe_load(rule_file.read_text())["groups"]
    return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}


def test_rule_files_exist() -> None:
    assert {p.name for p in RULE_FILES} >= {
        "availability.rules.yml",
        "clickhouse.rules.yml",
        "ingest.rules.yml",
        "loader.rules.yml",
        "node.rules.yml",
        "storage.rules.yml",
    }
    assert TEST_FILES, f"no unit tests in {ALERTS / 'tests'}"


def test_promtool_check_rules() -> None:
    output = run_tool([PROMTOOL, "check", "rules", *RULE_FILES])
    assert output.count("SUCCESS") == len(RULE_FILES)


def test_every_alert_is_seen_firing_and_silent_by_a_unit_test() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    tested_files: set[Path] = set()
    for test_file in TEST_FILES:
        spec: dict[str, Any] = yaml.safe_load(test_file.read_text())
        tested_files |= {(test_file.parent / f).resolve() for f in spec["rule_files"]}
        for case in spec["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    every_alert = set().union(*(alert_names(f) for f in RULE_FILES))
    assert {f.resolve() for f in RULE_FILES} <= tested_files, "a rule file has no unit tests"
    assert every_alert - firing == set(), "alerts never seen firing in a unit test"
    assert every_alert - silent == set(), "alerts never seen silent in a unit test"
    # Prometheus' own health is `up`: no rule may test for `up == 1` (the seed's mistake)
    for rule_file in RULE_FILES:
        assert not re.search(r"\bup\b[^\n]*==\s*1\s*$", rule_file.read_text(), re.M), rule_file


def test_promtool_unit_tests_pass() -> None:
    output = run_tool([PROMTOOL, "test", "rules", *TEST_FILES])
    assert "FAILED" not in output


def test_deployment_prometheus_config_is_valid() -> None:
    output = run_tool([PROMTOOL, "check", "config", OPS / "prometheus" / "prometheus.yml"])
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in output


def stack_config(tmp_path: Path) -> config.StackConfig:
    """The stack's settings with its folder moved to `tmp_path` (nothing of .stack/ is touched)."""
    return dataclasses.replace(config.load(), dir=tmp_path / "stack")


def test_local_prometheus_config_renders_and_is_valid(tmp_path: Path) -> None:
    prometheus = Prometheus(stack_config(tmp_path))
    prometheus.prepare()  # renders ops/prometheus/prometheus.local.yml and runs promtool check config
    rendered = yaml.safe_load(prometheus.config_file.read_text())
    jobs = {job["job_name"] for job in rendered["scrape_configs"]}
    assert {"prometheus", "alertmanager", "clickhouse", "schema-registry", "soundlake"} <= jobs
    assert rendered["rule_files"] == [f"{ALERTS}/*.yml"]
    run_tool([PROMTOOL, "check", "config", prometheus.config_file])


def test_alertmanager_without_telegram_routes_to_null(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID"):
        for variant in (name, f"{name}_FILE", f"SOUNDLAKE_{name}", f"SOUNDLAKE_{name}_FILE"):
            monkeypatch.delenv(variant, raising=False)
    alertmanager = Alertmanager(stack_config(tmp_path))
    alertmanager.prepare()
    run_tool([AMTOOL, "check-config", alertmanager.config_file])
    rendered = yaml.safe_load(alertmanager.config_file.read_text())
    assert [r["name"] for r in rendered["receivers"]] == ["null"]
    assert {r["receiver"] for r in rendered["route"]["routes"]} == {"null"}


def test_alertmanager_with_telegram_from_env_routes_by_severity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "123456789:" + "x" * 35  # shaped like a token, not one
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    monkeypatch.setenv("SOUNDLAKE_TELEGRAM_BOT_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("SOUNDLAKE_TELEGRAM_CHAT_ID", "-1001234567")
    alertmanager = Alertmanager(stack_config(tmp_path))
    alertmanager.prepare()
    run_tool([AMTOOL, "check-config", alertmanager.config_file])
    assert alertmanager.config_file.stat().st_mode & 0o077 == 0, "the token's file is private"
    rendered = yaml.safe_load(alertmanager.config_file.read_text())
    routes = {r["matchers"][0]: r["receiver"] for r in rendered["route"]["routes"]}
    assert routes == {
        'severity="critical"': "telegram-critical",
        'severity="warning"': "telegram-warning",
    }
    receivers = {r["name"]: r for r in rendered["receivers"]}
    telegram = receivers["telegram-critical"]["telegram_configs"][0]
    assert (telegram["bot_token"], telegram["chat_id"]) == (token, -1001234567)


def test_no_bot_token_in_the_repository() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "docker", "ops", "stack", "python", "docs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    leaks = [
        f
        for f in tracked
        if (ROOT / f).is_file() and BOT_TOKEN.search((ROOT / f).read_text(errors="replace"))
    ]
    assert leaks == []


def render_telegram(tmp_path: Path, status: str) -> str:
    alert = {
        "status": status,
        "labels": {
            "alertname": "IngestStalled",
            "severity": "critical",
            "instance": "127.0.0.1:9464",
            "topic": "listen_events",
        },
        "annotations": {
            "summary": "Ingest of listen_events stalled <b>",
            "description": "Messages keep arriving & nothing lands",
        },
        "startsAt": "2026-11-25T21:00:00Z",
        "endsAt": "2026-11-25T21:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://127.0.0.1:9090/graph",
        "fingerprint": "0123456789abcdef",
    }
    data = {
        "receiver": "telegram-critical",
        "status": status,
        "alerts": [alert],
        "groupLabels": {"alertname": "IngestStalled", "severity": "critical"},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://127.0.0.1:9093",
    }
    data_file = tmp_path / f"{status}.json"
    data_file.write_text(json.dumps(data))
    return run_tool(
        [
            AMTOOL,
            "template",
            "render",
            f"--template.glob={TELEGRAM_TEMPLATE}",
            '--template.text={{ template "soundlake.telegram.message" . }}',
            f"--template.data={data_file}",
        ]
    )


def test_telegram_message_of_a_firing_alert(tmp_path: Path) -> None:
    message = render_telegram(tmp_path, "firing")
    assert message.splitlines()[0] == "🔥 <b>FIRING</b> [critical] IngestStalled"
    assert "<code>127.0.0.1:9464</code> topic <code>listen_events</code>" in message
    # HTML parse mode: values are escaped
    assert "stalled &lt;b&gt;" in message
    assert "Messages keep arriving &amp; nothing lands" in message
    assert "since 2026-11-25 21:00:00 UTC" in message
    assert "RESOLVED" not in message


def test_telegram_message_of_a_resolved_alert(tmp_path: Path) -> None:
    message = render_telegram(tmp_path, "resolved")
    assert message.splitlines()[0] == "✅ <b>RESOLVED</b> [critical] IngestStalled"
    assert "resolved at 2026-11-25 21:30:00 UTC" in message
    assert "nothing lands" not in message  # the description is for what is still wrong
    assert "FIRING" not in message


RENDER_SH = DOCKER / "alertmanager" / "render.sh"


def render_deployment_config(tmp_path: Path, token: str | None, chat: str | None) -> Path:
    """docker/alertmanager/render.sh (the deployment's entry point) with secrets as files."""
    token_file, chat_file = tmp_path / "telegram_bot_token", tmp_path / "telegram_chat_id"
    token_file.write_text(token or "")
    chat_file.write_text(chat or "")
    out = tmp_path / "alertmanager.yml"
    env = {
        "PATH": "/usr/bin:/bin",
        "RENDER_ONLY": "1",
        "ALERTMANAGER_TEMPLATE": str(OPS / "alertmanager" / "alertmanager.yml.tmpl"),
        "ALERTMANAGER_CONFIG": str(out),
        "TELEGRAM_TEMPLATE": str(TELEGRAM_TEMPLATE),
        "TELEGRAM_BOT_TOKEN_FILE": str(token_file),
        "TELEGRAM_CHAT_ID_FILE": str(chat_file),
    }
    subprocess.run(["sh", str(RENDER_SH)], env=env, check=True, capture_output=True)
    run_tool([AMTOOL, "check-config", out])
    return out


def test_deployment_alertmanager_without_secrets_routes_to_null(tmp_path: Path) -> None:
    rendered = yaml.safe_load(render_deployment_config(tmp_path, None, None).read_text())
    assert [r["name"] for r in rendered["receivers"]] == ["null"]


def test_deployment_alertmanager_with_secrets_routes_to_telegram(tmp_path: Path) -> None:
    token = '987654321:a"b\\c&d|' + "y" * 30  # characters that YAML and sed must not mangle
    out = render_deployment_config(tmp_path, token + "\n", "-100987")
    assert out.stat().st_mode & 0o077 == 0, "the rendered file holds the token: private"
    rendered = yaml.safe_load(out.read_text())
    telegram = {r["name"]: r for r in rendered["receivers"]}["telegram-warning"]
    config = telegram["telegram_configs"][0]
    assert (config["bot_token"], config["chat_id"]) == (token, -100987)
