"""notebooks/soundlake_udfs.ipynb run top to bottom by nbclient, in a kernel on this venv, on
bronze listen events this test writes to its own HDFS folder of the stack."""

from __future__ import annotations

import ast
import io
import json
import sys
from pathlib import Path

import nbclient
import nbformat
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import HdfsDir, http_request

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "soundlake_udfs.ipynb"
KERNEL = "soundlake-test-venv"

SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 "
    "(KHTML, like Gecko) Version/7.0 Mobile/11D257 Safari/9537.53"
)
FIREFOX_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.9; rv:31.0) Gecko/20100101 Firefox/31.0"
HOUR_MS = 1_793_527_200_000  # 2026-11-01 10:00 UTC
# (minutes after 10:00, userId, auth, level, lat, lon, zip, state, userAgent, artist); the last
# row but one has a latitude out of range and no zip code.
ROWS = [
    (0, "17", "Logged In", "paid", 40.7128, -74.0060, "10001", "NY", FIREFOX_MAC, "The Beatles"),
    (4, "17", "Logged In", "paid", 40.7128, -74.0060, "10001", "NY", FIREFOX_MAC, "Beyoncé"),
    (50, "17", "Logged In", "paid", 40.7128, -74.0060, "10001", "NY", FIREFOX_MAC, "Sigur Rós"),
    (1, "42", "Logged In", "free", 34.0522, -118.2437, "90012", "CA", SAFARI_IPHONE, "Motörhead"),
    (3, "42", "Logged In", "free", 95.0, -118.2437, None, "CA", SAFARI_IPHONE, "Motörhead"),
    (5, "42", "Logged In", "free", 34.0522, -118.2437, "90012", "CA", None, None),
]


def bronze_file() -> bytes:
    columns = list(zip(*ROWS, strict=True))
    table = pa.table(
        {
            "ts": pa.array([HOUR_MS + m * 60_000 for m in columns[0]], pa.int64()),
            "userId": pa.array(columns[1], pa.string()),
            "auth": pa.array(columns[2], pa.string()),
            "level": pa.array(columns[3], pa.string()),
            "lat": pa.array(columns[4], pa.float64()),
            "lon": pa.array(columns[5], pa.float64()),
            "zip": pa.array(columns[6], pa.string()),
            "state": pa.array(columns[7], pa.string()),
            "userAgent": pa.array(columns[8], pa.string()),
            "artist": pa.array(columns[9], pa.string()),
        }
    )
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def hdfs_put(folder: HdfsDir, relative: str, data: bytes) -> None:
    """Write a file through WebHDFS: the NameNode names the DataNode, which takes the bytes."""
    answer = json.loads(
        folder.webhdfs(relative, "CREATE", method="PUT", noredirect="true", overwrite="true")
    )
    http_request(answer["Location"], method="PUT", data=data)


def kernel_spec(home: Path, env: dict[str, str]) -> Path:
    """A kernel spec that runs this interpreter (the venv's) with ``env``; returns its root."""
    spec = home / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    body = {"argv": argv, "display_name": KERNEL, "language": "python", "env": env}
    (spec / "kernel.json").write_text(json.dumps(body))
    return home


def tagged_output(notebook: nbformat.NotebookNode, tag: str) -> str:
    """The text/plain result of the cell tagged ``tag``."""
    for cell in notebook.cells:
        if tag in cell.get("metadata", {}).get("tags", []):
            for output in cell.outputs:
                if output.output_type == "execute_result":
                    return str(output.data["text/plain"])
    raise AssertionError(f"no cell tagged {tag} with a result")


def test_the_committed_notebook_has_no_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_the_notebook_runs_on_bronze_and_without_spark(
    hdfs_dir: HdfsDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hdfs_put(
        hdfs_dir,
        "lake/bronze/listen_events/event_date=2026-11-01/hour=10/part-0.parquet",
        bronze_file(),
    )
    env = {
        "SOUNDLAKE_LAKE_URL": hdfs_dir.url_of("lake"),
        "SOUNDLAKE_HDFS_URL": hdfs_dir.hdfs_url,
        "SOUNDLAKE_SPARK_METASTORE_URL": (
            f"jdbc:derby:;databaseName={tmp_path / 'metastore'};create=true"
        ),
        "SOUNDLAKE_SPARK_WAREHOUSE": str(tmp_path / "warehouse"),
        "SOUNDLAKE_SPARK_LOCAL_DIR": str(tmp_path / "local"),
        "SOUNDLAKE_SPARK_DRIVER_MEMORY": "1g",
        "SOUNDLAKE_SPARK_MASTER": "local[1]",
    }
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_spec(tmp_path / "jupyter", env)))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name=KERNEL,
        timeout=600,
        resources={"metadata": {"path": str(ROOT)}},
    )
    client.execute()

    assert ast.literal_eval(tagged_output(notebook, "registered")) == [
        "event_problems",
        "h3_cell",
        "normalize_name",
        "parse_user_agent",
    ]
    assert tagged_output(notebook, "bronze-count") == str(len(ROWS))
    assert ast.literal_eval(tagged_output(notebook, "artist-keys")) == {
        "Beyoncé": "beyonce",
        "Motörhead": "motorhead",
        "Sigur Rós": "sigur ros",
        "The Beatles": "beatles",
    }
    assert ast.literal_eval(tagged_output(notebook, "problem-counts")) == (1, 5)
    assert ast.literal_eval(tagged_output(notebook, "sessions")) == {"17": 2, "42": 1}
    assert ast.literal_eval(tagged_output(notebook, "arrow-names")) == [
        "beatles",
        "beyonce",
        "motley crue",
        "ac dc",
        "",
        None,
    ]
    assert tagged_output(notebook, "arrow-scalar") == "<pyarrow.Int64Scalar: 608725951840255999>"
