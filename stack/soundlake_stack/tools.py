"""Java for the stack's JVM services, and the command-line tools of Kafka and HDFS.

`scripts/kafka TOOL ARGS...` and `scripts/hdfs dfs|dfsadmin|... ARGS...` run here: they install the
jars when missing, then replace this process by `java -cp <the service's classpath> <tool class>`.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from . import config
from .config import StackConfig
from .installers import apt_install
from .service import StackError

#: the Debian package that provides `java` when none is on the machine
JDK_PACKAGE = "openjdk-17-jre-headless"

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


# -- Java ---------------------------------------------------------------------------------------


def java_bin() -> str | None:
    """The `java` to run: $JAVA_HOME/bin/java when JAVA_HOME is set, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        return str(candidate) if candidate.exists() else None
    return shutil.which("java")


def ensure_java() -> str:
    """Return the `java` executable, installing Debian's JDK 17 runtime when there is none."""
    java = java_bin()
    if java is None and not os.environ.get("JAVA_HOME"):
        apt_install([JDK_PACKAGE])
        java = java_bin()
    if java is None:
        where = f"JAVA_HOME={os.environ['JAVA_HOME']}" if os.environ.get("JAVA_HOME") else "PATH"
        raise StackError(
            f"no java found via {where}; install Java 17 or newer (apt-get install {JDK_PACKAGE}) "
            "or point JAVA_HOME at one"
        )
    return java


def ensure_maven() -> None:
    """Install Debian's Maven when `mvn` is missing (it fetches the services' jars)."""
    if shutil.which("mvn") is None:
        apt_install(["maven"])


def classpath(*entries: Path) -> str:
    """A Java classpath; a folder of jars is given as `folder/*` (Java expands the wildcard)."""
    parts = [f"{e}/*" if e.is_dir() and any(e.glob("*.jar")) else str(e) for e in entries]
    return os.pathsep.join(parts)


def heap_opts(heap: str) -> list[str]:
    """JVM options for a heap of `heap` (e.g. "512m"), failing fast on out-of-memory."""
    return [f"-Xmx{heap}", "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true"]


# -- the command-line wrappers ------------------------------------------------------------------


def _usage(prog: str, tools: dict[str, str], example: str) -> str:
    names = "\n".join(f"  {name:<20} {cls}" for name, cls in tools.items())
    return f"usage: {prog} TOOL [ARGS...]   e.g. {prog} {example}\ntools:\n{names}\n"


def _exec(argv: list[str]) -> None:
    sys.stdout.flush()
    os.execv(argv[0], argv)


def kafka_main(cfg: StackConfig, args: list[str]) -> int:
    from .services import kafka

    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(
            _usage(
                "scripts/kafka",
                KAFKA_TOOLS,
                f"topics --bootstrap-server {kafka.bootstrap(cfg)} --list",
            )
        )
        return 0 if args else 2
    tool, rest = args[0], args[1:]
    main_class = KAFKA_TOOLS.get(tool, tool if "." in tool else None)
    if main_class is None:
        raise StackError(
            f"unknown Kafka tool {tool!r}; known: {', '.join(KAFKA_TOOLS)} "
            "(or give a main class name)"
        )
    _exec(kafka.tool_command(cfg, main_class, rest))
    return 0


def hdfs_main(cfg: StackConfig, args: list[str]) -> int:
    from .services import hdfs

    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(_usage("scripts/hdfs", HDFS_TOOLS, "dfs -ls /"))
        return 0 if args else 2
    tool, rest = args[0], args[1:]
    main_class = HDFS_TOOLS.get(tool, tool if "." in tool else None)
    if main_class is None:
        raise StackError(
            f"unknown HDFS tool {tool!r}; known: {', '.join(HDFS_TOOLS)} "
            "(or give a main class name)"
        )
    _exec(hdfs.tool_command(cfg, main_class, rest))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in ("kafka", "hdfs"):
        sys.stderr.write("usage: python -m soundlake_stack.tools kafka|hdfs TOOL [ARGS...]\n")
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
