import { type FormEvent, useState } from "react";
import { type ApiKey, client, type Member, type Project, projectPath, type Role } from "../api";
import { rememberKey, SdkSnippet } from "../components/SdkSnippet";
import { Async, Badge, Card } from "../components/ui";
import { fmtDateTime, fmtNumber } from "../format";
import { useAction, useApi } from "../hooks";

const ROLES: Role[] = ["viewer", "member", "admin", "owner"];

/** A key's state, as the list shows it. */
export function keyState(k: ApiKey, now = Date.now()): "active" | "revoked" | "expired" | "disabled" {
  if (k.revoked_at) return "revoked";
  if (k.expires_at && Date.parse(k.expires_at) <= now) return "expired";
  return k.active ? "active" : "disabled";
}

export function Keys({ project }: { project: Project }) {
  const keys = useApi<{ keys: ApiKey[] }>(projectPath(project.id, "/keys"));
  const [name, setName] = useState("");
  const [rate, setRate] = useState("");
  const [expires, setExpires] = useState("");
  const [created, setCreated] = useState<{ key: string; prefix: string } | null>(null);
  const create = useAction();
  const revoke = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void create.run(async () => {
      const body: { name: string; rate_limit?: number; expires_at?: string } = { name: name.trim() };
      if (rate) body.rate_limit = Number(rate);
      if (expires) body.expires_at = new Date(expires).toISOString();
      const made = await client.request<{ id: string; key: string; prefix: string }>("POST", projectPath(project.id, "/keys"), body);
      rememberKey(project.id, made.key);
      setCreated(made);
      setName("");
      setRate("");
      setExpires("");
      keys.reload();
    });
  };
  const doRevoke = (k: ApiKey) => {
    if (!confirm(`Revoke the key ${k.prefix}…${k.name ? ` (${k.name})` : ""}? Sites using it stop sending within a minute.`)) return;
    void revoke.run(async () => {
      await client.request("DELETE", projectPath(project.id, `/keys/${k.id}`));
      keys.reload();
    });
  };
  return (
    <Card title="Write keys">
      <p className="muted small">The SDK sends with a write key. A key is shown once, when it is made; only its prefix is kept in view.</p>
      {created && (
        <div className="secret" role="status" data-testid="new-key">
          <strong>New key — copy it now, it is not shown again:</strong>
          <div className="row">
            <code>{created.key}</code>
            <button type="button" onClick={() => void navigator.clipboard?.writeText(created.key)}>
              Copy
            </button>
            <button type="button" className="ghost" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        </div>
      )}
      <Async state={keys}>
        {(d) => (
          <table className="table" data-testid="keys">
            <thead>
              <tr>
                <th>Key</th>
                <th>Name</th>
                <th className="num">Rate limit</th>
                <th>State</th>
                <th>Created</th>
                <th>Expires</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {d.keys.map((k) => {
                const state = keyState(k);
                return (
                  <tr key={k.id}>
                    <td>
                      <code>{k.prefix}…</code>
                    </td>
                    <td>{k.name || <span className="muted">—</span>}</td>
                    <td className="num">
                      {fmtNumber(k.rate_limit)}/s <span className="muted small">burst {fmtNumber(k.rate_burst)}</span>
                    </td>
                    <td>
                      <Badge kind={state === "active" ? "ok" : "error"}>{state}</Badge>
                    </td>
                    <td>{fmtDateTime(k.created_at)}</td>
                    <td>{k.expires_at ? fmtDateTime(k.expires_at) : <span className="muted">never</span>}</td>
                    <td>
                      {state === "active" && (
                        <button type="button" className="danger" onClick={() => doRevoke(k)} disabled={revoke.busy}>
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </Async>
      {revoke.error && <p className="error-text">{revoke.error}</p>}
      <form className="row" onSubmit={submit} aria-label="New write key" style={{ marginTop: 12 }}>
        <input aria-label="Key name" placeholder="Name, e.g. production site" value={name} onChange={(e) => setName(e.target.value)} maxLength={100} />
        <input aria-label="Rate limit per second" placeholder="Events/s (1000)" type="number" min={1} value={rate} onChange={(e) => setRate(e.target.value)} style={{ width: 140 }} />
        <label className="check small">
          Expires
          <input type="datetime-local" aria-label="Expires at" value={expires} onChange={(e) => setExpires(e.target.value)} />
        </label>
        <button type="submit" className="primary" disabled={create.busy}>
          Create key
        </button>
        {create.error && <span className="error-text">{create.error}</span>}
      </form>
      {created && (
        <details open>
          <summary>Install snippet with the new key</summary>
          <SdkSnippet project={project} />
        </details>
      )}
    </Card>
  );
}

export function Members({ project, manage }: { project: Project; manage: boolean }) {
  const members = useApi<{ members: Member[] }>(projectPath(project.id, "/members"));
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("member");
  const add = useAction();
  const change = useAction();
  // Only owners grant or take away `owner`.
  const grantable = ROLES.filter((r) => r !== "owner" || project.role === "owner");
  const put = (targetEmail: string, r: Role) => client.request("PUT", projectPath(project.id, "/members"), { email: targetEmail, role: r });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void add.run(async () => {
      await put(email.trim(), role);
      setEmail("");
      members.reload();
    });
  };
  const remove = (m: Member) => {
    if (!confirm(`Remove ${m.email} from ${project.name}?`)) return;
    void change.run(async () => {
      await client.request("DELETE", projectPath(project.id, `/members/${m.user_id}`));
      members.reload();
    });
  };
  return (
    <Card title="Members">
      <Async state={members}>
        {(d) => (
          <table className="table" data-testid="members">
            <thead>
              <tr>
                <th>Email</th>
                <th>Name</th>
                <th>Role</th>
                {manage && <th />}
              </tr>
            </thead>
            <tbody>
              {d.members.map((m) => (
                <tr key={m.user_id}>
                  <td>{m.email}</td>
                  <td>{m.name || <span className="muted">—</span>}</td>
                  <td>
                    {manage && (m.role !== "owner" || project.role === "owner") ? (
                      <select
                        aria-label={`Role of ${m.email}`}
                        value={m.role}
                        disabled={change.busy}
                        onChange={(e) =>
                          void change.run(async () => {
                            await put(m.email, e.target.value as Role);
                            members.reload();
                          })
                        }
                      >
                        {grantable.map((r) => (
                          <option key={r}>{r}</option>
                        ))}
                      </select>
                    ) : (
                      m.role
                    )}
                  </td>
                  {manage && (
                    <td>
                      {(m.role !== "owner" || project.role === "owner") && (
                        <button type="button" className="danger" onClick={() => remove(m)} disabled={change.busy}>
                          Remove
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Async>
      {change.error && <p className="error-text">{change.error}</p>}
      {manage && (
        <form className="row" onSubmit={submit} aria-label="Add member" style={{ marginTop: 12 }}>
          <input type="email" aria-label="Member email" placeholder="someone@example.com" value={email} onChange={(e) => setEmail(e.target.value)} required />
          <select aria-label="New member role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {grantable.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
          <button type="submit" className="primary" disabled={add.busy}>
            Add or change
          </button>
          {add.error && <span className="error-text">{add.error}</span>}
          <span className="muted small">The person needs an account first (gosight user create).</span>
        </form>
      )}
    </Card>
  );
}
