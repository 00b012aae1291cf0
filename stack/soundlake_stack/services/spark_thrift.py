"""The Spark Thrift Server of the local stack: dbt's ``thrift`` target and any HiveServer2 client.

It runs ``spark-jobs/soundlake_jobs/thrift_server.py`` with the project's Python environment: a
local-mode Spark driver (heap ``[memory] spark_thrift``) whose session has the Rust UDFs
registered, serving HiveServer2 on ``[ports] spark_thrift``. Its catalog is the Hive metastore
named by ``SOUNDLAKE_SPARK_METASTORE_URL`` (see docs/spark-jobs.md, "Metastore").
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import process
from ..config import StackConfig
from ..service import Service, StackError
from .hdfs import default_fs


def venv_python(cfg: StackConfig) -> Path:
    """The interpreter of the project's venv (SOUNDLAKE_VENV, default <repo>/.venv)."""
    venv = Path(os.environ.get("SOUNDLAKE_VENV", cfg.root / ".venv"))
    if not venv.is_absolute():
        venv = cfg.root / venv
    return venv / "bin" / "python"


class SparkThrift(Service):
    name = "spark-thrift"
    port_names = ("spark_thrift",)
    # a Spark driver: ≈ 10 s alone, much more on a busy 2-core machine
    start_timeout = 240.0

    def __init__(self, cfg: StackConfig) -> None:
        super().__init__(cfg)
        self.python = venv_python(cfg)
        self.jobs_dir = cfg.root / "spark-jobs"

    def install(self) -> None:
        if not self.python.exists():
            raise StackError(
                f"{self.name} needs the project's Python environment ({self.python} is missing): "
                "run scripts/setup-python"
            )
        if not (self.jobs_dir / "soundlake_jobs" / "thrift_server.py").is_file():
            raise StackError(f"{self.jobs_dir}/soundlake_jobs/thrift_server.py is missing")

    def command(self) -> list[str]:
        return [
            str(self.python),
            "-m",
            "soundlake_jobs.thrift_server",
            "--host",
            self.cfg.host,
            "--port",
            str(self.cfg.port("spark_thrift")),
            "--driver-memory",
            self.cfg.memory.get("spark_thrift", "1g"),
            "--start-timeout",
            str(self.start_timeout),
        ]

    def env(self) -> dict[str, str]:
        metastore = os.environ.get("SOUNDLAKE_SPARK_METASTORE_URL") or (
            # an embedded Derby metastore admits one process: the server gets its own, so that
            # `soundlake-dbt` (whose default is .stack/data/spark-metastore) can run beside it
            f"jdbc:derby:;databaseName={self.cfg.data(self.name) / 'metastore'};create=true"
        )
        return {
            "SOUNDLAKE_SPARK_METASTORE_URL": metastore,
            "PYTHONPATH": str(self.jobs_dir),
            "SOUNDLAKE_ROOT": str(self.cfg.root),
            "SOUNDLAKE_HDFS_URL": os.environ.get("SOUNDLAKE_HDFS_URL", default_fs(self.cfg)),
            "PYSPARK_PYTHON": str(self.python),
            "SPARK_LOCAL_IP": self.cfg.host,
        }

    def cwd(self) -> Path | None:
        return self.cfg.root

    def healthy(self) -> bool:
        return process.port_open(self.cfg.host, self.cfg.port("spark_thrift"))
