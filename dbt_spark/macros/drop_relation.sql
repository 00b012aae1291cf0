{#- Every table of this project is a lake folder (external Parquet at location_root). Spark's
    DROP TABLE leaves an external table's files behind, so a rebuild (--full-refresh, a table
    model) would write over stale partitions. Dropping a table here first empties its
    folder: a static-mode INSERT OVERWRITE of no rows deletes every partition. -#}
{% macro spark__drop_relation(relation) -%}
  {%- set existing = adapter.get_relation(relation.database, relation.schema, relation.identifier) -%}
  {%- if existing is not none and existing.type == 'table' and not relation.identifier.startswith('bronze_') -%}
    {%- call statement('empty_before_drop', auto_begin=False) -%}
      set spark.sql.sources.partitionOverwriteMode = STATIC
    {%- endcall -%}
    {%- call statement('empty_before_drop', auto_begin=False) -%}
      insert overwrite table {{ relation }} select * from {{ relation }} where false
    {%- endcall -%}
    {%- call statement('empty_before_drop', auto_begin=False) -%}
      set spark.sql.sources.partitionOverwriteMode = DYNAMIC
    {%- endcall -%}
  {%- endif -%}
  {%- call statement('drop_relation', auto_begin=False) -%}
    drop {{ relation.type }} if exists {{ relation }}
  {%- endcall -%}
{%- endmacro %}
