import { type FormEvent, useEffect, useRef, useState } from "react";
import { type Project, projectPath, qs, type SessionList, type SessionSummary } from "../api";
import { SdkSnippet } from "../components/SdkSnippet";
import { Async, Badge, Card, Empty, PageHead, RangePicker } from "../components/ui";
import { countryName, flag, fmtDateTime, fmtDuration, fmtNumber } from "../format";
import { useApi, useKeys, useRange } from "../hooks";
import { Link, navigate, setQuery, useLocation } from "../router";

const FILTERS = ["url", "path", "user_id", "anonymous_id", "country", "device", "browser", "has_error", "has_rage_click", "has_dead_click", "min_duration_ms", "min_events"] as const;

export function SessionBadges({ s }: { s: Pick<SessionSummary, "has_error" | "has_rage_click" | "has_dead_click" | "is_active" | "error_count"> }) {
  return (
    <span className="badges">
      {s.is_active && <Badge kind="live">live</Badge>}
      {s.has_error && <Badge kind="error" title={`${s.error_count} errors`}>errors</Badge>}
      {s.has_rage_click && <Badge kind="rage">rage clicks</Badge>}
      {s.has_dead_click && <Badge kind="dead">dead clicks</Badge>}
    </span>
  );
}

export function SessionRow({ s, project, selected }: { s: SessionSummary; project: Project; selected: boolean }) {
  const href = `/p/${project.id}/sessions/${s.session_id}`;
  return (
    <tr className={selected ? "selected" : ""} data-session={s.session_id} onClick={(e) => !(e.target as HTMLElement).closest("a") && navigate(href)}>
      <td>
        <Link to={href} className="session-link">
          {fmtDateTime(s.started_ms)}
        </Link>
        <div className="muted small">{s.user_id || `anon ${s.anonymous_id.slice(0, 8)}`}</div>
      </td>
      <td className="url-cell" title={s.entry_url}>
        {s.entry_path || "/"}
        {s.exit_path && s.exit_path !== s.entry_path && <span className="muted"> → {s.exit_path}</span>}
      </td>
      <td className="num">{fmtDuration(s.duration_ms)}</td>
      <td className="num">{fmtNumber(s.page_count)}</td>
      <td className="num">{fmtNumber(s.event_count)}</td>
      <td>
        {s.device_type || "?"}
        <div className="muted small">
          {s.browser} {s.os && `· ${s.os}`}
        </div>
      </td>
      <td title={countryName(s.country_code)}>
        {s.country_code ? `${flag(s.country_code)} ${s.country_code}` : <span className="muted">—</span>}
        {s.city && <div className="muted small">{s.city}</div>}
      </td>
      <td>
        <SessionBadges s={s} />
        {!s.has_replay && <span className="muted small">no replay</span>}
      </td>
    </tr>
  );
}

export function Sessions({ project }: { project: Project }) {
  const range = useRange();
  const { query } = useLocation();
  const sort = query.get("sort") ?? "started_at";
  const order = query.get("order") ?? "desc";
  const cursor = query.get("cursor") ?? "";
  const filters: Record<string, string> = {};
  for (const f of FILTERS) {
    const v = query.get(f);
    if (v) filters[f] = v;
  }
  const path = projectPath(project.id, `/sessions${qs({ from: range.from, to: range.to, ...filters, sort, order, cursor, limit: 50 })}`);
  const state = useApi<SessionList>(path);
  const [selected, setSelected] = useState(-1);
  const [back, setBack] = useState<string[]>([]);
  const search = useRef<HTMLInputElement>(null);
  useEffect(() => setSelected(-1), [path]);
  useKeys(
    (e) => {
      const rows = state.data?.sessions ?? [];
      if (e.key === "/") {
        e.preventDefault();
        search.current?.focus();
      } else if (e.key === "j" || e.key === "ArrowDown") {
        e.preventDefault();
        setSelected((i) => Math.min(rows.length - 1, i + 1));
      } else if (e.key === "k" || e.key === "ArrowUp") {
        e.preventDefault();
        setSelected((i) => Math.max(0, i - 1));
      } else if (e.key === "Enter" && rows[selected]) {
        navigate(`/p/${project.id}/sessions/${rows[selected].session_id}`);
      }
    },
    [state.data, selected, project.id],
  );
  useEffect(() => {
    document.querySelector("tr.selected")?.scrollIntoView({ block: "nearest" });
  }, [selected]);

  const apply = (changes: Record<string, string | null>) => {
    setBack([]);
    setQuery({ ...changes, cursor: null });
  };
  const toggleSort = (key: string) => apply({ sort: key, order: sort === key && order === "desc" ? "asc" : "desc" });
  const sortMark = (key: string) => (sort === key ? (order === "desc" ? " ↓" : " ↑") : "");
  const anyFilter = Object.keys(filters).length > 0;

  return (
    <>
      <PageHead title="Sessions">
        <RangePicker range={range} />
      </PageHead>
      <Filters filters={filters} apply={apply} searchRef={search} />
      <Card>
        <Async state={state}>
          {(d) =>
            d.sessions.length === 0 ? (
              anyFilter || cursor ? (
                <Empty title="No sessions match these filters">
                  <button type="button" onClick={() => apply(Object.fromEntries(FILTERS.map((f) => [f, null])))}>
                    Clear filters
                  </button>
                </Empty>
              ) : (
                <Empty title="No sessions in this range">
                  <SdkSnippet project={project} />
                </Empty>
              )
            ) : (
              <>
                <table className="table sessions-table">
                  <thead>
                    <tr>
                      <th>
                        <button type="button" className="th-sort" onClick={() => toggleSort("started_at")}>
                          Started{sortMark("started_at")}
                        </button>
                      </th>
                      <th>Pages visited</th>
                      <th className="num">
                        <button type="button" className="th-sort" onClick={() => toggleSort("duration")}>
                          Duration{sortMark("duration")}
                        </button>
                      </th>
                      <th className="num">Pages</th>
                      <th className="num">
                        <button type="button" className="th-sort" onClick={() => toggleSort("events")}>
                          Events{sortMark("events")}
                        </button>
                      </th>
                      <th>Device</th>
                      <th>Country</th>
                      <th>Signals</th>
                    </tr>
                  </thead>
                  <tbody>
                    {d.sessions.map((s, i) => (
                      <SessionRow key={s.session_id} s={s} project={project} selected={i === selected} />
                    ))}
                  </tbody>
                </table>
                <div className="pager">
                  <button
                    type="button"
                    disabled={!cursor}
                    onClick={() => {
                      const prev = back.slice(0, -1);
                      setQuery({ cursor: back[back.length - 1] ?? null });
                      setBack(prev);
                    }}
                  >
                    ← Newer
                  </button>
                  <span className="muted">{d.sessions.length} sessions on this page</span>
                  <button
                    type="button"
                    disabled={!d.next_cursor}
                    onClick={() => {
                      setBack([...back, cursor]);
                      setQuery({ cursor: d.next_cursor });
                    }}
                  >
                    Older →
                  </button>
                </div>
              </>
            )
          }
        </Async>
      </Card>
    </>
  );
}

