-- Subscription changes (Submit Upgrade / Submit Downgrade), one row per Kafka record. The
-- event carries the level before the change: free = an upgrade, paid = a downgrade.
select
    {{ staged_event_columns() }},
    auth,
    case level when 'free' then 'upgrade' when 'paid' then 'downgrade' end as change,
    case level when 'free' then 'paid' when 'paid' then 'free' end as new_level,
    {{ staged_lineage_columns() }}
from {{ deduplicated(source('bronze', 'status_change_events')) }}
