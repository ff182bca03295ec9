//! A session's aggregate: what becomes its `sessions` row. Plain data, updated event by event.
//!
//! What survives what:
//! - The aggregate is durable as of its last written row; [`SessionState::from_row`] resumes it
//!   after a restart, a crash or a shard move. Envelopes at or before the row's
//!   `(last_partition, last_offset)` were already counted and are skipped.
//! - The last few event ids are remembered to drop copies an SDK sent twice; they, and the
//!   detection windows, live only in memory and start empty after a restart.

use std::sync::Arc;

use gosight_common::backend::SessionRow;
use gosight_proto::event::Payload;
use gosight_proto::{Event, EventEnvelope};
use time::OffsetDateTime;
use uuid::Uuid;

/// Event ids remembered per session for duplicate removal, as 64-bit folds of the ids (half the
/// memory; two ids of one session folding alike is vanishingly unlikely).
const RECENT_IDS: usize = 32;

#[derive(Debug, Clone)]
pub struct SessionState {
    pub row: SessionRow,
    recent: Vec<u64>,
    next_slot: usize,
}

/// Whether an envelope changed the aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    New,
    /// Already counted (redelivered from the bus, or sent twice by the SDK).
    Duplicate,
}

/// The query parameters a session's `utm_*` columns hold, in column order.
const UTM_PARAMETERS: [&str; 5] = [
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
];

/// The entry URL's UTM parameters, in [`UTM_PARAMETERS`] order, each cut at 200 characters;
/// the first of each name counts, even when empty.
fn utm(url: &str) -> [Arc<str>; 5] {
    let mut values: [Arc<str>; 5] = Default::default();
    let Ok(url) = url::Url::parse(url) else {
        return values;
    };
    let mut found = [false; 5];
    for (key, value) in url.query_pairs() {
        if let Some(i) = UTM_PARAMETERS.iter().position(|name| *name == key)
            && !found[i]
        {
            found[i] = true;
            values[i] = text(&value.chars().take(200).collect::<String>());
        }
    }
    values
}

/// `value` as a column: empty values share one static allocation.
fn text(value: &str) -> Arc<str> {
    if value.is_empty() {
        Arc::default()
    } else {
        Arc::from(value)
    }
}

/// `slot` holds `value` afterwards; allocates only when it changes.
fn set(slot: &mut Arc<str>, value: &str) {
    if **slot != *value {
        *slot = text(value);
    }
}

impl SessionState {
    pub fn new(project_id: Uuid, session_id: Uuid) -> Self {
        Self::from_row(SessionRow {
            project_id,
            session_id,
            version: 0,
            user_id: Arc::default(),
            anonymous_id: Arc::default(),
            started_at: OffsetDateTime::UNIX_EPOCH,
            ended_at: OffsetDateTime::UNIX_EPOCH,
            duration_ms: 0,
            is_active: true,
            entry_url: Arc::default(),
            entry_path: Arc::default(),
            exit_url: Arc::default(),
            exit_path: Arc::default(),
            referrer: Arc::default(),
            page_count: 0,
            event_count: 0,
            click_count: 0,
            error_count: 0,
            max_scroll_depth: 0,
            has_error: false,
            has_rage_click: false,
            has_dead_click: false,
            is_bounce: true,
            has_replay: false,
            utm_source: Arc::default(),
            utm_medium: Arc::default(),
            utm_campaign: Arc::default(),
            utm_term: Arc::default(),
            utm_content: Arc::default(),
            country_code: Arc::default(),
            subdivision: Arc::default(),
            city: Arc::default(),
            browser: Arc::default(),
            browser_version: Arc::default(),
            os: Arc::default(),
            os_version: Arc::default(),
            device_type: Arc::default(),
            screen_width: 0,
            screen_height: 0,
            viewport_width: 0,
            viewport_height: 0,
            language: Arc::default(),
            last_partition: -1,
            last_offset: -1,
        })
    }

    pub fn from_row(row: SessionRow) -> Self {
        Self {
            row,
            recent: Vec::new(),
            next_slot: 0,
        }
    }

    fn seen(&mut self, event_id: Option<Uuid>) -> bool {
        let Some(id) = event_id else {
            return false;
        };
        let id = id.as_u128();
        let id = (id as u64) ^ ((id >> 64) as u64);
        if self.recent.contains(&id) {
            return true;
        }
        if self.recent.len() < RECENT_IDS {
            self.recent.push(id);
        } else {
            self.recent[self.next_slot] = id;
            self.next_slot = (self.next_slot + 1) % RECENT_IDS;
        }
        false
    }

    /// Starts counting the envelope read at `(partition, offset)`: false if the row already
    /// counts it (it is at or before the row's position: a redelivery), true otherwise, and the
    /// row's position moves to it. The envelope's events are then counted one by one with
    /// [`SessionState::apply_event`].
    pub fn begin(&mut self, partition: i32, offset: i64) -> bool {
        if partition == self.row.last_partition && offset <= self.row.last_offset {
            return false;
        }
        self.row.last_partition = partition;
        self.row.last_offset = offset;
        true
    }

