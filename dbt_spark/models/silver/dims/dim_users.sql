-- Users with the history of their subscription level (SCD type 2): one row per user and
-- level period, valid_from inclusive, valid_to exclusive (null while current). A period
-- starts at the user's first event (with its level) and at each upgrade or downgrade.
-- Rebuilt each run from two small inputs: fact_user_daily_activity (a row per user and day)
-- and fact_status_changes.
with days as (
    select * from {{ ref('fact_user_daily_activity') }}
),
firsts as (
    select
        user_id,
        min(first_event_ts) as first_seen_at,
        min_by(first_level, first_event_ts) as first_level,
        max(registration_ts) as registration_ts,
        max(last_event_ts) as last_seen_at,
        max_by(first_name, last_event_ts) as first_name,
        max_by(last_name, last_event_ts) as last_name,
        max_by(gender, last_event_ts) as gender
    from days
    group by user_id
),
changes as (
    select user_id, event_ts as valid_from, new_level as level
    from {{ ref('fact_status_changes') }}
    where is_valid and user_id is not null
),
starts as (
    select user_id, first_seen_at as valid_from, first_level as level from firsts
    union all
    select c.user_id, c.valid_from, c.level
    from changes c
    join firsts f on f.user_id = c.user_id and c.valid_from > f.first_seen_at
),
flagged as (
    select *, lag(level) over (partition by user_id order by valid_from) as previous_level
    from starts
),
periods as (
    -- a change to the level the user already has starts no new period
    select user_id, valid_from, level
    from flagged
    where previous_level is null or previous_level <> level
)
select
    concat(cast(p.user_id as string), '@', date_format(p.valid_from, "yyyy-MM-dd'T'HH:mm:ss.SSS")) as user_version_key,
    p.user_id,
    f.first_name,
    f.last_name,
    f.gender,
    f.registration_ts,
    f.first_seen_at,
    f.last_seen_at,
    p.level,
    p.valid_from,
    lead(p.valid_from) over (partition by p.user_id order by p.valid_from) as valid_to,
    lead(p.valid_from) over (partition by p.user_id order by p.valid_from) is null as is_current
from periods p
join firsts f on f.user_id = p.user_id
