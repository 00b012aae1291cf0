{#- Shared pieces of the facts. -#}

{#- The data-quality rule codes a staged row breaks (event_problems, a Rust UDF; empty when
    clean). Computed in the facts, not in the staging views: a persistent Spark view cannot
    call a session's temporary function. `ignore` drops rules that do not apply. -#}
{% macro event_problems_of(auth='auth', ignore=[]) -%}
    {%- set sql = namespace(problems='event_problems(event_ts, user_id, ' ~ auth ~ ', level, latitude, longitude, zip, state)') -%}
    {%- for rule in ignore -%}
      {%- set sql.problems = "array_remove(" ~ sql.problems ~ ", '" ~ rule ~ "')" -%}
    {%- endfor -%}
    {{ sql.problems }}
{%- endmacro %}
