-- Every event (page view), one row per Kafka record, typed.
select
    {{ staged_event_columns() }},
    auth,
    page,
    method,
    status,
    artist,
    song,
    duration as duration_seconds,
    {{ staged_lineage_columns() }}
from {{ deduplicated(source('bronze', 'page_view_events')) }}
