-- Churn: cancellations (Cancellation Confirmation) per day, by the level the user had and by
-- registration cohort week. A day's numbers depend on that day only.
select /*+ REBALANCE(event_date) */
    level,
    date_trunc('week', registration_ts)::date as cohort_week,
    count(*) as cancellations,
    count(distinct user_id) as cancelled_users,
    avg((unix_micros(event_ts) - unix_micros(registration_ts)) / 86400e6) as avg_days_since_registration,
    max(_ingested_at) as _ingested_at,
    max(event_ts) as _newest_event_at,
    event_date
from {{ ref('fact_page_views') }}
where is_valid
  and page = 'Cancellation Confirmation'
  and {{ incremental_days_filter('event_date', [ref('fact_page_views')]) }}
group by event_date, level, date_trunc('week', registration_ts)::date
