{#- The lake (SOUNDLAKE_LAKE_URL) and the bronze tables over it. -#}

{% macro lake_url() -%}
  {{ return(env_var('SOUNDLAKE_LAKE_URL', 'hdfs://127.0.0.1:8020/lake').rstrip('/')) }}
{%- endmacro %}

{#- The Kafka topic prefix the lander was given (its bronze folders are `<prefix><topic>`). -#}
{% macro topic_prefix() -%}
  {{ return(env_var('SOUNDLAKE_TOPIC_PREFIX', '')) }}
{%- endmacro %}

{#- The columns of each bronze table as soundlake-ingest writes them: the fields of the topic's
    Avro schema (schema-registry/<topic>.avsc) in their order, then the lander's metadata
    columns (METADATA in rust-ingest/src/schema.rs); `event_date` and `hour` come from the
    folder names. Types follow the lander's Avro → Arrow → Parquet mapping as Spark reads it:
    boolean → boolean, int → int, long → bigint, float → float, double → double, string and
    enum → string, bytes → binary, timestamp-millis and timestamp-micros → timestamp. Every
    column is declared nullable: Spark reads a file-source column as nullable whether the
    Parquet field is required or optional. tests/test_dbt_bronze_columns.py holds these lists
    to the .avsc files and to schema.rs. -#}
{% macro bronze_columns(topic) -%}
  {%- set fields = {
      'listen_events': [
          'ts bigint', 'sessionId bigint', 'auth string', 'level string', 'itemInSession int',
          'city string', 'zip string', 'state string', 'userAgent string', 'lon double',
          'lat double', 'userId bigint', 'lastName string', 'firstName string',
          'gender string', 'registration bigint', 'artist string', 'song string',
          'duration double', 'tag string',
      ],
      'page_view_events': [
          'ts bigint', 'sessionId bigint', 'page string', 'auth string', 'method string',
          'status int', 'level string', 'itemInSession int', 'city string', 'zip string',
          'state string', 'userAgent string', 'lon double', 'lat double', 'userId bigint',
          'lastName string', 'firstName string', 'gender string', 'registration bigint',
          'artist string', 'song string', 'duration double', 'tag string',
      ],
      'auth_events': [
          'ts bigint', 'sessionId bigint', 'level string', 'itemInSession int', 'city string',
          'zip string', 'state string', 'userAgent string', 'lon double', 'lat double',
          'userId bigint', 'lastName string', 'firstName string', 'gender string',
          'registration bigint', 'success boolean', 'tag string',
      ],
      'status_change_events': [
          'ts bigint', 'sessionId bigint', 'auth string', 'level string', 'itemInSession int',
          'city string', 'zip string', 'state string', 'userAgent string', 'lon double',
          'lat double', 'userId bigint', 'lastName string', 'firstName string',
          'gender string', 'registration bigint', 'tag string',
      ],
  } -%}
  {%- set metadata = [
      '_kafka_partition int', '_kafka_offset bigint', '_kafka_timestamp timestamp',
      '_schema_id int', '_ingested_at timestamp',
  ] -%}
  {%- if topic not in fields -%}
    {{ exceptions.raise_compiler_error("bronze_columns: unknown topic " ~ topic) }}
  {%- endif -%}
  {{ return(fields[topic] + metadata) }}
{%- endmacro %}

{% macro bronze_topics() -%}
  {{ return(['listen_events', 'page_view_events', 'auth_events', 'status_change_events']) }}
{%- endmacro %}

{#- on-run-start: (re)create the four bronze tables as external Parquet tables over
    <lake>/bronze/<prefix><topic>, partitioned by event_date/hour. The session does not keep
    file-source partitions in the metastore (spark.sql.hive.manageFilesourcePartitions=false,
    see soundlake.spark.session), so Spark discovers them by listing the folders, and
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
