//! `SessionActor`: one live session — its aggregate and its detection windows.
//!
//! Restart (a panic in its logic, caught by [`catch_panic`]): the aggregate is put back as it was
//! before the message that panicked (a copy taken for the length of each message, not kept
//! while idle), the detection windows start empty, and the supervisor restarts the actor. The
//! events of that message are still written by the shard, uncounted in the aggregate.

use std::sync::Arc;

use actix::prelude::*;
use gosight_actors::{ActorExit, Observe, PanicLog, catch_panic};
use gosight_common::backend::{EventRow, InsightRow, SessionRow};
use gosight_proto::EventEnvelope;
use uuid::Uuid;

use crate::convert::{SharedStrings, datetime, event_row_with_ids, event_time, signals, url_path};
use crate::detect::{Finding, InsightKind, QUIET_AFTER, Thresholds, Windows};
use crate::live::LiveUpdate;
use crate::session::{Applied, SessionState};

/// Namespace of insight ids: an insight's id is derived from its session and evidence, so a
/// redelivered insight gets the same id and folds in ClickHouse.
const INSIGHT_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2a57_8d3e_4b09_9c4f_7a21_e5d8_3b60);

pub struct SessionActor {
    state: SessionState,
    /// Allocated on the first signal, dropped again by [`Quiet`].
    windows: Option<Box<Windows>>,
    thresholds: Arc<Thresholds>,
    panics: PanicLog,
    announced: bool,
    /// Ids of events in the next [`Apply`] that ClickHouse already holds (written by this
    /// session's previous owner before a crash or a move, see [`AlreadyStored`]): counted in the
    /// aggregate, not written again.
    stored: Option<Box<[Uuid]>>,
}

impl std::fmt::Debug for SessionActor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionActor")
            .field("session_id", &self.state.row.session_id)
            .finish_non_exhaustive()
    }
}

impl SessionActor {
    pub fn new(state: SessionState, thresholds: Arc<Thresholds>, panics: PanicLog) -> Self {
        let announced = state.row.event_count > 0;
        Self {
            state,
            windows: None,
            thresholds,
            panics,
            announced,
            stored: None,
        }
    }

    /// Reports what the open windows still hold and frees them; whether anything was reported.
    fn close_windows(&mut self, output: &mut Output) -> bool {
        let Some(mut windows) = self.windows.take() else {
            return false;
        };
        let findings = windows.close(&self.thresholds);
        let found = !findings.is_empty();
        for finding in findings {
            let insight = self.insight(finding);
            output.live.push(LiveUpdate::insight(&insight));
            output.insights.push(insight);
        }
        found
    }

    fn insight(&mut self, finding: Finding) -> InsightRow {
        match finding.kind {
            InsightKind::RageClick => self.state.row.has_rage_click = true,
            InsightKind::DeadClick => self.state.row.has_dead_click = true,
            _ => {}
        }
        let row = &self.state.row;
        // `<session>:<kind>:<first related event id, or the time>`, ids hyphenated lower case.
        let mut ids = Uuid::encode_buffer();
        let mut name = String::with_capacity(2 * ids.len() + 24);
        name.push_str(row.session_id.hyphenated().encode_lower(&mut ids));
        name.push(':');
        name.push_str(finding.kind.as_str());
        name.push(':');
        match finding.related_event_ids.first() {
            Some(id) => name.push_str(id.hyphenated().encode_lower(&mut ids)),
            None => name.push_str(itoa::Buffer::new().format(finding.at_ms)),
        }
        InsightRow {
            project_id: row.project_id,
            session_id: row.session_id,
            insight_id: Uuid::new_v5(&INSIGHT_NAMESPACE, name.as_bytes()),
            insight_type: finding.kind.as_str().to_string(),
            timestamp: datetime(finding.at_ms),
            path: url_path(&finding.url).to_string(),
            url: finding.url,
            x: finding.x,
            y: finding.y,
            selector: finding.selector,
            details: finding.details,
            related_event_ids: finding.related_event_ids,
            country_code: row.country_code.to_string(),
            browser: row.browser.to_string(),
            device_type: row.device_type.to_string(),
        }
    }

    fn apply(&mut self, items: &[(i32, i64, Arc<EventEnvelope>)]) -> Output {
        let mut output = Output {
            events: Vec::with_capacity(items.iter().map(|(_, _, e)| e.event_count()).sum()),
            ..Output::default()
        };
        let mut signal_buffer = Vec::new();
        let mut findings = Vec::new();
        let mut shared = SharedStrings::default();
        let stored = self.stored.take();
        let (project_id, session_id) = (self.state.row.project_id, self.state.row.session_id);
        for (partition, offset, envelope) in items {
            if !self.state.begin(*partition, *offset) {
                continue;
            }
            let columns = shared.envelope(envelope);
            for event in envelope.all_events() {
                #[cfg(feature = "fault-injection")]
                inject_fault(event);
                let event_id = Uuid::try_parse(&event.event_id).ok();
                let at = event_time(event);
                if self.state.apply_event(envelope, event, event_id, at) == Applied::Duplicate {
                    continue;
                }
                // Events without a UUID (the ingest lets none through) are counted, nothing more.
                let Some(event_id) = event_id else {
                    continue;
                };
                if let Some(columns) = &columns {
                    if LiveUpdate::worth_sending(event) {
                        let update = LiveUpdate::from_event(&self.state.row, event);
                        let unfolded = match output.live.last_mut() {
                            Some(last) => last.fold(update),
                            None => Some(update),
                        };
                        output.live.extend(unfolded);
                    }
                    if !stored.as_ref().is_some_and(|s| s.contains(&event_id)) {
                        output.events.push(event_row_with_ids(
                            columns,
                            event,
                            at,
                            project_id,
                            session_id,
                            event_id,
                            &mut shared,
                        ));
                    }
                }
                signals(event, event_id, &mut shared, &mut signal_buffer);
                if signal_buffer.is_empty() {
                    continue;
                }
                let windows = self.windows.get_or_insert_with(Box::default);
                for signal in signal_buffer.drain(..) {
                    windows.observe(&signal, &self.thresholds, &mut findings);
                }
                for finding in findings.drain(..) {
                    let insight = self.insight(finding);
                    output.live.push(LiveUpdate::insight(&insight));
                    output.insights.push(insight);
                }
            }
        }
        if !self.announced && self.state.row.event_count > 0 {
            self.announced = true;
            output.live.insert(0, LiveUpdate::started(&self.state.row));
        }
        output.session = Some(self.state.snapshot(true));
        output
    }
}

