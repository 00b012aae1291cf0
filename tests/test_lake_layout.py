"""The Python mirror of the lake's bronze layout (``soundlake.lake_layout``) against the lander's
own names in ``rust-ingest/src/layout.rs`` (one ``pub const NAME: &str = "value";`` per line).
Needs no stack: it reads the Rust source."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from soundlake import lake_layout

LAYOUT_RS = Path(__file__).resolve().parents[1] / "rust-ingest" / "src" / "layout.rs"
RUST_CONST = re.compile(
    r'^\s*pub(?:\([a-z]+\))?\s+const\s+([A-Z][A-Z0-9_]*)\s*:\s*&(?:\'static\s+)?str\s*=\s*"([^"\\]*)"\s*;'
)


def rust_constants() -> dict[str, str]:
    """Every one-line string constant of layout.rs, by name."""
    if not LAYOUT_RS.is_file():
        pytest.fail(f"{LAYOUT_RS} is missing: the lander's layout names must live there")
    found: dict[str, str] = {}
    for line in LAYOUT_RS.read_text().splitlines():
        if m := RUST_CONST.match(line):
            found[m.group(1)] = m.group(2)
    return found


def test_the_rust_constants_are_found() -> None:
    # a parser that finds nothing would let the comparison below pass on no names
    assert rust_constants(), f'no `pub const NAME: &str = "...";` line in {LAYOUT_RS}'


@pytest.mark.parametrize("name", sorted(lake_layout.PATHS))
def test_path_constant_equals_the_rust_one(name: str) -> None:
    rust = rust_constants()
    assert name in rust, f"{LAYOUT_RS} has no `pub const {name}: &str` (names: {sorted(rust)})"
    assert getattr(lake_layout, name) == rust[name]


def test_paths_lists_every_path_constant() -> None:
    constants = {
        name: value
        for name, value in vars(lake_layout).items()
        if name.isupper() and isinstance(value, str)
    }
    assert constants == lake_layout.PATHS
