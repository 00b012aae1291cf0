{#- What a data test checks in a `dbt build`: the days the build wrote.

    An incremental model partitioned by event_date rewrites only some days per build, and the
    days it leaves alone were tested by the build that wrote them and have not changed since.
    So in `dbt build` (or `soundlake-dbt build`) each test of such a model checks the event days
    whose files this build wrote (Spark's `_metadata.file_modification_time`, from the lake,
    against the build's start less var clock_skew_minutes, for clocks that differ between the
    dbt host and the NameNode). A build with nothing new tests nothing; a first build
    or `--full-refresh` writes, and tests, every day.

    Everywhere else, every row is tested: `dbt test` (and every command but build), the tables
    and append-only dimensions, and the tests that compare a model with another table per day
    (reconciles_with: a day missing from the model must show). This is dbt's documented hook
    for the `where` config, get_where_subquery, which wraps the model of every generic test. -#}

{#- The tests that compare a model with another relation, so need every day of both. -#}
{% macro whole_table_tests() %}
  {{ return(['reconciles_with']) }}
{% endmacro %}

{% macro get_where_subquery(relation) -%}
  {%- set filters = [] -%}
  {%- set where = config.get('where') -%}
  {%- if where -%}{%- do filters.append('(' ~ where ~ ')') -%}{%- endif -%}
  {%- set days = build_test_days(relation) -%}
  {%- if days is not none -%}{%- do filters.append(in_dates('event_date', days)) -%}{%- endif -%}
  {%- if filters | length > 0 -%}
    {%- set subquery -%}(select * from {{ relation }} where {{ filters | join(' and ') }}) dbt_subquery{%- endset -%}
    {{ return(subquery) }}
  {%- else -%}
    {{ return(relation) }}
  {%- endif -%}
{%- endmacro %}

{#- The days a test of `relation` checks in this build, or none for every row. Asked once per
    relation and build: a model's tests all run after it is built and before anything rewrites
    it again, so they share one answer (kept in the run's graph, which every node's context
    shares, under the invocation's id). -#}
{% macro build_test_days(relation) %}
  {%- if not execute or flags.WHICH != 'build' or flags.FULL_REFRESH -%}{{ return(none) }}{%- endif -%}
  {%- set test_name = (model.get('test_metadata') or {}).get('name') -%}
  {%- if test_name in whole_table_tests() -%}{{ return(none) }}{%- endif -%}
  {%- set cache = graph.setdefault('soundlake_test_days_' ~ invocation_id, {}) -%}
  {%- set key = relation | string -%}
  {%- if key not in cache -%}{%- do cache.update({key: relation_build_days(relation)}) -%}{%- endif -%}
  {{ return(cache[key]) }}
{% endmacro %}

{#- The days of `relation` that this build wrote, or none when its tests are not scoped. -#}
{% macro relation_build_days(relation) %}
  {%- set tested = model_node_of(relation) -%}
  {%- if tested is none -%}{{ return(none) }}{%- endif -%}
  {%- set config = tested.config -%}
  {%- set partition_by = config.partition_by -%}
  {%- if partition_by is string -%}{%- set partition_by = [partition_by] -%}{%- endif -%}
  {%- if config.materialized == 'incremental' and partition_by == ['event_date'] -%}
    {{ return(written_days(relation)) }}
  {%- endif -%}
  {{ return(none) }}
{% endmacro %}

{#- The project's model node whose relation is `relation`, or none (e.g. a source). -#}
{% macro model_node_of(relation) %}
  {%- for node in graph.nodes.values() -%}
    {%- if node.resource_type == 'model' and node.package_name == project_name
          and (node.alias or node.name) == relation.identifier -%}
      {{ return(node) }}
    {%- endif -%}
  {%- endfor -%}
  {{ return(none) }}
{% endmacro %}

{#- The event days of `relation` with files written since this build started. -#}
{% macro written_days(relation) %}
  {%- set margin = var('clock_skew_minutes') | int -%}
  {%- set since = (run_started_at - modules.datetime.timedelta(minutes=margin)).strftime('%Y-%m-%d %H:%M:%S') -%}
  {%- set rows = run_query('select distinct cast(event_date as string) from ' ~ relation
      ~ " where _metadata.file_modification_time >= timestamp'" ~ since ~ "'") -%}
  {{ return(rows.columns[0].values() | list | sort) }}
{% endmacro %}
