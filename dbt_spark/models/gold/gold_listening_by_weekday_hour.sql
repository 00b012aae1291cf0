-- Listening per day and hour of day (UTC), with the ISO weekday (1 = Monday).
select /*+ REBALANCE(event_date) */
    weekday(event_date) + 1 as weekday,
    date_format(event_date, 'E') as weekday_name,
    hour,
    count(*) as listen_events,
    count(distinct user_id) as listeners,
    sum(duration_seconds) as listening_seconds,
    max(_ingested_at) as _ingested_at,
    max(event_ts) as _newest_event_at,
    event_date
from {{ ref('fact_listen_events') }}
where is_valid
  and {{ incremental_days_filter('event_date', [ref('fact_listen_events')]) }}
group by event_date, hour
