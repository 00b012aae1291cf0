{#- Helpers of the append-only dimensions (dim_songs, dim_artists, dim_locations,
    dim_devices): each run appends the keys first seen in the facts' new days. -#}

{#- The fact's rows to look at: on a full build every row; incrementally the days with new
    data since the dimension's watermark, and only keys the dimension does not hold yet. -#}
{% macro new_keys_filter(key, fact) -%}
  {%- if is_incremental() -%}
    {{ in_dates('event_date', touched_dates([fact])) }}
    and {{ key }} not in (select {{ key }} from {{ this }})
  {%- else -%}
    true
  {%- endif -%}
{%- endmacro %}
