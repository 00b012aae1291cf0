"""The services of the local stack, in start order (stop order is the reverse)."""

from __future__ import annotations

from ..config import StackConfig
from ..service import Service, StackError
from .clickhouse import ClickHouse
from .hdfs import HdfsDataNode, HdfsNameNode
from .hdfs_exporter import HdfsExporter
from .kafka import Kafka
from .monitoring import Alertmanager, NodeExporter, Prometheus
from .schema_registry import SchemaRegistry
from .spark_metastore import SparkMetastore
from .spark_standalone import SparkMaster, SparkWorker
from .spark_thrift import SparkThrift

ORDER: list[type[Service]] = [
    HdfsNameNode,
    HdfsDataNode,
    Kafka,
    SchemaRegistry,
    ClickHouse,
    NodeExporter,
    HdfsExporter,
    Prometheus,
    Alertmanager,
    SparkMetastore,
    SparkMaster,
    SparkWorker,
    SparkThrift,
]

#: names that stand for several services (a multiplied service's name stands for its instances)
GROUPS: dict[str, list[str]] = {
    "hdfs": ["hdfs-namenode", "hdfs-datanode"],
    "spark": ["spark-metastore", "spark-master", "spark-worker", "spark-thrift"],
}


def all_services(cfg: StackConfig) -> list[Service]:
    """Every instance of every service the stack's settings ask for, in start order."""
    return [
        cls(cfg, index) if cls.count_key else cls(cfg)
        for cls in ORDER
        for index in range(cls.instances(cfg))
    ]


def service_named(cfg: StackConfig, name: str) -> Service:
    """The one service instance called `name` (`kafka-2`, `hdfs-namenode`), e.g. to start a
    node again after a fault test stopped it."""
    for svc in all_services(cfg):
        if svc.name == name:
            return svc
    known = ", ".join(svc.name for svc in all_services(cfg))
    raise StackError(f"no service instance {name!r} in this profile; known: {known}")
