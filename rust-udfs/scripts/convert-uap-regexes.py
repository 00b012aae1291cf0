"""Write rust-udfs/data/uap-core-regexes.json from the uap-core rules in ua-parser-builtins.

The Rust ``parse_user_agent`` embeds that JSON file at build time (no network, no YAML parser).
The rules come from the PyPI package ``ua-parser-builtins`` (uap-core's regexes.yaml compiled
into Python, Apache-2.0), read as source text with ``ast``: nothing is imported or executed.

Run again after upgrading ua-parser-builtins, from the repository root:

    .venv/bin/python rust-udfs/scripts/convert-uap-regexes.py
"""

from __future__ import annotations

import ast
import importlib.util
import json
from importlib import metadata
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "data" / "uap-core-regexes.json"
# positional arguments of each matcher class after the regex (see ua_parser.matchers)
FIELDS = {
    "UserAgentMatcher": ["family", "major", "minor", "patch", "patch_minor"],
    "OSMatcher": ["family", "major", "minor", "patch", "patch_minor"],
    "DeviceMatcher": ["flag", "family", "brand", "model"],
}
KEYS = {"UserAgentMatcher": "user_agent", "OSMatcher": "os", "DeviceMatcher": "device"}


def matchers_source() -> str:
    spec = importlib.util.find_spec("ua_parser_builtins.matchers")
    if spec is None or spec.origin is None:
        raise SystemExit("ua-parser-builtins is not installed: run scripts/setup-python")
    return Path(spec.origin).read_text(encoding="utf-8")


def rules(source: str) -> dict[str, list[list[str | None]]]:
    found: dict[str, list[list[str | None]]] = {key: [] for key in KEYS.values()}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            kind = node.func.id
            if kind in KEYS:
                values = [ast.literal_eval(arg) for arg in node.args]
                padded = values + [None] * (1 + len(FIELDS[kind]) - len(values))
                found[KEYS[kind]].append(padded)
    return found


def to_json(document: dict[str, object]) -> str:
    """JSON with one rule per line, so that an upgrade shows as a readable diff."""
    entries = []
    for key, value in document.items():
        if isinstance(value, list):
            rows = ",\n".join(json.dumps(row, ensure_ascii=False) for row in value)
            entries.append(f"{json.dumps(key)}: [\n{rows}\n]")
        else:
            entries.append(f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(entries) + "\n}\n"


def main() -> None:
    found = rules(matchers_source())
    document = {
        "source": f"ua-parser-builtins {metadata.version('ua-parser-builtins')} (uap-core)",
        "license": "Apache-2.0",
        "fields": {KEYS[k]: ["regex", *v] for k, v in FIELDS.items()},
        **found,
    }
    OUT.write_text(to_json(document), encoding="utf-8")
    counts = ", ".join(f"{len(v)} {k}" for k, v in found.items())
    print(f"wrote {OUT}: {counts}")


if __name__ == "__main__":
    main()
