-- Login, logout and registration attempts with their outcome from bronze auth_events: typed,
-- snake_case, times in UTC, one row per Kafka record (a record landed twice keeps its first
-- landing).
select
    event_date,
    timestamp_millis(ts) as event_ts,
    sessionId as session_id,
    itemInSession as item_in_session,
    userId as user_id,
    level,
    firstName as first_name,
    lastName as last_name,
    gender,
    timestamp_millis(registration) as registration_ts,
    city,
    state,
    zip,
    lat as latitude,
    lon as longitude,
    userAgent as user_agent,
    tag,
    success,
    _kafka_partition as kafka_partition,
    _kafka_offset as kafka_offset,
    _kafka_timestamp as kafka_ts,
    _schema_id as schema_id,
    _ingested_at
from {{ source('bronze', 'auth_events') }}
where {{ bronze_as_of() }}
qualify {{ first_landing() }}
