"""The command-line tools of Kafka and HDFS with the local stack's jars (`soundlake kafka`,
`soundlake hdfs`, and their wrappers `scripts/kafka`, `scripts/hdfs`).

`scripts/kafka TOOL ARGS...` and `scripts/hdfs dfs|dfsadmin|... ARGS...` run here: they install the
jars when missing, then replace this process by `java -cp <the service's classpath> <tool class>`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from . import config
from .config import StackConfig
from .service import StackError
from .services import hdfs, kafka

# `scripts/kafka NAME` -> main class (the names of Kafka's bin/kafka-NAME.sh scripts)
KAFKA_TOOLS: dict[str, str] = {
    "topics": "org.apache.kafka.tools.TopicCommand",
    "console-producer": "org.apache.kafka.tools.ConsoleProducer",
    "console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "configs": "kafka.admin.ConfigCommand",
    "get-offsets": "org.apache.kafka.tools.GetOffsetShell",
    "delete-records": "org.apache.kafka.tools.DeleteRecordsCommand",
    "log-dirs": "org.apache.kafka.tools.LogDirsCommand",
    "dump-log": "kafka.tools.DumpLogSegments",
    "metadata-quorum": "org.apache.kafka.tools.MetadataQuorumCommand",
    "broker-api-versions": "org.apache.kafka.tools.BrokerApiVersionsCommand",
    "features": "org.apache.kafka.tools.FeatureCommand",
    "transactions": "org.apache.kafka.tools.TransactionsCommand",
    "acls": "org.apache.kafka.tools.AclCommand",
    "producer-perf-test": "org.apache.kafka.tools.ProducerPerformance",
    "consumer-perf-test": "org.apache.kafka.tools.ConsumerPerformance",
    "storage": "kafka.tools.StorageTool",
}

# `scripts/hdfs NAME` -> main class (the subcommands of Hadoop's bin/hdfs)
HDFS_TOOLS: dict[str, str] = {
    "dfs": "org.apache.hadoop.fs.FsShell",
    "dfsadmin": "org.apache.hadoop.hdfs.tools.DFSAdmin",
    "fsck": "org.apache.hadoop.hdfs.tools.DFSck",
    "getconf": "org.apache.hadoop.hdfs.tools.GetConf",
    "version": "org.apache.hadoop.util.VersionInfo",
}


# -- the command-line wrappers ------------------------------------------------------------------


def _usage(prog: str, tools: dict[str, str], example: str) -> str:
    names = "\n".join(f"  {name:<20} {cls}" for name, cls in tools.items())
    return f"usage: {prog} TOOL [ARGS...]   e.g. {prog} {example}\ntools:\n{names}\n"


def _exec(argv: list[str]) -> None:
    sys.stdout.flush()
    os.execv(argv[0], argv)


def _run_tool(
    args: list[str],
    *,
    product: str,
    script: str,
    tools: dict[str, str],
    example: str,
    command: Callable[[str, list[str]], list[str]],
) -> int:
    """Run one of a product's CLI tools (by short name or main class), or print the usage."""
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(_usage(script, tools, example))
        return 0 if args else 2
    tool, rest = args[0], args[1:]
    main_class = tools.get(tool, tool if "." in tool else None)
    if main_class is None:
        raise StackError(
            f"unknown {product} tool {tool!r}; known: {', '.join(tools)} "
            "(or give a main class name)"
        )
    _exec(command(main_class, rest))
    return 0


def kafka_main(cfg: StackConfig, args: list[str]) -> int:
    return _run_tool(
        args,
        product="Kafka",
        script="scripts/kafka",
        tools=KAFKA_TOOLS,
        example=f"topics --bootstrap-server {kafka.bootstrap(cfg)} --list",
        command=lambda main_class, rest: kafka.tool_command(cfg, main_class, rest),
    )


def hdfs_main(cfg: StackConfig, args: list[str]) -> int:
    return _run_tool(
        args,
        product="HDFS",
        script="scripts/hdfs",
        tools=HDFS_TOOLS,
        example="dfs -ls /",
        command=lambda main_class, rest: hdfs.tool_command(cfg, main_class, rest),
    )


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in ("kafka", "hdfs"):
        sys.stderr.write("usage: soundlake kafka|hdfs TOOL [ARGS...]\n")
        return 2
    cfg = config.load()
    try:
        if args[0] == "kafka":
            return kafka_main(cfg, args[1:])
        return hdfs_main(cfg, args[1:])
    except StackError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
