//! The layer over actix that GoSight's processor builds on.
//!
//! - [`supervision`]: panic isolation — a panic inside one actor's handler stops (and, under an
//!   actix `Supervisor`, restarts) that actor only; [`ActorExit`] says how an actor ended.
//! - [`observe`]: the [`Observe`] message, answered with a snapshot of an actor's state, for tests
//!   and the admin view.
//! - [`testing`]: a [`testing::PanicLog`] every test can end on with `assert_no_panics()`.

pub mod observe;
pub mod supervision;
pub mod testing;

pub use observe::Observe;
pub use supervision::{ActorExit, PanicLog, catch_panic};
