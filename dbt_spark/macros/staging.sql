{#- The deduplication every staging model applies, as its `qualify` condition: true for the
    first landing of a Kafka record, so a record landed twice (the same topic partition and
    offset) keeps one row, the one landed first. A record's event_date follows from its ts, so
    the key is unique within an event_date partition and filters on event_date prune.
    `qualify` needs a Spark that has it, as the pinned pyspark (requirements/runtime.txt) does. -#}
{% macro first_landing() -%}
    row_number() over (partition by event_date, _kafka_partition, _kafka_offset order by _ingested_at) = 1
{%- endmacro %}

{#- The lake as of one commit of the lander, as a filter on a relation with `_ingested_at`: the
    rows ingested up to var `bronze_as_of` (epoch microseconds: a commit log entry's
    `ingested_at_us`; the lander stamps one `_ingested_at` per flush, in commit order), or every
    row when the var is unset. The orchestrator sets it to the newest commit a run was launched
    for, so that every model and test of the run reads the same bronze while the lander goes on
    committing (docs/orchestration.md). Every read of a bronze source applies it. -#}
{% macro bronze_as_of(column='_ingested_at') -%}
  {%- set as_of = var('bronze_as_of', none) -%}
  {%- if as_of is none -%}
    true
  {%- elif (as_of | string).isdigit() -%}
    {{ column }} <= timestamp_micros({{ as_of }})
  {%- else -%}
    {{ exceptions.raise_compiler_error("var bronze_as_of is " ~ as_of ~ ": a time in epoch microseconds (a commit log entry's ingested_at_us), or unset for all of bronze") }}
  {%- endif -%}
{%- endmacro %}
