-- Artists, keyed by normalize_name(artist). Append-only: a run adds the artists first played
-- in the new days, with the spelling of their first play.
{{ config(materialized='incremental', incremental_strategy='append') }}
with plays as (
    select artist_key, artist, event_ts, _ingested_at
    from {{ ref('fact_listen_events') }}
    where artist_key is not null
      and {{ new_keys_filter('artist_key', ref('fact_listen_events')) }}
)
select
    artist_key,
    min_by(artist, event_ts) as artist,
    min(event_ts) as first_played_at,
    max(_ingested_at) as _ingested_at
from plays
group by artist_key
