"""The stack's HDFS exporter: the NameNode's per-DataNode block reservations for Prometheus.

Runs ``python -m soundlake.stack.hdfs_exporter`` (the stack manager's own interpreter: the
exporter needs only the standard library) on `[ports] hdfs_exporter`, pointed at the profile's
NameNode web address. Prometheus scrapes it as the job ``hdfs-exporter``
(ops/prometheus/prometheus.local.yml). It does not need the NameNode to start: while the
NameNode is down it serves ``soundlake_hdfs_namenode_up 0``.
"""

from __future__ import annotations

import sys

from .. import hdfs_exporter, process
from ..service import Service


class HdfsExporter(Service):
    name = "hdfs-exporter"
    port_names = ("hdfs_exporter",)
    start_timeout = 30.0

    def install(self) -> None:
        pass  # part of the soundlake package

    def namenode_url(self) -> str:
        return f"http://{self.cfg.host}:{self.cfg.port('hdfs_namenode_http')}"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            hdfs_exporter.__name__,
            f"--namenode={self.namenode_url()}",
            f"--host={self.cfg.host}",
            f"--port={self.port('hdfs_exporter')}",
        ]

    def healthy(self) -> bool:
        answer = process.http_get(f"http://{self.cfg.host}:{self.port('hdfs_exporter')}/metrics")
        return answer is not None and answer[0] == 200 and hdfs_exporter.UP_METRIC in answer[1]
