-- Daily active users and listening time (valid events of logged-in users).
{%- set days = incremental_days_filter('event_date', [ref('fact_user_daily_activity'), ref('fact_listen_events')]) %}
with users as (
    select event_date, user_id, last_level, _ingested_at, last_event_ts
    from {{ ref('fact_user_daily_activity') }}
    where {{ days }}
),
sessions as (
    select event_date, count(distinct session_id) as sessions
    from {{ ref('fact_page_views') }}
    where {{ days }} and is_valid and user_id is not null
    group by event_date
),
listens as (
    select
        event_date,
        count(*) as listen_events,
        sum(duration_seconds) as listening_seconds,
        max(_ingested_at) as _ingested_at,
        max(event_ts) as _newest_event_at
    from {{ ref('fact_listen_events') }}
    where {{ days }} and is_valid and user_id is not null
    group by event_date
),
active as (
    select
        event_date,
        count(*) as active_users,
        count_if(last_level = 'paid') as paid_active_users,
        count_if(last_level = 'free') as free_active_users,
        max(_ingested_at) as _ingested_at,
        max(last_event_ts) as _newest_event_at
    from users
    group by event_date
)
select /*+ REBALANCE(event_date) */
    a.active_users,
    a.paid_active_users,
    a.free_active_users,
    coalesce(s.sessions, 0) as sessions,
    coalesce(l.listen_events, 0) as listen_events,
    coalesce(l.listening_seconds, 0) as listening_seconds,
    coalesce(l.listening_seconds, 0) / a.active_users as listening_seconds_per_user,
    greatest(a._ingested_at, l._ingested_at) as _ingested_at,
    greatest(a._newest_event_at, l._newest_event_at) as _newest_event_at,
    a.event_date
from active a
left join sessions s on s.event_date = a.event_date
left join listens l on l.event_date = a.event_date
