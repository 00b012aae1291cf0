{#- The gold "top N of the day" reports. -#}

{#- The var top_n most played `key`s of each day among valid listens (fact_listen_events):
    rank (1 = most plays; ties go to the smaller key), the key, the most frequent spelling of
    each of `labels` (columns of the fact), plays, distinct listeners and seconds listened.
    Incremental runs recompute only the days with new listens. Ranks are computed
    from the plays per key alone; the other aggregates only for the keys ranked. -#}
{% macro top_played_by_day(key, labels) %}
{%- set days = incremental_days_filter('event_date', [ref('fact_listen_events')]) %}
with plays as (
    select *
    from {{ ref('fact_listen_events') }}
    where is_valid
      and {{ key }} is not null
      and {{ days }}
),
counts as (
    select event_date, {{ key }}, count(*) as play_count
    from plays
    group by event_date, {{ key }}
),
ranked as (
    select
        event_date,
        {{ key }},
        play_count,
        row_number() over (partition by event_date order by play_count desc, {{ key }}) as rank
    from counts
),
top as (
    select * from ranked where rank <= {{ var('top_n') | int }}
),
-- the labels, listeners and seconds of the top keys only: a few rows per day, so the costly
-- aggregates (mode, count distinct) run on the top keys' plays, not on every key's
details as (
    select
        p.event_date,
        p.{{ key }},
        {%- for label in labels %}
        mode(p.{{ label }}) as {{ label }},
        {%- endfor %}
        count(distinct p.user_id) as listeners,
        sum(p.duration_seconds) as listening_seconds,
        max(p._ingested_at) as _ingested_at,
        max(p.event_ts) as _newest_event_at
    from plays p
    join top t on t.event_date = p.event_date and t.{{ key }} = p.{{ key }}
    group by p.event_date, p.{{ key }}
)
select /*+ REBALANCE(event_date) */
    cast(t.rank as int) as rank,
    t.{{ key }},
    {%- for label in labels %}
    d.{{ label }},
    {%- endfor %}
    t.play_count,
    d.listeners,
    d.listening_seconds,
    d._ingested_at,
    d._newest_event_at,
    t.event_date
from top t
join details d on d.event_date = t.event_date and d.{{ key }} = t.{{ key }}
{% endmacro %}
