"""A Spark standalone cluster: a master and `[counts] spark_worker` workers, from the pip pyspark.

Only a profile whose `[spark] master` is `standalone` runs them (the single-node stack's Spark
sessions run in local mode). Each daemon is pyspark's own `bin/spark-class` with `SPARK_HOME` at
the installed pyspark package of the project's venv (`SOUNDLAKE_VENV`), heap
`SPARK_DAEMON_MEMORY`. A worker offers `[spark] worker_cores` cores and `[memory]
spark_executor` of memory: one executor JVM per worker and application, started by the worker
in its own process. Executors run Python UDFs with the driver's `PYSPARK_PYTHON` (the venv's
python), so `soundlake_udfs` imports there as in the driver.

Spark clients of the stack (the Thrift server, `soundlake-dbt`, the jobs) reach the cluster with
`client_env`: `SOUNDLAKE_SPARK_MASTER` and a `SPARK_CONF_DIR` whose spark-defaults.conf sizes
the executors.
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import java, process
from ..config import StackConfig
from ..service import Service, StackError
from . import jmx_exporter
from .spark_metastore import venv_python

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
#: Spark's own Prometheus sink, a servlet on the daemon's web UI
PROMETHEUS_SERVLET = "org.apache.spark.metrics.sink.PrometheusServlet"


def spark_home(cfg: StackConfig) -> Path:
    """The pyspark package of the project's venv: its `bin/spark-class` and `jars/`."""
    lib = venv_python(cfg).parent.parent / "lib"
    for home in sorted(lib.glob("python3*/site-packages/pyspark")):
        if (home / "bin" / "spark-class").is_file():
            return home
    raise StackError(
        f"no pyspark with bin/spark-class under {lib}: make the project's venv with "
        "scripts/setup-python (or point SOUNDLAKE_VENV at one)"
    )


def master_state(cfg: StackConfig) -> dict[str, object] | None:
    """The master's /json (status, alive workers, running applications), None when silent."""
    answer = process.http_get(f"http://{cfg.host}:{cfg.port('spark_master_http')}/json/")
    if answer is None or answer[0] != 200:
        return None
    try:
        state = json.loads(answer[1])
    except json.JSONDecodeError:
        return None
    return state if isinstance(state, dict) else None


def alive_workers(cfg: StackConfig) -> list[dict[str, object]]:
    """The workers the master counts ALIVE (host, port, cores, memory, ...)."""
    state = master_state(cfg) or {}
    workers = state.get("workers", [])
    if not isinstance(workers, list):
        return []
    return [w for w in workers if isinstance(w, dict) and w.get("state") == "ALIVE"]


def conf_dir(cfg: StackConfig) -> Path:
    """The SPARK_CONF_DIR of the stack's Spark clients, with a spark-defaults.conf."""
    conf = cfg.conf("spark")
    defaults = {
        "spark.executor.memory": cfg.memory["spark_executor"],
        "spark.executor.cores": cfg.spark.get("worker_cores", "1"),
        # Applications share the workers: an application (the Thrift server above all) gives
        # back the executors it has not used for a while, so that a spark-submit job or a
        # second session gets executors too. Shuffle tracking keeps an executor whose shuffle
        # files are still needed (standalone mode has no external shuffle service here).
        "spark.dynamicAllocation.enabled": "true",
        "spark.dynamicAllocation.shuffleTracking.enabled": "true",
        "spark.dynamicAllocation.shuffleTracking.timeout": "120s",
        "spark.dynamicAllocation.executorIdleTimeout": "30s",
        "spark.dynamicAllocation.minExecutors": "0",
    }
    text = "# Written by python/soundlake/stack/services/spark_standalone.py\n" + "".join(
        f"{key} {value}\n" for key, value in defaults.items()
    )
    (conf / "spark-defaults.conf").write_text(text)
    return conf


def client_env(cfg: StackConfig) -> dict[str, str]:
    """What a Spark client needs to run on the stack's cluster; empty for local mode."""
    master = cfg.spark_master
    if master is None:
        return {}
    env = {
        "SOUNDLAKE_SPARK_MASTER": master,
        # the profile's own warehouse folder, not the single-node stack's default one
        "SOUNDLAKE_SPARK_WAREHOUSE": str(cfg.data("spark-warehouse")),
    }
    if master.startswith("spark://"):
        env["SPARK_CONF_DIR"] = str(conf_dir(cfg))
    return env


