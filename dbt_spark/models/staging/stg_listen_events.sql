-- Songs played (NextSong), one row per Kafka record, typed.
select
    {{ staged_event_columns() }},
    auth,
    artist,
    song,
    duration as duration_seconds,
    {{ staged_lineage_columns() }}
from {{ deduplicated(source('bronze', 'listen_events')) }}
