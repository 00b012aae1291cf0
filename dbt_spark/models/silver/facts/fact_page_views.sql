-- Every event (page view) of the service, one row per Kafka record, with the keys of its
-- location, device and session. Rows breaking a data-quality rule are kept, flagged by
-- `problems` / `is_valid` (gold reports use the valid ones). Incremental: the event days with
-- new bronze data (or the vars start_date..end_date) are recomputed whole.
with staged as (
    select *, {{ event_problems_of() }} as problems
    from {{ ref('stg_page_view_events') }}
    where {{ incremental_days_filter('event_date', [source('bronze', 'page_view_events')]) }}
)
select /*+ REBALANCE(event_date) */
    event_ts,
    hour(event_ts) as hour,
    session_id,
    user_id,
    auth,
    level,
    page,
    method,
    status,
    item_in_session,
    artist,
    song,
    duration_seconds,
    registration_ts,
    first_name,
    last_name,
    gender,
    {{ location_key('city', 'state', 'zip') }} as location_key,
    {{ device_key('user_agent') }} as device_key,
    problems,
    size(problems) = 0 as is_valid,
    kafka_partition,
    kafka_offset,
    _ingested_at,
    event_date
from staged
