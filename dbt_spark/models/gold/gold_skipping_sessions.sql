-- Skipping per session start day and level: sessions with songs, sessions with a skipped song
-- (the next song started before the song's duration had passed), skipped songs.
select /*+ REBALANCE(event_date) */
    level,
    count(*) as listening_sessions,
    count_if(skipped_songs > 0) as skipping_sessions,
    sum(songs) as songs,
    sum(skipped_songs) as skipped_songs,
    sum(skipped_songs) / sum(songs) as skip_rate,
    count_if(skipped_songs > 0) / count(*) as skipping_session_share,
    max(_ingested_at) as _ingested_at,
    max(ended_at) as _newest_event_at,
    event_date
from {{ ref('dim_sessions') }}
where songs > 0
  and level in ('free', 'paid')
  and {{ incremental_days_filter('event_date', [ref('dim_sessions')]) }}
group by event_date, level
