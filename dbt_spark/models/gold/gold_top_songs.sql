-- The var top_n most played songs of each day (valid listens), by song_key.
{{ top_played_by_day('song_key', ['song', 'artist']) }}
