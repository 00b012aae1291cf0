"""The built soundlake_udfs wheel in a fresh virtual environment (no system site-packages,
no pyspark): ``pip install dist/soundlake_udfs-*.whl`` pulls pyarrow from PyPI (pip's cache
makes it quick after the first run), then the Arrow namespace works without Spark.

Slow-ish (≈ 10-40 s: a venv and a pip install); needs the wheel that ``scripts/setup-python``
builds into dist/, and PyPI or pip's cache for pyarrow. Needs no stack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
PYTHON = os.environ.get("SOUNDLAKE_PYTHON", "python3.11")
PIP_TIMEOUT_S = 300

# Run inside the fresh venv: the Arrow namespace, with no pyspark importable.
PROBE = """
import importlib.util, json
import pyarrow as pa
import soundlake_udfs
from soundlake_udfs import arrow
names = arrow.normalize_name(pa.array(["The Beatles", "Beyoncé", None, "  Sigur  Rós!! "]))
cells = arrow.h3_cell(pa.array([40.7128]), pa.array([-74.0060]), pa.array([7]))
agent = arrow.parse_user_agent(pa.array([
    '"Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) '
    'Chrome/36.0.1985.143 Safari/537.36"'
]))
print(json.dumps({
    "version": soundlake_udfs.__version__,
    "native_version": soundlake_udfs.native_version(),
    "pyspark": importlib.util.find_spec("pyspark") is not None,
    "normalize_name": names.to_pylist(),
    "h3_cell": cells.to_pylist(),
    "agent": agent.to_pylist()[0],
}))
"""


def newest_wheel() -> Path:
    wheels = sorted(DIST.glob("soundlake_udfs-*.whl"), key=lambda p: p.stat().st_mtime)
    if not wheels:
        pytest.fail(f"no soundlake_udfs wheel in {DIST}: build it with scripts/setup-python")
    return wheels[-1]


def run(command: list[str], env: dict[str, str], timeout: float) -> str:
    """Run ``command``; return its stdout, or fail the test with its output."""
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def clean_env() -> dict[str, str]:
    """This process's environment without what would leak the project's venv or a
    machine-wide wheel folder into the fresh one."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PIP_FIND_LINKS", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def test_wheel_installs_and_works_in_a_fresh_venv(tmp_path: Path) -> None:
    wheel = newest_wheel()
    env = clean_env()
    venv = tmp_path / "venv"
    run([PYTHON, "-m", "venv", str(venv)], env, timeout=120)
    python = str(venv / "bin" / "python")
    assert run([python, "-c", "import sys; print(sys.prefix != sys.base_prefix)"], env, 60).strip()
    run(
        [python, "-m", "pip", "install", "--progress-bar", "off", "-q", str(wheel)],
        env,
        timeout=PIP_TIMEOUT_S,
    )

    result = json.loads(run([python, "-c", PROBE], env, timeout=120))

    assert result["pyspark"] is False, "the fresh venv must not have pyspark"
    assert result["version"] == result["native_version"] == wheel.name.split("-")[1]
    assert result["normalize_name"] == ["beatles", "beyonce", None, "sigur ros"]
    assert result["h3_cell"] == [0x872A1072CFFFFFF]
    assert result["agent"]["browser"] == "Chrome"
    assert result["agent"]["os"] == "Windows"
    assert result["agent"]["device_type"] == "desktop"


def test_spark_parts_need_pyspark_only_when_used(tmp_path: Path) -> None:
    """``import soundlake_udfs`` loads no pyspark (checked in the project's venv, which has
    it): the Spark façade imports pyspark lazily, inside the functions that need it."""
    probe = "import sys, soundlake_udfs; print('pyspark' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "False"
