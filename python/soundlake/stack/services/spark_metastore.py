"""The Spark (Hive) metastore's database for the local stack: Apache Derby's network server.

An embedded Derby metastore admits one process at a time, so the Thrift server and
`soundlake-dbt` could not share a catalog. This service runs Derby's network server
(`org.apache.derby.drda.NetworkServerControl`, jars from Maven Central, the version of the
derby jar bundled in pyspark) on `[ports] spark_metastore`; Spark sessions reach it with

    SOUNDLAKE_SPARK_METASTORE_URL="jdbc:derby://127.0.0.1:1527/metastore;create=true"

and the client driver `.stack/lib/derby/derbyclient-<version>.jar` on the driver's class path
(`soundlake.spark.session` adds it for `jdbc:derby://` URLs). DataNucleus creates the
metastore's schema on first use (`datanucleus.schema.autoCreateAll=true`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from soundlake.paths import STACK_FILES

from .. import java, process
from ..config import StackConfig
from ..installers import maven_jars
from ..service import Service, StackError

POM = STACK_FILES / "maven" / "derby" / "pom.xml"
SERVER_CLASS = "org.apache.derby.drda.NetworkServerControl"
DATABASE = "metastore"


def venv_python(cfg: StackConfig) -> Path:
    """The interpreter of the project's venv (SOUNDLAKE_VENV, default <repo>/.venv)."""
    venv = Path(os.environ.get("SOUNDLAKE_VENV", cfg.root / ".venv"))
    if not venv.is_absolute():
        venv = cfg.root / venv
    return venv / "bin" / "python"


def lib_dir(cfg: StackConfig) -> Path:
    return cfg.lib_dir / "derby"


def metastore_url(cfg: StackConfig) -> str:
    """The JDBC URL of the stack's metastore database."""
    return f"jdbc:derby://{cfg.host}:{cfg.port('spark_metastore')}/{DATABASE};create=true"


def client_jar(cfg: StackConfig) -> Path:
    return lib_dir(cfg) / f"derbyclient-{cfg.versions['derby']}.jar"


def bundled_derby_version(cfg: StackConfig) -> str | None:
    """The version of the derby jar inside the venv's pyspark, if it can be found."""
    lib = venv_python(cfg).parent.parent / "lib"
    for jar in sorted(lib.glob("python3*/site-packages/pyspark/jars/derby-*.jar")):
        return jar.name.removeprefix("derby-").removesuffix(".jar")
    return None


class SparkMetastore(Service):
    name = "spark-metastore"
    port_names = ("spark_metastore",)
    start_timeout = 60.0

    def install(self) -> None:
        version = self.cfg.versions["derby"]
        bundled = bundled_derby_version(self.cfg)
        if bundled is not None and bundled != version:
            print(
                f"  {self.name}: Derby {version} (stack.toml) differs from pyspark's bundled "
                f"derby-{bundled}.jar; set SOUNDLAKE_VERSION_DERBY={bundled} to match",
                file=sys.stderr,
            )
        java.ensure_java()
        java.ensure_maven()
        maven_jars(POM, lib_dir(self.cfg), {"derby.version": version})
        if not client_jar(self.cfg).is_file():
            raise StackError(
                f"{client_jar(self.cfg)} is missing after fetching the Derby jars; "
                f"delete {lib_dir(self.cfg)} and run `scripts/stack up {self.name}` again"
            )

    def command(self) -> list[str]:
        return [
            java.ensure_java(),
            *java.heap_opts(self.cfg.memory.get("spark_metastore", "256m")),
            f"-Dderby.system.home={self.cfg.data(self.name)}",
            "-Dderby.stream.error.file=" + str(self.cfg.logs_dir / f"{self.name}-derby.log"),
            "-cp",
            java.classpath(lib_dir(self.cfg)),
            SERVER_CLASS,
            "start",
            "-h",
            self.cfg.host,
            "-p",
            str(self.cfg.port("spark_metastore")),
            # the server's default security manager policy; none on a loopback-only stack
            "-noSecurityManager",
        ]

    def healthy(self) -> bool:
        return process.port_open(self.cfg.host, self.cfg.port("spark_metastore"))
