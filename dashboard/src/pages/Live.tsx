import { useEffect, useState } from "react";
import { client, type Project } from "../api";
import { SdkSnippet } from "../components/SdkSnippet";
import { Badge, Card, Empty, PageHead } from "../components/ui";
import { flag, fmtAgo, fmtDuration } from "../format";
import { applyLive, type LiveMessage, type LiveSession } from "../live";
import { Link } from "../router";

type Status = "connecting" | "open" | "closed";

/** The project's live sessions over the WebSocket, reconnecting (with a fresh snapshot) when cut. */
export function useLive(projectId: string) {
  const [sessions, setSessions] = useState<Map<string, LiveSession>>(new Map());
  const [status, setStatus] = useState<Status>("connecting");
  useEffect(() => {
    let ws: WebSocket | null = null;
    let stopped = false;
    let retry = 500;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connect = async () => {
      setStatus("connecting");
      let url: string;
      try {
        url = await client.liveUrl(projectId);
      } catch {
        if (!stopped) timer = setTimeout(connect, (retry = Math.min(retry * 2, 10_000)));
        return;
      }
      if (stopped) return;
      ws = new WebSocket(url);
      ws.onopen = () => {
        setStatus("open");
        retry = 500;
      };
      ws.onmessage = (m) => {
        try {
          const msg = JSON.parse(String(m.data)) as LiveMessage;
          setSessions((s) => applyLive(s, msg));
        } catch {
          /* not an update */
        }
      };
      ws.onclose = () => {
        setStatus("closed");
        if (!stopped) timer = setTimeout(connect, (retry = Math.min(retry * 2, 10_000)));
      };
    };
    void connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      ws?.close();
    };
  }, [projectId]);
  return { sessions, status };
}

export function Live({ project }: { project: Project }) {
  const { sessions, status } = useLive(project.id);
  const [, tick] = useState(0);
  useEffect(() => {
    const id = setInterval(() => tick((t) => t + 1), 5000);
    return () => clearInterval(id);
  }, []);
  const now = Date.now();
  // Ended sessions stay listed, dimmed, for a minute.
  const list = [...sessions.values()].filter((s) => !s.ended || now - s.last_seen_ms < 60_000).sort((a, b) => Number(a.ended) - Number(b.ended) || b.last_seen_ms - a.last_seen_ms);
  const active = list.filter((s) => !s.ended).length;
  return (
    <>
      <PageHead title="Live">
        <span className={`conn conn-${status}`} role="status">
          {status === "open" ? `● ${active} active now` : status === "connecting" ? "Connecting…" : "Reconnecting…"}
        </span>
      </PageHead>
      {list.length === 0 ? (
        status === "open" ? (
          <Empty title="Nobody is on the site right now">
            <p className="muted">Sessions appear here the moment they start.</p>
            <SdkSnippet project={project} />
          </Empty>
        ) : (
          <Card>
            <p className="muted">Connecting to live updates…</p>
          </Card>
        )
      ) : (
        <Card>
          <table className="table live-table">
            <thead>
              <tr>
                <th>Session</th>
                <th>Current page</th>
                <th>Last action</th>
                <th>Device</th>
                <th>Signals</th>
                <th>Last seen</th>
              </tr>
            </thead>
            <tbody>
              {list.map((s) => (
                <tr key={s.session_id} data-session={s.session_id} className={s.ended ? "ended" : ""}>
                  <td>
                    <Link to={`/p/${project.id}/sessions/${s.session_id}${s.ended ? "" : "?live=1"}`}>{s.user_id || s.session_id.slice(0, 8)}</Link>
                    <div className="muted small">{s.ended ? `ended · ${fmtDuration(s.duration_ms ?? 0)}` : `${s.page_count} pages · ${s.event_count} actions`}</div>
                  </td>
                  <td className="url-cell" data-testid="live-url">
                    {s.url || "—"}
                  </td>
                  <td className="url-cell" data-testid="live-action">
                    {s.last_action || <span className="muted">—</span>}
                  </td>
                  <td>
                    {s.device || "?"} {s.browser && <span className="muted small">{s.browser}</span>} {flag(s.country)}
                  </td>
                  <td>
                    {!s.ended && <Badge kind="live">live</Badge>}
                    {s.has_error && <Badge kind="error">errors</Badge>}
                    {s.has_rage_click && <Badge kind="rage">rage</Badge>}
                    {s.has_dead_click && <Badge kind="dead">dead</Badge>}
                  </td>
                  <td className="muted">{fmtAgo(s.last_seen_ms, now)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
      )}
    </>
  );
}
