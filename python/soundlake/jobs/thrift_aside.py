"""A Spark Thrift server of the caller's own, as a child process (``thrift_server`` with an
embedded metastore, a warehouse and a port of its own): for work that must not touch the
stack's server or catalog, such as the soak benchmark and the orchestrator's stack tests.

    with thrift_aside(hdfs_url, work_dir) as port:
        ...  # dbt's thrift target at 127.0.0.1:port

The server's log is ``<work_dir>/thrift.log``; on leaving, the server gets SIGTERM (SIGKILL
after a minute).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from soundlake.paths import REPO_ROOT
from soundlake.stack.process import free_port, port_open

#: the longest wait for the port: a Spark session's start, slow on a busy machine
START_TIMEOUT_S = 600.0
HOST = "127.0.0.1"


class ThriftStartError(RuntimeError):
    """The server exited, or did not open its port in time."""


@contextmanager
def thrift_aside(
    hdfs_url: str, work_dir: Path, start_timeout: float = START_TIMEOUT_S
) -> Iterator[int]:
    """Start the server (metastore, warehouse and Spark's scratch space in `work_dir`, the lake
    on `hdfs_url`), wait for its port, yield the port; stop it on leaving."""
    port = free_port(HOST)
    env = {
        **os.environ,
        "SOUNDLAKE_ROOT": str(REPO_ROOT),
        "SOUNDLAKE_HDFS_URL": hdfs_url,
        "SOUNDLAKE_SPARK_METASTORE_URL": (
            f"jdbc:derby:;databaseName={work_dir / 'metastore'};create=true"
        ),
        "SOUNDLAKE_SPARK_WAREHOUSE": str(work_dir / "warehouse"),
        "SOUNDLAKE_SPARK_LOCAL_DIR": str(work_dir / "spark-local"),
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": HOST,
    }
    command = [sys.executable, "-m", "soundlake.jobs.thrift_server", "--host", HOST,
               "--port", str(port), "--start-timeout", str(start_timeout)]  # fmt: skip
    log = work_dir / "thrift.log"
    with log.open("wb") as out:
        server = subprocess.Popen(command, cwd=work_dir, env=env, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + start_timeout
        while not port_open(HOST, port):
            if server.poll() is not None:
                raise ThriftStartError(
                    f"the Thrift server exited ({server.returncode}) before opening "
                    f"{HOST}:{port}; its log, {log}:\n{log.read_text(errors='replace')[-3000:]}"
                )
            if time.monotonic() > deadline:
                raise ThriftStartError(
                    f"the Thrift server did not open {HOST}:{port} within {start_timeout:.0f}s; "
                    f"see {log}"
                )
            time.sleep(1.0)
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
