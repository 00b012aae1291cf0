-- The var top_n most played artists of each day (valid listens), by artist_key.
{{ top_played_by_day('artist_key', ['artist']) }}
