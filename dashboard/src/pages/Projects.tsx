import { type FormEvent, useState } from "react";
import { client, type Project } from "../api";
import { Card, Empty, PageHead } from "../components/ui";
import { rememberKey } from "../components/SdkSnippet";
import { fmtDateTime } from "../format";
import { Link, navigate } from "../router";

export function Projects({ projects, onCreated }: { projects: Project[]; onCreated: () => void }) {
  const [name, setName] = useState("");
  const [error, setError] = useState("");
  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError("");
    try {
      const made = await client.request<{ id: string; write_key: string }>("POST", "/api/v1/projects", { name });
      rememberKey(made.id, made.write_key);
      onCreated();
      navigate(`/p/${made.id}/overview`);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <>
      <PageHead title="Projects" />
      {projects.length ? (
        <Card>
          <table className="table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Your role</th>
                <th>Domains</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {projects.map((p) => (
                <tr key={p.id}>
                  <td>
                    <Link to={`/p/${p.id}/overview`}>{p.name}</Link>
                  </td>
                  <td>{p.role}</td>
                  <td>{p.allowed_domains.join(", ") || <span className="muted">any</span>}</td>
                  <td>{fmtDateTime(p.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
      ) : (
        <Empty title="No projects yet">
          <p>Create one to get a write key for the SDK.</p>
        </Empty>
      )}
      <Card title="New project">
        <form className="row" onSubmit={create}>
          <input aria-label="Project name" placeholder="Project name" value={name} onChange={(e) => setName(e.target.value)} required />
          <button type="submit" className="primary">
            Create project
          </button>
        </form>
        {error && <p className="error-text">{error}</p>}
      </Card>
    </>
  );
}
