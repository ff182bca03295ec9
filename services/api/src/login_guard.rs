//! Failed sign-ins counted per account: after `api.login_max_failures` wrong passwords for one
//! email within `api.login_lockout_seconds` of the first, that email's sign-ins are refused
//! (429, with `Retry-After`) until the window ends, before any password is checked. A successful
//! sign-in clears the count.
//!
//! Counts are kept in memory, per API process; a restart forgets them. The table is bounded:
//! when full, ended windows are dropped, and failures for further emails go uncounted (and are
//! logged) until there is room.

use std::time::{Duration, Instant};

use dashmap::DashMap;

/// Emails tracked at most.
pub const CAPACITY: usize = 100_000;

/// Failures of one email since `since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    pub count: u32,
    pub since: Instant,
}

/// How long `failures` still refuse sign-ins at `now`: `None` if they do not.
pub fn locked_for(
    failures: Failures,
    max_failures: u32,
    window: Duration,
    now: Instant,
) -> Option<Duration> {
    let ends = failures.since + window;
    (max_failures > 0 && failures.count >= max_failures && now < ends).then(|| ends - now)
}

/// `failures` after one more at `now`: a new window when the last one has ended.
pub fn after_failure(failures: Option<Failures>, window: Duration, now: Instant) -> Failures {
    match failures {
        Some(f) if now < f.since + window => Failures {
            count: f.count.saturating_add(1),
            since: f.since,
        },
        _ => Failures {
            count: 1,
            since: now,
        },
    }
}

/// The key of an email: trimmed and lowercased, as accounts are looked up.
fn key(email: &str) -> String {
    email
        .trim()
        .chars()
        .take(254)
        .collect::<String>()
        .to_lowercase()
}

/// The per-account failure counts of one API process.
#[derive(Debug)]
pub struct LoginGuard {
    max_failures: u32,
    window: Duration,
    capacity: usize,
    failures: DashMap<String, Failures>,
}

impl LoginGuard {
    /// `max_failures` of `0` turns the guard off.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self::with_capacity(max_failures, window, CAPACITY)
    }

    pub fn with_capacity(max_failures: u32, window: Duration, capacity: usize) -> Self {
        Self {
            max_failures,
            window,
            capacity,
            failures: DashMap::new(),
        }
    }

    /// `Err` with the time left when `email` may not sign in at `now`.
    pub fn check(&self, email: &str, now: Instant) -> Result<(), Duration> {
        if self.max_failures == 0 {
            return Ok(());
        }
        match self.failures.get(&key(email)) {
            Some(f) => locked_for(*f, self.max_failures, self.window, now).map_or(Ok(()), Err),
            None => Ok(()),
        }
    }

    /// Counts a wrong password for `email` at `now`.
    pub fn failed(&self, email: &str, now: Instant) {
        if self.max_failures == 0 {
            return;
        }
        let key = key(email);
        if !self.failures.contains_key(&key) && self.failures.len() >= self.capacity {
            let window = self.window;
            self.failures.retain(|_, f| now < f.since + window);
            if self.failures.len() >= self.capacity {
                tracing::warn!(
                    capacity = self.capacity,
                    "failed sign-ins for too many emails at once; this one is not counted"
                );
                return;
            }
        }
        let window = self.window;
        self.failures
            .entry(key)
            .and_modify(|f| *f = after_failure(Some(*f), window, now))
            .or_insert_with(|| after_failure(None, window, now));
    }

    /// A successful sign-in: `email` starts again from no failures.
    pub fn succeeded(&self, email: &str) {
        self.failures.remove(&key(email));
    }

    /// Emails with failures counted.
    pub fn tracked(&self) -> usize {
        self.failures.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(900);

    #[test]
    fn locks_after_the_last_allowed_failure_until_the_window_ends() {
        let guard = LoginGuard::new(3, WINDOW);
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(guard.check("ann@example.com", t0), Ok(()), "attempt {i}");
            guard.failed("ann@example.com", t0 + Duration::from_secs(i));
        }
        let at = t0 + Duration::from_secs(100);
        assert_eq!(
            guard.check("ann@example.com", at),
            Err(Duration::from_secs(800))
        );
        assert_eq!(guard.check("bo@example.com", at), Ok(()));
        assert_eq!(guard.check("ann@example.com", t0 + WINDOW), Ok(()));
    }

    #[test]
    fn emails_are_counted_as_accounts_are_found() {
        let guard = LoginGuard::new(2, WINDOW);
        let now = Instant::now();
        guard.failed("Ann@Example.com", now);
        guard.failed(" ann@example.COM ", now);
        assert!(guard.check("ann@example.com", now).is_err());
        assert_eq!(guard.tracked(), 1);
    }

    #[test]
    fn a_success_clears_and_an_ended_window_starts_again() {
        let guard = LoginGuard::new(2, WINDOW);
        let now = Instant::now();
        guard.failed("ann@example.com", now);
        guard.succeeded("ann@example.com");
        guard.failed("ann@example.com", now);
        assert_eq!(guard.check("ann@example.com", now), Ok(()));
        // One failure, then one after its window: a new window of one.
        guard.failed("ann@example.com", now + WINDOW);
        assert_eq!(guard.check("ann@example.com", now + WINDOW), Ok(()));
        guard.failed("ann@example.com", now + WINDOW);
        assert!(guard.check("ann@example.com", now + WINDOW).is_err());
    }

    #[test]
    fn zero_turns_it_off() {
        let guard = LoginGuard::new(0, WINDOW);
        let now = Instant::now();
        for _ in 0..100 {
            guard.failed("ann@example.com", now);
        }
        assert_eq!(guard.check("ann@example.com", now), Ok(()));
        assert_eq!(guard.tracked(), 0);
    }

    #[test]
    fn the_table_is_bounded_and_drops_ended_windows_first() {
        let guard = LoginGuard::with_capacity(1, WINDOW, 2);
        let now = Instant::now();
        guard.failed("a@example.com", now);
        guard.failed("b@example.com", now + Duration::from_secs(10));
        // Full, nothing ended: not counted.
        guard.failed("c@example.com", now + Duration::from_secs(20));
        assert_eq!(guard.tracked(), 2);
        assert_eq!(guard.check("c@example.com", now), Ok(()));
        // a's window has ended: dropped to make room.
        let later = now + WINDOW + Duration::from_secs(1);
        guard.failed("c@example.com", later);
        assert_eq!(guard.tracked(), 2);
        assert!(guard.check("c@example.com", later).is_err());
        assert!(guard.check("b@example.com", later).is_err());
    }

    #[test]
    fn locked_for_is_pure() {
        let now = Instant::now();
        let f = Failures {
            count: 5,
            since: now,
        };
        assert_eq!(locked_for(f, 5, WINDOW, now), Some(WINDOW));
        assert_eq!(locked_for(f, 6, WINDOW, now), None);
        assert_eq!(locked_for(f, 0, WINDOW, now), None);
        assert_eq!(locked_for(f, 5, WINDOW, now + WINDOW), None);
        assert_eq!(after_failure(Some(f), WINDOW, now + WINDOW).count, 1);
        assert_eq!(after_failure(Some(f), WINDOW, now).count, 6);
    }
}
