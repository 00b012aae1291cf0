"""The dbt project's models as assets: bronze → staging → silver → gold, with dbt's lineage.

dagster-dbt reads the project's manifest (``dbt parse``, run here when the manifest is missing or
older than the project's files) and makes one asset per model, in a group per layer (the
model's folder: staging, silver, gold). A run executes ``dbt build`` of the selected models
(run and tests; ``dbt run`` when the sensor left the checks out) on the ``thrift`` target: the
warm Spark Thrift server whose session has the Rust UDFs (its address:
``SOUNDLAKE_SPARK_THRIFT_HOST`` / ``_PORT``, see dbt_spark/profiles.yml). The models are
incremental, so each build recomputes only the event days with new bronze rows.
"""

# no `from __future__ import annotations`: Dagster checks the decorated functions' context
# annotations at run time
import contextlib
import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetSpec,
    Backoff,
    Output,
    RetryPolicy,
    get_dagster_logger,
)
from dagster_dbt import (
    DagsterDbtTranslator,
    DbtCliInvocation,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from soundlake.orchestrate.settings import (
    BRONZE_AS_OF_TAG,
    BRONZE_AS_OF_VAR,
    CHECKS_TAG,
    DBT_PROJECT_DIR,
    DBT_TARGET,
)

#: the manifest and run artifacts of the orchestrator's dbt runs, apart from soundlake-dbt's
TARGET_PATH = Path("target") / "dagster"
#: dbt's parse state: the parse of the manifest leaves it in TARGET_PATH, and each run starts
#: from a copy, so that its dbt parses only what changed since. A run pinned to a commit of
#: bronze passes other --vars than the parse did, which makes dbt parse the whole project again
PARTIAL_PARSE = "partial_parse.msgpack"
PARSE_STATE = DBT_PROJECT_DIR / TARGET_PATH / PARTIAL_PARSE
#: the layers of the dbt project, one folder of models/ each, in the order data flows
LAYERS = ("staging", "silver", "gold")
#: a failed build is retried with growing pauses before the run fails (and alerts)
RETRY_POLICY = RetryPolicy(max_retries=3, delay=30, backoff=Backoff.EXPONENTIAL)

#: the metadata key of a table's row count, which Dagster's UI shows per asset
ROW_COUNT = "dagster/row_count"

#: dbt of this Python environment (a daemon's PATH need not have the venv's bin/)
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")

project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
    target=DBT_TARGET,
    target_path=TARGET_PATH,
)


#: the environment dbt renders into the manifest (schema, lake paths, topic names): a manifest
#: parsed under other values would name other tables (and dagster-dbt counts rows by those names)
MANIFEST_SETTINGS = ("SOUNDLAKE_DBT_SCHEMA", "SOUNDLAKE_LAKE_URL", "SOUNDLAKE_TOPIC_PREFIX")


def ensure_manifest() -> Path:
    """The manifest, parsed again when a file of the project is newer than it or when it was
    parsed under other settings. Parsed aside and renamed into place: the daemon and the web
    server load the definitions at the same time, and neither may read a half-written file."""
    manifest = project.manifest_path
    settings_file = manifest.with_name("soundlake-settings.json")
    settings = json.dumps({name: os.environ.get(name, "") for name in MANIFEST_SETTINGS})
    sources = [
        p
        for folder in ("models", "macros")
        for p in (DBT_PROJECT_DIR / folder).rglob("*")
        if p.is_file()
    ] + [DBT_PROJECT_DIR / "dbt_project.yml"]
    newest = max(p.stat().st_mtime for p in sources)
    if (
        manifest.exists()
        and manifest.stat().st_mtime >= newest
        and settings_file.exists()
        and settings_file.read_text() == settings
    ):
        return manifest
    aside = TARGET_PATH / f"parse-{os.getpid()}"
    resource().cli(["parse", "--quiet"], target_path=aside).wait()
    if (DBT_PROJECT_DIR / aside / PARTIAL_PARSE).exists():
        (DBT_PROJECT_DIR / aside / PARTIAL_PARSE).replace(PARSE_STATE)
    (DBT_PROJECT_DIR / aside / "manifest.json").replace(manifest)
    shutil.rmtree(DBT_PROJECT_DIR / aside, ignore_errors=True)
    settings_file.write_text(settings)
    return manifest


def run_target(run_id: str) -> Path:
    """The target path of a run's dbt invocation, relative to the project."""
    return TARGET_PATH / f"run-{run_id}"


def resource() -> DbtCliResource:
    """dbt of this environment, on the project."""
    return DbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE)


