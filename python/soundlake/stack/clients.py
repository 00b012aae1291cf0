"""Where a client finds the stack: the `SOUNDLAKE_*` variables the project's tools, tests and
Spark sessions read, with this stack's (or profile's) addresses.

`scripts/stack env [--profile NAME]` prints them as shell `export` lines, so that
`eval "$(scripts/stack env --profile cluster)"` points every tool at that profile.
"""

from __future__ import annotations

import shlex

from .config import StackConfig
from .services import kafka, spark_standalone
from .services.hdfs import default_fs
from .services.schema_registry import SchemaRegistry
from .services.spark_metastore import client_jar, metastore_url


def client_env(cfg: StackConfig) -> dict[str, str]:
    """The variables that point a client at the stack `cfg` describes."""
    host = cfg.host
    env = {
        "SOUNDLAKE_KAFKA_BROKERS": kafka.bootstrap(cfg),
        "SOUNDLAKE_SCHEMA_REGISTRY_URL": SchemaRegistry(cfg).base_url,
        "SOUNDLAKE_HDFS_URL": default_fs(cfg),
        "SOUNDLAKE_WEBHDFS_URL": f"http://{host}:{cfg.port('hdfs_namenode_http')}",
        "SOUNDLAKE_LAKE_URL": f"{default_fs(cfg)}/lake",
        "SOUNDLAKE_CLICKHOUSE_URL": f"http://{host}:{cfg.port('clickhouse_http')}",
        "SOUNDLAKE_PROMETHEUS_URL": f"http://{host}:{cfg.port('prometheus')}",
        "SOUNDLAKE_SPARK_THRIFT_HOST": host,
        "SOUNDLAKE_SPARK_THRIFT_PORT": str(cfg.port("spark_thrift")),
        "SOUNDLAKE_SPARK_METASTORE_URL": metastore_url(cfg),
        "SOUNDLAKE_SPARK_METASTORE_CLIENT_JAR": str(client_jar(cfg)),
        **spark_standalone.client_env(cfg),
    }
    if cfg.profile is not None:
        env["SOUNDLAKE_STACK_PROFILE"] = cfg.profile
    return env


def exports(cfg: StackConfig) -> str:
    """`client_env` as shell `export` lines."""
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in client_env(cfg).items())
