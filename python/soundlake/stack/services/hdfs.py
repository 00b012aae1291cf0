"""HDFS: one NameNode and one DataNode (a profile's `[counts] hdfs_datanode`: several) from the
Hadoop jars on Maven Central.

Every start rewrites the conf dir (core-site.xml, hdfs-site.xml, log4j.properties) from
stack.toml; the first NameNode start formats its name dir. Everything binds to 127.0.0.1 and the
DataNodes register as 127.0.0.1, so clients on this machine (pyspark, the Rust `hdfs-native`
crate, `scripts/hdfs`) reach them all. Several DataNodes each have their own ports (the [ports]
values + the instance's index), data dir and conf dir; blocks get a replica on each, up to 3.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import escape

from soundlake.paths import STACK_FILES

from .. import java, process
from ..config import StackConfig
from ..installers import maven_jars
from ..service import Service, StackError
from . import jmx_exporter

POM = STACK_FILES / "maven" / "hadoop" / "pom.xml"

# What Hadoop's launch scripts pass on Java 17+ (hadoop_finalize_jpms_opts in hadoop-functions.sh)
JPMS_OPENS = [
    "java.base/java.io",
    "java.base/java.lang",
    "java.base/java.lang.reflect",
    "java.base/java.math",
    "java.base/java.net",
    "java.base/java.text",
    "java.base/java.util",
    "java.base/java.util.concurrent",
    "java.base/java.util.zip",
    "java.base/sun.security.util",
    "java.base/sun.security.x509",
]

NAMENODE_CLASS = "org.apache.hadoop.hdfs.server.namenode.NameNode"
DATANODE_CLASS = "org.apache.hadoop.hdfs.server.datanode.DataNode"


def lib_dir(cfg: StackConfig) -> Path:
    return cfg.lib_dir / "hadoop"


def default_fs(cfg: StackConfig) -> str:
    """The HDFS URL clients use, e.g. hdfs://127.0.0.1:8020."""
    return f"hdfs://{cfg.host}:{cfg.port('hdfs_namenode_rpc')}"


def install(cfg: StackConfig) -> Path:
    """Java, Maven and the Hadoop jars of the version in stack.toml (no-op when there)."""
    java.ensure_java()
    java.ensure_maven()
    return maven_jars(POM, lib_dir(cfg), {"hadoop.version": cfg.versions["hadoop"]})


def name_dir(cfg: StackConfig) -> Path:
    return cfg.data("hdfs-namenode") / "name"


def datanode_name(cfg: StackConfig, index: int) -> str:
    """`hdfs-datanode` on a single node, `hdfs-datanode-<index + 1>` when there are several."""
    return "hdfs-datanode" if HdfsDataNode.instances(cfg) == 1 else f"hdfs-datanode-{index + 1}"


def data_dir(cfg: StackConfig, index: int = 0) -> Path:
    return cfg.data(datanode_name(cfg, index)) / "data"


def replication(cfg: StackConfig) -> int:
    """dfs.replication: a replica of each block on every DataNode, up to 3."""
    return min(HdfsDataNode.instances(cfg), 3)


# -- configuration ------------------------------------------------------------------------------


def site_xml(properties: dict[str, str]) -> str:
    rows = "".join(
        f"  <property><name>{escape(k)}</name><value>{escape(v)}</value></property>\n"
        for k, v in properties.items()
    )
    return (
        '<?xml version="1.0"?>\n'
        "<!-- Written at every start by python/soundlake/stack/services/hdfs.py -->\n"
        f"<configuration>\n{rows}</configuration>\n"
    )


def core_site(cfg: StackConfig) -> dict[str, str]:
    return {
        "fs.defaultFS": default_fs(cfg),
        "hadoop.tmp.dir": str(cfg.data("hdfs-tmp")),
        "hadoop.http.authentication.signature.secret.file": str(http_secret(cfg)),
    }


def http_secret(cfg: StackConfig) -> Path:
    """The secret that signs the web servers' auth cookies, generated once (else a warning)."""
    path = cfg.data("hdfs-tmp") / "http-signature-secret"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path


