{#- A post-hook of every model (dbt_project.yml): drop the temporary view `<model>__dbt_tmp`
    that dbt-spark's incremental materialization leaves behind after an incremental run.

    On the Thrift server every connection shares one Spark session (singleSession), and the
    server uncaches each of that session's temporary views whenever a connection closes; dbt
    closes its connection after every model and test, so each view left over made every later
    node slower (docs/benchmarks.md, dbt section). -#}
{% macro drop_incremental_temp_view() %}
  {%- if execute and config.get('materialized') == 'incremental' -%}
    drop view if exists {{ this.identifier }}__dbt_tmp
  {%- endif -%}
{% endmacro %}
