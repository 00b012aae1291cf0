-- Every HTTP status per day with its category, events, affected users and sessions (all
-- statuses, not only errors: the share of errors needs the successes too).
select /*+ REBALANCE(event_date) */
    status,
    case
        when status between 200 and 299 then 'success'
        when status between 300 and 399 then 'redirect'
        when status between 400 and 499 then 'client error'
        when status between 500 and 599 then 'server error'
        else 'other'
    end as status_category,
    count(*) as events,
    count(distinct user_id) as affected_users,
    count(distinct session_id) as affected_sessions,
    max(_ingested_at) as _ingested_at,
    max(event_ts) as _newest_event_at,
    event_date
from {{ ref('fact_page_views') }}
where is_valid
  and {{ incremental_days_filter('event_date', [ref('fact_page_views')]) }}
group by event_date, status
