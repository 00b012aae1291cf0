{#- The project's own generic tests (no hub packages). Each returns the failing rows. -#}

{#- No two rows share the values of `columns` (a composite key). -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as copies
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- Row-count reconciliation: the model holds exactly one row per distinct `key` of
    `compare_to` (e.g. a fact against its bronze table, deduplicated on the Kafka record),
    per event_date; where rows mismatch, both counts are returned. `compare_to` is read as of
    the run's bronze_as_of (macros/staging.sql), as the model's inputs were: it must have
    `_ingested_at`. -#}
{% test reconciles_with(model, compare_to, key, group_by='event_date') %}
with expected as (
    select {{ group_by }} as grp, count(distinct {{ key | join(', ') }}) as expected_rows
    from {{ compare_to }}
    where {{ bronze_as_of() }}
    group by {{ group_by }}
),
actual as (
    select {{ group_by }} as grp, count(*) as actual_rows
    from {{ model }}
    group by {{ group_by }}
)
select coalesce(e.grp, a.grp) as grp, e.expected_rows, a.actual_rows
from expected e
full outer join actual a on e.grp = a.grp
where e.expected_rows is null or a.actual_rows is null or e.expected_rows <> a.actual_rows
{% endtest %}

{#- Every value of the column is >= `minimum` (nulls pass; use not_null for those). -#}
{% test at_least(model, column_name, minimum=0) %}
select {{ column_name }} from {{ model }} where {{ column_name }} < {{ minimum }}
{% endtest %}

{#- Every value of the column is in [0, 1] (a share or a rate). -#}
{% test is_fraction(model, column_name) %}
select {{ column_name }} from {{ model }} where {{ column_name }} < 0 or {{ column_name }} > 1
{% endtest %}

{#- An SCD2 history: per `key`, the versions do not overlap, each version's valid_to is the
    next one's valid_from, and exactly the last one is current. -#}
{% test scd2_history(model, key, valid_from='valid_from', valid_to='valid_to', is_current='is_current') %}
with ordered as (
    select {{ key }} as k, {{ valid_from }} as vf, {{ valid_to }} as vt, {{ is_current }} as cur,
           lead({{ valid_from }}) over (partition by {{ key }} order by {{ valid_from }}) as next_vf
    from {{ model }}
)
select * from ordered
where (next_vf is null and (vt is not null or not cur))
   or (next_vf is not null and (vt is null or vt <> next_vf or cur))
   or (vt is not null and vt <= vf)
{% endtest %}

{#- None of `columns` is null: one query for all of a model's required columns (a not_null
    test per column costs a Spark job each). Returns the offending rows' nulls per column. -#}
{% test not_null_columns(model, columns) %}
select *
from (
    select
        {%- for column in columns %}
        count_if({{ column }} is null) as {{ column }}_nulls{{ "," if not loop.last }}
        {%- endfor %}
    from {{ model }}
)
where {% for column in columns %}{{ column }}_nulls > 0{{ " or " if not loop.last }}{% endfor %}
{% endtest %}

{#- Every session is shorter than var session_lookback_days: the assumption that lets an
    incremental run recompute only that many days of sessions before the new ones. -#}
{% test shorter_than_session_lookback(model, column_name) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} >= {{ var('session_lookback_days') | int }} * 86400
{% endtest %}
