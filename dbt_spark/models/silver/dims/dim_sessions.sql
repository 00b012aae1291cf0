-- Sessions: one row per session id, in the partition of the day it started (event_date).
-- Duration = first to last event; a song is skipped when the session's next song starts
-- before the song's duration has passed.
-- Incremental: a session may cross midnight, so for the days with new data D the run
-- rewrites the start days D - L … D (L = var session_lookback_days; sessions are assumed
-- shorter than L days) from the events of D - 2L … D + L: every session that started in
-- those days is then complete, and none is mistaken to start later than it did.
{{ config(materialized='incremental', incremental_strategy='insert_overwrite', partition_by=['event_date']) }}
{%- set lookback = var('session_lookback_days') | int %}
{%- if is_incremental() %}
  {%- set start_days = touched_dates([ref('fact_page_views')], before=lookback) %}
  {%- set input_filter = in_dates('event_date', widen_dates(start_days, before=lookback, after=lookback)) %}
  {%- set output_filter = in_dates('to_date(s.started_at)', start_days) %}
{%- else %}
  {%- set input_filter, output_filter = 'true', 'true' %}
{%- endif %}
with events as (
    select *
    from {{ ref('fact_page_views') }}
    where {{ input_filter }}
),
songs as (
    select
        session_id,
        duration_seconds,
        lead(event_ts) over (partition by session_id order by event_ts, item_in_session) as next_song_ts,
        event_ts
    from {{ ref('fact_listen_events') }}
    where {{ input_filter }}
),
skips as (
    select
        session_id,
        count_if(
            next_song_ts is not null
            and unix_micros(next_song_ts) - unix_micros(event_ts) < duration_seconds * 1000000
        ) as skipped_songs
    from songs
    group by session_id
),
sessions as (
    select
        session_id,
        max(user_id) as user_id,
        min_by(level, struct(event_ts, item_in_session)) as first_level,
        min(event_ts) as started_at,
        max(event_ts) as ended_at,
        count(*) as events,
        count_if(page = 'NextSong') as songs,
        min_by(location_key, event_ts) as location_key,
        min_by(device_key, event_ts) as device_key,
        max(_ingested_at) as _ingested_at
    from events
    group by session_id
)
select /*+ REBALANCE(event_date) */
    s.session_id,
    s.user_id,
    case when s.user_id is null then 'guest' else s.first_level end as level,
    s.started_at,
    s.ended_at,
    (unix_micros(s.ended_at) - unix_micros(s.started_at)) / 1e6 as duration_seconds,
    s.events,
    s.songs,
    coalesce(k.skipped_songs, 0) as skipped_songs,
    s.location_key,
    s.device_key,
    s._ingested_at,
    to_date(s.started_at) as event_date
from sessions s
left join skips k on k.session_id = s.session_id
where {{ output_filter }}
