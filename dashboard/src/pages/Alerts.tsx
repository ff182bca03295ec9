import { type FormEvent, useState } from "react";
import { type AlertChannel, type AlertHistoryPage, type AlertRule, type AlertRuleInput, client, type Project, projectPath } from "../api";
import { Async, Badge, Card, Empty, PageHead } from "../components/ui";
import { fmtDateTime, fmtDuration } from "../format";
import { useAction, useApi } from "../hooks";
import { setQuery, useLocation } from "../router";

export const METRICS: { id: string; label: string; rate?: boolean }[] = [
  { id: "js_errors", label: "JavaScript errors" },
  { id: "network_errors", label: "Failed requests" },
  { id: "rage_clicks", label: "Rage clicks" },
  { id: "dead_clicks", label: "Dead clicks" },
  { id: "error_clicks", label: "Error clicks" },
  { id: "sessions", label: "Sessions" },
  { id: "error_session_rate", label: "Share of sessions with errors", rate: true },
];
const OPS = [">", ">=", "<", "<="] as const;

const metricLabel = (id: string) => METRICS.find((m) => m.id === id)?.label ?? id;

/** "JavaScript errors > 10 in 5m on /checkout" */
export function describeCondition(c: AlertRule["condition"]): string {
  const rate = METRICS.find((m) => m.id === c.metric)?.rate;
  const threshold = rate ? `${Math.round(c.threshold * 1000) / 10}%` : String(c.threshold);
  return `${metricLabel(c.metric)} ${c.op} ${threshold} in ${fmtDuration(c.window_s * 1000)}${c.path ? ` on ${c.path}` : ""}`;
}

const describeChannel = (c: AlertChannel) => (c.type === "telegram" ? `Telegram ${c.chat_id}` : `Webhook ${c.url}`);

const canWrite = (p: Project) => p.role !== "viewer";

export function Alerts({ project }: { project: Project }) {
  const { query } = useLocation();
  const rules = useApi<{ rules: AlertRule[] }>(projectPath(project.id, "/alerts"));
  const editing = query.get("edit");
  const close = () => setQuery({ edit: null });
  return (
    <>
      <PageHead title="Alerts">
        {canWrite(project) && !editing && (
          <button type="button" className="primary" onClick={() => setQuery({ edit: "new" })}>
            New alert rule
          </button>
        )}
      </PageHead>
      <Async state={rules}>
        {(d) => {
          const rule = d.rules.find((r) => r.id === editing);
          return (
            <>
              {editing && (editing === "new" || rule) && (
                <RuleEditor
                  key={editing}
                  project={project}
                  rule={rule}
                  onDone={() => {
                    close();
                    rules.reload();
                  }}
                  onCancel={close}
                />
              )}
              <Card title="Rules">
                {d.rules.length === 0 ? (
                  <Empty title="No alert rules yet">
                    <p className="muted">A rule watches a metric over a window and notifies Telegram or a webhook when it crosses a threshold.</p>
                  </Empty>
                ) : (
                  <RuleTable project={project} rules={d.rules} onChanged={rules.reload} />
                )}
              </Card>
              <Card title="History">
                <History project={project} rules={d.rules} />
              </Card>
            </>
          );
        }}
      </Async>
    </>
  );
}

