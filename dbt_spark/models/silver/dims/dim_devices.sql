-- Devices: each distinct user agent, parsed by parse_user_agent (a Rust UDF, uap-core rules)
-- into browser, OS and device type. Append-only: a run adds the agents first seen in the new
-- days.
{{ config(materialized='incremental', incremental_strategy='append') }}
with events as (
    select
        event_date,
        {{ device_key('user_agent') }} as device_key,
        user_agent,
        event_ts,
        _ingested_at
    from {{ ref('stg_page_view_events') }}
),
agents as (
    select device_key, min_by(user_agent, event_ts) as user_agent, max(_ingested_at) as _ingested_at
    from events
    where {{ new_keys_filter('device_key', ref('fact_page_views')) }}
    group by device_key
),
parsed as (
    select device_key, user_agent, parse_user_agent(user_agent) as ua, _ingested_at
    from agents
)
select
    device_key,
    user_agent,
    ua.browser as browser,
    ua.browser_version as browser_version,
    ua.os as os,
    ua.os_version as os_version,
    ua.device_type as device_type,
    _ingested_at
from parsed
