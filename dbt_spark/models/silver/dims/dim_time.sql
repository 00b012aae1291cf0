-- The calendar, one row per day from var calendar_start to calendar_end: ISO weekday, week
-- (its Monday), month, quarter, year. Built once: later runs append nothing (change the vars
-- and run with --full-refresh to extend it).
{{ config(materialized='incremental', incremental_strategy='append') }}
{%- set first = var('calendar_start') %}
{%- set last = var('calendar_end') %}
with days as (
    select explode(sequence(date'{{ first }}', date'{{ last }}', interval 1 day)) as day
)
select
    cast(date_format(day, 'yyyyMMdd') as int) as date_key,
    day as date,
    weekday(day) + 1 as weekday,
    date_format(day, 'E') as weekday_name,
    weekday(day) >= 5 as is_weekend,
    date_trunc('week', day)::date as week_start,
    month(day) as month,
    date_format(day, 'MMM') as month_name,
    quarter(day) as quarter,
    year(day) as year
from days
{%- if is_incremental() %}
where false
{%- endif %}
