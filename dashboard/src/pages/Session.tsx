import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { ApiError, canManage, client, type Project, projectPath, type SessionDetail, type TimelineEvent } from "../api";
import { Badge, Card, ErrorBox, Loading } from "../components/ui";
import { countryName, flag, fmtClock, fmtDateTime, fmtDuration, fmtNumber } from "../format";
import { useAction, useApi } from "../hooks";
import { Link, navigate, setQuery, useLocation } from "../router";
import { type RrwebEvent, replayChunks } from "../replay/decode";
import { type Marker, type MarkerKind, Player, type PlayerHandle } from "../replay/Player";
import { SessionBadges } from "./Sessions";
import { insightLabel } from "../insights";

/** What one timeline event says, never an input's value. */
export function describe(e: TimelineEvent): { kind: MarkerKind; label: string } | null {
  switch (e.type) {
    case "page_view":
      return { kind: "page", label: `Visited ${e.path || e.url}` };
    case "click":
      return { kind: "click", label: `Clicked ${e.text ? `“${e.text.slice(0, 60)}”` : e.selector || "the page"}` };
    case "js_error":
      return { kind: "error", label: e.error_message || "JavaScript error" };
    case "network_error":
      return { kind: "error", label: e.error_message || "Request failed" };
    case "console_log":
      return { kind: "other", label: `console: ${e.error_message}` };
    case "input_change":
      return { kind: "other", label: `Typed in ${e.selector || "a field"}` };
    case "custom":
      return { kind: "other", label: `Event ${(e.payload as { custom?: { name?: string } } | null)?.custom?.name ?? ""}`.trim() };
    default:
      return null;
  }
}

const INSIGHT_KIND: Record<string, MarkerKind> = { rage_click: "rage", dead_click: "dead", error_click: "error" };

interface Row {
  at: number;
  kind: MarkerKind;
  label: string;
  detail?: string;
  insight?: string;
}

export function timelineRows(d: SessionDetail): Row[] {
  const rows: Row[] = [];
  for (const e of d.events) {
    const x = describe(e);
    if (x) rows.push({ at: e.timestamp_ms, ...x, detail: e.type === "click" ? e.selector : e.type === "page_view" ? e.url : undefined });
  }
  for (const i of d.insights) rows.push({ at: i.timestamp_ms, kind: INSIGHT_KIND[i.type] ?? "other", label: insightLabel(i.type), detail: i.selector, insight: i.type });
  return rows.sort((a, b) => a.at - b.at);
}

function useReplay(project: string, session: string, live: boolean) {
  const [events, setEvents] = useState<RrwebEvent[]>([]);
  const [complete, setComplete] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [denied, setDenied] = useState(false);
  useEffect(() => {
    const abort = new AbortController();
    const seen = new Set<number>();
    let all: RrwebEvent[] = [];
    const load = async () => {
      const res = await client.stream(projectPath(project, `/sessions/${session}/replay`), abort.signal);
      for await (const { chunk, events: evs } of replayChunks(res.body!)) {
        if (seen.has(chunk.chunk_index)) continue;
        seen.add(chunk.chunk_index);
        all = [...all, ...evs].sort((a, b) => a.timestamp - b.timestamp);
        setEvents(all);
      }
    };
    (async () => {
      try {
        await load();
        setComplete(true);
        // A live session's replay grows: read again for new chunks until it ends.
        while (live && !abort.signal.aborted) {
          await new Promise((r) => setTimeout(r, 1500));
          if (!abort.signal.aborted) await load();
        }
      } catch (e) {
        if ((e as Error).name === "AbortError") return;
        if (e instanceof ApiError && e.status === 403) setDenied(true);
        else setError(e as Error);
        setComplete(true);
      }
    })();
    return () => abort.abort();
  }, [project, session, live]);
  return { events, complete, error, denied };
}

