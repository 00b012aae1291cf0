"""A Spark Thrift Server (HiveServer2 protocol) whose session has the Rust UDFs registered.

dbt's ``thrift`` target (dbt-spark with PyHive) and any JDBC/ODBC client connect to it; SQL such
as ``SELECT normalize_name(artist)`` resolves because the server runs in the session that
``soundlake.spark.session.build_session`` created and registered the UDFs in.

Spark's Thrift server gives every connection a new session by default, and a new session does
not see the functions registered in the first one (Python UDFs cannot be permanent functions).
So this server runs with ``spark.sql.hive.thriftServer.singleSession=true``: every connection
shares the session, its UDFs, its current database and its temporary views.

Runs until SIGTERM or SIGINT (the local stack's ``spark-thrift`` service), then stops the server
and the session. Exits 1 when the port does not open within ``--start-timeout`` seconds.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType

from soundlake.jobs.common import build_session, log, setup_logging
from soundlake.stack.process import port_open


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="thrift_server",
        description="Start a Spark Thrift Server (HiveServer2 protocol) in a session with "
        "Soundlake's Rust UDFs registered; stays up until SIGTERM/SIGINT. Spark settings "
        "(metastore, warehouse, HDFS) come from the environment, as for soundlake-dbt.",
    )
    parser.add_argument(
        "--host",
        default=os.environ.get("SOUNDLAKE_SPARK_THRIFT_HOST", "127.0.0.1"),
        help="address to listen on (env SOUNDLAKE_SPARK_THRIFT_HOST; default %(default)s)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("SOUNDLAKE_SPARK_THRIFT_PORT", "10000")),
        help="port to listen on (env SOUNDLAKE_SPARK_THRIFT_PORT; default %(default)s)",
    )
    parser.add_argument(
        "--driver-memory",
        default=os.environ.get("SOUNDLAKE_SPARK_THRIFT_MEMORY", "1g"),
        help="driver heap (env SOUNDLAKE_SPARK_THRIFT_MEMORY; default %(default)s)",
    )
    parser.add_argument(
        "--ui-port",
        type=int,
        default=int(os.environ.get("SOUNDLAKE_SPARK_THRIFT_UI_PORT", "0")),
        help="Spark UI port; 0 disables the UI (env SOUNDLAKE_SPARK_THRIFT_UI_PORT; default 0)",
    )
    parser.add_argument(
        "--driver-java-options",
        default=os.environ.get("SOUNDLAKE_SPARK_THRIFT_JAVA_OPTIONS", ""),
        help="JVM options of the driver, e.g. a -javaagent: the local stack attaches the "
        "Prometheus JMX exporter (env SOUNDLAKE_SPARK_THRIFT_JAVA_OPTIONS; default none)",
    )
    parser.add_argument(
        "--start-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for the port to open (default %(default)s)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    if port_open(args.host, args.port):
        print(
            f"error: {args.host}:{args.port} is already taken; stop that process or pass --port",
            file=sys.stderr,
        )
        return 1
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping the Thrift server", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    conf = {
        "spark.driver.memory": args.driver_memory,
        "spark.sql.hive.thriftServer.singleSession": "true",
        "spark.hadoop.hive.server2.thrift.bind.host": args.host,
        "spark.hadoop.hive.server2.thrift.port": str(args.port),
        "spark.hadoop.hive.server2.transport.mode": "binary",
        # Each statement runs in the call that submits it, so it has finished when the client
        # first asks. dbt-spark submits and then polls, sleeping its whole-second poll_interval
        # while a statement runs: with background execution nearly every statement of a build
        # waited that long (docs/benchmarks.md, dbt section).
        "spark.sql.hive.thriftServer.async": "false",
        "spark.ui.enabled": "true" if args.ui_port else "false",
        # Spark's own metrics (scheduler, block manager, jobs and stages by outcome) as MBeans
        # named metrics:name=soundlake.driver.<source>.<metric>, for a JMX exporter agent
        "spark.metrics.conf.*.sink.jmx.class": "org.apache.spark.metrics.sink.JmxSink",
        "spark.metrics.namespace": "soundlake",
        "spark.metrics.appStatusSource.enabled": "true",
    }
    if args.driver_java_options:
        conf["spark.driver.extraJavaOptions"] = args.driver_java_options
    if args.ui_port:
        conf["spark.ui.port"] = str(args.ui_port)
    log.info("starting a Spark session (catalog, lake settings, UDFs)")
    spark = build_session("soundlake-thrift-server", catalog=True, extra_conf=conf)
    jvm = spark.sparkContext._jvm
    if jvm is None:
        print("error: the Spark session has no JVM", file=sys.stderr)
        return 1
    server_class = jvm.org.apache.spark.sql.hive.thriftserver.HiveThriftServer2
    # exitOnError=false: a failure must not System.exit the JVM under us; we check the port
    server = server_class.startWithSparkSession(spark._jsparkSession, False)
    deadline = time.monotonic() + args.start_timeout
    while not port_open(args.host, args.port):
        if stop.is_set() or time.monotonic() > deadline:
            print(
                f"error: the Thrift server did not open {args.host}:{args.port} within "
                f"{args.start_timeout:.0f}s; see the log above",
                file=sys.stderr,
            )
            server.stop()
            spark.stop()
            return 1
        time.sleep(0.2)
    log.info("Spark Thrift Server listening on %s:%d", args.host, args.port)
    print(f"listening on {args.host}:{args.port}", flush=True)
    while not stop.wait(1.0):
        pass
    server.stop()
    spark.stop()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
