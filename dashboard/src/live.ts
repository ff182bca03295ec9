// The live-sessions state: a snapshot on connect, then started / page / action / insight / ended
// updates applied as they arrive.

export interface LiveSession {
  session_id: string;
  user_id: string;
  started_ms: number;
  last_seen_ms: number;
  url: string;
  page_count: number;
  event_count: number;
  country: string;
  device: string;
  browser: string;
  has_error: boolean;
  has_rage_click: boolean;
  has_dead_click: boolean;
  last_action: string;
  ended: boolean;
  duration_ms?: number;
}

export type LiveMessage =
  | { type: "snapshot"; sessions: { session_id: string; user_id: string; started_at: string; last_seen_at: string; url: string; entry_url: string; page_count: number; event_count: number; country: string; device: string; browser: string; has_error: boolean; has_rage_click: boolean }[] }
  | { type: "started"; session_id: string; url: string; country: string; device: string; browser: string }
  | { type: "page"; session_id: string; url: string; at_ms: number }
  | { type: "action"; session_id: string; event_type: string; label: string; at_ms: number; count?: number }
  | { type: "insight"; session_id: string; insight_type: string; url: string }
  | { type: "ended"; session_id: string; duration_ms: number; page_count: number };

const blank = (id: string, now: number): LiveSession => ({
  session_id: id,
  user_id: "",
  started_ms: now,
  last_seen_ms: now,
  url: "",
  page_count: 0,
  event_count: 0,
  country: "",
  device: "",
  browser: "",
  has_error: false,
  has_rage_click: false,
  has_dead_click: false,
  last_action: "",
  ended: false,
});

const ACTION: Record<string, string> = { click: "Clicked", js_error: "Error", network_error: "Request failed", custom: "Event", input_change: "Typed" };

export function pathOf(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return url;
  }
}

/** Applies one message; returns a new map (the old one is not changed). */
export function applyLive(state: Map<string, LiveSession>, msg: LiveMessage, now = Date.now()): Map<string, LiveSession> {
  if (msg.type === "snapshot") {
    const next = new Map<string, LiveSession>();
    for (const s of msg.sessions) {
      next.set(s.session_id, {
        ...blank(s.session_id, now),
        user_id: s.user_id,
        started_ms: Date.parse(s.started_at),
        last_seen_ms: Date.parse(s.last_seen_at),
        url: s.url || pathOf(s.entry_url),
        page_count: s.page_count,
        event_count: s.event_count,
        country: s.country,
        device: s.device,
        browser: s.browser,
        has_error: s.has_error,
        has_rage_click: s.has_rage_click,
        last_action: "",
      });
    }
    return next;
  }
  const next = new Map(state);
  const prev = next.get(msg.session_id) ?? blank(msg.session_id, now);
  const s: LiveSession = { ...prev, last_seen_ms: now, ended: false };
  switch (msg.type) {
    case "started":
      Object.assign(s, { url: pathOf(msg.url), country: msg.country, device: msg.device, browser: msg.browser, started_ms: prev.event_count ? prev.started_ms : now });
      break;
    case "page":
      s.url = pathOf(msg.url);
      s.page_count = prev.page_count + 1;
      s.last_action = `Visited ${pathOf(msg.url)}`;
      break;
    case "action":
      s.event_count = prev.event_count + (msg.count ?? 1);
      s.last_action = `${ACTION[msg.event_type] ?? msg.event_type}${msg.label ? ` “${msg.label.slice(0, 60)}”` : ""}`;
      if (msg.event_type === "js_error" || msg.event_type === "network_error") s.has_error = true;
      break;
    case "insight":
      if (msg.insight_type === "rage_click") s.has_rage_click = true;
      if (msg.insight_type === "dead_click") s.has_dead_click = true;
      if (msg.insight_type === "error_click") s.has_error = true;
      s.last_action = msg.insight_type.replace("_", " ");
      break;
    case "ended":
      s.ended = true;
      s.duration_ms = msg.duration_ms;
      s.page_count = msg.page_count || prev.page_count;
      break;
  }
  next.set(msg.session_id, s);
  return next;
}
