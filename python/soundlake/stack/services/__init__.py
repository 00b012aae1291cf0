"""The services of the local stack, in start order (stop order is the reverse)."""

from __future__ import annotations

from ..config import StackConfig
from ..service import Service
from .clickhouse import ClickHouse
from .hdfs import HdfsDataNode, HdfsNameNode
from .kafka import Kafka
from .monitoring import Alertmanager, NodeExporter, Prometheus
from .schema_registry import SchemaRegistry
from .spark_metastore import SparkMetastore
from .spark_thrift import SparkThrift

ORDER: list[type[Service]] = [
    HdfsNameNode,
    HdfsDataNode,
    Kafka,
    SchemaRegistry,
    ClickHouse,
    NodeExporter,
    Prometheus,
    Alertmanager,
    SparkMetastore,
    SparkThrift,
]

#: names that stand for several services
GROUPS: dict[str, list[str]] = {
    "hdfs": ["hdfs-namenode", "hdfs-datanode"],
    "spark": ["spark-metastore", "spark-thrift"],
}


def all_services(cfg: StackConfig) -> list[Service]:
    return [cls(cfg) for cls in ORDER]
