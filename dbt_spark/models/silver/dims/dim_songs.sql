-- Songs, keyed by normalize_name(artist) | normalize_name(song): spellings that differ only
-- in case, accents or punctuation are one song. Append-only: a run adds the songs first
-- played in the new days, with the spelling and duration of their first play.
{{ config(materialized='incremental', incremental_strategy='append') }}
with plays as (
    select song_key, artist_key, song, artist, duration_seconds, event_ts, _ingested_at
    from {{ ref('fact_listen_events') }}
    where song_key is not null
      and {{ new_keys_filter('song_key', ref('fact_listen_events')) }}
)
select
    song_key,
    min_by(artist_key, event_ts) as artist_key,
    min_by(song, event_ts) as song,
    min_by(artist, event_ts) as artist,
    min_by(duration_seconds, event_ts) as duration_seconds,
    min(event_ts) as first_played_at,
    max(_ingested_at) as _ingested_at
from plays
group by song_key
