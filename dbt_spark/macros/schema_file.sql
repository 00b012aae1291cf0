{#- The schema file of a lake table: `<location>/_schema/<key>=__HIVE_DEFAULT_PARTITION__/
    part-*.parquet`, a Parquet file of no rows with every column of the Spark table (the
    partition columns too), its folders naming the partition columns in order.

    Spark writes no file at all for a partitioned table without rows, so a gold report with no
    rows yet would leave nothing that says its columns. soundlake-loader reads this file when
    a gold table has no data files and creates the empty ClickHouse table from it, with the
    same Arrow → ClickHouse mapping as the data files: the columns' types live in the model
    alone, and Spark writes both files. The leading `_` hides the folder from Spark's listing
    of the table's partitions and from the loader's data files.

    A post-hook of every gold model (dbt_project.yml), by `soundlake-dbt` and plain dbt alike.
    It writes the file when the build created the table (the first build, or `--full-refresh`,
    which empties the table's folder, this folder with it: spark__drop_relation); an
    incremental build keeps it, since the columns cannot change then (on_schema_change: fail).
    Whether the build creates the table is known only before it runs, so a pre-hook notes it
    (note_table_created). A non-partitioned INSERT OVERWRITE DIRECTORY of no rows writes one
    file with the schema (a partitioned write of no rows writes none). -#}

{#- Pre-hook: note whether this build creates the table (not incremental), for the post-hook;
    kept in the run's graph, which every node's context shares, under the invocation id. -#}
{% macro note_table_created() %}
  {%- if execute -%}
    {%- do graph.setdefault('soundlake_created_' ~ invocation_id, {}).update({this | string: not is_incremental()}) -%}
  {%- endif -%}
{% endmacro %}

{% macro write_schema_file() %}
  {%- set created = graph.get('soundlake_created_' ~ invocation_id, {}).get(this | string, true) -%}
  {%- if execute and created -%}
    {%- set location_root = config.get('location_root') -%}
    {%- if location_root is none -%}
      {{ exceptions.raise_compiler_error("write_schema_file: model " ~ this ~ " has no location_root: it is no lake table") }}
    {%- endif -%}
    {%- set partition_by = config.get('partition_by') or [] -%}
    {%- if partition_by is string -%}{%- set partition_by = [partition_by] -%}{%- endif -%}
    {%- set folder = [location_root.rstrip('/') ~ '/' ~ this.identifier, '_schema'] -%}
    {%- for key in partition_by -%}
      {%- do folder.append(key ~ '=__HIVE_DEFAULT_PARTITION__') -%}
    {%- endfor -%}
    insert overwrite directory '{{ folder | join('/') }}' using parquet select * from {{ this }} where false
  {%- endif -%}
{% endmacro %}
