"""The Spark Thrift Server of the local stack: dbt's ``thrift`` target and any HiveServer2 client.

It runs ``python -m soundlake.jobs.thrift_server`` in the project's Python environment (where
``scripts/setup-python`` installed the ``soundlake`` package): a local-mode Spark driver (heap
``[memory] spark_thrift``) whose session has the Rust UDFs registered, serving HiveServer2 on
``[ports] spark_thrift``. The driver's JVM runs the Prometheus JMX exporter agent
(``jmx_exporter``, rules ops/jmx/spark.yml) on ``[ports] spark_thrift_jmx_metrics``. Its catalog is the Hive metastore
named by ``SOUNDLAKE_SPARK_METASTORE_URL``, by default the stack's ``spark-metastore`` service,
shared with ``soundlake-dbt`` (see docs/spark-jobs.md, "Metastore").
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .. import process
from ..config import StackConfig
from ..service import Service, StackError
from . import jmx_exporter, spark_standalone
from .hdfs import default_fs
from .spark_metastore import client_jar, metastore_url, venv_python

#: the Thrift server's module in the installed ``soundlake`` package
SERVER_MODULE = "soundlake.jobs.thrift_server"


class SparkThrift(Service):
    name = "spark-thrift"
    port_names = ("spark_thrift", "spark_thrift_jmx_metrics")
    # a Spark driver: seconds alone, many times that on a busy 2-core machine
    # (docs/benchmarks.md, "The local stack")
    start_timeout = 240.0

    def __init__(self, cfg: StackConfig) -> None:
        super().__init__(cfg)
        self.python = venv_python(cfg)

    def install(self) -> None:
        jmx_exporter.install(self.cfg)
        if not self._server_importable():
            # A fresh machine: `scripts/stack up` alone must work, so make the environment here.
            setup = self.cfg.root / "scripts" / "setup-python"
            print(
                f"  {self.name}: the project's Python environment ({self.python}) is missing or "
                f"lacks the soundlake package; making it with {setup}",
                file=sys.stderr,
                flush=True,
            )
            if subprocess.call([str(setup)]) != 0 or not self._server_importable():
                raise StackError(
                    f"{self.name} needs the project's Python environment and {setup} could not "
                    "make it (see its errors above); fix them and run `scripts/stack up` again"
                )

    def _server_importable(self) -> bool:
        """Whether the environment's python has the installed ``soundlake`` package."""
        if not self.python.exists():
            return False
        probe = [str(self.python), "-c", f"import {SERVER_MODULE}"]
        return subprocess.run(probe, capture_output=True, check=False).returncode == 0

    @property
    def metastore(self) -> str:
        """SOUNDLAKE_SPARK_METASTORE_URL, else the stack's spark-metastore service."""
        return os.environ.get("SOUNDLAKE_SPARK_METASTORE_URL") or metastore_url(self.cfg)

    def prepare(self) -> None:
        jmx_exporter.register_target(self.cfg, "spark-thrift", "spark_thrift_jmx_metrics")
        port = self.cfg.port("spark_metastore")
        if self.metastore == metastore_url(self.cfg) and not process.port_open(self.cfg.host, port):
            raise StackError(
                f"{self.name} uses the stack's metastore at {self.cfg.host}:{port}, which does "
                "not answer: start it first (`scripts/stack up spark-metastore`), or set "
                "SOUNDLAKE_SPARK_METASTORE_URL"
            )

    def command(self) -> list[str]:
        return [
            str(self.python),
            "-m",
            SERVER_MODULE,
            "--host",
            self.cfg.host,
            "--port",
            str(self.cfg.port("spark_thrift")),
            "--driver-memory",
            self.cfg.memory.get("spark_thrift", "1g"),
            "--start-timeout",
            str(self.start_timeout),
            # one word with `=`: the value starts with a dash
            "--driver-java-options="
            + " ".join(jmx_exporter.agent_opts(self.cfg, "spark_thrift_jmx_metrics", "spark.yml")),
        ]

    def env(self) -> dict[str, str]:
        return {
            "SOUNDLAKE_SPARK_METASTORE_URL": self.metastore,
            # the Derby network client, for a jdbc:derby:// metastore (see soundlake.spark.session)
            "SOUNDLAKE_SPARK_METASTORE_CLIENT_JAR": os.environ.get(
                "SOUNDLAKE_SPARK_METASTORE_CLIENT_JAR", str(client_jar(self.cfg))
            ),
            "SOUNDLAKE_ROOT": str(self.cfg.root),
            "SOUNDLAKE_HDFS_URL": os.environ.get("SOUNDLAKE_HDFS_URL", default_fs(self.cfg)),
            "PYSPARK_PYTHON": str(self.python),
            "SPARK_LOCAL_IP": self.cfg.host,
            # the profile's Spark master ([spark] master in stack.toml); none: local mode
            **spark_standalone.client_env(self.cfg),
        }

    def cwd(self) -> Path | None:
        return self.cfg.root

    def healthy(self) -> bool:
        return process.port_open(self.cfg.host, self.cfg.port("spark_thrift"))