function RuleTable({ project, rules, onChanged }: { project: Project; rules: AlertRule[]; onChanged: () => void }) {
  const action = useAction();
  const write = canWrite(project);
  const put = (r: AlertRule, enabled: boolean) =>
    action.run(async () => {
      const body: AlertRuleInput = { name: r.name, enabled, condition: r.condition, channels: r.channels, cooldown_seconds: r.cooldown_seconds };
      await client.request("PUT", projectPath(project.id, `/alerts/${r.id}`), body);
      onChanged();
    });
  const remove = (r: AlertRule) => {
    if (!confirm(`Delete the alert rule “${r.name}”?`)) return;
    void action.run(async () => {
      await client.request("DELETE", projectPath(project.id, `/alerts/${r.id}`));
      onChanged();
    });
  };
  return (
    <>
      <table className="table" data-testid="alert-rules">
        <thead>
          <tr>
            <th>On</th>
            <th>Name</th>
            <th>When</th>
            <th>Notify</th>
            <th>Cooldown</th>
            <th>Last triggered</th>
            {write && <th />}
          </tr>
        </thead>
        <tbody>
          {rules.map((r) => (
            <tr key={r.id}>
              <td>
                <input type="checkbox" aria-label={`Rule ${r.name} enabled`} checked={r.enabled} disabled={!write || action.busy} onChange={(e) => void put(r, e.target.checked)} />
              </td>
              <td>{r.name}</td>
              <td>{describeCondition(r.condition)}</td>
              <td className="small">{r.channels.length ? r.channels.map(describeChannel).join(", ") : <span className="muted">nobody</span>}</td>
              <td>{fmtDuration(r.cooldown_seconds * 1000)}</td>
              <td>{r.last_triggered_at ? fmtDateTime(r.last_triggered_at) : <span className="muted">never</span>}</td>
              {write && (
                <td className="row">
                  <button type="button" onClick={() => setQuery({ edit: r.id })}>
                    Edit
                  </button>
                  <button type="button" className="danger" onClick={() => remove(r)}>
                    Delete
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {action.error && <p className="error-text">{action.error}</p>}
    </>
  );
}

/** Alerts sent, newest first, a page at a time, each with its value and deliveries. */
function History({ project, rules }: { project: Project; rules: AlertRule[] }) {
  const first = useApi<AlertHistoryPage>(projectPath(project.id, "/alerts/history?limit=25"));
  const [older, setOlder] = useState<AlertHistoryPage[]>([]);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState<string>();
  const pages = first.data ? [first.data, ...older] : [];
  const events = pages.flatMap((p) => p.history);
  const cursor = pages.at(-1)?.next_cursor ?? null;
  const more = async () => {
    if (cursor === null) return;
    setLoadingMore(true);
    setError(undefined);
    try {
      const page = await client.get<AlertHistoryPage>(projectPath(project.id, `/alerts/history?limit=25&cursor=${cursor}`));
      setOlder((o) => [...o, page]);
    } catch (e) {
      setError(String((e as Error).message ?? e));
    } finally {
      setLoadingMore(false);
    }
  };
  return (
    <Async state={first}>
      {() =>
        events.length === 0 ? (
          <p className="muted">No alert has been sent yet.</p>
        ) : (
          <>
            <table className="table">
              <thead>
                <tr>
                  <th>When</th>
                  <th>Rule</th>
                  <th>Value</th>
                  <th>Deliveries</th>
                </tr>
              </thead>
              <tbody>
                {events.map((e) => {
                  const rule = rules.find((r) => r.id === e.rule_id);
                  return (
                    <tr key={e.id}>
                      <td>{fmtDateTime(e.triggered_at)}</td>
                      <td>
                        <strong>{e.rule_name}</strong>
                        {rule && <div className="muted">{describeCondition(rule.condition)}</div>}
                      </td>
                      <td>{formatValue(e.value, rule)}</td>
                      <td>
                        {Object.entries(e.deliveries).map(([channel, outcome]) => (
                          <Badge key={channel} kind={outcome === "delivered" ? "ok" : "error"}>
                            {channel}: {outcome}
                          </Badge>
                        ))}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
            {error && <p className="error">{error}</p>}
            {cursor !== null && (
              <button type="button" onClick={more} disabled={loadingMore}>
                {loadingMore ? "Loading…" : "Older alerts"}
              </button>
            )}
          </>
        )
      }
    </Async>
  );
}

/** A measured value as its rule states thresholds: a share as a percentage. */
export function formatValue(value: number, rule?: AlertRule): string {
  const rate = rule && METRICS.find((m) => m.id === rule.condition.metric)?.rate;
  return rate ? `${Math.round(value * 1000) / 10}%` : String(Math.round(value * 100) / 100);
}

const emptyRule: AlertRuleInput = { name: "", enabled: true, condition: { metric: "js_errors", op: ">", threshold: 10, window_s: 300 }, channels: [], cooldown_seconds: 900 };

/** What the editor's form sends: a rule input, with an empty path left out. */
export function ruleInput(draft: AlertRuleInput): AlertRuleInput {
  const { path, ...condition } = draft.condition;
  return { ...draft, name: draft.name.trim(), condition: path?.trim() ? { ...condition, path: path.trim() } : condition };
}

function RuleEditor({ project, rule, onDone, onCancel }: { project: Project; rule?: AlertRule; onDone: () => void; onCancel: () => void }) {
  const [draft, setDraft] = useState<AlertRuleInput>(() => (rule ? { name: rule.name, enabled: rule.enabled, condition: rule.condition, channels: rule.channels, cooldown_seconds: rule.cooldown_seconds } : emptyRule));
  const action = useAction();
  const cond = draft.condition;
  const setCond = (c: Partial<AlertRuleInput["condition"]>) => setDraft({ ...draft, condition: { ...cond, ...c } });
  const setChannel = (i: number, c: AlertChannel) => setDraft({ ...draft, channels: draft.channels.map((x, j) => (j === i ? c : x)) });
  const rate = METRICS.find((m) => m.id === cond.metric)?.rate;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action.run(async () => {
      const body = ruleInput(draft);
      if (rule) await client.request("PUT", projectPath(project.id, `/alerts/${rule.id}`), body);
      else await client.request("POST", projectPath(project.id, "/alerts"), body);
      onDone();
    });
  };
  return (
    <Card title={rule ? `Edit “${rule.name}”` : "New alert rule"}>
      <form className="form" onSubmit={submit} onKeyDown={(e) => e.key === "Escape" && onCancel()} aria-label="Alert rule">
        <label>
          Name
          <input value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.target.value })} required maxLength={200} autoFocus />
        </label>
        <div className="row">
          <label>
            Metric
            <select value={cond.metric} onChange={(e) => setCond({ metric: e.target.value })}>
              {METRICS.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.label}
                </option>
              ))}
            </select>
          </label>
          <label>
            Is
            <select value={cond.op} onChange={(e) => setCond({ op: e.target.value })} aria-label="Comparison">
              {OPS.map((o) => (
                <option key={o}>{o}</option>
              ))}
            </select>
          </label>
          <label>
            {rate ? "Threshold (0–1)" : "Threshold"}
            <input type="number" min={0} max={rate ? 1 : undefined} step="any" value={cond.threshold} onChange={(e) => setCond({ threshold: Number(e.target.value) })} required />
          </label>
          <label>
            Window (seconds)
            <input type="number" min={60} max={86400} value={cond.window_s} onChange={(e) => setCond({ window_s: Number(e.target.value) })} required />
          </label>
        </div>
        <label>
          Only on path <span className="hint">optional</span>
          <input value={cond.path ?? ""} placeholder="/checkout" onChange={(e) => setCond({ path: e.target.value })} />
        </label>
        <fieldset className="form">
          <legend>Notify</legend>
          {draft.channels.map((c, i) => (
            <div className="row" key={i}>
              <select aria-label="Channel type" value={c.type} onChange={(e) => setChannel(i, e.target.value === "telegram" ? { type: "telegram", chat_id: "" } : { type: "webhook", url: "" })}>
                <option value="telegram">Telegram</option>
                <option value="webhook">Webhook</option>
              </select>
              {c.type === "telegram" ? (
                <input aria-label="Telegram chat id" placeholder="chat id or @channel" value={c.chat_id} onChange={(e) => setChannel(i, { type: "telegram", chat_id: e.target.value })} required />
              ) : (
                <input aria-label="Webhook URL" type="url" placeholder="https://example.com/hook" value={c.url} onChange={(e) => setChannel(i, { type: "webhook", url: e.target.value })} required />
              )}
              <button type="button" aria-label="Remove channel" onClick={() => setDraft({ ...draft, channels: draft.channels.filter((_, j) => j !== i) })}>
                ×
              </button>
            </div>
          ))}
          <div className="row">
            <button type="button" onClick={() => setDraft({ ...draft, channels: [...draft.channels, { type: "telegram", chat_id: "" }] })}>
              + Telegram
            </button>
            <button type="button" onClick={() => setDraft({ ...draft, channels: [...draft.channels, { type: "webhook", url: "" }] })}>
              + Webhook
            </button>
          </div>
        </fieldset>
        <div className="row">
          <label>
            Cooldown (seconds) <span className="hint">between two notifications</span>
            <input type="number" min={0} max={604800} value={draft.cooldown_seconds} onChange={(e) => setDraft({ ...draft, cooldown_seconds: Number(e.target.value) })} />
          </label>
          <label className="check">
            <input type="checkbox" checked={draft.enabled} onChange={(e) => setDraft({ ...draft, enabled: e.target.checked })} />
            Enabled
          </label>
        </div>
        {action.error && (
          <p className="error-text" role="alert">
            {action.error}
          </p>
        )}
        <div className="row">
          <button type="submit" className="primary" disabled={action.busy}>
            {rule ? "Save rule" : "Create rule"}
          </button>
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        </div>
      </form>
    </Card>
  );
}
