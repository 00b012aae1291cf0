"""dbt's bronze tables declare the columns soundlake-ingest writes.

`bronze_columns` in `dbt_spark/macros/lake.sql` spells out each bronze table's columns for the
`create table` of `register_bronze_tables`. Their source of truth is elsewhere: the topic's Avro
schema (`schema-registry/<topic>.avsc`: every field, in order) and the lander's metadata
columns (`METADATA` in `rust-ingest/src/schema.rs`), with the lander's Avro → Arrow → Parquet
mapping as Spark reads it. These tests derive the expected declarations from those files and
hold `lake.sql` to them: every column, in order, with its Spark type and nullability.

Nullability: a bronze table declares every column nullable (`<name> <type>`, never
`not null`). Spark reads a file-source column as nullable whether its Parquet field is
required (an Avro field without `null`) or optional (a `["null", T]` union), so a `not null`
would promise what Spark does not check; the required fields are the lander's to enforce.
The Avro side is still parsed strictly: a union other than `["null", T]`, or a type the lander
cannot store, fails here as it fails in the lander.

Stdlib and pytest only; no stack, no dbt, no Spark.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
AVSC_DIR = ROOT / "schema-registry"
LAKE_SQL = ROOT / "dbt_spark" / "macros" / "lake.sql"
INGEST_SCHEMA_RS = ROOT / "rust-ingest" / "src" / "schema.rs"

# Avro (primitive, or a logical type on its base) → the Spark type of the Parquet column the
# lander writes (rust-ingest/src/schema.rs: Avro → Arrow; Arrow → Parquet → Spark below).
AVRO_TO_SPARK = {
    "boolean": "boolean",
    "int": "int",
    "long": "bigint",
    "float": "float",
    "double": "double",
    "string": "string",
    "enum": "string",
    "bytes": "binary",
    "timestamp-millis": "timestamp",
    "timestamp-micros": "timestamp",
}
TIMESTAMP_LOGICAL_TYPES = ("timestamp-millis", "timestamp-micros")

# The lander's ColumnType (rust-ingest/src/schema.rs) → Spark type.
COLUMN_TYPE_TO_SPARK = {
    "Boolean": "boolean",
    "Int32": "int",
    "Int64": "bigint",
    "Float32": "float",
    "Float64": "double",
    "Utf8": "string",
    "Binary": "binary",
    "TimestampMillis": "timestamp",
    "TimestampMicros": "timestamp",
}


def spark_type_of_avro(topic: str, field: dict[str, object]) -> tuple[str, bool]:
    """The Spark type of an Avro field as the lander lands it, and whether it is nullable."""
    avro = field["type"]
    nullable = False
    if isinstance(avro, list):
        others = [branch for branch in avro if branch != "null"]
        assert len(avro) == 2 and len(others) == 1, (
            f"{topic}.{field['name']}: only a union of null and one type lands in bronze: {avro}"
        )
        avro, nullable = others[0], True
    if isinstance(avro, dict):
        logical = avro.get("logicalType")
        is_timestamp = avro.get("type") == "long" and logical in TIMESTAMP_LOGICAL_TYPES
        key = logical if is_timestamp else avro.get("type")
    else:
        key = avro
    assert isinstance(key, str) and key in AVRO_TO_SPARK, (
        f"{topic}.{field['name']}: Avro type {field['type']} has no bronze column type"
    )
    return AVRO_TO_SPARK[key], nullable


def avsc_fields(avsc_dir: Path) -> dict[str, list[tuple[str, str, bool]]]:
    """topic → its Avro fields in order: (name, Spark type, nullable)."""
    topics = {}
    for path in sorted(avsc_dir.glob("*.avsc")):
        schema = json.loads(path.read_text())
        assert schema.get("type") == "record", f"{path.name} is not an Avro record schema"
        topics[path.stem] = [
            (field["name"], *spark_type_of_avro(path.stem, field)) for field in schema["fields"]
        ]
    assert topics, f"no .avsc file in {avsc_dir}"
    return topics


def ingest_metadata(schema_rs: Path) -> list[tuple[str, str, bool]]:
    """The lander's metadata columns in order, from `METADATA` in rust-ingest/src/schema.rs."""
    source = schema_rs.read_text()
    names = dict(re.findall(r'pub const (\w+): &str = "(\w+)";', source))
    block = re.search(r"pub const METADATA: \[[^\]]*\] = \[(.*?)\];", source, re.DOTALL)
    assert block, f"no METADATA array in {schema_rs}"
    entries = re.findall(r"\((\w+),\s*ColumnType::(\w+),\s*(true|false)\)", block.group(1))
    assert entries, f"no entry in METADATA of {schema_rs}"
    return [
        (names[constant], COLUMN_TYPE_TO_SPARK[column_type], nullable == "true")
        for constant, column_type, nullable in entries
    ]


