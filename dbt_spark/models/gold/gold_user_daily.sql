-- One row per logged-in user and active day: the grain of the original per-user reports
-- (daily song counts, and with registration_date the new users' first days and weeks).
-- Reads the silver daily snapshot fact_user_daily_activity, not the events; recomputes the
-- days it recomputed.
select /*+ REBALANCE(event_date) */
    user_id,
    last_level as level,
    to_date(registration_ts) as registration_date,
    sessions,
    page_views,
    listen_events as songs,
    listening_seconds,
    _ingested_at,
    last_event_ts as _newest_event_at,
    event_date
from {{ ref('fact_user_daily_activity') }}
where {{ incremental_days_filter('event_date', [ref('fact_user_daily_activity')]) }}
