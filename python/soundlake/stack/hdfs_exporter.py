"""The HDFS NameNode's per-DataNode block reservations, for Prometheus.

A DataNode takes a new block only while its remaining space, minus one block size for every
block the NameNode has *scheduled* on it (handed to a writer, not yet reported written), is at
least one block. A writer that dies or drops a file without closing it leaves its block
scheduled; the NameNode forgets such reservations only when its counters roll (every 10
minutes, two generations kept). Those numbers are in the NameNode's JMX bean
``Hadoop:service=NameNode,name=NameNodeInfo``, attribute ``LiveNodes``: a JSON document inside
a string, which the JMX exporter agent (ops/jmx/hadoop.yml) cannot read. This exporter reads it
and the NameNode's ``dfs.blocksize`` (its ``/conf`` servlet) on every scrape and serves, on
``/metrics``:

    soundlake_hdfs_namenode_up                            1, or 0 when the NameNode does not answer
    soundlake_hdfs_block_size_bytes                       dfs.blocksize, the default block size
    soundlake_hdfs_datanode_blocks_scheduled{datanode}    blocks reserved for writers
    soundlake_hdfs_datanode_remaining_bytes{datanode}     free space for blocks
    soundlake_hdfs_datanode_capacity_bytes{datanode}      configured capacity
    soundlake_hdfs_datanode_last_contact_seconds{datanode}  since the DataNode's last heartbeat

``datanode`` is the DataNode's transfer address (host:port), as the NameNode names it. The stack
runs it as the service ``hdfs-exporter`` (services/hdfs_exporter.py); the alert rules that read
it: ops/prometheus/alerts/storage.rules.yml.

    python -m soundlake.stack.hdfs_exporter --namenode http://127.0.0.1:9870 --port 9101
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAMENODE_INFO_BEAN = "Hadoop:service=NameNode,name=NameNodeInfo"
BLOCK_SIZE_KEY = "dfs.blocksize"
DEFAULT_TIMEOUT_S = 5.0
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: the metric every answer holds, whether the NameNode answered or not
UP_METRIC = "soundlake_hdfs_namenode_up"

#: Hadoop's size suffixes (Configuration.getLongBytes): binary multiples
_SIZE_SUFFIXES = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_SIZE = re.compile(r"\s*(\d+)\s*([kmgtp]?)\s*", re.IGNORECASE)


class NameNodeError(Exception):
    """The NameNode did not answer, or answered something this exporter cannot read."""


@dataclass(frozen=True)
class DataNode:
    """One live DataNode as the NameNode sees it."""

    name: str  # its transfer address, the key of LiveNodes
    blocks_scheduled: int
    remaining_bytes: int
    capacity_bytes: int
    last_contact_seconds: int


@dataclass(frozen=True)
class Reading:
    """What one scrape read from the NameNode."""

    block_size_bytes: int
    datanodes: list[DataNode]


# -- parsing ------------------------------------------------------------------------------------


def _number(node: str, fields: dict[str, object], key: str) -> int:
    value = fields.get(key)
    # bool is an int in Python: a `true` in the JSON is not a count
    if not isinstance(value, int) or isinstance(value, bool):
        raise NameNodeError(f"DataNode {node}: {key} is {value!r}, not a whole number")
    return value


def parse_live_nodes(text: str) -> list[DataNode]:
    """The DataNodes of a NameNodeInfo answer (the JMX servlet's JSON), sorted by name."""
    try:
        answer = json.loads(text)
    except json.JSONDecodeError as err:
        raise NameNodeError(f"the JMX answer is not JSON ({err})") from None
    beans = answer.get("beans") if isinstance(answer, dict) else None
    if not isinstance(beans, list) or not beans or not isinstance(beans[0], dict):
        raise NameNodeError(f"the JMX answer has no bean {NAMENODE_INFO_BEAN}")
    live = beans[0].get("LiveNodes")
    if not isinstance(live, str):
        raise NameNodeError(f"{NAMENODE_INFO_BEAN} has no LiveNodes string (got {live!r:.80})")
    try:
        nodes = json.loads(live)
    except json.JSONDecodeError as err:
        raise NameNodeError(f"LiveNodes is not JSON ({err})") from None
    if not isinstance(nodes, dict):
        raise NameNodeError(f"LiveNodes is not a JSON object (got {type(nodes).__name__})")
    datanodes = []
    for name, fields in sorted(nodes.items()):
        if not isinstance(fields, dict):
            raise NameNodeError(f"DataNode {name}: its entry is not a JSON object")
        datanodes.append(
            DataNode(
                name=name,
                blocks_scheduled=_number(name, fields, "blockScheduled"),
                remaining_bytes=_number(name, fields, "remaining"),
                capacity_bytes=_number(name, fields, "capacity"),
                last_contact_seconds=_number(name, fields, "lastContact"),
            )
        )
    return datanodes


def parse_size(value: str) -> int:
    """A Hadoop size setting (``134217728``, ``128m``, ``1g``) in bytes."""
    match = _SIZE.fullmatch(value)
    if match is None:
        raise NameNodeError(f"{BLOCK_SIZE_KEY} is {value!r}, not a size such as 134217728 or 128m")
    return int(match[1]) * _SIZE_SUFFIXES[match[2].lower()]


def parse_block_size(text: str) -> int:
    """dfs.blocksize from the NameNode's ``/conf?name=dfs.blocksize`` answer (JSON)."""
    try:
        answer = json.loads(text)
    except json.JSONDecodeError as err:
        raise NameNodeError(f"the /conf answer is not JSON ({err})") from None
    prop = answer.get("property") if isinstance(answer, dict) else None
    value = prop.get("value") if isinstance(prop, dict) else None
    if not isinstance(value, str):
        raise NameNodeError(f"the /conf answer holds no value of {BLOCK_SIZE_KEY}")
    size = parse_size(value)
    if size <= 0:
        raise NameNodeError(f"{BLOCK_SIZE_KEY} is {value!r}: a block size must be positive")
    return size


# -- reading the NameNode -----------------------------------------------------------------------


def _get(url: str, timeout: float) -> str:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body: bytes = response.read()
    except urllib.error.HTTPError as err:
        raise NameNodeError(f"GET {url} answered HTTP {err.code}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", err)
        raise NameNodeError(f"GET {url} failed: {reason}") from None
    return body.decode("utf-8", "replace")


def read(namenode: str, timeout: float = DEFAULT_TIMEOUT_S) -> Reading:
    """The block size and the live DataNodes of the NameNode whose web address is `namenode`."""
    base = namenode.rstrip("/")
    info = _get(f"{base}/jmx?{urllib.parse.urlencode({'qry': NAMENODE_INFO_BEAN})}", timeout)
    conf = _get(f"{base}/conf?{urllib.parse.urlencode({'name': BLOCK_SIZE_KEY})}", timeout)
    return Reading(block_size_bytes=parse_block_size(conf), datanodes=parse_live_nodes(info))


# -- the exposition -----------------------------------------------------------------------------

_PER_DATANODE = (
    ("blocks_scheduled", "Blocks the NameNode has scheduled on the DataNode for writers."),
    ("remaining_bytes", "The DataNode's free space for blocks."),
    ("capacity_bytes", "The DataNode's configured capacity."),
    ("last_contact_seconds", "Seconds since the DataNode's last heartbeat."),
)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _gauge(name: str, text: str) -> list[str]:
    return [f"# HELP {name} {text}", f"# TYPE {name} gauge"]


def exposition(reading: Reading | None) -> str:
    """The metrics in Prometheus' text format; `None`: the NameNode did not answer (up 0)."""
    lines = _gauge(UP_METRIC, "1 when the NameNode's JMX and /conf answered this scrape, else 0.")
    lines.append(f"{UP_METRIC} {0 if reading is None else 1}")
    if reading is None:
        return "\n".join(lines) + "\n"
    block_size = "soundlake_hdfs_block_size_bytes"
    lines += _gauge(block_size, "The NameNode's dfs.blocksize, the default block size.")
    lines.append(f"{block_size} {reading.block_size_bytes}")
    for field, text in _PER_DATANODE:
        metric = f"soundlake_hdfs_datanode_{field}"
        lines += _gauge(metric, text)
        lines += [
            f'{metric}{{datanode="{_label(node.name)}"}} {getattr(node, field)}'
            for node in reading.datanodes
        ]
    return "\n".join(lines) + "\n"


# -- the server ---------------------------------------------------------------------------------


class ExporterServer(ThreadingHTTPServer):
    """Serves /metrics, reading the NameNode at `namenode` on every scrape."""

    def __init__(self, address: tuple[str, int], namenode: str, timeout: float) -> None:
        super().__init__(address, _Handler)
        self.namenode = namenode
        self.timeout_s = timeout
        self._last_error: str | None = None
        self._lock = threading.Lock()

    def scrape(self) -> str:
        try:
            reading: Reading | None = read(self.namenode, self.timeout_s)
            error = None
        except NameNodeError as err:
            reading, error = None, str(err)
        self._log_change(error)
        return exposition(reading)

    def _log_change(self, error: str | None) -> None:
        """One log line when the NameNode stops answering (with why) and one when it is back,
        not one per scrape."""
        with self._lock:
            if error != self._last_error:
                if error is not None:
                    print(f"NameNode {self.namenode}: {error}", file=sys.stderr, flush=True)
                else:
                    print(f"NameNode {self.namenode} answers again", file=sys.stderr, flush=True)
            self._last_error = error


class _Handler(BaseHTTPRequestHandler):
    server: ExporterServer

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/metrics":
            self.send_error(404, "only /metrics is served here")
            return
        body = self.server.scrape().encode()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # one scrape every few seconds: no access log


def serve(
    host: str, port: int, namenode: str, timeout: float = DEFAULT_TIMEOUT_S
) -> ExporterServer:
    """Serve /metrics on host:port from a daemon thread; ``shutdown()`` stops it."""
    server = ExporterServer((host, port), namenode, timeout)
    threading.Thread(target=server.serve_forever, name="hdfs-exporter", daemon=True).start()
    return server


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m soundlake.stack.hdfs_exporter",
        description=(
            "Serve the HDFS NameNode's per-DataNode block reservations (blocks scheduled, "
            "remaining space, capacity) and its dfs.blocksize on /metrics for Prometheus, read "
            "from the NameNode's web interface on every scrape. A NameNode that does not "
            "answer is soundlake_hdfs_namenode_up 0, not an error."
        ),
    )
    parser.add_argument(
        "--namenode",
        required=True,
        metavar="URL",
        help="the NameNode's web address, e.g. http://127.0.0.1:9870",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"how long one request to the NameNode may take (default {DEFAULT_TIMEOUT_S:g})",
    )
    args = parser.parse_args(argv)
    if urllib.parse.urlsplit(args.namenode).scheme not in ("http", "https"):
        parser.error(f"--namenode must be an http:// URL, got {args.namenode!r}")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    try:
        server = ExporterServer((args.host, args.port), args.namenode, args.timeout)
    except OSError as err:
        print(f"error: cannot listen on {args.host}:{args.port}: {err.strerror}", file=sys.stderr)
        return 1
    print(
        f"serving http://{args.host}:{args.port}/metrics for the NameNode {args.namenode}",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
