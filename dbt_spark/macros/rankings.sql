{#- The gold "top N of the day" reports. -#}

{#- The var top_n most played `key`s of each day among valid listens (fact_listen_events):
    rank (1 = most plays; ties go to the smaller key), the key, the most frequent spelling of
    each of `labels` (columns of the fact), plays, distinct listeners and seconds listened.
    Incremental runs recompute only the days with new listens. -#}
{% macro top_played_by_day(key, labels) %}
with plays as (
    select
        event_date,
        {{ key }},
        {%- for label in labels %}
        mode({{ label }}) as {{ label }},
        {%- endfor %}
        count(*) as play_count,
        count(distinct user_id) as listeners,
        sum(duration_seconds) as listening_seconds,
        max(_ingested_at) as _ingested_at
    from {{ ref('fact_listen_events') }}
    where is_valid
      and {{ key }} is not null
      and {{ incremental_days_filter('event_date', [ref('fact_listen_events')]) }}
    group by event_date, {{ key }}
),
ranked as (
    select
        *,
        row_number() over (partition by event_date order by play_count desc, {{ key }}) as rank
    from plays
)
select
    cast(rank as int) as rank,
    {{ key }},
    {%- for label in labels %}
    {{ label }},
    {%- endfor %}
    play_count,
    listeners,
    listening_seconds,
    _ingested_at,
    event_date
from ranked
where rank <= {{ var('top_n') | int }}
{% endmacro %}
