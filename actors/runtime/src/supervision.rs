//! Panic isolation for actors.
//!
//! actix does not catch panics: a panic in a handler unwinds through the arbiter and takes every
//! actor on it down. Handlers whose logic may panic run it through [`catch_panic`], which turns a
//! panic into a stopped actor. Under `actix::Supervisor`, a stopped actor is restarted, and its
//! `Supervised::restarting` hook decides what state survives: GoSight's rule is that a restart
//! starts from a clean state built from what is durable, never from the state that panicked.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix::{Actor, ActorContext};

/// How an actor ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorExit {
    /// It finished its work.
    Success,
    /// It was asked to stop.
    Quit,
    /// The actor it sends to is gone.
    DownstreamClosed,
    /// It was stopped from outside without finishing.
    Killed,
    /// It returned an error.
    Failure(String),
    /// Its logic panicked; the message is the panic's.
    Panicked(String),
}

/// Counts panics caught by [`catch_panic`]; shared by the actors of one shard (and by a test).
#[derive(Debug, Clone, Default)]
pub struct PanicLog {
    count: Arc<AtomicU64>,
}

impl PanicLog {
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    fn record(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// Runs `f`; if it panics, records it in `log`, stops the actor and returns the exit.
pub fn catch_panic<A, R>(
    ctx: &mut A::Context,
    log: &PanicLog,
    actor_name: &str,
    f: impl FnOnce() -> R,
) -> Result<R, ActorExit>
where
    A: Actor,
    A::Context: ActorContext,
{
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => Ok(value),
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            tracing::error!(actor = actor_name, panic = %message, "actor panicked; stopping it");
            log.record();
            ctx.stop();
            Err(ActorExit::Panicked(message))
        }
    }
}
