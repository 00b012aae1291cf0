-- One row per logged-in user and day with activity: the periodic snapshot that daily,
-- cohort and first-week reports read instead of every event. Valid events only.
-- Incremental: the days fact_page_views recomputed.
select /*+ REBALANCE(event_date) */
    user_id,
    min(event_ts) as first_event_ts,
    max(event_ts) as last_event_ts,
    min_by(level, event_ts) as first_level,
    max_by(level, event_ts) as last_level,
    max(registration_ts) as registration_ts,
    max_by(first_name, event_ts) as first_name,
    max_by(last_name, event_ts) as last_name,
    max_by(gender, event_ts) as gender,
    count(distinct session_id) as sessions,
    count(*) as page_views,
    count_if(page = 'NextSong') as listen_events,
    coalesce(sum(case when page = 'NextSong' then duration_seconds end), 0) as listening_seconds,
    count_if(page = 'Submit Upgrade') as upgrades,
    count_if(page = 'Submit Downgrade') as downgrades,
    count_if(page = 'Cancellation Confirmation') as cancellations,
    max(_ingested_at) as _ingested_at,
    event_date
from {{ ref('fact_page_views') }}
where is_valid
  and user_id is not null
  and {{ incremental_days_filter('event_date', [ref('fact_page_views')]) }}
group by event_date, user_id
