"""Helpers of the ops tests: the project's Rust binaries, run as real processes, and Prometheus
file_sd targets for them (removed again by `Started.stop`)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path

from conftest import ServiceError, http_request

ROOT = Path(__file__).resolve().parents[1]
TARGETS_DIR = ROOT / ".stack" / "conf" / "prometheus" / "targets"
EVENTSIM_CONFIG = ROOT / "eventsim" / "configs" / "eventsim-config-example.json"


def rust_binaries() -> Path:
    """Builds eventsim and soundlake-ingest (a no-op when up to date); returns their folder."""
    subprocess.run(
        ["cargo", "build", "--quiet", "--locked", "-p", "eventsim", "-p", "soundlake-ingest"],
        cwd=ROOT,
        check=True,
    )
    metadata = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return Path(json.loads(metadata)["target_directory"]) / "debug"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Started:
    """Processes and files this test made, removed in reverse order."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []
        self.files: list[Path] = []

    def run(self, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        self.processes.append(proc)
        return proc

    def target(self, name: str, port: int, labels: dict[str, str]) -> None:
        path = TARGETS_DIR / f"{name}.yml"
        path.write_text(json.dumps([{"targets": [f"127.0.0.1:{port}"], "labels": labels}]))
        self.files.append(path)

    def stop(self) -> None:
        for path in self.files:
            path.unlink(missing_ok=True)
        for proc in reversed(self.processes):
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def answers(port: int) -> bool:
    try:
        http_request(f"http://127.0.0.1:{port}/metrics", timeout=2)
    except ServiceError:  # not up yet
        return False
    return True
