-- Activity per city and day: every valid event, guests included.
with events as (
    select f.*, l.city, l.state, l.latitude, l.longitude
    from {{ ref('fact_page_views') }} f
    join {{ ref('dim_locations') }} l on l.location_key = f.location_key
    where f.is_valid
      and {{ incremental_days_filter('f.event_date', [ref('fact_page_views')]) }}
),
cities as (
    select
        event_date,
        city,
        state,
        avg(latitude) as latitude,
        avg(longitude) as longitude,
        count(distinct user_id) as active_users,
        count(distinct session_id) as sessions,
        count(*) as page_views,
        count_if(page = 'NextSong') as listen_events,
        coalesce(sum(case when page = 'NextSong' then duration_seconds end), 0) as listening_seconds,
        max(_ingested_at) as _ingested_at,
        max(event_ts) as _newest_event_at
    from events
    group by event_date, city, state
)
select /*+ REBALANCE(event_date) */
    city,
    state,
    h3_cell(latitude, longitude, 5) as h3_cell,
    latitude,
    longitude,
    active_users,
    sessions,
    page_views,
    listen_events,
    listening_seconds,
    _ingested_at,
    _newest_event_at,
    event_date
from cities
