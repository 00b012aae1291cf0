-- Sessions per start day and level (guest = no logged-in user): count, duration, events and
-- songs per session. Reads dim_sessions, which rewrites the start days whose sessions got
-- new events (including those crossing midnight), so this recomputes exactly those days.
select /*+ REBALANCE(event_date) */
    level,
    count(*) as sessions,
    avg(duration_seconds) as avg_duration_seconds,
    cast(percentile_approx(duration_seconds, 0.5) as double) as median_duration_seconds,
    avg(events) as avg_events_per_session,
    avg(songs) as avg_songs_per_session,
    max(_ingested_at) as _ingested_at,
    max(ended_at) as _newest_event_at,
    event_date
from {{ ref('dim_sessions') }}
where {{ incremental_days_filter('event_date', [ref('dim_sessions')]) }}
group by event_date, level
