-- Error responses (status >= 400) per day, page and method, with the page's share of them.
with events as (
    select *
    from {{ ref('fact_page_views') }}
    where is_valid
      and {{ incremental_days_filter('event_date', [ref('fact_page_views')]) }}
),
pages as (
    select event_date, page, count(*) as page_events
    from events
    group by event_date, page
),
errors as (
    select
        event_date,
        page,
        method,
        status,
        count(*) as errors,
        count(distinct user_id) as users,
        max(_ingested_at) as _ingested_at,
        max(event_ts) as _newest_event_at
    from events
    where status >= 400
    group by event_date, page, method, status
)
select /*+ REBALANCE(event_date) */
    e.page,
    e.method,
    e.status,
    e.errors,
    e.users,
    p.page_events,
    e.errors / p.page_events as error_share,
    e._ingested_at,
    e._newest_event_at,
    e.event_date
from errors e
join pages p on p.event_date = e.event_date and p.page = e.page
