-- Login, logout and registration outcomes, one row per Kafka record, typed.
select
    {{ staged_event_columns() }},
    success,
    {{ staged_lineage_columns() }}
from {{ deduplicated(source('bronze', 'auth_events')) }}
