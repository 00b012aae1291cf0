//! Progress on standard error: an indicatif bar with events/s on a terminal; plain lines every
//! few seconds with `--progress always` when stderr is not a terminal; nothing with `never`.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// A bar when standard error is a terminal.
    Auto,
    /// A bar on a terminal, otherwise a line every 5 s.
    Always,
    Never,
}

pub struct Progress {
    bar: Option<ProgressBar>,
    lines: Option<Mutex<(Instant, Instant)>>,
}

fn rate(events: u64, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64().max(1e-9)
}

impl Progress {
    pub fn new(mode: ProgressMode) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bar = (mode != ProgressMode::Never && terminal).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(5));
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] {pos}/{len} users  {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        });
        let lines = (mode == ProgressMode::Always && !terminal)
            .then(|| Mutex::new((Instant::now(), Instant::now())));
        Progress { bar, lines }
    }

    pub fn hidden() -> Progress {
        Progress {
            bar: None,
            lines: None,
        }
    }

    /// Starts the display; `total_users` 0 means unknown (continuous mode).
    pub fn start(&self, total_users: u64) {
        if let Some(bar) = &self.bar {
            if total_users > 0 {
                bar.set_length(total_users);
            } else {
                bar.set_style(
                    ProgressStyle::with_template("{elapsed_precise} {pos} users  {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
            }
            bar.reset_elapsed();
        }
        if let Some(lines) = &self.lines {
            let mut l = lines.lock().unwrap_or_else(|e| e.into_inner());
            *l = (Instant::now(), Instant::now());
        }
    }

    pub fn update(&self, users: u64, events: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(users);
            bar.set_message(format!(
                "{events} events, {:.0} events/s",
                rate(events, bar.elapsed())
            ));
        }
        if let Some(lines) = &self.lines {
            let mut l = lines.lock().unwrap_or_else(|e| e.into_inner());
            if l.1.elapsed() >= Duration::from_secs(5) {
                l.1 = Instant::now();
                eprintln!(
                    "eventsim: {users} users, {events} events, {:.0} events/s",
                    rate(events, l.0.elapsed())
                );
            }
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
