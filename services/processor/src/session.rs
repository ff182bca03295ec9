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

use crate::convert::{keep, text};

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

/// The entry URL's UTM parameters into `slots`, in [`UTM_PARAMETERS`] order, each cut at 200
/// characters; the first of each name counts, even when empty, and a name the URL lacks is empty.
fn set_utm(url: &str, slots: [&mut Arc<str>; 5]) {
    let mut found = [false; 5];
    let parsed = url::Url::parse(url).ok();
    for (key, value) in parsed.iter().flat_map(|url| url.query_pairs()) {
        if let Some(i) = UTM_PARAMETERS.iter().position(|name| *name == key)
            && !found[i]
        {
            found[i] = true;
            let cut = value
                .char_indices()
                .nth(200)
                .map_or(&*value, |(at, _)| &value[..at]);
            keep(&mut *slots[i], cut);
        }
    }
    for (slot, found) in slots.into_iter().zip(found) {
        if !found {
            keep(slot, "");
        }
    }
}

/// A row read back from storage holds its strings as a row built here does: empty columns share
/// the static empty string, and the exit page shares the entry page's when they are the same.
fn compact(row: &mut SessionRow) {
    for column in [
        &mut row.user_id,
        &mut row.anonymous_id,
        &mut row.entry_url,
        &mut row.entry_path,
        &mut row.exit_url,
        &mut row.exit_path,
        &mut row.referrer,
        &mut row.utm_source,
        &mut row.utm_medium,
        &mut row.utm_campaign,
        &mut row.utm_term,
        &mut row.utm_content,
        &mut row.country_code,
        &mut row.subdivision,
        &mut row.city,
        &mut row.browser,
        &mut row.browser_version,
        &mut row.os,
        &mut row.os_version,
        &mut row.device_type,
        &mut row.language,
    ] {
        if column.is_empty() {
            *column = Arc::default();
        }
    }
    if row.exit_url == row.entry_url && row.exit_path == row.entry_path {
        row.exit_url = row.entry_url.clone();
        row.exit_path = row.entry_path.clone();
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

    /// A session resumed from its stored row (or started from an empty one).
    pub fn from_row(mut row: SessionRow) -> Self {
        compact(&mut row);
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
            keep(&mut self.row.user_id, &session.user_id);
        }
        if let Some(page) = page
            && !url.is_empty()
        {
            if self.row.entry_url.is_empty() || earliest {
                keep(&mut self.row.entry_url, &page.url);
                keep(&mut self.row.entry_path, &page.path);
                keep(&mut self.row.referrer, &page.referrer);
                let row = &mut self.row;
                set_utm(
                    url,
                    [
                        &mut row.utm_source,
                        &mut row.utm_medium,
                        &mut row.utm_campaign,
                        &mut row.utm_term,
                        &mut row.utm_content,
                    ],
                );
            }
            if (at >= self.row.ended_at || self.row.exit_url.is_empty())
                && *self.row.exit_url != *page.url
            {
                if *self.row.entry_url == *page.url && *self.row.entry_path == *page.path {
                    self.row.exit_url = self.row.entry_url.clone();
                    self.row.exit_path = self.row.entry_path.clone();
                } else {
                    self.row.exit_url = text(&page.url);
                    keep(&mut self.row.exit_path, &page.path);
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
            keep(&mut row.anonymous_id, &session.anonymous_id);
            if let Some(device) = &session.device {
                row.screen_width = device.screen_width;
                row.screen_height = device.screen_height;
                row.viewport_width = device.viewport_width;
                row.viewport_height = device.viewport_height;
                keep(&mut row.language, &device.language);
            }
        }
        if let Some(geo) = &envelope.geo {
            keep(&mut row.country_code, &geo.country_code);
            keep(&mut row.subdivision, &geo.subdivision_code);
            keep(&mut row.city, &geo.city);
        }
        if let Some(ua) = &envelope.user_agent {
            keep(&mut row.browser, &ua.browser);
            keep(&mut row.browser_version, &ua.browser_version);
            keep(&mut row.os, &ua.os);
            keep(&mut row.os_version, &ua.os_version);
            keep(
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

    /// A stored row read back (every string its own allocation, as the stores return them) holds
    /// its strings as a row built here does.
    #[test]
    fn a_resumed_row_shares_its_strings() {
        let mut row = SessionState::new(Uuid::nil(), Uuid::nil()).row;
        row.entry_url = Arc::from("https://shop.example/a");
        row.exit_url = Arc::from("https://shop.example/a");
        row.entry_path = Arc::from("/a");
        row.exit_path = Arc::from("/a");
        row.city = Arc::from(String::new());
        let state = SessionState::from_row(row.clone());
        assert_eq!(state.row, row, "the values are unchanged");
        assert!(Arc::ptr_eq(&state.row.exit_url, &state.row.entry_url));
        assert!(Arc::ptr_eq(&state.row.exit_path, &state.row.entry_path));
        assert!(Arc::ptr_eq(&state.row.city, &text("")));

        let mut moved = row;
        moved.exit_url = Arc::from("https://shop.example/b");
        moved.exit_path = Arc::from("/b");
        let state = SessionState::from_row(moved);
        assert!(!Arc::ptr_eq(&state.row.exit_url, &state.row.entry_url));
        assert_eq!(&*state.row.exit_path, "/b");
    }

    #[test]
    fn utm_reads_every_parameter_in_one_pass() {
        let long = "x".repeat(300);
        let url = format!(
            "https://shop.example/a?utm_medium=e%2Dmail&utm_source=news&utm_source=later\
             &utm_content={long}&other=1#utm_term=fragment"
        );
        let utm = |url: &str, before: &str| {
            let mut values: [Arc<str>; 5] = std::array::from_fn(|_| Arc::from(before));
            let [a, b, c, d, e] = &mut values;
            set_utm(url, [a, b, c, d, e]);
            values
        };
        let [source, medium, campaign, term, content] = utm(&url, "earlier");
        assert_eq!(&*source, "news", "the first of a name counts");
        assert_eq!(&*medium, "e-mail");
        assert_eq!(&*campaign, "", "a name the URL lacks is emptied");
        assert_eq!(&*term, "", "the fragment is not the query");
        assert_eq!(content.chars().count(), 200);
        assert_eq!(utm("not a url", "earlier"), <[Arc<str>; 5]>::default());
        let accented = format!("https://shop.example/?utm_source={}", "é".repeat(250));
        assert_eq!(
            *utm(&accented, "")[0],
            "é".repeat(200),
            "cut at characters, not bytes"
        );
    }
}
