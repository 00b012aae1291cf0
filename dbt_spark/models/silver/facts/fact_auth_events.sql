-- Login, logout and registration outcomes (success or not), one row per Kafka record.
-- The topic has no `auth` field, so the auth rules of event_problems do not apply.
-- Incremental by event day.
with staged as (
    select *, {{ event_problems_of(auth='cast(null as string)', ignore=['auth_missing']) }} as problems
    from {{ ref('stg_auth_events') }}
    where {{ incremental_days_filter('event_date', [source('bronze', 'auth_events')]) }}
)
select /*+ REBALANCE(event_date) */
    event_ts,
    session_id,
    user_id,
    level,
    success,
    registration_ts,
    {{ location_key('city', 'state', 'zip') }} as location_key,
    {{ device_key('user_agent') }} as device_key,
    problems,
    size(problems) = 0 as is_valid,
    kafka_partition,
    kafka_offset,
    _ingested_at,
    event_date
from staged
