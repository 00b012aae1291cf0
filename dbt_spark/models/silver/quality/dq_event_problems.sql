-- Data quality per bronze table, day and rule: how many rows break each event_problems rule
-- (the facts' `problems`), how many break none (rule `clean`), and how many Kafka records
-- were landed more than once (rule `duplicate_record`: bronze rows minus fact rows; staging
-- keeps one copy). Bad rows are kept in the facts, flagged, and counted here.
-- Incremental: the days the facts recomputed.
{%- set tables = {
    'listen_events': ref('fact_listen_events'),
    'page_view_events': ref('fact_page_views'),
    'auth_events': ref('fact_auth_events'),
    'status_change_events': ref('fact_status_changes'),
} %}
{%- if is_incremental() %}
  {%- set days_filter = in_dates('event_date', touched_dates(tables.values() | list)) %}
{%- else %}
  {%- set days_filter = 'true' %}
{%- endif %}
with
{%- for name, fact in tables.items() %}
{{ name }}_facts as (
    select event_date, problems, _ingested_at
    from {{ fact }}
    where {{ days_filter }}
),
{{ name }}_landed as (
    select event_date, count(*) as landed_rows
    from {{ source('bronze', name) }}
    where {{ days_filter }} and {{ bronze_as_of() }}
    group by event_date
),
{{ name }}_totals as (
    select event_date, count(*) as table_rows, max(_ingested_at) as _ingested_at
    from {{ name }}_facts
    group by event_date
),
{{ name }}_rules as (
    select event_date, rule, count(*) as problem_rows
    from {{ name }}_facts
    lateral view explode(problems) p as rule
    group by event_date, rule
    union all
    select event_date, 'clean' as rule, count(*) as problem_rows
    from {{ name }}_facts
    where size(problems) = 0
    group by event_date
    union all
    select t.event_date, 'duplicate_record' as rule, l.landed_rows - t.table_rows as problem_rows
    from {{ name }}_totals t
    join {{ name }}_landed l on l.event_date = t.event_date
    where l.landed_rows > t.table_rows
),
{%- endfor %}
all_rules as (
{%- for name in tables %}
    select
        '{{ name }}' as table_name,
        r.rule,
        r.problem_rows,
        t.table_rows,
        t._ingested_at,
        t.event_date
    from {{ name }}_rules r
    join {{ name }}_totals t on t.event_date = r.event_date
    {{ "union all" if not loop.last }}
{%- endfor %}
)
select /*+ REBALANCE(event_date) */
    table_name,
    rule,
    problem_rows,
    table_rows,
    problem_rows / table_rows as problem_share,
    _ingested_at,
    event_date
from all_rules
