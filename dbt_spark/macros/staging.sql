{#- The deduplication every staging model applies, as its `qualify` condition: true for the
    first landing of a Kafka record, so a record landed twice (the same topic partition and
    offset) keeps one row, the one landed first. A record's event_date follows from its ts, so
    the key is unique within an event_date partition and filters on event_date prune.
    `qualify` needs a Spark that has it, as the pinned pyspark (requirements/runtime.txt) does. -#}
{% macro first_landing() -%}
    row_number() over (partition by event_date, _kafka_partition, _kafka_offset order by _ingested_at) = 1
{%- endmacro %}
