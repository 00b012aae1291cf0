"""The stack's HDFS exporter (python/soundlake/stack/hdfs_exporter.py) and its service
(services/hdfs_exporter.py): the NameNode's per-DataNode block reservations in Prometheus' text
format, a NameNode that does not answer as ``soundlake_hdfs_namenode_up 0``.

The parsing runs on answers recorded from the stack's NameNode (tests/data/namenode_*.json);
fake NameNodes on loopback stand for broken ones; the last test reads the stack's own NameNode.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from soundlake.stack import config, process
from soundlake.stack.cli import cmd_status
from soundlake.stack.hdfs_exporter import (
    DataNode,
    NameNodeError,
    Reading,
    exposition,
    parse_block_size,
    parse_live_nodes,
    parse_size,
    serve,
)
from soundlake.stack.services import all_services
from soundlake.stack.services.hdfs_exporter import HdfsExporter
from soundlake.stack.services.monitoring import Prometheus

if TYPE_CHECKING:
    from conftest import Endpoints

DATA = Path(__file__).resolve().parent / "data"
#: the NameNodeInfo bean of the single-node stack's NameNode, one DataNode, as /jmx answers
NAMENODE_INFO = (DATA / "namenode_info.json").read_text()
#: its /conf?name=dfs.blocksize answer (Accept: application/json)
BLOCK_SIZE_CONF = (DATA / "namenode_conf_blocksize.json").read_text()
RECORDED_DATANODE = DataNode(
    name="127.0.0.1:9866",
    blocks_scheduled=0,
    remaining_bytes=26105659392,
    capacity_bytes=270553174016,
    last_contact_seconds=0,
)
MODULE = [sys.executable, "-m", "soundlake.stack.hdfs_exporter"]


def with_live_nodes(live_nodes: object) -> str:
    """The recorded NameNodeInfo answer with `live_nodes` as its LiveNodes attribute."""
    answer = json.loads(NAMENODE_INFO)
    answer["beans"][0]["LiveNodes"] = live_nodes
    return json.dumps(answer)


def recorded_nodes() -> dict[str, dict[str, object]]:
    nodes: dict[str, dict[str, object]] = json.loads(
        json.loads(NAMENODE_INFO)["beans"][0]["LiveNodes"]
    )
    return nodes


def samples(text: str) -> dict[str, float]:
    """`metric{labels}` -> value of an exposition's samples."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def scrape(port: int, path: str = "/metrics") -> tuple[int, str]:
    answer = process.http_get(f"http://127.0.0.1:{port}{path}", timeout=10)
    assert answer is not None, f"nothing answers on 127.0.0.1:{port}"
    return answer


# -- parsing --------------------------------------------------------------------------------------


def test_the_recorded_namenode_info_gives_its_datanode() -> None:
    assert parse_live_nodes(NAMENODE_INFO) == [RECORDED_DATANODE]
    assert parse_block_size(BLOCK_SIZE_CONF) == 128 * 1024 * 1024


def test_datanodes_come_sorted_with_their_scheduled_blocks() -> None:
    node = recorded_nodes()["127.0.0.1:9866"]
    nodes = {
        "127.0.0.1:9868": {**node, "blockScheduled": 844, "remaining": 5, "lastContact": 7},
        "127.0.0.1:9866": node,
    }
    parsed = parse_live_nodes(with_live_nodes(json.dumps(nodes)))
    assert [n.name for n in parsed] == ["127.0.0.1:9866", "127.0.0.1:9868"]
    assert parsed[1] == dataclasses.replace(
        RECORDED_DATANODE,
        name="127.0.0.1:9868",
        blocks_scheduled=844,
        remaining_bytes=5,
        last_contact_seconds=7,
    )
    assert parse_live_nodes(with_live_nodes("{}")) == []


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("<html>503</html>", "the JMX answer is not JSON"),
        ('{"beans": []}', "has no bean Hadoop:service=NameNode,name=NameNodeInfo"),
        ("[1, 2]", "has no bean"),
        (with_live_nodes(None), "has no LiveNodes string"),
        (with_live_nodes({"dn": {}}), "has no LiveNodes string"),
        (with_live_nodes("{not json"), "LiveNodes is not JSON"),
        (with_live_nodes("[]"), "LiveNodes is not a JSON object"),
        (with_live_nodes('{"dn:1": 7}'), "DataNode dn:1: its entry is not a JSON object"),
        (with_live_nodes('{"dn:1": {"remaining": 1}}'), "DataNode dn:1: blockScheduled is None"),
        (
            with_live_nodes(
                json.dumps({"dn:1": {**recorded_nodes()["127.0.0.1:9866"], "remaining": "7"}})
            ),
            "DataNode dn:1: remaining is '7', not a whole number",
        ),
        (
            with_live_nodes(
                json.dumps({"dn:1": {**recorded_nodes()["127.0.0.1:9866"], "capacity": True}})
            ),
            "DataNode dn:1: capacity is True",
        ),
    ],
)
def test_a_malformed_namenode_info_is_a_clear_error(text: str, error: str) -> None:
    with pytest.raises(NameNodeError, match=re.escape(error)):
        parse_live_nodes(text)


