//! The summary printed on standard error at the end of a run (standard output may carry the
//! events, `--stdout`): one line that starts with `eventsim:` (events, records, users, the
//! simulated span, wall time, events/s, records/s, MB, threads, where the records went), then a
//! table of the records per topic with a total row, as the lander and the loader print theirs.

use std::time::Duration;

use soundlake_core::event::Topic;
use soundlake_core::text_table::{count, per_second, Align, TextTable};

use crate::cli::format_time;
use crate::model::timing::MS_PER_DAY;
use crate::plan::Plan;
use crate::run::Summary;

/// The summary of the run `s` of `plan`.
pub fn text(plan: &Plan, s: &Summary) -> String {
    let start = plan.params.start;
    let span = match plan.params.end {
        Some(end) => format!(
            "{} .. {} ({:.1} days)",
            format_time(start),
            format_time(end),
            (end - start) as f64 / MS_PER_DAY as f64
        ),
        None => format!("{} .. (no end)", format_time(start)),
    };
    let threads = if plan.continuous || plan.time_ordered {
        1
    } else {
        plan.params.threads
    };
    render(&span, threads, s)
}

/// The summary of `s`, which simulated `span` on `threads` threads.
fn render(span: &str, threads: usize, s: &Summary) -> String {
    let secs = s.wall.as_secs_f64().max(1e-9);
    let events = s.events();
    let records = s.records();
    // Plain numbers on this line: scripts read its `N events/s` (scripts/bench-eventsim*).
    let mut text = format!(
        "eventsim: {}{events} events, {records} records, {} users, simulated {span}, wall {:.2} s, {:.0} events/s, {:.0} records/s, {:.1} MB, {threads} thread(s)",
        if s.interrupted { "interrupted: " } else { "" },
        s.users,
        s.wall.as_secs_f64(),
        events as f64 / secs,
        records as f64 / secs,
        s.bytes as f64 / 1e6,
    );
    match &s.sink_report {
        Some(delivery) => {
            text.push_str(&format!(", into {}\n", delivery.target));
            let mut table = TextTable::new([
                ("topic", Align::Left),
                ("records", Align::Right),
                ("records/s", Align::Right),
                ("delivered", Align::Right),
            ]);
            for t in Topic::ALL {
                let n = s.per_topic[t.index()];
                table.row([
                    delivery.topics[t.index()].clone(),
                    count(n),
                    per_second(n, s.wall),
                    count(delivery.delivered[t.index()]),
                ]);
            }
            table.total([
                "total".to_owned(),
                count(records),
                per_second(records, s.wall),
                count(delivery.delivered.iter().sum()),
            ]);
            text.push_str(&table.render());
        }
        None => {
            text.push('\n');
            text.push_str(&topic_table(s.per_topic, s.wall));
        }
    }
    text
}

/// Records and records/s per topic over `wall`, and their total.
fn topic_table(per_topic: [u64; 4], wall: Duration) -> String {
    let mut table = TextTable::new([
        ("topic", Align::Left),
        ("records", Align::Right),
        ("records/s", Align::Right),
    ]);
    for t in Topic::ALL {
        let n = per_topic[t.index()];
        table.row([t.name().to_owned(), count(n), per_second(n, wall)]);
    }
    let records = per_topic.iter().sum();
    table.total([
        "total".to_owned(),
        count(records),
        per_second(records, wall),
    ]);
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::Delivery;

    const SPAN: &str = "2015-06-01T00:00:00 .. 2015-06-02T00:00:00 (1.0 days)";

    /// Counts by `Topic::index`: listens, page views, auth, status changes.
    fn run(per_topic: [u64; 4], millis: u64) -> Summary {
        Summary {
            per_topic,
            users: 200,
            bytes: 1_234_567,
            wall: Duration::from_millis(millis),
            ..Summary::default()
        }
    }

    #[test]
    fn the_summary_is_a_line_and_a_table_with_a_total() {
        let names = Topic::ALL.map(|t| format!("run1_{}", t.name()));
        let cases: [(&str, Summary, &[&str]); 4] = [
            (
                "nothing generated",
                Summary::default(),
                &[
                    "eventsim: 0 events, 0 records, 0 users, simulated S, wall 0.00 s, 0 events/s, 0 records/s, 0.0 MB, 2 thread(s)",
                    "topic                 records  records/s",
                    "listen_events               0          -",
                    "page_view_events            0          -",
                    "auth_events                 0          -",
                    "status_change_events        0          -",
                    "----------------------------------------",
                    "total                       0          -",
                ],
            ),
            (
                "into files",
                run([8_000, 10_000, 400, 3], 2_000),
                &[
                    "eventsim: 10000 events, 18403 records, 200 users, simulated S, wall 2.00 s, 5000 events/s, 9202 records/s, 1.2 MB, 2 thread(s)",
                    "topic                 records  records/s",
                    "listen_events           8,000      4,000",
                    "page_view_events       10,000      5,000",
                    "auth_events               400        200",
                    "status_change_events        3          2",
                    "----------------------------------------",
                    "total                  18,403      9,202",
                ],
            ),
            (
                "big numbers, interrupted",
                Summary {
                    interrupted: true,
                    ..run([987_654_321, 1_234_567_890, 0, 12], 100_000)
                },
                &[
                    "eventsim: interrupted: 1234567890 events, 2222222223 records, 200 users, simulated S, wall 100.00 s, 12345679 events/s, 22222222 records/s, 1.2 MB, 2 thread(s)",
                    "topic                       records   records/s",
                    "listen_events           987,654,321   9,876,543",
                    "page_view_events      1,234,567,890  12,345,679",
                    "auth_events                       0           -",
                    "status_change_events             12           0",
                    "-----------------------------------------------",
                    "total                 2,222,222,223  22,222,222",
                ],
            ),
            (
                "into Kafka",
                Summary {
                    sink_report: Some(Delivery {
                        target: "Kafka at 127.0.0.1:9092".to_owned(),
                        topics: names,
                        delivered: [8_000, 10_000, 400, 3],
                    }),
                    ..run([8_000, 10_000, 400, 3], 2_000)
                },
                &[
                    "eventsim: 10000 events, 18403 records, 200 users, simulated S, wall 2.00 s, 5000 events/s, 9202 records/s, 1.2 MB, 2 thread(s), into Kafka at 127.0.0.1:9092",
                    "topic                      records  records/s  delivered",
                    "run1_listen_events           8,000      4,000      8,000",
                    "run1_page_view_events       10,000      5,000     10,000",
                    "run1_auth_events               400        200        400",
                    "run1_status_change_events        3          2          3",
                    "--------------------------------------------------------",
                    "total                       18,403      9,202     18,403",
                ],
            ),
        ];
        for (name, s, lines) in cases {
            let expected: String = lines
                .iter()
                .map(|line| {
                    format!(
                        "{}\n",
                        line.replace("simulated S", &format!("simulated {SPAN}"))
                    )
                })
                .collect();
            assert_eq!(render(SPAN, 2, &s), expected, "{name}");
        }
    }
}
