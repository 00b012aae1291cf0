-- Subscription changes: upgrades (free → paid) and downgrades (paid → free), one row per
-- Kafka record. Incremental by event day.
with staged as (
    select *, {{ event_problems_of() }} as problems
    from {{ ref('stg_status_change_events') }}
    where {{ incremental_days_filter('event_date', [source('bronze', 'status_change_events')]) }}
)
select /*+ REBALANCE(event_date) */
    event_ts,
    session_id,
    user_id,
    change,
    level as old_level,
    new_level,
    registration_ts,
    {{ location_key('city', 'state', 'zip') }} as location_key,
    problems,
    size(problems) = 0 as is_valid,
    kafka_partition,
    kafka_offset,
    _ingested_at,
    event_date
from staged