@pytest.mark.parametrize(
    ("value", "size"),
    [("134217728", 134217728), ("128m", 134217728), (" 1G ", 1 << 30), ("64k", 65536)],
)
def test_hadoop_sizes(value: str, size: int) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("not json", "the /conf answer is not JSON"),
        ('{"property": {"key": "dfs.blocksize"}}', "holds no value of dfs.blocksize"),
        (
            '{"property": {"value": "128 megabytes"}}',
            "dfs.blocksize is '128 megabytes', not a size",
        ),
        ('{"property": {"value": "0"}}', "a block size must be positive"),
    ],
)
def test_a_malformed_block_size_is_a_clear_error(text: str, error: str) -> None:
    with pytest.raises(NameNodeError, match=re.escape(error)):
        parse_block_size(text)


# -- the exposition -------------------------------------------------------------------------------


def test_the_exposition_has_every_datanode_and_the_block_size() -> None:
    full = dataclasses.replace(
        RECORDED_DATANODE, name='odd"name\\', blocks_scheduled=844, last_contact_seconds=3
    )
    text = exposition(Reading(block_size_bytes=134217728, datanodes=[RECORDED_DATANODE, full]))
    dn = 'datanode="127.0.0.1:9866"'
    odd = 'datanode="odd\\"name\\\\"'
    assert samples(text) == {
        "soundlake_hdfs_namenode_up": 1,
        "soundlake_hdfs_block_size_bytes": 134217728,
        f"soundlake_hdfs_datanode_blocks_scheduled{{{dn}}}": 0,
        f"soundlake_hdfs_datanode_blocks_scheduled{{{odd}}}": 844,
        f"soundlake_hdfs_datanode_remaining_bytes{{{dn}}}": 26105659392,
        f"soundlake_hdfs_datanode_remaining_bytes{{{odd}}}": 26105659392,
        f"soundlake_hdfs_datanode_capacity_bytes{{{dn}}}": 270553174016,
        f"soundlake_hdfs_datanode_capacity_bytes{{{odd}}}": 270553174016,
        f"soundlake_hdfs_datanode_last_contact_seconds{{{dn}}}": 0,
        f"soundlake_hdfs_datanode_last_contact_seconds{{{odd}}}": 3,
    }
    # every metric is declared once, as a gauge
    declared = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    assert len(declared) == len(set(declared)) == 6
    assert all(line.endswith(" gauge") for line in text.splitlines() if line.startswith("# TYPE"))


def test_a_namenode_that_does_not_answer_is_up_0_and_nothing_else() -> None:
    assert samples(exposition(None)) == {"soundlake_hdfs_namenode_up": 0}


# -- the server, against fake NameNodes -------------------------------------------------------


class FakeNameNode(ThreadingHTTPServer):
    """Answers /jmx and /conf with fixed bodies (or an HTTP error status)."""

    def __init__(self, jmx: str, conf: str, status: int = 200) -> None:
        super().__init__(("127.0.0.1", 0), _FakeHandler)
        self.jmx, self.conf, self.status = jmx, conf, status
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _FakeHandler(BaseHTTPRequestHandler):
    server: FakeNameNode

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        path = urllib.parse.urlsplit(self.path).path
        body = (self.server.jmx if path == "/jmx" else self.server.conf).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def fake_namenode(request: pytest.FixtureRequest) -> Iterator[FakeNameNode]:
    jmx, conf, status = getattr(request, "param", (NAMENODE_INFO, BLOCK_SIZE_CONF, 200))
    server = FakeNameNode(jmx, conf, status)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_a_scrape_reads_the_namenode(fake_namenode: FakeNameNode) -> None:
    exporter = serve("127.0.0.1", 0, fake_namenode.url)
    try:
        port = exporter.server_address[1]
        status, text = scrape(port)
        assert status == 200
        assert samples(text) == samples(
            exposition(Reading(block_size_bytes=134217728, datanodes=[RECORDED_DATANODE]))
        )
        assert set(fake_namenode.paths) == {
            "/jmx?qry=Hadoop%3Aservice%3DNameNode%2Cname%3DNameNodeInfo",
            "/conf?name=dfs.blocksize",
        }
        assert scrape(port, "/")[0] == 404
    finally:
        exporter.shutdown()
        exporter.server_close()


