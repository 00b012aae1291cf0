-- Places (city, state, zip code) with their coordinates and H3 cell (h3_cell, a Rust UDF, at
-- var h3_resolution). Append-only: a run adds the places first seen in the new days.
{{ config(materialized='incremental', incremental_strategy='append') }}
with events as (
    select
        event_date,
        {{ location_key('city', 'state', 'zip') }} as location_key,
        city,
        state,
        zip,
        latitude,
        longitude,
        event_ts,
        _ingested_at
    from {{ ref('stg_page_view_events') }}
),
new_events as (
    select location_key, city, state, zip, latitude, longitude, event_ts, _ingested_at
    from events
    where {{ new_keys_filter('location_key', ref('fact_page_views')) }}
),
places as (
    select
        location_key,
        min_by(city, event_ts) as city,
        min_by(state, event_ts) as state,
        min_by(zip, event_ts) as zip,
        min_by(latitude, event_ts) as latitude,
        min_by(longitude, event_ts) as longitude,
        max(_ingested_at) as _ingested_at
    from new_events
    group by location_key
)
select
    location_key,
    city,
    state,
    zip,
    latitude,
    longitude,
    h3_cell(latitude, longitude, {{ var('h3_resolution') }}) as h3_cell,
    {{ var('h3_resolution') }} as h3_resolution,
    _ingested_at
from places