class _SparkDaemon(Service):
    """A daemon started by pyspark's `spark-class`. It serves its metrics (the master: workers
    alive, applications; a worker: cores and memory used, executors) in Prometheus' text format
    on its web UI (`metrics_path`, Spark's PrometheusServlet), and registers that as the local
    Prometheus' target: a daemon that dies is `ServiceDown`."""

    main_class = ""
    heap_key = ""
    #: the daemon's instance in Spark's metrics system (`master`, `worker`)
    metrics_instance = ""
    metrics_path = ""
    http_port_name = ""
    start_timeout = 90.0

    @classmethod
    def instances(cls, cfg: StackConfig) -> int:
        return super().instances(cfg) if cfg.spark.get("master") == "standalone" else 0

    def install(self) -> None:
        java.ensure_java()
        spark_home(self.cfg)

    def daemon_args(self) -> list[str]:
        raise NotImplementedError

    def command(self) -> list[str]:
        spark_class = spark_home(self.cfg) / "bin" / "spark-class"
        return [str(spark_class), self.main_class, *self.daemon_args()]

    def prepare(self) -> None:
        jmx_exporter.register_target(
            self.cfg,
            type(self).name,
            self.http_port_name,
            instance=self.name,
            index=self.index,
            # the UI answers the servlet's path with a redirect to the path with a slash
            metrics_path=f"{self.metrics_path}/",
        )

    def env(self) -> dict[str, str]:
        sink = f"spark.metrics.conf.{self.metrics_instance}.sink.prometheusServlet"
        metrics = f"-D{sink}.class={PROMETHEUS_SERVLET} -D{sink}.path={self.metrics_path}"
        return {
            "SPARK_HOME": str(spark_home(self.cfg)),
            "SPARK_CONF_DIR": str(conf_dir(self.cfg)),
            "SPARK_DAEMON_MEMORY": self.cfg.memory[self.heap_key],
            "SPARK_DAEMON_JAVA_OPTS": metrics,
            "SPARK_LOCAL_IP": self.cfg.host,
            "SPARK_LOG_DIR": str(self.cfg.logs_dir),
            "SPARK_PID_DIR": str(self.cfg.run_dir),
        }


class SparkMaster(_SparkDaemon):
    name = "spark-master"
    port_names = ("spark_master", "spark_master_http")
    main_class = MASTER_CLASS
    heap_key = "spark_master"
    metrics_instance = "master"
    metrics_path = "/metrics/master/prometheus"
    http_port_name = "spark_master_http"

    def daemon_args(self) -> list[str]:
        return [
            "--host",
            self.cfg.host,
            "--port",
            str(self.port("spark_master")),
            "--webui-port",
            str(self.port("spark_master_http")),
        ]

    def healthy(self) -> bool:
        state = master_state(self.cfg)
        return state is not None and state.get("status") == "ALIVE"


class SparkWorker(_SparkDaemon):
    """A worker: registers with the master and starts executors for the applications."""

    name = "spark-worker"
    port_names = ("spark_worker", "spark_worker_http")
    main_class = WORKER_CLASS
    heap_key = "spark_worker"
    count_key = "spark_worker"
    metrics_instance = "worker"
    metrics_path = "/metrics/prometheus"
    http_port_name = "spark_worker_http"

    def prepare(self) -> None:
        super().prepare()
        if master_state(self.cfg) is None:
            raise StackError(
                f"the Spark master does not answer on {self.cfg.host}:"
                f"{self.cfg.port('spark_master_http')}; start it first: scripts/stack up "
                "spark-master"
            )

    def daemon_args(self) -> list[str]:
        return [
            "--host",
            self.cfg.host,
            "--port",
            str(self.port("spark_worker")),
            "--webui-port",
            str(self.port("spark_worker_http")),
            "--cores",
            self.cfg.spark.get("worker_cores", "1"),
            "--memory",
            self.cfg.memory["spark_executor"],
            "--work-dir",
            str(self.cfg.data(self.name)),
            f"spark://{self.cfg.host}:{self.cfg.port('spark_master')}",
        ]

    def healthy(self) -> bool:
        port = self.port("spark_worker")
        return any(w.get("port") == port for w in alive_workers(self.cfg))
