//! Observable state: any actor can answer [`Observe`] with a snapshot of its state.

use std::marker::PhantomData;

use actix::Message;

/// Asks an actor for a snapshot of type `S`. Implement `Handler<Observe<S>>` on the actor.
#[derive(Debug)]
pub struct Observe<S>(PhantomData<fn() -> S>);

impl<S> Observe<S> {
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

impl<S> Default for Observe<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: 'static> Message for Observe<S> {
    type Result = S;
}
