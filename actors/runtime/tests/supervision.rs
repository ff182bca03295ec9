//! A panicking actor restarts with a clean state; its siblings are untouched.

#![allow(clippy::unwrap_used)]

use actix::prelude::*;
use gosight_actors::{ActorExit, Observe, PanicLog, catch_panic};

struct Counter {
    count: u64,
    restarts: u64,
    panics: PanicLog,
}

impl Actor for Counter {
    type Context = Context<Self>;
}

impl Supervised for Counter {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        // Rebuilt from nothing durable: the count starts over.
        self.count = 0;
        self.restarts += 1;
    }
}

#[derive(Message)]
#[rtype(result = "Result<u64, ActorExit>")]
struct Add(u64);

impl Handler<Add> for Counter {
    type Result = Result<u64, ActorExit>;

    fn handle(&mut self, msg: Add, ctx: &mut Self::Context) -> Self::Result {
        let current = self.count;
        let panics = self.panics.clone();
        let next = catch_panic::<Self, _>(ctx, &panics, "counter", || {
            assert!(msg.0 != 13, "unlucky number");
            current + msg.0
        })?;
        self.count = next;
        Ok(next)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct CounterState {
    count: u64,
    restarts: u64,
}

impl Handler<Observe<CounterState>> for Counter {
    type Result = MessageResult<Observe<CounterState>>;

    fn handle(&mut self, _: Observe<CounterState>, _: &mut Self::Context) -> Self::Result {
        MessageResult(CounterState {
            count: self.count,
            restarts: self.restarts,
        })
    }
}

fn start(panics: &PanicLog) -> Addr<Counter> {
    let panics = panics.clone();
    Supervisor::start(move |_| Counter {
        count: 0,
        restarts: 0,
        panics,
    })
}

#[actix_rt::test]
async fn panic_restarts_only_that_actor() {
    let panics = PanicLog::default();
    let victim = start(&panics);
    let sibling = start(&panics);

    assert_eq!(victim.send(Add(5)).await.unwrap(), Ok(5));
    assert_eq!(sibling.send(Add(7)).await.unwrap(), Ok(7));

    let exit = victim.send(Add(13)).await.unwrap();
    assert_eq!(exit, Err(ActorExit::Panicked("unlucky number".into())));
    assert_eq!(panics.count(), 1);

    // The supervisor restarted it with a clean state; the same address still works.
    let state = victim.send(Observe::<CounterState>::new()).await.unwrap();
    assert_eq!(
        state,
        CounterState {
            count: 0,
            restarts: 1
        }
    );
    assert_eq!(victim.send(Add(2)).await.unwrap(), Ok(2));

    // The sibling kept its state.
    let sibling_state = sibling.send(Observe::<CounterState>::new()).await.unwrap();
    assert_eq!(
        sibling_state,
        CounterState {
            count: 7,
            restarts: 0
        }
    );
}

#[actix_rt::test]
async fn quiet_run_has_no_panics() {
    let panics = PanicLog::default();
    let actor = start(&panics);
    assert_eq!(actor.send(Add(1)).await.unwrap(), Ok(1));
    panics.assert_no_panics();
}