def dbt_args(tags: Mapping[str, str]) -> list[str]:
    """The dbt command of a run with these tags: ``build``, or ``run`` when the sensor left the
    checks out; with var ``bronze_as_of`` when the run is pinned to a commit of bronze."""
    args = ["run" if tags.get(CHECKS_TAG) == "none" else "build"]
    as_of = tags.get(BRONZE_AS_OF_TAG)
    if as_of is not None:
        if not as_of.isdigit():
            raise ValueError(
                f"run tag {BRONZE_AS_OF_TAG}={as_of!r} is not a time in epoch microseconds; "
                "launch the run again without the tag to build from all of bronze"
            )
        args += ["--vars", json.dumps({BRONZE_AS_OF_VAR: int(as_of)})]
    return args


def layer_of(props: Mapping[str, Any]) -> str | None:
    """The layer of a model: the first folder of its path under models/."""
    fqn = props.get("fqn", [])
    if props.get("resource_type") == "model" and len(fqn) > 1 and fqn[1] in LAYERS:
        return str(fqn[1])
    return None


class Translator(DagsterDbtTranslator):
    """dagster-dbt's keys (a model's name; ``bronze/<topic>`` for a bronze source), each model
    grouped by its layer."""

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        layer = layer_of(props)
        return spec.replace_attributes(group_name=layer) if layer else spec


TRANSLATOR = Translator()


def gold_models(manifest_path: Path) -> dict[str, AssetKey]:
    """Each gold model's name (its table on the lake and in ClickHouse) and its asset key."""
    manifest = json.loads(manifest_path.read_text())
    return {
        props["name"]: TRANSLATOR.get_asset_key(props)
        for props in manifest["nodes"].values()
        if layer_of(props) == "gold"
    }


@dbt_assets(
    manifest=ensure_manifest(),
    project=project,
    dagster_dbt_translator=TRANSLATOR,
    retry_policy=RETRY_POLICY,
    name="dbt_models",
)
def dbt_models(context: AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    """The selected models on the Thrift server, with their row counts: ``dbt build`` (each
    model, then its data and unit tests) when the run includes the asset checks, ``dbt run``
    (the models alone) when the sensor left them out (sensors.py); reading bronze as of the
    commit the run was launched for, if it was (``dbt_args``)."""
    target = run_target(context.run.run_id)
    if PARSE_STATE.exists():
        (DBT_PROJECT_DIR / target).mkdir(parents=True, exist_ok=True)
        shutil.copy2(PARSE_STATE, DBT_PROJECT_DIR / target / PARTIAL_PARSE)
    args = dbt_args(context.run.tags)
    yield from with_row_counts(dbt.cli(args, context=context, target_path=target))
    # a run's artifacts (a manifest and more per run) would fill the disk over days of cycles;
    # a failed run's stay for a look (the stream raised before this line)
    shutil.rmtree(DBT_PROJECT_DIR / target, ignore_errors=True)


def with_row_counts(invocation: DbtCliInvocation) -> Iterator[Any]:
    """The invocation's events, each table model's materialization with its row count
    (``ROW_COUNT``), counted on the Thrift server as the event arrives, while dbt goes
    on with the next model. dagster-dbt's ``fetch_row_counts()`` does the same in a thread pool,
    but waits for it in a loop that never sleeps: a core kept busy for the whole build, taken
    from Spark on a 2-core machine (docs/benchmarks.md#continuous-platform-soak)."""
    for event in invocation.stream():
        count = model_row_count(invocation, event)
        yield event if count is None else event.with_metadata({**event.metadata, ROW_COUNT: count})


def model_row_count(invocation: DbtCliInvocation, event: Any) -> int | None:
    """The rows of the table a materialization event is about, or None: another event, a view
    (counting runs its query), or a count that failed (logged; it is metadata, not the run)."""
    if not isinstance(event, AssetMaterialization | Output) or invocation.adapter is None:
        return None
    unique_id = event.metadata.get("unique_id")
    node = invocation.manifest["nodes"].get(getattr(unique_id, "value", None))
    if node is None or node["config"].get("materialized") == "view":
        return None
    adapter = invocation.adapter
    try:
        with (
            contextlib.chdir(invocation.project_dir),
            adapter.connection_named(f"row_count_{node['unique_id']}"),
        ):
            # the relation's name comes from the project's manifest, not from outside input
            sql = f"select count(*) from {node['relation_name']}"  # noqa: S608
            _, table = adapter.execute(sql, fetch=True)
        return int(table[0][0])
    except Exception as error:  # a failed count must not fail the build
        get_dagster_logger().warning(
            f"could not count the rows of {node['relation_name']} ({node['unique_id']}): {error}; "
            "its materialization is recorded without a row count"
        )
        return None
