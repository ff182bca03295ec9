import { type ErrorGroup, type Project, projectPath, qs } from "../api";
import { Async, Badge, Card, Empty, PageHead, RangePicker } from "../components/ui";
import { fmtDateTime, fmtNumber } from "../format";
import { useApi, useRange } from "../hooks";
import { Link } from "../router";
import { ExampleSessions, InstallHint } from "./Insights";

const KIND_LABEL: Record<string, string> = { js_error: "JavaScript", network_error: "Network" };

export function Errors({ project }: { project: Project }) {
  const range = useRange();
  const state = useApi<{ errors: ErrorGroup[] }>(projectPath(project.id, `/errors${qs({ from: range.from, to: range.to, limit: 100 })}`));
  return (
    <>
      <PageHead title="Errors">
        <RangePicker range={range} />
      </PageHead>
      <Card>
        <Async state={state}>
          {(d) =>
            d.errors.length === 0 ? (
              <Empty title="No errors in this range">
                <p className="muted">JavaScript errors and failed requests are grouped here by message and top stack frame.</p>
                <InstallHint project={project} />
              </Empty>
            ) : (
              <ErrorList project={project} groups={d.errors} />
            )
          }
        </Async>
      </Card>
    </>
  );
}

export function ErrorList({ project, groups }: { project: Project; groups: ErrorGroup[] }) {
  return (
    <>
      <p className="muted small">
        Grouped by fingerprint (message and top stack frame). <Link to={`/p/${project.id}/sessions?has_error=true`}>All sessions with errors →</Link>
      </p>
      <ol className="group-list" data-testid="error-groups">
        {groups.map((g) => (
          <li key={g.fingerprint}>
            <div className="group-head">
              <div>
                <Badge kind="error">{KIND_LABEL[g.type] ?? g.type}</Badge> <span className="group-title">{g.message || "(no message)"}</span>
              </div>
              <div className="muted small">
                <strong>{fmtNumber(g.count)}</strong> times in <strong>{fmtNumber(g.sessions)}</strong> sessions
              </div>
            </div>
            <div className="muted small">
              first {fmtDateTime(g.first_seen)} · last {fmtDateTime(g.last_seen)}
            </div>
            {g.stack && (
              <details>
                <summary className="small">Stack</summary>
                <pre className="stack">{g.stack}</pre>
              </details>
            )}
            <ExampleSessions project={project} sessions={g.example_sessions} />
          </li>
        ))}
      </ol>
    </>
  );
}