@pytest.mark.parametrize(
    "fake_namenode",
    [
        ("<html>starting</html>", BLOCK_SIZE_CONF, 200),
        (NAMENODE_INFO, '{"property": {"value": "lots"}}', 200),
        (NAMENODE_INFO, BLOCK_SIZE_CONF, 500),
    ],
    indirect=True,
    ids=["jmx not json", "bad block size", "http 500"],
)
def test_a_broken_namenode_is_up_0_not_an_error(
    fake_namenode: FakeNameNode, capsys: pytest.CaptureFixture[str]
) -> None:
    exporter = serve("127.0.0.1", 0, fake_namenode.url)
    try:
        port = exporter.server_address[1]
        for _ in range(3):
            status, text = scrape(port)
            assert status == 200
            assert samples(text) == {"soundlake_hdfs_namenode_up": 0}
        # why, once: not a line per scrape
        logged = capsys.readouterr().err.splitlines()
        assert len(logged) == 1 and logged[0].startswith(f"NameNode {fake_namenode.url}: ")
        fake_namenode.jmx, fake_namenode.conf, fake_namenode.status = (
            NAMENODE_INFO,
            BLOCK_SIZE_CONF,
            200,
        )
        assert samples(scrape(port)[1])["soundlake_hdfs_namenode_up"] == 1
        assert capsys.readouterr().err == f"NameNode {fake_namenode.url} answers again\n"
    finally:
        exporter.shutdown()
        exporter.server_close()


def test_no_namenode_at_all_is_up_0() -> None:
    exporter = serve("127.0.0.1", 0, f"http://127.0.0.1:{process.free_port()}", timeout=2)
    try:
        status, text = scrape(exporter.server_address[1])
        assert status == 200
        assert samples(text) == {"soundlake_hdfs_namenode_up": 0}
    finally:
        exporter.shutdown()
        exporter.server_close()


# -- the command line -------------------------------------------------------------------------


