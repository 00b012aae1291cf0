"""The installed console scripts: `soundlake` and its subcommands, and the bash wrappers that
call it. Needs no stack (only `--help`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from soundlake import cli

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SUBCOMMANDS = (
    "generate",
    "land",
    "dbt",
    "load",
    "report",
    "metabase-provision",
    "stack",
    "kafka",
    "hdfs",
)
# The subcommands that run another installed program, and a line of that program's own help.
RUNS = {
    "generate": "Usage: eventsim ",
    "land": "Usage: soundlake-ingest ",
    "dbt": "usage: soundlake-dbt ",
    "load": "Usage: soundlake-loader ",
}


def run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=60, check=False
    )


def test_soundlake_help_lists_every_subcommand() -> None:
    shown = run(BIN / "soundlake", "--help")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("usage: soundlake ")
    for name in SUBCOMMANDS:
        assert f"\n  {name} " in shown.stdout


def test_soundlake_without_or_with_an_unknown_subcommand_fails_with_the_usage() -> None:
    for argv in ([], ["no-such-command"]):
        shown = run(BIN / "soundlake", *argv)
        assert shown.returncode == 2
        assert shown.stderr.startswith("usage: soundlake ")


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_each_subcommand_has_help(name: str) -> None:
    shown = run(BIN / "soundlake", name, "--help")
    assert shown.returncode == 0, shown.stderr
    assert "usage:" in shown.stdout.lower()


@pytest.mark.parametrize(("name", "usage"), RUNS.items())
def test_each_runner_shows_the_help_of_what_it_runs(name: str, usage: str) -> None:
    shown = run(BIN / "soundlake", name, "--help")
    assert shown.returncode == 0, shown.stderr
    assert f"\n{usage}" in f"\n{shown.stdout}"


def test_a_missing_binary_names_itself_and_the_command_that_installs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The binaries are found in the venv's bin/, then on PATH: an empty bin/ and PATH hold none.
    monkeypatch.setattr(cli, "VENV_BIN", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert cli.main(["land", "--help"]) == 127
    error = capsys.readouterr().err
    assert "the `soundlake-ingest` binary is not installed" in error
    assert str(tmp_path) in error
    assert "run scripts/setup" in error


@pytest.mark.parametrize(
    ("wrapper", "expected"),
    [
        ("stack", "usage: soundlake stack"),
        ("kafka", "usage: scripts/kafka TOOL"),
        ("hdfs", "usage: scripts/hdfs TOOL"),
        ("soundlake", "usage: soundlake "),
    ],
)
def test_the_bash_wrappers_run_the_installed_command(wrapper: str, expected: str) -> None:
    shown = subprocess.run(
        [str(ROOT / "scripts" / wrapper), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "SOUNDLAKE_VENV": str(BIN.parent)},
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(expected)


def test_soundlake_dbt_is_installed_beside_it() -> None:
    assert (BIN / "soundlake-dbt").is_file()
