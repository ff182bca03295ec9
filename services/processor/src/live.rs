//! Live updates: compact JSON messages on the Redis channel `gosight:live:<project_id>`, read by
//! the API's live WebSocket. Best effort: a missed update is healed by the next one, and the
//! dashboard reads a snapshot from ClickHouse when it connects.

use gosight_common::backend::{InsightRow, SessionRow};
use gosight_proto::EventEnvelope;
use gosight_proto::event::Payload;
use serde::Serialize;
use uuid::Uuid;

use crate::convert::event_type_name;

pub fn channel(project_id: Uuid) -> String {
    format!("gosight:live:{project_id}")
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveUpdate {
    Started {
        project_id: Uuid,
        session_id: Uuid,
        url: String,
        country: String,
        device: String,
        browser: String,
    },
    Page {
        project_id: Uuid,
        session_id: Uuid,
        url: String,
        at_ms: i64,
    },
    Action {
        project_id: Uuid,
        session_id: Uuid,
        event_type: String,
        label: String,
        at_ms: i64,
    },
    Insight {
        project_id: Uuid,
        session_id: Uuid,
        insight_type: String,
        url: String,
    },
    Ended {
        project_id: Uuid,
        session_id: Uuid,
        duration_ms: u64,
        page_count: u32,
    },
}

impl LiveUpdate {
    pub fn project_id(&self) -> Uuid {
        match self {
            LiveUpdate::Started { project_id, .. }
            | LiveUpdate::Page { project_id, .. }
            | LiveUpdate::Action { project_id, .. }
            | LiveUpdate::Insight { project_id, .. }
            | LiveUpdate::Ended { project_id, .. } => *project_id,
        }
    }

    pub fn started(row: &SessionRow) -> Self {
        LiveUpdate::Started {
            project_id: row.project_id,
            session_id: row.session_id,
            url: row.entry_url.clone(),
            country: row.country_code.clone(),
            device: row.device_type.clone(),
            browser: row.browser.clone(),
        }
    }

    /// Page changes and actions a person watching would notice; pointer moves, scrolls, vitals
    /// and the like are not sent one by one.
    pub fn worth_sending(envelope: &EventEnvelope) -> bool {
        matches!(
            envelope.event.as_ref().and_then(|e| e.payload.as_ref()),
            Some(
                Payload::PageView(_)
                    | Payload::Click(_)
                    | Payload::JsError(_)
                    | Payload::NetworkError(_)
                    | Payload::Custom(_)
                    | Payload::Input(_)
            )
        )
    }

    pub fn from_event(row: &SessionRow, envelope: &EventEnvelope) -> Self {
        let event = envelope.event.as_ref();
        let at_ms = event
            .and_then(|e| e.timestamp)
            .map(|t| t.unix_ms)
            .unwrap_or_default();
        let url = event
            .and_then(|e| e.page.as_ref())
            .map(|p| p.url.clone())
            .unwrap_or_default();
        match event.and_then(|e| e.payload.as_ref()) {
            Some(Payload::PageView(_)) => LiveUpdate::Page {
                project_id: row.project_id,
                session_id: row.session_id,
                url,
                at_ms,
            },
            payload => LiveUpdate::Action {
                project_id: row.project_id,
                session_id: row.session_id,
                event_type: event
                    .map(|e| event_type_name(e.r#type()).to_string())
                    .unwrap_or_default(),
                label: match payload {
                    Some(Payload::Click(c)) => c
                        .target
                        .as_ref()
                        .map(|t| t.text.clone())
                        .unwrap_or_default(),
                    Some(Payload::JsError(e)) => e.message.clone(),
                    Some(Payload::Custom(c)) => c.name.clone(),
                    _ => String::new(),
                },
                at_ms,
            },
        }
    }

    pub fn insight(row: &InsightRow) -> Self {
        LiveUpdate::Insight {
            project_id: row.project_id,
            session_id: row.session_id,
            insight_type: row.insight_type.clone(),
            url: row.url.clone(),
        }
    }

    pub fn ended(row: &SessionRow) -> Self {
        LiveUpdate::Ended {
            project_id: row.project_id,
            session_id: row.session_id,
            duration_ms: row.duration_ms,
            page_count: row.page_count,
        }
    }
}
