//! Running the simulation: batch mode (users in parallel, output in a fixed order) and
//! continuous mode (all users merged in time order, each event emitted when its time comes).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Condvar, Mutex};
use std::time::{Duration, Instant};

use soundlake_core::event::Topic;

use crate::model::rng::Rng;
use crate::model::sessions::{UserSim, MAX_SESSION_USER_ID};
use crate::model::users::{Arrivals, PopulationParams, Profile};
use crate::model::Model;
use crate::progress::Progress;
use crate::sinks::{Chunk, Delivery, Encoder, EncoderFactory, Record, Sink, SinkError};

/// Bytes of records a chunk of work aims at (its number of users adapts to it).
const CHUNK_TARGET_BYTES: u64 = 4 << 20;
/// Users in the first chunks, before the bytes per user are known; and the most in one chunk.
const FIRST_CHUNK_USERS: u64 = 4;
const MAX_CHUNK_USERS: u64 = 4096;
/// How many chunks may be in flight ahead of the writer.
const WINDOW_PER_THREAD: u64 = 4;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct RunParams {
    pub population: PopulationParams,
    /// Epoch ms; events at or before it are simulated but not written (eventsim's warm-up).
    pub start: i64,
    /// Epoch ms; `None` = no end (continuous mode only).
    pub end: Option<i64>,
    pub tag: Option<String>,
    pub threads: usize,
}

/// What a run produced.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub per_topic: [u64; 4],
    pub users: u64,
    pub bytes: u64,
    pub wall: Duration,
    /// The run was stopped before its end (Ctrl-C).
    pub interrupted: bool,
    /// What the sink delivered to a broker ([`Sink::report`]).
    pub sink_report: Option<Delivery>,
}

impl Summary {
    /// Events: every event is one page view.
    pub fn events(&self) -> u64 {
        self.per_topic[Topic::PageView.index()]
    }

    /// Records written, all topics together.
    pub fn records(&self) -> u64 {
        self.per_topic.iter().sum()
    }

    fn add(&mut self, chunk: &Chunk) {
        for t in Topic::ALL {
            self.per_topic[t.index()] += chunk.topic(t).len() as u64;
        }
        self.users += chunk.users;
    }
}

/// Writes one event's records (page view and, as it applies, listen, status change, auth).
fn emit(
    model: &Model,
    sim: &UserSim,
    tag: Option<&str>,
    enc: &mut dyn Encoder,
    encoding_user: &mut Option<u64>,
    chunk: &mut Chunk,
) {
    let cur = sim.current();
    let event = model.event(&sim.profile, cur, tag);
    let song = event.song.as_ref().and(cur.song);
    let mut rec = Record {
        event,
        state: cur.state,
        song,
    };
    // The encoder keeps the current user's fixed fields: tell it when the user changes.
    if *encoding_user != Some(sim.profile.index) {
        enc.begin_user(&rec.event);
        *encoding_user = Some(sim.profile.index);
    }
    enc.encode(Topic::PageView, &rec, chunk.topic_mut(Topic::PageView));
    let out = model.outputs(cur);
    if out.listen {
        enc.encode(Topic::Listen, &rec, chunk.topic_mut(Topic::Listen));
    }
    if out.status_change {
        enc.encode(
            Topic::StatusChange,
            &rec,
            chunk.topic_mut(Topic::StatusChange),
        );
    }
    if let Some(success) = out.auth {
        rec.event.success = Some(success);
        enc.encode(Topic::Auth, &rec, chunk.topic_mut(Topic::Auth));
    }
}

/// A user at its first session, from its own stream.
pub fn new_user(model: &Model, params: &RunParams, index: u64, arrival: Option<i64>) -> UserSim {
    let mut rng = Rng::stream(params.population.seed, index);
    let profile = Profile::draw(model, &params.population, index, arrival, &mut rng);
    UserSim::new(model, profile, rng, params.start)
}

/// Simulates one user from start to end into `chunk`.
pub fn simulate_user(
    model: &Model,
    params: &RunParams,
    index: u64,
    arrival: Option<i64>,
    enc: &mut dyn Encoder,
    chunk: &mut Chunk,
) {
    let end = params.end.unwrap_or(i64::MAX);
    let tag = params.tag.as_deref();
    let mut sim = new_user(model, params, index, arrival);
    let mut encoding_user = None;
    while sim.alive() {
        let ts = sim.current().ts;
        if ts >= end {
            break;
        }
        if ts > params.start {
            emit(model, &sim, tag, enc, &mut encoding_user, chunk);
        }
        sim.advance(model);
    }
    chunk.users += 1;
}