def expected_declarations(avsc_dir: Path, schema_rs: Path) -> dict[str, list[str]]:
    """topic → the column declarations its bronze table must have: `<name> <Spark type>`,
    nullable (see the module's docstring), the Avro fields then the metadata columns."""
    metadata = ingest_metadata(schema_rs)
    return {
        topic: [f"{name} {spark_type}" for name, spark_type, _ in fields + metadata]
        for topic, fields in avsc_fields(avsc_dir).items()
    }


def jinja_literal(macro_source: str, variable: str) -> object:
    """The value of `{%- set <variable> = <literal> -%}` in a macro (Jinja's list, dict and
    string literals are Python's)."""
    found = re.search(r"\{%-?\s*set " + variable + r"\s*=\s*(.*?)\s*-?%\}", macro_source, re.DOTALL)
    assert found, f"no `set {variable} = …` in the macro"
    return ast.literal_eval(found.group(1))


def lake_sql_declarations(lake_sql: Path) -> dict[str, list[str]]:
    """topic → the column declarations `bronze_columns(topic)` returns: its `fields[topic]`
    followed by `metadata`."""
    source = lake_sql.read_text()
    macro = re.search(
        r"\{% macro bronze_columns\(topic\) -?%\}(.*?)\{%-? endmacro -?%\}", source, re.DOTALL
    )
    assert macro, f"no macro bronze_columns(topic) in {lake_sql}"
    body = macro.group(1)
    assert re.search(r"return\(fields\[topic\] \+ metadata\)", body), (
        "bronze_columns no longer returns fields[topic] + metadata; update this test's reading"
    )
    fields = jinja_literal(body, "fields")
    metadata = jinja_literal(body, "metadata")
    assert isinstance(fields, dict) and isinstance(metadata, list)
    return {topic: list(columns) + metadata for topic, columns in fields.items()}


def lake_sql_topics(lake_sql: Path) -> list[str]:
    """The topics `bronze_topics()` registers."""
    macro = re.search(
        r"\{% macro bronze_topics\(\) -?%\}\s*\{\{\s*return\((\[.*?\])\)\s*\}\}",
        lake_sql.read_text(),
        re.DOTALL,
    )
    assert macro, f"no macro bronze_topics() returning a list in {lake_sql}"
    return ast.literal_eval(macro.group(1))


def mismatches(expected: dict[str, list[str]], declared: dict[str, list[str]]) -> list[str]:
    """What differs between the expected and the declared columns, one line per difference."""
    problems = [f"{topic}: no bronze_columns in lake.sql" for topic in expected.keys() - declared]
    problems += [f"{topic}: in lake.sql but no .avsc" for topic in declared.keys() - expected]
    for topic in sorted(expected.keys() & declared.keys()):
        want, have = expected[topic], declared[topic]
        for position in range(max(len(want), len(have))):
            w = want[position] if position < len(want) else "(nothing)"
            h = have[position] if position < len(have) else "(nothing)"
            if w != h:
                problems.append(
                    f"{topic} column {position + 1}: expected {w!r}, lake.sql has {h!r}"
                )
    return problems


def test_lake_sql_declares_every_avro_field_then_the_metadata() -> None:
    problems = mismatches(
        expected_declarations(AVSC_DIR, INGEST_SCHEMA_RS), lake_sql_declarations(LAKE_SQL)
    )
    assert not problems, "lake.sql's bronze_columns differ from the .avsc files:\n" + "\n".join(
        problems
    )


def test_lake_sql_registers_one_bronze_table_per_avsc() -> None:
    assert sorted(lake_sql_topics(LAKE_SQL)) == sorted(avsc_fields(AVSC_DIR))


