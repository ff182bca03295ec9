//! Test helpers for actors.

use crate::supervision::PanicLog;

impl PanicLog {
    /// Ends a test: fails it if any actor panicked unexpectedly.
    pub fn assert_no_panics(&self) {
        assert_eq!(self.count(), 0, "an actor panicked during the test");
    }
}
