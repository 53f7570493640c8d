//! Restart back-off, derived from what the runtime records (the exited instance's restart
//! number and finish time), so it survives an agent restart: 0 s before the first restart,
//! then 10 s doubling to 5 minutes, and back to 0 after a run of 10 minutes, as upstream.

use std::time::Duration;

use super::runtime_view::ContainerRun;

/// The first non-zero delay.
pub const INITIAL: Duration = Duration::from_secs(10);
/// The longest delay.
pub const MAX: Duration = Duration::from_secs(300);
/// A run at least this long resets the back-off.
pub const RESET_AFTER: Duration = Duration::from_secs(600);

/// How long after `exited` finished the next instance may start.
pub fn delay(exited: &ContainerRun) -> Duration {
    let ran = Duration::from_nanos(
        u64::try_from(exited.finished_at.saturating_sub(exited.started_at)).unwrap_or(0),
    );
    if exited.attempt == 0 || ran >= RESET_AFTER {
        return Duration::ZERO;
    }
    let doublings = exited.attempt.saturating_sub(1).min(16);
    INITIAL.saturating_mul(1u32 << doublings).min(MAX)
}

/// How long from `now_nanos` until the next start is allowed (zero if it is).
pub fn remaining(exited: &ContainerRun, now_nanos: i64) -> Duration {
    let wait = delay(exited);
    let since = Duration::from_nanos(
        u64::try_from(now_nanos.saturating_sub(exited.finished_at)).unwrap_or(0),
    );
    wait.saturating_sub(since)
}

#[cfg(test)]
mod tests {
    use super::super::runtime_view::RunState;
    use super::*;

    fn exited(attempt: u32, ran_secs: i64) -> ContainerRun {
        ContainerRun {
            id: String::new(),
            sandbox_id: String::new(),
            name: "c".into(),
            attempt,
            state: RunState::Exited,
            exit_code: 1,
            reason: String::new(),
            message: String::new(),
            created_at: 0,
            started_at: 1_000_000_000,
            finished_at: 1_000_000_000 + ran_secs * 1_000_000_000,
            image: String::new(),
            image_ref: String::new(),
            log_path: String::new(),
        }
    }

    #[test]
    fn doubles_from_ten_seconds_to_five_minutes() {
        let delays: Vec<u64> = (0..8).map(|a| delay(&exited(a, 1)).as_secs()).collect();
        assert_eq!(delays, [0, 10, 20, 40, 80, 160, 300, 300]);
    }

    #[test]
    fn a_long_run_resets_and_time_already_waited_counts() {
        assert_eq!(delay(&exited(5, 700)), Duration::ZERO);
        let e = exited(2, 1);
        assert_eq!(
            remaining(&e, e.finished_at + 5_000_000_000),
            Duration::from_secs(15)
        );
        assert_eq!(
            remaining(&e, e.finished_at + 60_000_000_000),
            Duration::ZERO
        );
    }
}