export default function SessionPage({ project, sessionId }: { project: Project; sessionId: string }) {
  const { query } = useLocation();
  const detail = useApi<SessionDetail>(projectPath(project.id, `/sessions/${sessionId}`));
  const wantLive = query.get("live") === "1";
  const live = wantLive && (detail.data?.session.is_active ?? true);
  const replay = useReplay(project.id, sessionId, live);
  const initialT = useRef<number | undefined>(query.get("t") ? Number(query.get("t")) : undefined);
  const player = useRef<PlayerHandle>(null);
  const [now, setNow] = useState(0);
  const [tab, setTab] = useState<"events" | "errors" | "info">("events");
  const onTime = useCallback((t: number) => setNow(t), []);

  // Re-read the session now and then while it is live (its counters and events grow).
  useEffect(() => {
    if (!live) return;
    const id = setInterval(detail.reload, 3000);
    return () => clearInterval(id);
  }, [live, detail.reload]);

  const start = replay.events[0]?.timestamp ?? detail.data?.session.started_ms ?? 0;
  const rows = useMemo(() => (detail.data ? timelineRows(detail.data) : []), [detail.data]);
  const markers: Marker[] = useMemo(() => rows.filter((r) => r.kind !== "other").map((r) => ({ offset: r.at - start, kind: r.kind, label: r.label })), [rows, start]);

  if (detail.error) return <ErrorBox error={detail.error} onRetry={detail.reload} />;
  if (!detail.data) return <Loading label="Loading the session…" />;
  const s = detail.data.session;
  const errors = detail.data.events.filter((e) => e.type === "js_error" || e.type === "network_error" || e.type === "console_log");
  const current = rows.reduce((idx, r, i) => (r.at - start <= now ? i : idx), -1);
  const copyLink = () => {
    const t = Math.round(player.current?.currentTime() ?? now);
    setQuery({ t: String(t) });
    const url = `${location.origin}${location.pathname}?t=${t}`;
    void navigator.clipboard?.writeText(url).catch(() => undefined);
  };

  return (
    <div className="session-page">
      <div className="page-head">
        <div>
          <Link to={`/p/${project.id}/sessions`} className="muted small">
            ← Sessions
          </Link>
          <h1>
            Session {s.user_id ? `of ${s.user_id}` : ""} <span className="muted small mono">{s.session_id.slice(0, 8)}</span>
          </h1>
          <div className="muted">
            {fmtDateTime(s.started_ms)} · {fmtDuration(s.duration_ms)} · {fmtNumber(s.page_count)} pages · {s.device_type} · {s.country_code ? `${flag(s.country_code)} ${countryName(s.country_code)}` : "unknown country"} <SessionBadges s={s} />
          </div>
        </div>
        <div className="page-actions">
          <button type="button" onClick={copyLink} title="Copy a link to this moment of the replay">
            Link to {fmtClock(now)}
          </button>
          {canManage(project) && <DeleteSession project={project} sessionId={s.session_id} />}
        </div>
      </div>
      <div className="session-grid">
        <div className="session-main">
          {replay.denied ? (
            <Card>
              <p className="muted">Your role in this project does not allow watching replays.</p>
            </Card>
          ) : replay.error ? (
            <ErrorBox error={replay.error} />
          ) : !s.has_replay && replay.complete && replay.events.length === 0 ? (
            <Card>
              <p className="muted">No replay was recorded for this session (replay mode or sampling).</p>
            </Card>
          ) : (
            <Player events={replay.events} complete={replay.complete && !live} live={live} markers={markers} initialTime={initialT.current} onTime={onTime} handle={player} />
          )}
        </div>
        <aside className="side-panel card">
          <div className="tabs" role="tablist">
            {(
              [
                ["events", `Events (${rows.length})`],
                ["errors", `Errors & console (${errors.length})`],
                ["info", "Device & geo"],
              ] as const
            ).map(([id, label]) => (
              <button key={id} type="button" role="tab" aria-selected={tab === id} className={tab === id ? "active" : ""} onClick={() => setTab(id)}>
                {label}
              </button>
            ))}
          </div>
          {tab === "events" && (
            <ol className="event-list" data-testid="event-list">
              {rows.map((r, i) => (
                <li key={i} className={`ev ev-${r.kind} ${i === current ? "current" : ""}`}>
                  <button type="button" onClick={() => player.current?.seek(r.at - start)} title="Jump here in the replay">
                    <span className="ev-time mono">{fmtClock(r.at - start)}</span>
                    <span className="ev-label">
                      {r.insight && <Badge kind={r.kind === "rage" ? "rage" : r.kind === "dead" ? "dead" : "error"}>{r.label}</Badge>}
                      {!r.insight && r.label}
                      {r.detail && <span className="muted small ev-detail">{r.detail}</span>}
                    </span>
                  </button>
                </li>
              ))}
              {detail.data.events_truncated && <li className="muted small">The event list was cut at 20,000 events.</li>}
            </ol>
          )}
          {tab === "errors" && (
            <ol className="event-list">
              {errors.length === 0 && <li className="muted">No errors or console messages.</li>}
              {errors.map((e) => (
                <li key={e.event_id} className="ev ev-error">
                  <button type="button" onClick={() => player.current?.seek(e.timestamp_ms - start)}>
                    <span className="ev-time mono">{fmtClock(e.timestamp_ms - start)}</span>
                    <span className="ev-label">
                      <strong>{e.type.replace("_", " ")}</strong> {e.error_message}
                      <span className="muted small ev-detail">{e.path}</span>
                    </span>
                  </button>
                </li>
              ))}
            </ol>
          )}
          {tab === "info" && (
            <dl className="info">
              <dt>Device</dt>
              <dd>
                {s.device_type || "unknown"} · {s.viewport_width}×{s.viewport_height}
              </dd>
              <dt>Browser</dt>
              <dd>
                {s.browser} {s.browser_version}
              </dd>
              <dt>OS</dt>
              <dd>{s.os || "unknown"}</dd>
              <dt>Location</dt>
              <dd>{s.country_code ? `${flag(s.country_code)} ${countryName(s.country_code)}${s.city ? `, ${s.city}` : ""}` : "unknown"}</dd>
              <dt>Entry</dt>
              <dd className="break">{s.entry_url}</dd>
              <dt>Referrer</dt>
              <dd className="break">{s.referrer || "direct"}</dd>
              {(s.utm_source || s.utm_campaign) && (
                <>
                  <dt>Campaign</dt>
                  <dd>{[s.utm_source, s.utm_medium, s.utm_campaign].filter(Boolean).join(" / ")}</dd>
                </>
              )}
              <dt>User</dt>
              <dd>
                {s.user_id ? (
                  <>
                    {s.user_id} · <Link to={`/p/${project.id}/sessions?${new URLSearchParams({ user_id: s.user_id, range: "90d" })}`}>all their sessions</Link>
                  </>
                ) : (
                  <span className="muted">anonymous</span>
                )}
              </dd>
              <dt>Anonymous id</dt>
              <dd className="mono small" title="The browser's id, e.g. to erase its data from Settings">
                {s.anonymous_id ? (
                  <>
                    {s.anonymous_id} · <Link to={`/p/${project.id}/sessions?${new URLSearchParams({ anonymous_id: s.anonymous_id, range: "90d" })}`}>this browser's sessions</Link>
                  </>
                ) : (
                  "—"
                )}
              </dd>
              <dt>Clicks · errors · scroll</dt>
              <dd>
                {s.click_count} · {s.error_count} · {s.max_scroll_depth}%
              </dd>
            </dl>
          )}
        </aside>
      </div>
    </div>
  );
}

/** Deletes the session (its events, replay and insights) after a confirmation; admins only. */
function DeleteSession({ project, sessionId }: { project: Project; sessionId: string }) {
  const action = useAction();
  const remove = () => {
    if (!confirm("Delete this session with its events, replay and insights? This cannot be undone.")) return;
    void action.run(async () => {
      await client.request("DELETE", projectPath(project.id, `/sessions/${sessionId}`));
      navigate(`/p/${project.id}/sessions`);
    });
  };
  return (
    <>
      <button type="button" className="danger" onClick={remove} disabled={action.busy}>
        Delete session
      </button>
      {action.error && (
        <span className="error-text" role="alert">
          {action.error}
        </span>
      )}
    </>
  );
}
