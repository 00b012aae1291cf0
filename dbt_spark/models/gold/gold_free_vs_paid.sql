-- Free and paid compared per day: valid events of logged-in users, by the level at each event.
{%- set days = incremental_days_filter('event_date', [ref('fact_page_views'), ref('fact_listen_events')]) %}
with views as (
    select
        event_date,
        level,
        count(distinct user_id) as active_users,
        count(distinct session_id) as sessions,
        count(*) as page_views,
        max(_ingested_at) as _ingested_at,
        max(event_ts) as _newest_event_at
    from {{ ref('fact_page_views') }}
    where {{ days }} and is_valid and user_id is not null
    group by event_date, level
),
listens as (
    select
        event_date,
        level,
        count(*) as listen_events,
        sum(duration_seconds) as listening_seconds,
        max(_ingested_at) as _ingested_at,
        max(event_ts) as _newest_event_at
    from {{ ref('fact_listen_events') }}
    where {{ days }} and is_valid and user_id is not null
    group by event_date, level
)
select /*+ REBALANCE(event_date) */
    v.level,
    v.active_users,
    v.sessions,
    v.page_views,
    coalesce(l.listen_events, 0) as listen_events,
    coalesce(l.listening_seconds, 0) as listening_seconds,
    coalesce(l.listen_events, 0) / v.active_users as listens_per_user,
    greatest(v._ingested_at, l._ingested_at) as _ingested_at,
    greatest(v._newest_event_at, l._newest_event_at) as _newest_event_at,
    v.event_date
from views v
left join listens l on l.event_date = v.event_date and l.level = v.level
