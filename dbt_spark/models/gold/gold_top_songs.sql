-- The var top_n most played songs of each day (valid listens), by song_key.
with plays as (
    select
        event_date,
        song_key,
        mode(song) as song,
        mode(artist) as artist,
        count(*) as play_count,
        count(distinct user_id) as listeners,
        sum(duration_seconds) as listening_seconds,
        max(_ingested_at) as _ingested_at
    from {{ ref('fact_listen_events') }}
    where is_valid
      and song_key is not null
      and {{ incremental_days_filter('event_date', [ref('fact_listen_events')]) }}
    group by event_date, song_key
),
ranked as (
    select
        *,
        row_number() over (partition by event_date order by play_count desc, song_key) as rank
    from plays
)
select
    cast(rank as int) as rank,
    song_key,
    song,
    artist,
    play_count,
    listeners,
    listening_seconds,
    _ingested_at,
    event_date
from ranked
where rank <= {{ var('top_n') | int }}
