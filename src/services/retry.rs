//! How long an outbox delivery (mail, the learning platform's events)
//! waits after failing: `first`, doubled on each further failure, up to an
//! hour, for as long as it takes.

use chrono::TimeDelta;

const LONGEST_WAIT: TimeDelta = TimeDelta::hours(1);

/// The wait after the `attempts`-th failure.
pub fn backoff(first: TimeDelta, attempts: i32) -> TimeDelta {
    let doublings = attempts.saturating_sub(1).clamp(0, 20) as u32;
    first
        .checked_mul(2i32.pow(doublings))
        .map_or(LONGEST_WAIT, |wait| wait.min(LONGEST_WAIT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_doubles_the_wait_up_to_an_hour() {
        let first = TimeDelta::seconds(10);
        let waits: Vec<i64> = (1..=11).map(|a| backoff(first, a).num_seconds()).collect();
        assert_eq!(
            waits,
            [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
        );
        assert_eq!(backoff(first, i32::MAX).num_seconds(), 3600);
        assert_eq!(backoff(first, 0).num_seconds(), 10);
    }
}
