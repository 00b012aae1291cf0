{#- Shared pieces of the staging models (one per bronze table). -#}

{#- The bronze table's rows, one per Kafka record: a record landed twice (the same topic
    partition and offset) keeps its first landing. A record's event_date follows from its ts,
    so the key is unique within an event_date partition and filters on event_date prune. -#}
{% macro deduplicated(relation) -%}
(
    select *
    from (
        select
            *,
            row_number() over (
                partition by event_date, _kafka_partition, _kafka_offset
                order by _ingested_at
            ) as _landing
        from {{ relation }}
    )
    where _landing = 1
)
{%- endmacro %}

{#- The columns every topic has, typed and renamed to snake_case (times in UTC). -#}
{% macro staged_event_columns() -%}
    event_date,
    timestamp_millis(ts) as event_ts,
    sessionId as session_id,
    itemInSession as item_in_session,
    userId as user_id,
    level,
    firstName as first_name,
    lastName as last_name,
    gender,
    timestamp_millis(registration) as registration_ts,
    city,
    state,
    zip,
    lat as latitude,
    lon as longitude,
    userAgent as user_agent,
    tag
{%- endmacro %}

{#- The Kafka lineage columns. -#}
{% macro staged_lineage_columns() -%}
    _kafka_partition as kafka_partition,
    _kafka_offset as kafka_offset,
    _kafka_timestamp as kafka_ts,
    _schema_id as schema_id,
    _ingested_at
{%- endmacro %}

{#- The data-quality rule codes a staged row breaks (event_problems, a Rust UDF; empty when
    clean). Computed in the facts, not in the staging views: a persistent Spark view cannot
    call a session's temporary function. `ignore` drops rules that do not apply. -#}
{% macro event_problems_of(auth='auth', ignore=[]) -%}
    {%- set sql = namespace(problems='event_problems(event_ts, user_id, ' ~ auth ~ ', level, latitude, longitude, zip, state)') -%}
    {%- for rule in ignore -%}
      {%- set sql.problems = "array_remove(" ~ sql.problems ~ ", '" ~ rule ~ "')" -%}
    {%- endfor -%}
    {{ sql.problems }}
{%- endmacro %}
