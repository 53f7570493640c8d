//! Waiting with a tunable patience: every bound in the suite goes through [`scaled`], so a slow
//! machine (or a debugger) can stretch them all with `CLOSET_TEST_PATIENCE=3`.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often a condition is retried.
const POLL: Duration = Duration::from_millis(100);

/// The multiplier from `CLOSET_TEST_PATIENCE` (default 1; ignored unless a positive number).
pub fn patience() -> f64 {
    std::env::var("CLOSET_TEST_PATIENCE")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|p| p.is_finite() && *p > 0.0)
        .unwrap_or(1.0)
}

/// `d` stretched by [`patience`].
pub fn scaled(d: Duration) -> Duration {
    d.mul_f64(patience())
}

/// Retries `check` until it returns `Ok`, for at most `timeout` (scaled by [`patience`]), and
/// returns its value. Panics with the last error when time runs out.
#[track_caller]
pub fn eventually<T, E: std::fmt::Display>(
    timeout: Duration,
    check: impl FnMut() -> Result<T, E>,
) -> T {
    try_eventually(timeout, check).unwrap_or_else(|e| panic!("{e}"))
}

/// [`eventually`] that returns the last error, with the time waited, instead of panicking.
pub fn try_eventually<T, E: std::fmt::Display>(
    timeout: Duration,
    mut check: impl FnMut() -> Result<T, E>,
) -> Result<T, String> {
    let deadline = Instant::now() + scaled(timeout);
    loop {
        match check() {
            Ok(value) => return Ok(value),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!(
                    "condition still false after {:?}: {e}",
                    scaled(timeout)
                ));
            }
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// [`eventually`] for async checks.
pub async fn eventually_async<T, E, F, Fut>(timeout: Duration, mut check: F) -> T
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + scaled(timeout);
    loop {
        match check().await {
            Ok(value) => return value,
            Err(e) if Instant::now() >= deadline => {
                panic!("condition still false after {:?}: {e}", scaled(timeout))
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}
