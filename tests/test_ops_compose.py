"""docker/docker-compose.yaml, checked without a Docker engine: against the Compose
Specification's JSON schema (docker/compose-spec/, see its SOURCE.md), and for what a deployment
needs — every service the docs name, health checks behind `depends_on`, limits, named volumes,
files that exist, no secret written inline, Prometheus targets that are services."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
COMPOSE_FILE = DOCKER / "docker-compose.yaml"
SCHEMA = DOCKER / "compose-spec" / "compose-spec.json"
PROMETHEUS_CONFIG = ROOT / "ops" / "prometheus" / "prometheus.yml"
DEPLOYMENT_DOC = ROOT / "docs" / "deployment.md"
SECRET_NAME = re.compile(r"PASSWORD|PASS\b|TOKEN|SECRET|_KEY\b", re.I)
# what the deployment must hold (by role; the names are the file's)
REQUIRED = {
    "kafka", "schema-registry", "akhq", "namenode", "datanode", "spark-master", "spark-worker",
    "spark-thrift", "clickhouse", "metabase", "metabase-db", "prometheus", "grafana",
    "alertmanager", "node-exporter", "eventsim", "ingest", "loader",
}  # fmt: skip


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return document


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    assert schema_errors(compose) == []


def test_the_schema_rejects_what_compose_rejects(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["ingest"]["depends_on"]["kafka"]["condition"] = "service_ready"
    broken["services"]["kafka"]["healthcheck"]["retries"] = "many"
    broken["services"]["grafana"]["port"] = ["3001:3000"]
    errors = schema_errors(broken)
    assert len(errors) == 3, errors


def test_every_required_and_documented_service_is_there(compose: dict[str, Any]) -> None:
    services = set(compose["services"])
    assert services >= REQUIRED
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` \|", DEPLOYMENT_DOC.read_text(), re.M))
    assert len(documented) >= len(REQUIRED), "docs/deployment.md lists the services in a table"
    assert documented - services == set(), "services the docs name but the file lacks"
    assert services - documented == set(), "services of the file the docs do not describe"


def test_dependencies_wait_for_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            condition = rule["condition"]
            assert condition in ("service_healthy", "service_completed_successfully"), name
            if condition == "service_healthy":
                assert "healthcheck" in services[dependency] or dependency in RUST_IMAGE_CHECKED
    for name in REQUIRED - {"node-exporter", "eventsim", "ingest", "loader"}:
        assert "test" in services[name]["healthcheck"], f"{name} has no health check"


# the Rust services' health check is in their image (docker/images/rust-services/Dockerfile)
RUST_IMAGE_CHECKED = {"eventsim", "ingest", "loader"}


def test_rust_image_checks_health() -> None:
    dockerfile = (DOCKER / "images" / "rust-services" / "Dockerfile").read_text()
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile


def test_every_service_has_resource_limits_and_named_volumes(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used = set()
    for name, service in compose["services"].items():
        limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
        assert {"cpus", "memory"} <= set(limits), f"{name} has no cpu/memory limits"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith(("./", "../", "/")):
                if source.startswith("."):
                    assert (DOCKER / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"
                used.add(source)
    assert declared == used, f"declared but unused volumes: {declared - used}"


def test_built_images_and_env_files_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            dockerfile = (DOCKER / build["context"] / build["dockerfile"]).resolve()
            assert dockerfile.is_file(), f"{name}: {dockerfile} is missing"
        for env_file in service.get("env_file", []):
            path = DOCKER / env_file
            if path.name == "secrets.env":  # the operator writes it from the example
                assert (DOCKER / "secrets.env.example").is_file()
            else:
                assert path.is_file(), f"{name}: {env_file} is missing"


def test_no_secret_is_written_inline(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        environment = service.get("environment", {})
        for key, value in environment.items():
            if SECRET_NAME.search(key) and not key.endswith(("_FILE", "__FILE")):
                pytest.fail(f"{name}: {key} is set inline; use env_file or a secret file")
            if key.endswith(("_FILE", "__FILE")):
                assert str(value).startswith("/run/secrets/"), f"{name}: {key}={value}"
        for secret in service.get("secrets", []):
            assert secret in compose["secrets"], f"{name}: unknown secret {secret}"
    for secret in compose["secrets"].values():
        assert secret["file"].startswith("./secrets/")
    ignored = subprocess.run(
        ["git", "check-ignore", "docker/secrets/x", "docker/secrets.env"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    ).stdout.split()  # fmt: skip
    assert ignored == ["docker/secrets/x", "docker/secrets.env"], "secrets must be git-ignored"
    example = (DOCKER / "secrets.env.example").read_text()
    assert all(line.endswith("=") for line in example.splitlines() if "=" in line)


def test_prometheus_scrapes_compose_services(compose: dict[str, Any]) -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    hosts = set()
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            hosts |= {t.rsplit(":", 1)[0] for t in static["targets"]}
        for dns in job.get("dns_sd_configs", []):
            hosts |= set(dns["names"])
    hosts.discard("localhost")
    assert hosts <= set(compose["services"]), hosts - set(compose["services"])
    alertmanager = yaml.safe_load(PROMETHEUS_CONFIG.read_text())["alerting"]
    assert alertmanager["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
