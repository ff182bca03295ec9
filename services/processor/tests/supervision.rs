//! A session actor whose logic panics restarts with its aggregate as it was before the message
//! that panicked, keeps serving, and leaves every other session untouched. A session quiet for a
//! while reports what its detection windows still held, frees them, and opens new ones later.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use actix::prelude::*;
use gosight_actors::{ActorExit, Observe, PanicLog};
use gosight_common::backend::SessionRow;
use gosight_processor::actors::{Apply, Quiet, SessionActor};
use gosight_processor::detect::Thresholds;
use gosight_processor::session::SessionState;
use gosight_proto::event::Payload;
use gosight_proto::*;
use uuid::Uuid;

fn envelope(project: Uuid, session: Uuid, payload: Payload, ty: EventType) -> Arc<EventEnvelope> {
    Arc::new(EventEnvelope {
        project_id: project.to_string(),
        session: Some(SessionMeta {
            session_id: session.to_string(),
            ..Default::default()
        }),
        event: Some(Event {
            event_id: Uuid::new_v4().to_string(),
            r#type: ty as i32,
            timestamp: Some(Timestamp {
                unix_ms: 1_763_700_000_000,
            }),
            page: Some(Page {
                url: "https://shop.example/".into(),
                path: "/".into(),
                ..Default::default()
            }),
            sequence: 1,
            payload: Some(payload),
        }),
        ..Default::default()
    })
}

fn click(p: Uuid, s: Uuid) -> Arc<EventEnvelope> {
    envelope(
        p,
        s,
        Payload::Click(ClickPayload::default()),
        EventType::Click,
    )
}

fn click_at(p: Uuid, s: Uuid, at_ms: i64) -> Arc<EventEnvelope> {
    let mut envelope = (*click(p, s)).clone();
    let event = envelope.event.as_mut().unwrap();
    event.timestamp = Some(Timestamp { unix_ms: at_ms });
    event.payload = Some(Payload::Click(ClickPayload {
        x: 200,
        y: 300,
        ..Default::default()
    }));
    Arc::new(envelope)
}

fn fault(p: Uuid, s: Uuid) -> Arc<EventEnvelope> {
    let custom = CustomPayload {
        name: "gosight.fault.panic".into(),
        ..Default::default()
    };
    envelope(p, s, Payload::Custom(custom), EventType::Custom)
}

#[actix_rt::test]
async fn a_panicking_session_restarts_alone() {
    let project = Uuid::new_v4();
    let panics = PanicLog::default();
    let start = |session: Uuid| {
        let (t, p) = (Arc::new(Thresholds::default()), panics.clone());
        Supervisor::start(move |_| SessionActor::new(SessionState::new(project, session), t, p))
    };
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let (victim, sibling) = (start(a), start(b));

    let out = victim
        .send(Apply(vec![
            (0, 1, click(project, a)),
            (0, 2, click(project, a)),
        ]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.events.len(), 2);
    sibling
        .send(Apply(vec![(1, 1, click(project, b))]))
        .await
        .unwrap()
        .unwrap();

    // A click, then the fault: the message fails as a whole.
    let exit = victim
        .send(Apply(vec![
            (0, 3, click(project, a)),
            (0, 4, fault(project, a)),
        ]))
        .await
        .unwrap();
    assert_eq!(
        exit.unwrap_err(),
        ActorExit::Panicked("injected fault".into())
    );
    assert_eq!(panics.count(), 1);

    // Restarted with the aggregate from before that message, and still serving.
    let row: SessionRow = victim.send(Observe::<SessionRow>::new()).await.unwrap();
    assert_eq!(
        (row.event_count, row.click_count, row.last_offset),
        (2, 2, 2)
    );
    let out = victim
        .send(Apply(vec![(0, 3, click(project, a))]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.session.unwrap().click_count, 3);

    // The sibling saw nothing of it.
    let row: SessionRow = sibling.send(Observe::<SessionRow>::new()).await.unwrap();
    assert_eq!((row.event_count, row.click_count), (1, 1));
    let out = sibling
        .send(Apply(vec![(1, 2, click(project, b))]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.session.unwrap().click_count, 2);
}

#[actix_rt::test]
async fn quiet_reports_the_open_burst_and_frees_the_windows() {
    let (project, session) = (Uuid::new_v4(), Uuid::new_v4());
    let actor = SessionActor::new(
        SessionState::new(project, session),
        Arc::new(Thresholds::default()),
        PanicLog::default(),
    )
    .start();
    let t = 1_763_700_000_000;
    let burst = (0..7).map(|i| (0, i, click_at(project, session, t + i * 100)));
    let out = actor.send(Apply(burst.collect())).await.unwrap().unwrap();
    assert!(out.insights.is_empty(), "the burst is still open");

    let quiet = actor.send(Quiet).await.unwrap();
    let types: Vec<&str> = quiet
        .insights
        .iter()
        .map(|i| i.insight_type.as_str())
        .collect();
    assert_eq!(types, ["rage_click"]);
    assert!(quiet.session.unwrap().has_rage_click);
    let again = actor.send(Quiet).await.unwrap();
    assert!(
        again.insights.is_empty() && again.session.is_none(),
        "nothing left"
    );

    // Later clicks open new windows: another burst, reported when it ends.
    let later = (0..7).map(|i| (0, 10 + i, click_at(project, session, t + 600_000 + i * 100)));
    actor.send(Apply(later.collect())).await.unwrap().unwrap();
    let quiet = actor.send(Quiet).await.unwrap();
    assert_eq!(quiet.insights.len(), 1);
}
