"""The end of the lineage: each gold table in ClickHouse, loaded by ``soundlake-loader``.

One asset per gold model, ``clickhouse/<table>``, downstream of it. A run loads the selected
tables with one loader call (``--include``): the loader swaps in only the months whose lake
partitions changed since its last successful load (its load log), so each cycle catches up on
whatever the previous ones missed. The row count of each table is the asset's metadata.
"""

# no `from __future__ import annotations`: Dagster checks the decorated functions' context
# annotations at run time
import subprocess
from collections.abc import Iterator
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Failure,
    MaterializeResult,
    multi_asset,
)

from soundlake.clickhouse import ClickHouse, ClickHouseError
from soundlake.orchestrate.dbt import RETRY_POLICY, ROW_COUNT, gold_models
from soundlake.orchestrate.settings import Settings

GROUP = "clickhouse"
HTTP_TIMEOUT_S = 30.0
LOAD_TIMEOUT_S = 3600.0


def table_key(table: str) -> AssetKey:
    """The ClickHouse table's asset."""
    return AssetKey([GROUP, table])


def row_count(settings: Settings, table: str) -> int:
    """The rows of a ClickHouse table, or a Failure saying why not."""
    try:
        clickhouse = ClickHouse(
            settings.clickhouse_url, settings.clickhouse_database, timeout_s=HTTP_TIMEOUT_S
        )
        # a plain identifier: the loader refuses any other table name
        return int(clickhouse.select(f"SELECT count() AS n FROM {table}")[0]["n"])  # noqa: S608
    except ClickHouseError as err:
        raise Failure(str(err)) from err


def load(settings: Settings, tables: list[str]) -> str:
    """Run the loader for `tables`; its output, or a Failure with the output's end."""
    command = [
        settings.loader_bin,
        "--lake-url",
        settings.lake_url,
        "--clickhouse-url",
        settings.clickhouse_url,
        "--database",
        settings.clickhouse_database,
        "--include",
        ",".join(tables),
        "--metrics-addr",
        "none",
        "--progress",
        "never",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=LOAD_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise Failure(f"soundlake-loader did not run: {err}") from err
    output = done.stdout + done.stderr
    if done.returncode != 0:
        tail = "\n".join(output.splitlines()[-40:])
        raise Failure(f"soundlake-loader exited {done.returncode}:\n{tail}")
    return output


def clickhouse_tables(manifest_path: Path) -> AssetsDefinition:
    """The ClickHouse tables of the gold models of the manifest at `manifest_path`."""
    gold = gold_models(manifest_path)
    specs = [
        AssetSpec(
            table_key(table),
            deps=[model],
            group_name=GROUP,
            kinds={"clickhouse"},
            description=f"ClickHouse table {table}, loaded from gold/{table}/ on the lake",
        )
        for table, model in sorted(gold.items())
    ]

    @multi_asset(specs=specs, can_subset=True, retry_policy=RETRY_POLICY, name="clickhouse_load")
    def clickhouse_load(context: AssetExecutionContext) -> Iterator[MaterializeResult]:
        settings = Settings.from_env()
        tables = sorted(key.path[-1] for key in context.selected_asset_keys)
        context.log.info(load(settings, tables))
        for table in tables:
            yield MaterializeResult(
                asset_key=table_key(table),
                metadata={ROW_COUNT: row_count(settings, table)},
            )

    return clickhouse_load
