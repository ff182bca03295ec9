//! The processor's actors, one per file: [`SessionActor`] (one per live session) and
//! [`TableWriter`] (one per table of the analytics store).

pub mod session_actor;
pub mod writer;

pub use session_actor::{AlreadyStored, Apply, End, MarkReplay, Output, Quiet, SessionActor};
pub use writer::{Add, Flush, StoredRow, TableWriter};
