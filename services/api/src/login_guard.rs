//! Sign-in attempts counted per account: after `api.login_max_failures` attempts that did not
//! succeed within `api.login_lockout_seconds` of the first, the account's sign-ins are refused
//! (429, with `Retry-After`) until the window ends, before any password is checked. An attempt
//! counts when it starts, so requests sent all at once get no more guesses than requests sent
//! one by one; a successful sign-in clears the count.
//!
//! The key is the account (`user:<id>`), so every spelling of its email shares one count; an
//! email without an account counts under its lowercased self. Counts are kept in memory, per API
//! process; a restart forgets them. The table is bounded: when full, ended windows are dropped,
//! then the window that started first.

use std::time::{Duration, Instant};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

/// Keys tracked at most.
pub const CAPACITY: usize = 100_000;

/// Attempts under one key since `since`.
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

/// The key of an account.
pub fn user_key(user: uuid::Uuid) -> String {
    format!("user:{user}")
}

/// The key of an email no account has: trimmed and lowercased.
pub fn email_key(email: &str) -> String {
    let email: String = email.trim().chars().take(254).collect();
    format!("email:{}", email.to_lowercase())
}

/// The per-account attempt counts of one API process.
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
            capacity: capacity.max(1),
            failures: DashMap::new(),
        }
    }

    /// Starts a sign-in under `key` at `now`: counts it, or answers how long the key is still
    /// locked.
    pub fn attempt(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.max_failures == 0 {
            return Ok(());
        }
        if !self.failures.contains_key(key) && self.failures.len() >= self.capacity {
            self.make_room(now);
        }
        match self.failures.entry(key.to_string()) {
            Entry::Occupied(mut counted) => {
                if let Some(wait) = locked_for(*counted.get(), self.max_failures, self.window, now)
                {
                    return Err(wait);
                }
                let next = after_failure(Some(*counted.get()), self.window, now);
                *counted.get_mut() = next;
            }
            Entry::Vacant(new) => {
                new.insert(after_failure(None, self.window, now));
            }
        }
        Ok(())
    }

    /// Drops the ended windows; if none had ended, the one that started first.
    fn make_room(&self, now: Instant) {
        let window = self.window;
        self.failures.retain(|_, f| now < f.since + window);
        if self.failures.len() >= self.capacity {
            let oldest = self
                .failures
                .iter()
                .min_by_key(|f| f.since)
                .map(|f| f.key().clone());
            if let Some(oldest) = oldest {
                self.failures.remove(&oldest);
            }
        }
    }

    /// A successful sign-in: `key` starts again from nothing.
    pub fn succeeded(&self, key: &str) {
        self.failures.remove(key);
    }

    /// Keys with attempts counted.
    pub fn tracked(&self) -> usize {
        self.failures.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(900);

    #[test]
    fn locks_after_the_last_allowed_attempt_until_the_window_ends() {
        let guard = LoginGuard::new(3, WINDOW);
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(
                guard.attempt("user:ann", t0 + Duration::from_secs(i)),
                Ok(())
            );
        }
        let at = t0 + Duration::from_secs(100);
        assert_eq!(guard.attempt("user:ann", at), Err(Duration::from_secs(800)));
        assert_eq!(guard.attempt("user:bo", at), Ok(()));
        assert_eq!(guard.attempt("user:ann", t0 + WINDOW), Ok(()));
    }

    #[test]
    fn emails_without_an_account_count_as_they_are_looked_up() {
        assert_eq!(email_key(" Ann@Example.COM "), email_key("ann@example.com"));
        assert_ne!(user_key(uuid::Uuid::nil()), email_key("user:0"));
    }

    #[test]
    fn a_success_clears_and_an_ended_window_starts_again() {
        let guard = LoginGuard::new(2, WINDOW);
        let now = Instant::now();
        guard.attempt("k", now).unwrap();
        guard.succeeded("k");
        guard.attempt("k", now).unwrap();
        assert_eq!(guard.attempt("k", now), Ok(()));
        assert!(guard.attempt("k", now).is_err());
        // After the window: a new window of one.
        assert_eq!(guard.attempt("k", now + WINDOW), Ok(()));
        assert_eq!(guard.attempt("k", now + WINDOW), Ok(()));
        assert!(guard.attempt("k", now + WINDOW).is_err());
    }

    #[test]
    fn zero_turns_it_off() {
        let guard = LoginGuard::new(0, WINDOW);
        let now = Instant::now();
        for _ in 0..100 {
            assert_eq!(guard.attempt("k", now), Ok(()));
        }
        assert_eq!(guard.tracked(), 0);
    }

    #[test]
    fn the_table_is_bounded_and_drops_ended_then_oldest_windows() {
        let guard = LoginGuard::with_capacity(1, WINDOW, 2);
        let now = Instant::now();
        guard.attempt("a", now).unwrap();
        guard.attempt("b", now + Duration::from_secs(10)).unwrap();
        // Full, nothing ended: the oldest window (a) makes room.
        guard.attempt("c", now + Duration::from_secs(20)).unwrap();
        assert_eq!(guard.tracked(), 2);
        assert!(guard.attempt("b", now + Duration::from_secs(30)).is_err());
        assert!(guard.attempt("c", now + Duration::from_secs(30)).is_err());
        // Windows ended: dropped first.
        let later = now + WINDOW + Duration::from_secs(15);
        guard.attempt("d", later).unwrap();
        assert_eq!(guard.tracked(), 2, "b ended and went; c and d are left");
        assert!(guard.attempt("c", later).is_err());
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
