//! Best-effort cleanup from `Drop`, which cannot be async.

use std::future::Future;
use std::time::Duration;

use crate::error::TestkitError;

/// How long a cleanup from `Drop` may take before it is abandoned.
const DROP_CLEANUP_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `task` to completion on a fresh single-threaded runtime in a new thread and waits for it.
///
/// A new thread and runtime work whether `Drop` runs inside a tokio runtime (even a
/// current-thread one, as in `#[tokio::test]`) or outside any. Failures are printed, never
/// raised: this must not panic, since `Drop` may already run during a panic.
pub(crate) fn run_blocking<F, Fut>(what: String, task: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), TestkitError>>,
{
    let label = what.clone();
    let spawned = std::thread::Builder::new()
        .name("testkit-cleanup".to_string())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(err) => {
                    eprintln!("soundlake-testkit: cannot clean up {what}: no tokio runtime: {err}");
                    return;
                }
            };
            let outcome =
                runtime.block_on(async { tokio::time::timeout(DROP_CLEANUP_TIMEOUT, task()).await });
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(err)) => eprintln!("soundlake-testkit: cleaning up {what} failed: {err}"),
                Err(_) => eprintln!(
                    "soundlake-testkit: cleaning up {what} took longer than {DROP_CLEANUP_TIMEOUT:?}; left behind"
                ),
            }
        });
    match spawned {
        Ok(handle) => {
            if handle.join().is_err() {
                eprintln!("soundlake-testkit: cleaning up {label} panicked");
            }
        }
        Err(err) => eprintln!("soundlake-testkit: cannot clean up {label}: no thread: {err}"),
    }
}
