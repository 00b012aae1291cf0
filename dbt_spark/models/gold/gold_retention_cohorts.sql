-- Weekly retention cohorts: users who registered in a week and were active in it (week 0),
-- and how many of them are active k weeks later, k = 0 … var retention_weeks. Partition
-- event_date = the cohort's Monday.
-- Incremental: new data on day D changes the cohorts of the retention_weeks weeks before D's
-- week and D's own; the run rewrites those cohorts from their weeks' activity.
{%- set weeks = var('retention_weeks') | int %}
{%- if is_incremental() %}
  {%- set days = touched_dates([ref('fact_user_daily_activity')], before=7 * weeks + 6) %}
  {%- set input_filter = in_dates('event_date', widen_dates(days, after=7 * weeks + 6)) %}
  {%- set cohort_filter = in_dates('cohort_week', days) %}
{%- else %}
  {%- set input_filter, cohort_filter = 'true', 'true' %}
{%- endif %}
with activity as (
    select
        user_id,
        event_date,
        date_trunc('week', registration_ts)::date as cohort_week,
        _ingested_at,
        last_event_ts
    from {{ ref('fact_user_daily_activity') }}
    where {{ input_filter }}
),
coverage as (
    select max(event_date) as last_day from activity
),
user_weeks as (
    select
        cohort_week,
        user_id,
        cast(floor(datediff(event_date, cohort_week) / 7) as int) as week_number,
        max(_ingested_at) as _ingested_at,
        max(last_event_ts) as _newest_event_at
    from activity
    where {{ cohort_filter }}
      and event_date >= cohort_week
      and event_date < date_add(cohort_week, 7 * ({{ weeks }} + 1))
    group by cohort_week, user_id, cast(floor(datediff(event_date, cohort_week) / 7) as int)
),
cohorts as (
    select cohort_week, user_id
    from user_weeks
    where week_number = 0
),
cohort_sizes as (
    select cohort_week, count(*) as cohort_users
    from cohorts
    group by cohort_week
),
grid as (
    -- every week of each cohort that the data has reached, active users or not
    select s.cohort_week, s.cohort_users, explode(sequence(0, {{ weeks }})) as week_number
    from cohort_sizes s
),
retained as (
    select w.cohort_week, w.week_number, count(*) as active_users, max(w._ingested_at) as _ingested_at,
        max(w._newest_event_at) as _newest_event_at
    from user_weeks w
    join cohorts c on c.cohort_week = w.cohort_week and c.user_id = w.user_id
    group by w.cohort_week, w.week_number
)
select /*+ REBALANCE(event_date) */
    g.week_number,
    g.cohort_users,
    coalesce(r.active_users, 0) as active_users,
    coalesce(r.active_users, 0) / g.cohort_users as retention_rate,
    max(r._ingested_at) over (partition by g.cohort_week) as _ingested_at,
    max(r._newest_event_at) over (partition by g.cohort_week) as _newest_event_at,
    g.cohort_week as event_date
from grid g
cross join coverage c
left join retained r on r.cohort_week = g.cohort_week and r.week_number = g.week_number
where date_add(g.cohort_week, 7 * g.week_number) <= c.last_day