function Filters({ filters, apply, searchRef }: { filters: Record<string, string>; apply: (c: Record<string, string | null>) => void; searchRef: React.RefObject<HTMLInputElement | null> }) {
  const [url, setUrl] = useState(filters.url ?? "");
  const [user, setUser] = useState(filters.user_id ?? "");
  const [country, setCountry] = useState(filters.country ?? "");
  const [minDuration, setMinDuration] = useState(filters.min_duration_ms ? String(Number(filters.min_duration_ms) / 1000) : "");
  useEffect(() => setUrl(filters.url ?? ""), [filters.url]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    apply({ url: url.trim() || null, user_id: user.trim() || null, country: country.trim().toUpperCase() || null, min_duration_ms: minDuration ? String(Math.round(Number(minDuration) * 1000)) : null });
  };
  const flagBox = (key: string, label: string) => (
    <label className="check">
      <input type="checkbox" checked={filters[key] === "true"} onChange={(e) => apply({ [key]: e.target.checked ? "true" : null })} />
      {label}
    </label>
  );
  return (
    <form className="filters card" onSubmit={submit} aria-label="Filter sessions">
      <input ref={searchRef} type="search" aria-label="URL contains" placeholder="URL contains…  ( / )" value={url} onChange={(e) => setUrl(e.target.value)} />
      <input aria-label="User id" placeholder="User id" value={user} onChange={(e) => setUser(e.target.value)} size={12} />
      <input aria-label="Country" title="Two-letter country code, e.g. DE" placeholder="Country" value={country} onChange={(e) => setCountry(e.target.value)} size={7} maxLength={2} />
      <select aria-label="Device" value={filters.device ?? ""} onChange={(e) => apply({ device: e.target.value || null })}>
        <option value="">Any device</option>
        <option value="desktop">Desktop</option>
        <option value="tablet">Tablet</option>
        <option value="mobile">Mobile</option>
      </select>
      <input aria-label="Minimum duration in seconds" placeholder="Min. seconds" type="number" min={0} value={minDuration} onChange={(e) => setMinDuration(e.target.value)} size={6} />
      {flagBox("has_error", "Errors")}
      {flagBox("has_rage_click", "Rage clicks")}
      {flagBox("has_dead_click", "Dead clicks")}
      <button type="submit">Apply</button>
      {filters.path && (
        <span className="chip">
          visited {filters.path}
          <button type="button" aria-label="Remove path filter" onClick={() => apply({ path: null })}>
            ×
          </button>
        </span>
      )}
      {filters.anonymous_id && (
        <span className="chip">
          browser <span className="mono">{filters.anonymous_id.slice(0, 12)}</span>
          <button type="button" aria-label="Remove browser id filter" onClick={() => apply({ anonymous_id: null })}>
            ×
          </button>
        </span>
      )}
      {filters.browser && (
        <span className="chip">
          {filters.browser}
          <button type="button" aria-label="Remove browser filter" onClick={() => apply({ browser: null })}>
            ×
          </button>
        </span>
      )}
    </form>
  );
}
