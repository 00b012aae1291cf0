-- The var top_n most played artists of each day (valid listens), by artist_key.
with plays as (
    select
        event_date,
        artist_key,
        mode(artist) as artist,
        count(*) as play_count,
        count(distinct user_id) as listeners,
        sum(duration_seconds) as listening_seconds,
        max(_ingested_at) as _ingested_at
    from {{ ref('fact_listen_events') }}
    where is_valid
      and artist_key is not null
      and {{ incremental_days_filter('event_date', [ref('fact_listen_events')]) }}
    group by event_date, artist_key
),
ranked as (
    select
        *,
        row_number() over (partition by event_date order by play_count desc, artist_key) as rank
    from plays
)
select
    cast(rank as int) as rank,
    artist_key,
    artist,
    play_count,
    listeners,
    listening_seconds,
    _ingested_at,
    event_date
from ranked
where rank <= {{ var('top_n') | int }}
