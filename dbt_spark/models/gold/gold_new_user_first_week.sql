-- New users' first 7 days, by registration day R (the partition, named event_date): activity
-- from R to R + 6 of the users registered on R (fact_user_daily_activity).
-- Incremental: new data on day D changes the registration days D - 6 … D, so the run
-- rewrites those from the activity of D - 6 … D + 6.
{%- if is_incremental() %}
  {%- set registration_days = touched_dates([ref('fact_user_daily_activity')], before=6) %}
  {%- set input_filter = in_dates('event_date', widen_dates(registration_days, after=6)) %}
  {%- set registration_filter = in_dates('to_date(registration_ts)', registration_days) %}
{%- else %}
  {%- set input_filter, registration_filter = 'true', 'true' %}
{%- endif %}
with activity as (
    select *, to_date(registration_ts) as registration_date
    from {{ ref('fact_user_daily_activity') }}
    where {{ input_filter }}
),
coverage as (
    select max(event_date) as last_day from activity
),
first_week as (
    select
        registration_date,
        user_id,
        count(*) as active_days,
        sum(sessions) as sessions,
        sum(listen_events) as listen_events,
        sum(listening_seconds) as listening_seconds,
        sum(upgrades) > 0 as upgraded,
        sum(cancellations) > 0 as cancelled,
        max(_ingested_at) as _ingested_at,
        max(last_event_ts) as _newest_event_at
    from activity
    where {{ registration_filter }}
      and event_date between registration_date and date_add(registration_date, 6)
    group by registration_date, user_id
)
select /*+ REBALANCE(event_date) */
    count(*) as new_users,
    avg(active_days) as avg_active_days,
    avg(sessions) as avg_sessions,
    avg(listen_events) as avg_listen_events,
    avg(listening_seconds) as avg_listening_seconds,
    count_if(upgraded) as upgraded_users,
    count_if(cancelled) as cancelled_users,
    cast(least(7, datediff(max(c.last_day), registration_date) + 1) as int) as days_observed,
    max(_ingested_at) as _ingested_at,
    max(_newest_event_at) as _newest_event_at,
    registration_date as event_date
from first_week
cross join coverage c
group by registration_date
