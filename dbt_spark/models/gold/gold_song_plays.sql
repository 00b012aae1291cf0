-- Plays of every song per day (valid listens): the small aggregate the all-time top songs are
-- summed from (docs/dbt.md), so no run rescans every listen. Recomputes the days with new
-- listens.
select /*+ REBALANCE(event_date) */
    song_key,
    mode(song) as song,
    mode(artist) as artist,
    count(*) as play_count,
    sum(duration_seconds) as listening_seconds,
    max(_ingested_at) as _ingested_at,
    max(event_ts) as _newest_event_at,
    event_date
from {{ ref('fact_listen_events') }}
where is_valid
  and song_key is not null
  and {{ incremental_days_filter('event_date', [ref('fact_listen_events')]) }}
group by event_date, song_key
