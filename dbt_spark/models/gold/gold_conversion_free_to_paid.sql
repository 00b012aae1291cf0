-- Free → paid conversion per day: free users active that day, and those who upgraded that day
-- (from the status change topic). A day's numbers depend on that day only.
{%- set days = incremental_days_filter('event_date', [ref('fact_page_views'), ref('fact_status_changes')]) %}
with free_users as (
    select event_date, count(distinct user_id) as free_active_users, max(_ingested_at) as _ingested_at,
        max(event_ts) as _newest_event_at
    from {{ ref('fact_page_views') }}
    where {{ days }} and is_valid and user_id is not null and level = 'free'
    group by event_date
),
changes as (
    select
        event_date,
        count_if(change = 'upgrade') as upgrades,
        count(distinct case when change = 'upgrade' then user_id end) as upgraded_users,
        count_if(change = 'downgrade') as downgrades,
        count(distinct case when change = 'downgrade' then user_id end) as downgraded_users,
        avg(case when change = 'upgrade'
            then (unix_micros(event_ts) - unix_micros(registration_ts)) / 86400e6 end) as avg_days_registration_to_upgrade,
        max(_ingested_at) as _ingested_at,
        max(event_ts) as _newest_event_at
    from {{ ref('fact_status_changes') }}
    where {{ days }} and is_valid
    group by event_date
),
all_days as (
    select event_date from free_users
    union
    select event_date from changes
)
select /*+ REBALANCE(event_date) */
    coalesce(f.free_active_users, 0) as free_active_users,
    coalesce(c.upgrades, 0) as upgrades,
    coalesce(c.upgraded_users, 0) as upgraded_users,
    coalesce(c.downgrades, 0) as downgrades,
    coalesce(c.downgraded_users, 0) as downgraded_users,
    coalesce(c.upgraded_users, 0) / nullif(f.free_active_users, 0) as conversion_rate,
    c.avg_days_registration_to_upgrade,
    greatest(f._ingested_at, c._ingested_at) as _ingested_at,
    greatest(f._newest_event_at, c._newest_event_at) as _newest_event_at,
    d.event_date
from all_days d
left join free_users f on f.event_date = d.event_date
left join changes c on c.event_date = d.event_date