/// Test builds only (`--features fault-injection`): a custom event named
/// `gosight.fault.panic` makes the session's logic panic, after it has counted earlier events.
#[cfg(feature = "fault-injection")]
fn inject_fault(event: &gosight_proto::Event) {
    use gosight_proto::event::Payload;
    if let Some(Payload::Custom(custom)) = event.payload.as_ref()
        && custom.name == "gosight.fault.panic"
    {
        panic!("injected fault");
    }
}

impl Actor for SessionActor {
    type Context = Context<Self>;
}

impl Supervised for SessionActor {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        self.windows = None;
    }
}

/// What one message to a session produced, for the writers and the live view.
#[derive(Debug, Default)]
pub struct Output {
    pub events: Vec<EventRow>,
    pub insights: Vec<InsightRow>,
    pub session: Option<SessionRow>,
    pub live: Vec<LiveUpdate>,
}

/// Envelopes of this session, in bus order, with where each was read.
#[derive(Debug, Message)]
#[rtype(result = "Result<Output, ActorExit>")]
pub struct Apply(pub Vec<(i32, i64, Arc<EventEnvelope>)>);

impl Handler<Apply> for SessionActor {
    type Result = Result<Output, ActorExit>;

    fn handle(&mut self, msg: Apply, ctx: &mut Self::Context) -> Self::Result {
        let panics = self.panics.clone();
        let before = self.state.row.clone();
        let output = catch_panic::<Self, _>(ctx, &panics, "session", || self.apply(&msg.0));
        if output.is_err() {
            self.state = SessionState::from_row(before);
        }
        output
    }
}

/// Events of the next [`Apply`] already in ClickHouse. Their rows were written, but the session
/// row that counts them was not (the previous owner stopped between the two inserts of a round),
/// so they are counted and not written again: the tables filled on insert into `events` (rollups,
/// heatmaps) see each event once.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct AlreadyStored(pub std::collections::HashSet<Uuid>);

impl Handler<AlreadyStored> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: AlreadyStored, _: &mut Self::Context) {
        self.stored = Some(msg.0.into_iter().collect());
    }
}

/// The session has replay chunks.
#[derive(Debug, Message)]
#[rtype(result = "Option<SessionRow>")]
pub struct MarkReplay;

impl Handler<MarkReplay> for SessionActor {
    type Result = Option<SessionRow>;

    fn handle(&mut self, _: MarkReplay, _: &mut Self::Context) -> Self::Result {
        if self.state.row.has_replay {
            return None;
        }
        self.state.row.has_replay = true;
        Some(self.state.snapshot(true))
    }
}

/// The session has been quiet for longer than any detection window spans
/// ([`crate::detect::QUIET_AFTER`]): open bursts are reported and the windows freed, so an idle
/// live session holds only its aggregate. They come back with the next signal.
#[derive(Debug, Message)]
#[rtype(result = "Output")]
pub struct Quiet;

impl Handler<Quiet> for SessionActor {
    type Result = MessageResult<Quiet>;

    fn handle(&mut self, _: Quiet, _: &mut Self::Context) -> Self::Result {
        let mut output = Output::default();
        let quiet_ms = QUIET_AFTER.as_millis() as i64;
        if self.thresholds.longest_window_ms() < quiet_ms && self.close_windows(&mut output) {
            output.session = Some(self.state.snapshot(true));
        }
        MessageResult(output)
    }
}

/// The session ended (inactivity or explicit end): final row, open bursts reported, actor stops.
#[derive(Debug, Message)]
#[rtype(result = "Output")]
pub struct End;

impl Handler<End> for SessionActor {
    type Result = MessageResult<End>;

    fn handle(&mut self, _: End, ctx: &mut Self::Context) -> Self::Result {
        let mut output = Output::default();
        self.close_windows(&mut output);
        let row = self.state.snapshot(false);
        output.live.push(LiveUpdate::ended(&row));
        output.session = Some(row);
        ctx.stop();
        MessageResult(output)
    }
}

impl Handler<Observe<SessionRow>> for SessionActor {
    type Result = MessageResult<Observe<SessionRow>>;

    fn handle(&mut self, _: Observe<SessionRow>, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.state.row.clone())
    }
}
