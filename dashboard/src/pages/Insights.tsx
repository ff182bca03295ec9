import { useEffect, useState } from "react";
import { type InsightGroup, type Project, projectPath, qs } from "../api";
import { SdkSnippet } from "../components/SdkSnippet";
import { Async, Badge, Card, Empty, PageHead, RangePicker } from "../components/ui";
import { fmtDateTime, fmtNumber } from "../format";
import { useApi, useRange } from "../hooks";
import { INSIGHT_HELP, INSIGHT_TYPES, insightBadge, insightLabel } from "../insights";
import { Link, setQuery, useLocation } from "../router";

/** Links to a few sessions, each opening its replay. */
export function ExampleSessions({ project, sessions }: { project: Project; sessions: string[] }) {
  if (!sessions.length) return null;
  return (
    <div className="examples">
      <span className="muted small">Example sessions:</span>
      {sessions.map((id) => (
        <Link key={id} to={`/p/${project.id}/sessions/${id}`} title="Watch this session">
          {id.slice(0, 8)}
        </Link>
      ))}
    </div>
  );
}

/** The snippet, folded away, for empty lists that may also just mean all is well. */
export function InstallHint({ project }: { project: Project }) {
  return (
    <details className="install-hint">
      <summary className="muted">Not seeing any data? Install the SDK</summary>
      <SdkSnippet project={project} />
    </details>
  );
}

export function Insights({ project }: { project: Project }) {
  const range = useRange();
  const { query } = useLocation();
  const type = query.get("type") ?? "";
  const path = query.get("path") ?? "";
  const [pathInput, setPathInput] = useState(path);
  useEffect(() => setPathInput(path), [path]);
  const state = useApi<{ insights: InsightGroup[] }>(projectPath(project.id, `/insights${qs({ from: range.from, to: range.to, type, path, limit: 100 })}`));
  return (
    <>
      <PageHead title="Insights">
        <RangePicker range={range} />
      </PageHead>
      <div className="filters card">
        <div className="seg type-tabs" role="group" aria-label="Insight type">
          <button type="button" className={type === "" ? "active" : ""} aria-pressed={type === ""} onClick={() => setQuery({ type: null })}>
            All
          </button>
          {INSIGHT_TYPES.map((t) => (
            <button key={t} type="button" className={type === t ? "active" : ""} aria-pressed={type === t} onClick={() => setQuery({ type: t })} title={INSIGHT_HELP[t]}>
              {insightLabel(t)}
            </button>
          ))}
        </div>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setQuery({ path: pathInput.trim() || null });
          }}
          className="row"
        >
          <input aria-label="Page path" placeholder="Page path, e.g. /checkout" value={pathInput} onChange={(e) => setPathInput(e.target.value)} />
          <button type="submit">Filter</button>
        </form>
      </div>
      {type && <p className="muted">{INSIGHT_HELP[type]}</p>}
      <Card>
        <Async state={state}>
          {(d) =>
            d.insights.length === 0 ? (
              <Empty title={type ? `No ${insightLabel(type).toLowerCase()}s in this range` : "No insights in this range"}>
                <p className="muted">Frustration signals show up here as visitors run into them.</p>
                <InstallHint project={project} />
              </Empty>
            ) : (
              <InsightList project={project} groups={d.insights} />
            )
          }
        </Async>
      </Card>
    </>
  );
}

export function InsightList({ project, groups }: { project: Project; groups: InsightGroup[] }) {
  return (
    <ol className="group-list" data-testid="insight-groups">
      {groups.map((g) => (
        <li key={`${g.type}|${g.path}|${g.selector}`}>
          <div className="group-head">
            <div>
              <Badge kind={insightBadge(g.type)}>{insightLabel(g.type)}</Badge>{" "}
              <span className="group-title">
                {g.path || "/"}
                {g.selector && <code className="muted"> {g.selector}</code>}
              </span>
            </div>
            <div className="muted small">
              <strong>{fmtNumber(g.count)}</strong> times in <strong>{fmtNumber(g.sessions)}</strong> sessions · last {fmtDateTime(g.last_seen)}
            </div>
          </div>
          <ExampleSessions project={project} sessions={g.example_sessions} />
        </li>
      ))}
    </ol>
  );
}
