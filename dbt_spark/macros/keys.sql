{#- The surrogate keys shared by facts and dimensions. -#}

{#- A song: its artist and title, each by normalize_name (a Rust UDF). -#}
{% macro song_key(artist, song) -%}
    concat(normalize_name({{ artist }}), '|', normalize_name({{ song }}))
{%- endmacro %}

{% macro artist_key(artist) -%}
    normalize_name({{ artist }})
{%- endmacro %}

{#- A place: city, state and zip code (eventsim gives each user one). -#}
{% macro location_key(city, state, zip) -%}
    xxhash64(coalesce({{ city }}, ''), coalesce({{ state }}, ''), coalesce({{ zip }}, ''))
{%- endmacro %}

{#- A device: the exact user agent string. -#}
{% macro device_key(user_agent) -%}
    xxhash64(coalesce({{ user_agent }}, ''))
{%- endmacro %}
