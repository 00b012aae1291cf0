{#- Which event_date partitions an incremental model recomputes.

    Every incremental model keeps `_ingested_at`: the latest bronze ingestion time among the
    rows it was computed from. A run recomputes the event days whose upstream rows are newer
    than the model's own maximum (the days with new bronze data). Those rows are in files
    written after that time, so only those files are read: the lander stamps `_ingested_at`
    before it writes a file and dbt writes a model's files after reading its upstream rows, and
    var clock_skew_minutes allows for the clocks of the lander, dbt and the NameNode to differ.
    When the vars
    `start_date` and `end_date` are set, every day from start_date to end_date. The days come
    back as a sorted list of 'YYYY-MM-DD' strings, so that filters on them prune partitions. -#}

{% macro var_dates() %}
  {%- set start, end = var('start_date'), var('end_date') -%}
  {%- if start is none and end is none -%}{{ return(none) }}{%- endif -%}
  {%- if start is none or end is none -%}
    {{ exceptions.raise_compiler_error("set both vars start_date and end_date (YYYY-MM-DD), or neither") }}
  {%- endif -%}
  {%- set first = modules.datetime.date.fromisoformat(start | string) -%}
  {%- set last = modules.datetime.date.fromisoformat(end | string) -%}
  {%- if last < first -%}
    {{ exceptions.raise_compiler_error("end_date " ~ last ~ " is before start_date " ~ first) }}
  {%- endif -%}
  {%- set days = [] -%}
  {%- for n in range((last - first).days + 1) -%}
    {%- do days.append((first + modules.datetime.timedelta(days=n)).isoformat()) -%}
  {%- endfor -%}
  {{ return(days) }}
{% endmacro %}

{#- The event days of `upstreams` (relations with event_date and _ingested_at) that hold rows
    ingested after the watermark of `watermark_of` (default: this model), and not after the
    run's bronze_as_of (macros/staging.sql). -#}
{% macro new_data_dates(upstreams, watermark_of=none) %}
  {%- if not execute -%}{{ return([]) }}{%- endif -%}
  {%- set watermark = run_query('select cast(max(_ingested_at) as string) from ' ~ (watermark_of or this)).columns[0].values()[0] -%}
  {#- A row ingested after the watermark is in a file written after it: the filter on the
      file's time (less the clock skew allowed) lets Spark skip older files unopened. -#}
  {%- set newer = "" if watermark is none else " and _ingested_at > timestamp'" ~ watermark ~ "'"
      ~ " and _metadata.file_modification_time >= timestamp'" ~ watermark ~ "' - interval "
      ~ (var('clock_skew_minutes') | int) ~ " minutes" -%}
  {%- set parts = [] -%}
  {%- for upstream in upstreams -%}
    {%- do parts.append('select distinct event_date from ' ~ upstream ~ ' where ' ~ bronze_as_of() ~ newer) -%}
  {%- endfor -%}
  {%- set rows = run_query('select distinct cast(event_date as string) from (' ~ parts | join(' union all ') ~ ') where event_date is not null') -%}
  {{ return(rows.columns[0].values() | list | sort) }}
{% endmacro %}

{#- The days this run recomputes: var dates or the days with new data, each widened by
    `before` days earlier and `after` days later. -#}
{% macro touched_dates(upstreams, before=0, after=0) %}
  {%- set days = var_dates() -%}
  {%- if days is none -%}{%- set days = new_data_dates(upstreams) -%}{%- endif -%}
  {{ return(widen_dates(days, before, after)) }}
{% endmacro %}

{% macro widen_dates(days, before=0, after=0) %}
  {%- set result = [] -%}
  {%- for day in days -%}
    {%- set d = modules.datetime.date.fromisoformat(day | string) -%}
    {%- for n in range(-before, after + 1) -%}
      {%- set x = (d + modules.datetime.timedelta(days=n)).isoformat() -%}
      {%- if x not in result -%}{%- do result.append(x) -%}{%- endif -%}
    {%- endfor -%}
  {%- endfor -%}
  {{ return(result | sort) }}
{% endmacro %}

{#- SQL: `column in (date'…', …)`, or `false` when there is no day. -#}
{% macro in_dates(column, days) -%}
  {%- if days | length == 0 -%}false
  {%- else -%}{{ column }} in ({% for d in days %}date'{{ d }}'{{ ", " if not loop.last }}{% endfor %})
  {%- endif -%}
{%- endmacro %}

{#- SQL filter for an incremental model's input: on a full build, `true` (or the var dates);
    incrementally, the touched days. -#}
{% macro incremental_days_filter(column, upstreams, before=0, after=0) -%}
  {%- if is_incremental() -%}
    {{ in_dates(column, touched_dates(upstreams, before, after)) }}
  {%- else -%}
    true
  {%- endif -%}
{%- endmacro %}