def hdfs_site(cfg: StackConfig, index: int = 0) -> dict[str, str]:
    """The hdfs-site.xml of the NameNode and clients (index 0) or of DataNode `index`."""
    host = cfg.host
    return {
        "dfs.replication": str(replication(cfg)),
        "dfs.namenode.name.dir": name_dir(cfg).as_uri(),
        "dfs.datanode.data.dir": data_dir(cfg, index).as_uri(),
        "dfs.namenode.rpc-address": f"{host}:{cfg.port('hdfs_namenode_rpc')}",
        "dfs.namenode.http-address": f"{host}:{cfg.port('hdfs_namenode_http')}",
        "dfs.datanode.address": f"{host}:{cfg.port('hdfs_datanode') + index}",
        "dfs.datanode.http.address": f"{host}:{cfg.port('hdfs_datanode_http') + index}",
        "dfs.datanode.ipc.address": f"{host}:{cfg.port('hdfs_datanode_ipc') + index}",
        # the DataNode registers under this name and address; the NameNode hands it to clients
        "dfs.datanode.hostname": host,
        "dfs.namenode.datanode.registration.ip-hostname-check": "false",
        "dfs.permissions.enabled": "false",
        "dfs.webhdfs.enabled": "true",
        # leave safe mode as soon as the blocks are reported, without the 30 s extension
        "dfs.namenode.safemode.extension": "0",
        "dfs.namenode.safemode.min.datanodes": "0",
        "dfs.heartbeat.interval": "3",
        # A DataNode that stops heartbeating is stale after 15 s: the NameNode places no new
        # block on it while the others can take them (otherwise, with replication 3 on 3
        # DataNodes, every pipeline holds the dead one and writes fail until it is back), and
        # dead after 2 rechecks + 10 heartbeats (60 s, not Hadoop's 10.5 min), when its replicas
        # are made again elsewhere (docs/deployment.md, "Faults").
        "dfs.namenode.stale.datanode.interval": "15000",
        "dfs.namenode.avoid.write.stale.datanode": "true",
        "dfs.namenode.avoid.read.stale.datanode": "true",
        "dfs.namenode.heartbeat.recheck-interval": "15000",
    }


LOG4J_PROPERTIES = """\
# Written by the local stack at every start. Everything goes to the console: the stack keeps a
# service's console in .stack/logs/<service>.log. The tools pass -Dhadoop.root.logger=WARN,console.
hadoop.root.logger=INFO,console
log4j.rootLogger=${hadoop.root.logger}
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.target=System.err
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{ISO8601} %p %c{2}: %m%n
# no native Hadoop library here: the pure-Java code paths are used, say so once at most
log4j.logger.org.apache.hadoop.util.NativeCodeLoader=ERROR
log4j.logger.org.apache.hadoop.hdfs.StateChange=WARN
log4j.logger.BlockStateChange=WARN
log4j.logger.org.apache.hadoop.hdfs.server.namenode.FSNamesystem.audit=WARN
# Lines per block (a DataNode's "Receiving", "PacketResponder", client trace and delete lines;
# the NameNode's "COMMITTED but not COMPLETE" while a file closes): five or six per file, which
# made a day of landings a DataNode log of hundreds of MB and cost the daemons CPU
# (docs/benchmarks-log.md).
log4j.logger.org.apache.hadoop.hdfs.server.datanode.DataNode=WARN
log4j.logger.org.apache.hadoop.hdfs.server.datanode.DataNode.clienttrace=WARN
log4j.logger.org.apache.hadoop.hdfs.server.datanode.fsdataset.impl.FsDatasetAsyncDiskService=WARN
log4j.logger.org.apache.hadoop.hdfs.server.namenode.FSNamesystem=WARN
"""


def conf_dir(cfg: StackConfig, datanode: int | None = None) -> Path:
    """The conf dir of the NameNode and the tools, or of DataNode `datanode` when several run."""
    if datanode is None or HdfsDataNode.instances(cfg) == 1:
        return cfg.conf("hadoop")
    return cfg.conf(f"hadoop-{datanode_name(cfg, datanode)}")


def write_conf(cfg: StackConfig, datanode: int | None = None) -> Path:
    """Write core-site.xml, hdfs-site.xml and log4j.properties into the conf dir (of DataNode
    `datanode`, else the shared one); return it."""
    conf = conf_dir(cfg, datanode)
    (conf / "core-site.xml").write_text(site_xml(core_site(cfg)))
    (conf / "hdfs-site.xml").write_text(site_xml(hdfs_site(cfg, datanode or 0)))
    (conf / "log4j.properties").write_text(LOG4J_PROPERTIES)
    return conf


def jvm_command(
    cfg: StackConfig,
    main_class: str,
    args: list[str],
    *,
    heap: str,
    root_logger: str = "INFO,console",
    conf: Path | None = None,
) -> list[str]:
    conf = conf or conf_dir(cfg)
    lib = lib_dir(cfg)
    return [
        java.ensure_java(),
        *java.heap_opts(heap),
        *[f"--add-opens={module}=ALL-UNNAMED" for module in JPMS_OPENS],
        "-Djava.net.preferIPv4Stack=true",
        f"-Dhadoop.home.dir={lib}",
        f"-Dhadoop.log.dir={cfg.logs_dir}",
        f"-Dhadoop.root.logger={root_logger}",
        "-cp",
        java.classpath(conf, lib),
        main_class,
        *args,
    ]


def tool_command(cfg: StackConfig, main_class: str, args: list[str]) -> list[str]:
    """The argv that runs one of HDFS's command-line tools (warnings only, on stderr)."""
    install(cfg)
    write_conf(cfg)
    return jvm_command(cfg, main_class, args, heap="256m", root_logger="WARN,console")


# -- health, from the NameNode's JMX servlet ----------------------------------------------------