def test_help_and_bad_arguments() -> None:
    shown = subprocess.run([*MODULE, "--help"], capture_output=True, text=True, check=False)
    assert shown.returncode == 0 and "--namenode" in shown.stdout
    bad = subprocess.run(
        [*MODULE, "--namenode", "127.0.0.1:9870", "--port", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "--namenode must be an http:// URL, got '127.0.0.1:9870'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_taken_port_is_a_clear_error(fake_namenode: FakeNameNode) -> None:
    taken = fake_namenode.server_address[1]
    run = subprocess.run(
        [*MODULE, "--namenode", fake_namenode.url, "--port", str(taken)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert run.returncode == 1
    assert run.stderr.startswith(f"error: cannot listen on 127.0.0.1:{taken}: ")
    assert "Traceback" not in run.stderr


# -- the stack's service --------------------------------------------------------------------------


def test_the_service_reads_its_profiles_namenode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(config.PROFILE_ENV, raising=False)
    for profile in (None, "cluster"):
        cfg = config.load(profile=profile)
        (svc,) = [s for s in all_services(cfg) if isinstance(s, HdfsExporter)]
        assert svc.name == "hdfs-exporter"
        argv = svc.command()
        assert f"--namenode=http://{cfg.host}:{cfg.port('hdfs_namenode_http')}" in argv
        assert f"--port={cfg.port('hdfs_exporter')}" in argv
    assert config.load(profile=None).port("hdfs_exporter") != config.load(profile="cluster").port(
        "hdfs_exporter"
    )


@pytest.mark.parametrize("profile", [None, "cluster"])
def test_the_local_prometheus_scrapes_it(
    profile: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(config.PROFILE_ENV, raising=False)
    cfg = dataclasses.replace(config.load(profile=profile), dir=tmp_path / "stack")
    prometheus = Prometheus(cfg)
    prometheus.prepare()  # renders prometheus.local.yml, checked by promtool
    jobs = yaml.safe_load(prometheus.config_file.read_text())["scrape_configs"]
    (job,) = [j for j in jobs if j["job_name"] == "hdfs-exporter"]
    assert job["static_configs"] == [{"targets": [f"{cfg.host}:{cfg.port('hdfs_exporter')}"]}]


def test_the_service_starts_reports_and_stops(
    tmp_path: Path, fake_namenode: FakeNameNode, capsys: pytest.CaptureFixture[str]
) -> None:
    namenode_port = fake_namenode.server_address[1]
    cfg = dataclasses.replace(
        config.load(profile=None),
        dir=tmp_path / "stack",
        ports={
            **config.load(profile=None).ports,
            "hdfs_exporter": process.free_port(),
            "hdfs_namenode_http": namenode_port,
        },
    )
    svc = HdfsExporter(cfg)
    assert not svc.healthy()
    assert svc.up() == "started"
    try:
        record = process.read_pidfile(svc.pidfile)
        assert record is not None and process.is_alive(record)
        assert svc.healthy()
        status, text = scrape(cfg.port("hdfs_exporter"))
        assert status == 200 and samples(text)["soundlake_hdfs_namenode_up"] == 1
        assert svc.up() == "already running"
        capsys.readouterr()
        assert cmd_status([svc]) == 0
        assert "hdfs-exporter" in capsys.readouterr().out
    finally:
        assert svc.down()
    assert record is not None and not process.is_alive(record)
    assert not svc.healthy()


# -- against the stack's NameNode -------------------------------------------------------------


def _live_nodes(url: str) -> dict[str, tuple[int, int, int]]:
    """Each DataNode's (blockScheduled, remaining, capacity), read from the NameNode directly."""
    answer = process.http_get(f"{url}/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo")
    assert answer is not None and answer[0] == 200, f"{url}/jmx: {answer}"
    nodes = json.loads(json.loads(answer[1])["beans"][0]["LiveNodes"])
    return {n: (v["blockScheduled"], v["remaining"], v["capacity"]) for n, v in nodes.items()}


def test_the_exporter_serves_what_the_stacks_namenode_says(stack: Endpoints) -> None:
    cfg = config.load(profile=None)
    namenode = f"http://{cfg.host}:{cfg.port('hdfs_namenode_http')}"
    port = process.free_port()
    exporter = subprocess.Popen(
        [*MODULE, "--namenode", namenode, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not process.port_open("127.0.0.1", port):
            assert exporter.poll() is None, exporter.communicate()[1]
            assert time.monotonic() < deadline, "the exporter did not listen within 30 s"
            time.sleep(0.1)
        # the DataNodes' numbers move while the lake is written: compare a scrape with the
        # NameNode's own answers just before and after it, until they agree
        for _attempt in range(10):
            before = _live_nodes(namenode)
            status, text = scrape(port)
            after = _live_nodes(namenode)
            if before == after:
                break
        assert status == 200
        served = samples(text)
        assert served["soundlake_hdfs_namenode_up"] == 1
        assert served["soundlake_hdfs_block_size_bytes"] == 128 * 1024 * 1024  # Hadoop's default
        assert before, "the stack's NameNode counts no live DataNode"
        for name in before.keys() | after.keys():
            label = f'{{datanode="{name}"}}'
            got = (
                served[f"soundlake_hdfs_datanode_blocks_scheduled{label}"],
                served[f"soundlake_hdfs_datanode_remaining_bytes{label}"],
                served[f"soundlake_hdfs_datanode_capacity_bytes{label}"],
            )
            low = tuple(map(min, before[name], after[name]))
            high = tuple(map(max, before[name], after[name]))
            assert all(lo <= g <= hi for lo, g, hi in zip(low, got, high, strict=True)), (
                f"{name}: served {got}, the NameNode said {before[name]} then {after[name]}"
            )
        datanodes = {k for k in served if k.startswith("soundlake_hdfs_datanode_capacity_bytes")}
        assert len(datanodes) == len(before.keys() | after.keys())
    finally:
        exporter.terminate()
        exporter.wait(timeout=30)