/// Hands out chunks of work: consecutive ranges of users, sized from the bytes per user seen so
/// far so that memory stays bounded whatever the config. The output does not depend on the
/// sizes: chunks are user ranges, written in order.
struct Planner {
    next: Mutex<(u64, u64)>,
    total_users: u64,
    bytes: AtomicU64,
    users: AtomicU64,
}

impl Planner {
    fn new(total_users: u64) -> Planner {
        Planner {
            next: Mutex::new((0, 0)),
            total_users,
            bytes: AtomicU64::new(0),
            users: AtomicU64::new(0),
        }
    }

    /// The next chunk: (its index, its users), or `None` when all users are handed out.
    fn claim(&self) -> Option<(u64, std::ops::Range<u64>)> {
        let bytes = self.bytes.load(Ordering::Relaxed);
        let size = match bytes.checked_div(self.users.load(Ordering::Relaxed)) {
            Some(per_user) => (CHUNK_TARGET_BYTES / per_user.max(1)).clamp(1, MAX_CHUNK_USERS),
            None => FIRST_CHUNK_USERS,
        };
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let (idx, first) = *next;
        if first >= self.total_users {
            return None;
        }
        let end = (first + size).min(self.total_users);
        *next = (idx + 1, end);
        Some((idx, first..end))
    }

    /// Learns from a finished chunk.
    fn record(&self, chunk: &Chunk) {
        let bytes: usize = chunk.topics.iter().map(|t| t.data.len()).sum();
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.users.fetch_add(chunk.users, Ordering::Relaxed);
    }
}