def test_the_metadata_columns_are_the_bronze_contracts() -> None:
    """The reading of schema.rs finds the contract's metadata columns (DESIGN.md, bronze),
    with their types and the one nullable column, the Kafka timestamp."""
    assert ingest_metadata(INGEST_SCHEMA_RS) == [
        ("_kafka_partition", "int", False),
        ("_kafka_offset", "bigint", False),
        ("_kafka_timestamp", "timestamp", True),
        ("_schema_id", "int", False),
        ("_ingested_at", "timestamp", False),
    ]


# --- the comparison catches drift (run on copies; nothing in the tree is edited) -------------


@pytest.fixture
def copies(tmp_path: Path) -> tuple[Path, Path]:
    """Copies of schema-registry/ and lake.sql to edit."""
    avsc_dir = tmp_path / "schema-registry"
    shutil.copytree(AVSC_DIR, avsc_dir)
    lake_sql = tmp_path / "lake.sql"
    shutil.copy(LAKE_SQL, lake_sql)
    return avsc_dir, lake_sql


def drift(avsc_dir: Path, lake_sql: Path) -> list[str]:
    return mismatches(
        expected_declarations(avsc_dir, INGEST_SCHEMA_RS), lake_sql_declarations(lake_sql)
    )


def test_the_copies_agree_before_an_edit(copies: tuple[Path, Path]) -> None:
    assert drift(*copies) == []


def test_a_field_added_to_an_avsc_is_caught(copies: tuple[Path, Path]) -> None:
    avsc_dir, lake_sql = copies
    path = avsc_dir / "listen_events.avsc"
    schema = json.loads(path.read_text())
    schema["fields"].append({"name": "country", "type": ["null", "string"], "default": None})
    path.write_text(json.dumps(schema))
    assert drift(avsc_dir, lake_sql) == [
        "listen_events column 21: expected 'country string', lake.sql has '_kafka_partition int'",
        "listen_events column 22: expected '_kafka_partition int', lake.sql has '_kafka_offset bigint'",
        "listen_events column 23: expected '_kafka_offset bigint', lake.sql has '_kafka_timestamp timestamp'",
        "listen_events column 24: expected '_kafka_timestamp timestamp', lake.sql has '_schema_id int'",
        "listen_events column 25: expected '_schema_id int', lake.sql has '_ingested_at timestamp'",
        "listen_events column 26: expected '_ingested_at timestamp', lake.sql has '(nothing)'",
    ]  # fmt: skip


def test_a_changed_avsc_type_is_caught(copies: tuple[Path, Path]) -> None:
    avsc_dir, lake_sql = copies
    path = avsc_dir / "auth_events.avsc"
    schema = json.loads(path.read_text())
    schema["fields"][0]["type"] = {"type": "long", "logicalType": "timestamp-millis"}
    path.write_text(json.dumps(schema))
    assert drift(avsc_dir, lake_sql) == [
        "auth_events column 1: expected 'ts timestamp', lake.sql has 'ts bigint'"
    ]


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (
            ("'duration double', 'tag string',", "'tag string', 'duration double',"),
            "listen_events column 19: expected 'duration double', lake.sql has 'tag string'",
        ),
        (
            ("'success boolean'", "'success string'"),
            "auth_events column 16: expected 'success boolean', lake.sql has 'success string'",
        ),
        (
            ("'ts bigint', 'sessionId bigint', 'page string'", "'ts bigint not null', 'sessionId bigint', 'page string'"),
            "page_view_events column 1: expected 'ts bigint', lake.sql has 'ts bigint not null'",
        ),
        (
            ("'_schema_id int', ", ""),
            "status_change_events column 21: expected '_schema_id int', lake.sql has '_ingested_at timestamp'",
        ),
    ],
)  # fmt: skip
def test_a_changed_lake_sql_is_caught(
    copies: tuple[Path, Path], edit: tuple[str, str], problem: str
) -> None:
    avsc_dir, lake_sql = copies
    before, after = edit
    source = lake_sql.read_text()
    assert source.count(before) >= 1, f"the edit {before!r} no longer applies to lake.sql"
    lake_sql.write_text(source.replace(before, after, 1))
    assert problem in drift(avsc_dir, lake_sql)