    /// Counts one of the envelope's events (`event_id` parsed, `None`: not a UUID; `at` its
    /// timestamp) unless it was seen lately.
    pub fn apply_event(
        &mut self,
        envelope: &EventEnvelope,
        event: &Event,
        event_id: Option<Uuid>,
        at: OffsetDateTime,
    ) -> Applied {
        if self.seen(event_id) {
            return Applied::Duplicate;
        }
        let first = self.row.event_count == 0;
        self.row.event_count += 1;
        let page = event.page.as_ref();
        let url = page.map(|p| p.url.as_str()).unwrap_or_default();
        if first {
            self.row.started_at = at;
            self.row.ended_at = at;
            self.describe(envelope);
        }
        if at > self.row.ended_at {
            self.row.ended_at = at;
        }
        let earliest = at < self.row.started_at;
        if earliest {
            self.row.started_at = at;
        }
        self.row.duration_ms =
            ((self.row.ended_at - self.row.started_at).whole_milliseconds()).max(0) as u64;
        if let Some(session) = &envelope.session
            && !session.user_id.is_empty()
        {
            set(&mut self.row.user_id, &session.user_id);
        }
        if let Some(page) = page
            && !url.is_empty()
        {
            if self.row.entry_url.is_empty() || earliest {
                set(&mut self.row.entry_url, &page.url);
                set(&mut self.row.entry_path, &page.path);
                set(&mut self.row.referrer, &page.referrer);
                [
                    self.row.utm_source,
                    self.row.utm_medium,
                    self.row.utm_campaign,
                    self.row.utm_term,
                    self.row.utm_content,
                ] = utm(url);
            }
            if (at >= self.row.ended_at || self.row.exit_url.is_empty())
                && *self.row.exit_url != *page.url
            {
                if *self.row.entry_url == *page.url && *self.row.entry_path == *page.path {
                    self.row.exit_url = self.row.entry_url.clone();
                    self.row.exit_path = self.row.entry_path.clone();
                } else {
                    self.row.exit_url = text(&page.url);
                    set(&mut self.row.exit_path, &page.path);
                }
            }
        }
        match &event.payload {
            Some(Payload::PageView(_)) => self.row.page_count += 1,
            Some(Payload::Click(_)) => self.row.click_count += 1,
            Some(Payload::JsError(_)) | Some(Payload::NetworkError(_)) => {
                self.row.error_count += 1;
                self.row.has_error = true;
            }
            Some(Payload::Scroll(scroll)) => {
                let depth = scroll.max_depth_percent.min(100) as u8;
                self.row.max_scroll_depth = self.row.max_scroll_depth.max(depth);
            }
            _ => {}
        }
        self.row.is_bounce = self.row.page_count <= 1;
        Applied::New
    }

    /// Device, geo and browser, from the session's first envelope.
    fn describe(&mut self, envelope: &EventEnvelope) {
        let row = &mut self.row;
        if let Some(session) = &envelope.session {
            set(&mut row.anonymous_id, &session.anonymous_id);
            if let Some(device) = &session.device {
                row.screen_width = device.screen_width;
                row.screen_height = device.screen_height;
                row.viewport_width = device.viewport_width;
                row.viewport_height = device.viewport_height;
                set(&mut row.language, &device.language);
            }
        }
        if let Some(geo) = &envelope.geo {
            set(&mut row.country_code, &geo.country_code);
            set(&mut row.subdivision, &geo.subdivision_code);
            set(&mut row.city, &geo.city);
        }
        if let Some(ua) = &envelope.user_agent {
            set(&mut row.browser, &ua.browser);
            set(&mut row.browser_version, &ua.browser_version);
            set(&mut row.os, &ua.os);
            set(&mut row.os_version, &ua.os_version);
            set(
                &mut row.device_type,
                crate::convert::device_type_name(ua.device_type()),
            );
        }
    }

    /// The row to write now; each call gets a higher version so the newest wins.
    pub fn snapshot(&mut self, active: bool) -> SessionRow {
        self.row.version += 1;
        self.row.is_active = active;
        self.row.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utm_reads_every_parameter_in_one_pass() {
        let long = "x".repeat(300);
        let url = format!(
            "https://shop.example/a?utm_medium=e%2Dmail&utm_source=news&utm_source=later\
             &utm_content={long}&other=1#utm_term=fragment"
        );
        let [source, medium, campaign, term, content] = utm(&url);
        assert_eq!(&*source, "news", "the first of a name counts");
        assert_eq!(&*medium, "e-mail");
        assert_eq!(&*campaign, "");
        assert_eq!(&*term, "", "the fragment is not the query");
        assert_eq!(content.chars().count(), 200);
        assert_eq!(utm("not a url"), <[Arc<str>; 5]>::default());
    }
}
