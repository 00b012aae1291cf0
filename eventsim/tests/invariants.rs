//! The model's invariants, checked on generated data: unique session ids, increasing timestamps,
//! itemInSession from 0, allowed transitions, no user fields for guests, level changes only
//! through Submit Upgrade / Submit Downgrade, churned users gone for good.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use eventsim::config::StateKey;
use eventsim::model::timing::MS_PER_DAY;
use eventsim::model::users::Arrivals;
use eventsim::run::simulate_user;
use eventsim::sinks::json::{Fragments, JsonEncoder};
use eventsim::sinks::{Chunk, Encoder};
use serde_json::{Map, Value};
use soundlake_core::event::Topic;

type Obj = Map<String, Value>;

fn s<'a>(o: &'a Obj, k: &str) -> &'a str {
    o.get(k)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{k} missing in {o:?}"))
}

fn n(o: &Obj, k: &str) -> i64 {
    o.get(k)
        .and_then(Value::as_i64)
        .unwrap_or_else(|| panic!("{k} missing in {o:?}"))
}

fn key_of(o: &Obj) -> StateKey {
    StateKey {
        page: s(o, "page").to_string(),
        auth: s(o, "auth").to_string(),
        status: n(o, "status") as i32,
        method: s(o, "method").to_string(),
        level: s(o, "level").to_string(),
    }
}

#[test]
fn generated_data_keeps_the_model_invariants() {
    let config = common::reference_config();
    let plan = common::plan_of(&[
        "-c",
        config.to_str().expect("utf-8 path"),
        "--nusers",
        "400",
        "--start-time",
        "2015-06-01T00:00:00",
        "--end-time",
        "2015-06-22T00:00:00",
        "--growth-rate",
        "3",
        "--attrition-rate",
        "1",
        "--tag",
        "B",
    ]);
    let model = &plan.model;
    let site = &model.site;
    let params = &plan.params;
    let (start, end) = (params.start, params.end.expect("end"));
    let mut users: Vec<(u64, Option<i64>)> = (0..400).map(|i| (i, None)).collect();
    let arrivals = Arrivals::new(&params.population).until(end);
    assert!(!arrivals.is_empty(), "growth adds users");
    for (k, a) in arrivals.iter().enumerate() {
        users.push((400 + k as u64, Some(*a)));
    }
    let fragments = Arc::new(Fragments::new(model));
    let mut enc = JsonEncoder::with_fragments(fragments);

    let mut session_owner: HashMap<i64, u64> = HashMap::new();
    let (mut events, mut sessions_from_zero, mut churned, mut level_changes) =
        (0usize, 0usize, 0usize, 0usize);
    for &(index, arrival) in &users {
        let mut chunk = Chunk::default();
        simulate_user(
            model,
            params,
            index,
            arrival,
            &mut enc as &mut dyn Encoder,
            &mut chunk,
        );
        let text = std::str::from_utf8(&chunk.topic(Topic::PageView).data).expect("utf-8");
        let evs = common::parse_lines(text.lines());
        events += evs.len();
        let mut prev: Option<&Obj> = None;
        let mut user_id: Option<i64> = None;
        for ev in &evs {
            let ts = n(ev, "ts");
            assert!(ts > start && ts < end, "ts {ts} outside the span");
            let sid = n(ev, "sessionId");
            let owner = *session_owner.entry(sid).or_insert(index);
            assert_eq!(
                owner, index,
                "session {sid} shared by users {owner} and {index}"
            );
            let key = key_of(ev);
            let state = site
                .find(&key)
                .unwrap_or_else(|| panic!("unknown state {key}"));
            let st = site.state(state);
            // Guests (and every auth whose show-user-details is false) carry no user fields.
            for f in [
                "userId",
                "firstName",
                "lastName",
                "gender",
                "registration",
                "tag",
            ] {
                assert_eq!(
                    ev.contains_key(f),
                    st.show_user,
                    "{f} on a {:?} event",
                    key.auth
                );
            }
            if st.show_user {
                let id = n(ev, "userId");
                assert_eq!(*user_id.get_or_insert(id), id, "a user's id changed");
                assert!(n(ev, "registration") <= ts, "registration after the event");
                assert_eq!(s(ev, "tag"), "B");
            }
            let item = n(ev, "itemInSession");
            match prev.filter(|p| n(p, "sessionId") == sid) {
                Some(p) => {
                    assert!(ts > n(p, "ts"), "timestamps must increase within a session");
                    assert_eq!(item, n(p, "itemInSession") + 1);
                    let from = site.find(&key_of(p)).expect("known state");
                    assert!(
                        site.allows(from, state),
                        "{} -> {key} is no transition",
                        key_of(p)
                    );
                    if s(p, "level") != key.level {
                        level_changes += 1;
                        assert!(
                            matches!(s(p, "page"), "Submit Upgrade" | "Submit Downgrade"),
                            "level changed after {}",
                            s(p, "page")
                        );
                    }
                }
                None => {
                    if let Some(p) = prev {
                        assert!(ts >= n(p, "ts"), "sessions of a user overlap");
                        assert_ne!(s(p, "auth"), "Cancelled", "a churned user came back");
                    }
                    if item == 0 {
                        sessions_from_zero += 1;
                        assert!(site.is_initial(state), "session starts in {key}");
                    } else {
                        // Only sessions already running at the start time are cut.
                        assert!(
                            ts < start + MS_PER_DAY,
                            "session {sid} starts at item {item}"
                        );
                    }
                }
            }
            if key.auth == "Cancelled" {
                churned += 1;
            }
            prev = Some(ev);
        }
        // Listens and status changes mirror their page views.
        let count = |t: Topic| chunk.topic(t).len();
        let next_songs = evs.iter().filter(|e| s(e, "page") == "NextSong").count();
        let submits = evs
            .iter()
            .filter(|e| matches!(s(e, "page"), "Submit Upgrade" | "Submit Downgrade"))
            .count();
        assert_eq!(count(Topic::Listen), next_songs);
        assert_eq!(count(Topic::StatusChange), submits);
    }
    assert!(events > 50_000, "{events} events");
    assert!(sessions_from_zero > 1_000);
    assert!(churned > 0, "some users cancel");
    assert!(level_changes > 0, "some users change level");
    let ids: HashSet<i64> = session_owner.keys().copied().collect();
    assert_eq!(ids.len(), session_owner.len());
}

#[test]
fn whole_runs_have_unique_users_and_sessions() {
    let (_, sink, summary) =
        common::run_reference("300", "2015-06-01T00:00:00", "2015-06-08T00:00:00", "2");
    let evs = common::parse_lines(sink.lines(Topic::PageView));
    assert_eq!(evs.len() as u64, summary.events());
    assert!(summary.users > 300, "growth adds users: {}", summary.users);
    // A session belongs to one user; a user id to one person.
    let mut owner: HashMap<i64, i64> = HashMap::new();
    let mut person: HashMap<i64, (String, String)> = HashMap::new();
    for e in evs.iter().filter(|e| e.contains_key("userId")) {
        let uid = n(e, "userId");
        assert_eq!(*owner.entry(n(e, "sessionId")).or_insert(uid), uid);
        let who = (s(e, "firstName").to_string(), s(e, "lastName").to_string());
        assert_eq!(person.entry(uid).or_insert_with(|| who.clone()), &who);
    }
    let auth = common::parse_lines(sink.lines(Topic::Auth));
    assert!(!auth.is_empty());
    assert!(auth
        .iter()
        .any(|e| e.get("success") == Some(&Value::Bool(true))));
}
