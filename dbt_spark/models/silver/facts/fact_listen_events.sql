-- Songs played (NextSong), one row per Kafka record, with the song and artist keys
-- (normalize_name) and the keys of location and device. Incremental by event day.
with staged as (
    select *, {{ event_problems_of() }} as problems
    from {{ ref('stg_listen_events') }}
    where {{ incremental_days_filter('event_date', [source('bronze', 'listen_events')]) }}
)
select /*+ REBALANCE(event_date) */
    event_ts,
    hour(event_ts) as hour,
    session_id,
    user_id,
    auth,
    level,
    item_in_session,
    {{ song_key('artist', 'song') }} as song_key,
    {{ artist_key('artist') }} as artist_key,
    artist,
    song,
    duration_seconds,
    {{ location_key('city', 'state', 'zip') }} as location_key,
    {{ device_key('user_agent') }} as device_key,
    problems,
    size(problems) = 0 as is_valid,
    kafka_partition,
    kafka_offset,
    _ingested_at,
    event_date
from staged
