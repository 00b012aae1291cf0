-- Device type, OS and browser per day (dim_devices: parse_user_agent), with each mix's share
-- of the day's active users.
with events as (
    select f.event_date, f.user_id, f.session_id, f._ingested_at, f.event_ts, d.device_type, d.os, d.browser
    from {{ ref('fact_page_views') }} f
    join {{ ref('dim_devices') }} d on d.device_key = f.device_key
    where f.is_valid
      and {{ incremental_days_filter('f.event_date', [ref('fact_page_views')]) }}
),
days as (
    select event_date, count(distinct user_id) as day_users
    from events
    group by event_date
),
mix as (
    select
        event_date,
        device_type,
        os,
        browser,
        count(distinct user_id) as active_users,
        count(distinct session_id) as sessions,
        count(*) as page_views,
        max(_ingested_at) as _ingested_at,
        max(event_ts) as _newest_event_at
    from events
    group by event_date, device_type, os, browser
)
select /*+ REBALANCE(event_date) */
    m.device_type,
    m.os,
    m.browser,
    m.active_users,
    m.sessions,
    m.page_views,
    m.active_users / nullif(d.day_users, 0) as user_share,
    m._ingested_at,
    m._newest_event_at,
    m.event_date
from mix m
join days d on d.event_date = m.event_date