/// Batch mode: users in chunks over `threads` threads; chunks written in order. When `stop` is
/// set, the chunks done so far (in order) are written and the run ends early.
pub fn run_batch(
    model: &Model,
    params: &RunParams,
    make_encoder: &EncoderFactory,
    sink: &mut dyn Sink,
    progress: &Progress,
    stop: &AtomicBool,
) -> Result<Summary, SinkError> {
    let started = Instant::now();
    let end = params.end.unwrap_or(i64::MAX);
    let arrivals = Arrivals::new(&params.population).until(end);
    let initial = params.population.initial_users;
    let total = initial + arrivals.len() as u64;
    let threads = params.threads.max(1);
    let window = WINDOW_PER_THREAD * threads as u64;
    progress.start(total);

    let planner = Planner::new(total);
    let abort = AtomicBool::new(false);
    let gate = (Mutex::new(0u64), Condvar::new());
    let (tx, rx) = mpsc::sync_channel::<(u64, Chunk)>(window as usize);
    // Written chunks come back here to be reused: no page faults for fresh buffers.
    let pool: Mutex<Vec<Chunk>> = Mutex::new(Vec::new());
    let mut summary = Summary::default();

    let result = std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (planner, abort, gate, arrivals, pool) =
                (&planner, &abort, &gate, &arrivals, &pool);
            scope.spawn(move || {
                let mut enc = make_encoder();
                loop {
                    if abort.load(Ordering::Relaxed) || stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let Some((idx, users)) = planner.claim() else {
                        return;
                    };
                    {
                        let (lock, cvar) = gate;
                        let mut written = lock.lock().unwrap_or_else(|e| e.into_inner());
                        while idx >= *written + window
                            && !abort.load(Ordering::Relaxed)
                            && !stop.load(Ordering::Relaxed)
                        {
                            written = cvar.wait(written).unwrap_or_else(|e| e.into_inner());
                        }
                    }
                    let mut chunk = pool
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .pop()
                        .unwrap_or_default();
                    for index in users {
                        let arrival = index.checked_sub(initial).map(|k| arrivals[k as usize]);
                        simulate_user(model, params, index, arrival, enc.as_mut(), &mut chunk);
                    }
                    planner.record(&chunk);
                    if tx.send((idx, chunk)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut pending: BTreeMap<u64, Chunk> = BTreeMap::new();
        let mut next_to_write = 0u64;
        for (idx, chunk) in rx.iter() {
            pending.insert(idx, chunk);
            while let Some(chunk) = pending.remove(&next_to_write) {
                if let Err(e) = sink.write_chunk(&chunk) {
                    abort.store(true, Ordering::Relaxed);
                    gate.1.notify_all();
                    return Err(e);
                }
                summary.add(&chunk);
                let mut chunk = chunk;
                chunk.clear();
                chunk.shrink_to(2 * CHUNK_TARGET_BYTES as usize);
                pool.lock().unwrap_or_else(|e| e.into_inner()).push(chunk);
                next_to_write += 1;
                {
                    let mut written = gate.0.lock().unwrap_or_else(|e| e.into_inner());
                    *written = next_to_write;
                }
                gate.1.notify_all();
                progress.update(summary.users, summary.events());
            }
        }
        Ok(())
    });
    result?;
    sink.finish()?;
    summary.bytes = sink.bytes_written();
    summary.sink_report = sink.report();
    summary.wall = started.elapsed();
    summary.interrupted = stop.load(Ordering::Relaxed);
    progress.finish();
    Ok(summary)
}

/// How [`run_time_ordered`] paces its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// eventsim's `--continuous`: an event is emitted when the wall clock reaches its
    /// timestamp (events before now go out at once).
    RealTime,
    /// As fast as possible, in global time order (`--time-ordered`).
    AsFastAsPossible,
}

/// All users in one time-ordered queue, as eventsim runs (one thread; memory grows with the
/// number of users: docs/benchmarks.md has measurements).
pub fn run_time_ordered(
    model: &Model,
    params: &RunParams,
    make_encoder: &EncoderFactory,
    sink: &mut dyn Sink,
    progress: &Progress,
    pacing: Pacing,
    stop: &AtomicBool,
) -> Result<Summary, SinkError> {
    let started = Instant::now();
    let end = params.end.unwrap_or(i64::MAX);
    let tag = params.tag.as_deref();
    let mut enc = make_encoder();
    let mut users: Vec<UserSim> = Vec::new();
    let mut encoding_user = None;
    let mut queue: BinaryHeap<Reverse<(i64, u64)>> = BinaryHeap::new();
    for index in 0..params.population.initial_users {
        let sim = new_user(model, params, index, None);
        if sim.alive() {
            queue.push(Reverse((sim.current().ts, index)));
        }
        users.push(sim);
    }
    let mut arrivals = Arrivals::new(&params.population);
    let mut next_arrival = arrivals.next_arrival();
    let mut chunk = Chunk::default();
    let mut summary = Summary::default();
    progress.start(0);
    let mut last_flush = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let Some(&Reverse((ts, index))) = queue.peek() else {
            break;
        };
        if let Some(arrival) = next_arrival.filter(|&a| a <= ts && a < end) {
            let index = users.len() as u64;
            if !has_user_id(params, index) {
                // Growth without an end reached the last user id session ids can carry.
                next_arrival = None;
                continue;
            }
            let sim = new_user(model, params, index, Some(arrival));
            if sim.alive() {
                queue.push(Reverse((sim.current().ts, index)));
            }
            users.push(sim);
            next_arrival = arrivals.next_arrival();
            continue;
        }
        if ts >= end {
            break;
        }
        let wait = match pacing {
            Pacing::RealTime => ts - chrono::Utc::now().timestamp_millis(),
            Pacing::AsFastAsPossible => 0,
        };
        if wait > 0 {
            flush_chunk(sink, &mut chunk, &mut summary)?;
            sink.flush()?;
            progress.update(summary.users, summary.events());
            std::thread::sleep(Duration::from_millis(wait.min(250) as u64));
            continue;
        }
        queue.pop();
        let i = index as usize;
        if ts > params.start {
            emit(
                model,
                &users[i],
                tag,
                enc.as_mut(),
                &mut encoding_user,
                &mut chunk,
            );
        }
        users[i].advance(model);
        if users[i].alive() {
            queue.push(Reverse((users[i].current().ts, index)));
        }
        summary.users = users.len() as u64;
        if chunk.events() >= 4096 || last_flush.elapsed() > Duration::from_millis(200) {
            flush_chunk(sink, &mut chunk, &mut summary)?;
            progress.update(summary.users, summary.events());
            last_flush = Instant::now();
        }
    }
    flush_chunk(sink, &mut chunk, &mut summary)?;
    summary.users = users.len() as u64;
    sink.finish()?;
    summary.bytes = sink.bytes_written();
    summary.sink_report = sink.report();
    summary.wall = started.elapsed();
    summary.interrupted = stop.load(Ordering::Relaxed);
    progress.finish();
    Ok(summary)
}

/// Whether user `index` has a user id that session ids can carry (the command line checks this
/// for runs with an end; a continuous run without one stops adding users there).
fn has_user_id(params: &RunParams, index: u64) -> bool {
    i64::try_from(index)
        .ok()
        .and_then(|i| params.population.first_user_id.checked_add(i))
        .is_some_and(|id| id <= MAX_SESSION_USER_ID)
}

fn flush_chunk(
    sink: &mut dyn Sink,
    chunk: &mut Chunk,
    summary: &mut Summary,
) -> Result<(), SinkError> {
    if chunk.events() > 0 {
        sink.write_chunk(chunk)?;
        summary.add(chunk);
    }
    chunk.clear();
    Ok(())
}
