-- One row per session of a logged-in user, in the partition of its start day: duration,
-- songs, skipped songs and skips per minute (the original per-session skipping and per-user
-- session duration reports aggregate this). Reads dim_sessions, so recomputes the start days
-- it rewrote.
select /*+ REBALANCE(event_date) */
    session_id,
    user_id,
    level,
    duration_seconds,
    events,
    songs,
    skipped_songs,
    case when duration_seconds > 0 then skipped_songs / (duration_seconds / 60) end
        as skips_per_minute,
    _ingested_at,
    ended_at as _newest_event_at,
    event_date
from {{ ref('dim_sessions') }}
where level in ('free', 'paid')
  and {{ incremental_days_filter('event_date', [ref('dim_sessions')]) }}