def namenode_bean(cfg: StackConfig, name: str) -> dict[str, object] | None:
    """One bean of the NameNode's JMX (e.g. FSNamesystemState), or None when it does not answer."""
    url = f"http://{cfg.host}:{cfg.port('hdfs_namenode_http')}/jmx?qry=Hadoop:service=NameNode,name={name}"
    answer = process.http_get(url)
    if answer is None or answer[0] != 200:
        return None
    try:
        beans = json.loads(answer[1]).get("beans", [])
    except (json.JSONDecodeError, AttributeError):
        return None
    return beans[0] if beans else None


def namenode_state(cfg: StackConfig) -> dict[str, object] | None:
    return namenode_bean(cfg, "FSNamesystemState")


# -- the services -------------------------------------------------------------------------------


class HdfsNameNode(Service):
    """The NameNode. Healthy when it serves its namespace: RPC port open and JMX answering.

    It may still be in safe mode then: after a restart it leaves safe mode only once the
    DataNode has reported the blocks, so the DataNode's health is the one that says "writable".
    """

    name = "hdfs-namenode"
    port_names = ("hdfs_namenode_rpc", "hdfs_namenode_http", "hdfs_namenode_jmx_metrics")
    start_timeout = 90.0

    def install(self) -> None:
        install(self.cfg)
        jmx_exporter.install(self.cfg)

    def prepare(self) -> None:
        write_conf(self.cfg)
        jmx_exporter.register_target(self.cfg, "hdfs-namenode", "hdfs_namenode_jmx_metrics")
        if not (name_dir(self.cfg) / "current" / "VERSION").exists():
            self._format()

    def _format(self) -> None:
        """Format the name dir; the DataNode's blocks belong to no namespace after that."""
        print(f"  formatting the HDFS NameNode in {name_dir(self.cfg)}", file=sys.stderr)
        argv = jvm_command(
            self.cfg, NAMENODE_CLASS, ["-format", "-nonInteractive", "-force"], heap="256m"
        )
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            raise StackError(
                f"formatting the HDFS NameNode in {name_dir(self.cfg)} failed "
                f"(exit {result.returncode}):\n{output[-3000:]}"
            )
        for index in range(HdfsDataNode.instances(self.cfg)):
            stale = data_dir(self.cfg, index)
            if stale.exists():
                print(
                    f"  removing the DataNode's blocks of the old namespace in {stale}",
                    file=sys.stderr,
                )
                shutil.rmtree(stale)

    def command(self) -> list[str]:
        argv = jvm_command(self.cfg, NAMENODE_CLASS, [], heap=self.cfg.memory["hdfs_namenode"])
        argv[1:1] = jmx_exporter.agent_opts(self.cfg, "hdfs_namenode_jmx_metrics", "hadoop.yml")
        return argv

    def healthy(self) -> bool:
        rpc_open = process.port_open(self.cfg.host, self.cfg.port("hdfs_namenode_rpc"))
        return rpc_open and namenode_state(self.cfg) is not None


def live_datanodes(cfg: StackConfig) -> set[str]:
    """The transfer addresses (host:port) of the DataNodes the NameNode counts live."""
    info = namenode_bean(cfg, "NameNodeInfo")
    if info is None:
        return set()
    try:
        nodes = json.loads(str(info.get("LiveNodes", "{}")))
    except json.JSONDecodeError:
        return set()
    return {str(node.get("xferaddr")) for node in nodes.values() if isinstance(node, dict)}


class HdfsDataNode(Service):
    """A DataNode. Healthy when the NameNode counts it live and has left safe mode."""

    name = "hdfs-datanode"
    count_key = "hdfs_datanode"
    port_names = (
        "hdfs_datanode",
        "hdfs_datanode_http",
        "hdfs_datanode_ipc",
        "hdfs_datanode_jmx_metrics",
    )
    start_timeout = 90.0

    def install(self) -> None:
        install(self.cfg)
        jmx_exporter.install(self.cfg)

    def prepare(self) -> None:
        write_conf(self.cfg, self.index)
        jmx_exporter.register_target(
            self.cfg,
            "hdfs-datanode",
            "hdfs_datanode_jmx_metrics",
            instance=self.name,
            index=self.index,
        )
        if namenode_state(self.cfg) is None:
            raise StackError(
                f"the HDFS NameNode does not answer on {self.cfg.host}:"
                f"{self.cfg.port('hdfs_namenode_http')}; start it first: scripts/stack up hdfs"
            )

    def command(self) -> list[str]:
        argv = jvm_command(
            self.cfg,
            DATANODE_CLASS,
            [],
            heap=self.cfg.memory["hdfs_datanode"],
            conf=conf_dir(self.cfg, self.index),
        )
        argv[1:1] = jmx_exporter.agent_opts(
            self.cfg, "hdfs_datanode_jmx_metrics", "hadoop.yml", index=self.index
        )
        return argv

    def healthy(self) -> bool:
        state = namenode_state(self.cfg)
        if state is None:
            return False
        live = state.get("NumLiveDataNodes", 0)
        operational = isinstance(live, int) and live >= 1 and state.get("FSState") == "Operational"
        if not operational or self.instances(self.cfg) == 1:
            return operational
        return f"{self.cfg.host}:{self.port('hdfs_datanode')}" in live_datanodes(self.cfg)
