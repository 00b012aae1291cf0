{#- The lake (SOUNDLAKE_LAKE_URL) and the bronze tables over it. -#}

{% macro lake_url() -%}
  {{ return(env_var('SOUNDLAKE_LAKE_URL', 'hdfs://127.0.0.1:8020/lake').rstrip('/')) }}
{%- endmacro %}

{#- The Kafka topic prefix the lander was given (its bronze folders are `<prefix><topic>`). -#}
{% macro topic_prefix() -%}
  {{ return(env_var('SOUNDLAKE_TOPIC_PREFIX', '')) }}
{%- endmacro %}

{#- The columns of each bronze table, as soundlake-ingest writes them (schema-registry/*.avsc
    plus the lander's metadata); `event_date` and `hour` come from the folder names. -#}
{% macro bronze_columns(topic) -%}
  {%- set head = ['ts bigint', 'sessionId bigint'] -%}
  {%- set user = ['level string', 'itemInSession int', 'city string', 'zip string',
                  'state string', 'userAgent string', 'lon double', 'lat double',
                  'userId bigint', 'lastName string', 'firstName string', 'gender string',
                  'registration bigint'] -%}
  {%- set meta = ['tag string', '_kafka_partition int', '_kafka_offset bigint',
                  '_kafka_timestamp timestamp', '_schema_id int', '_ingested_at timestamp'] -%}
  {%- set song = ['artist string', 'song string', 'duration double'] -%}
  {%- if topic == 'listen_events' -%}
    {%- set columns = head + ['auth string'] + user + song + meta -%}
  {%- elif topic == 'page_view_events' -%}
    {%- set columns = head + ['page string', 'auth string', 'method string', 'status int'] + user + song + meta -%}
  {%- elif topic == 'auth_events' -%}
    {%- set columns = head + user + ['success boolean'] + meta -%}
  {%- elif topic == 'status_change_events' -%}
    {%- set columns = head + ['auth string'] + user + meta -%}
  {%- else -%}
    {{ exceptions.raise_compiler_error("bronze_columns: unknown topic " ~ topic) }}
  {%- endif -%}
  {{ return(columns) }}
{%- endmacro %}

{% macro bronze_topics() -%}
  {{ return(['listen_events', 'page_view_events', 'auth_events', 'status_change_events']) }}
{%- endmacro %}

{#- on-run-start: (re)create the four bronze tables as external Parquet tables over
    <lake>/bronze/<prefix><topic>, partitioned by event_date/hour. The session does not keep
    file-source partitions in the metastore (spark.sql.hive.manageFilesourcePartitions=false,
    see soundlake_udfs.dbt_session), so Spark discovers them by listing the folders, and
    filters on event_date prune them. Dropping an external table leaves its files alone;
    recreating it each run keeps the tables on the current SOUNDLAKE_LAKE_URL and drops any
    cached file listing. -#}
{% macro register_bronze_tables() %}
  {% if execute and flags.WHICH in ['run', 'build', 'test', 'compile', 'seed', 'snapshot', 'source', 'show', 'docs'] %}
    {% do run_query('create schema if not exists ' ~ target.schema) %}
    {% for topic in bronze_topics() %}
      {% set table = target.schema ~ '.bronze_' ~ topic %}
      {% set location = lake_url() ~ '/bronze/' ~ topic_prefix() ~ topic %}
      {% do run_query('drop table if exists ' ~ table) %}
      {% do run_query('create table ' ~ table ~ ' (' ~ bronze_columns(topic) | join(', ')
          ~ ', event_date date, hour int) using parquet partitioned by (event_date, hour)'
          ~ " location '" ~ location ~ "'") %}
    {% endfor %}
  {% endif %}
{% endmacro %}
