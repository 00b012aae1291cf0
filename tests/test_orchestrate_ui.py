"""Dagster's UI over the orchestrator's definitions, opened in headless Chromium (Debian's): the
global asset graph shows the whole flow, group by group, from the Kafka topics to ClickHouse
(test_orchestrate_continuous.py opens a completed run in it the same way). No stack needed: the web server runs on a free port with a DAGSTER_HOME of the test's own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from ops_support import CHROMIUM_FLAGS, chromium

from soundlake.orchestrate.run import DEFINITIONS_MODULE
from soundlake.stack.process import free_port

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 180.0
# chromium must not reach out: every request but the web server's goes to a closed port
UI_FLAGS = [*CHROMIUM_FLAGS, "--proxy-bypass-list=127.0.0.1", "--virtual-time-budget=30000"]
#: the groups of the asset graph, in the order data flows
GROUPS = ("kafka", "bronze", "staging", "silver", "gold", "clickhouse")


@contextmanager
def dagster_ui(home: Path, logfile: Path) -> Iterator[str]:
    """dagster-webserver on 127.0.0.1 over the definitions and the instance in `home`; its
    base URL."""
    port = free_port()
    log = logfile.open("wb")
    webserver = str(Path(sys.executable).parent / "dagster-webserver")
    command = [webserver, "-h", "127.0.0.1", "-p", str(port), "-m", DEFINITIONS_MODULE]
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "DAGSTER_HOME": str(home)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert server.poll() is None, logfile.read_text()[-3000:]
            assert time.monotonic() < deadline, "dagster-webserver did not open its port"
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture
def webserver(tmp_path: Path) -> Iterator[str]:
    """Dagster's UI with an instance of the test's own."""
    home = tmp_path / "dagster"
    home.mkdir()
    with dagster_ui(home, tmp_path / "webserver.log") as url:
        yield url


def rendered(url: str) -> str:
    """The page's DOM once its scripts have run."""
    done = subprocess.run(
        [chromium(), *UI_FLAGS, "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_asset_graph_shows_the_flow_from_kafka_to_clickhouse(webserver: str) -> None:
    dom = rendered(f"{webserver}/asset-groups")
    for group in GROUPS:
        assert f">{group}<" in dom, f"group {group} not in the asset graph"
