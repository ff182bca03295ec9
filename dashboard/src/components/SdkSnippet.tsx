import { useState } from "react";
import { type ApiKey, canManage, client, type Project, projectPath, type ReplaySettings } from "../api";
import { useApi } from "../hooks";

const KEY_STORE = "gosight.write_key.";

/** Remembers a write key this browser was handed (it is shown once), for the snippet. */
export function rememberKey(projectId: string, key: string): void {
  try {
    sessionStorage.setItem(KEY_STORE + projectId, key);
  } catch {
    /* storage unavailable */
  }
}

export function rememberedKey(projectId: string): string {
  try {
    return sessionStorage.getItem(KEY_STORE + projectId) ?? "";
  } catch {
    return "";
  }
}

export const ingestEndpoint = () => `${location.protocol}//${location.hostname}:8081`;

/** The SDK's replay options for a project's replay settings (mode and sampling). */
export function replayOptions(replay: ReplaySettings | undefined): Record<string, string | number> {
  const mode = replay?.mode ?? "always";
  if (mode === "off") return { replay: "off" };
  if (mode === "on_error") return { replay: "trigger" };
  const sampling = replay?.sampling ?? 1;
  return sampling < 1 ? { replay: "sampled", replaySampleRate: sampling } : { replay: "always" };
}

export function snippet(key: string, endpoint: string, replay: ReplaySettings | undefined): string {
  const options = { projectKey: key, endpoint, ...replayOptions(replay) };
  const lines = Object.entries(options).map(([k, v]) => `    ${k}: ${JSON.stringify(v)},`);
  return `<!-- gosight.iife.js and gosight-replay.js from the SDK's dist/, served by your site -->
<script src="/gosight/gosight.iife.js"></script>
<script>
  GoSight.init({
${lines.join("\n")}
  });
</script>`;
}

/**
 * The install snippet with the project's write key: the one this browser created, or, since keys
 * are stored hashed and shown only once, the active key's prefix and a button to make a new key.
 */
export function SdkSnippet({ project }: { project: Pick<Project, "id" | "role" | "settings"> }) {
  const manage = canManage(project);
  const keys = useApi<{ keys: ApiKey[] }>(manage ? projectPath(project.id, "/keys") : null);
  const [key, setKey] = useState(() => rememberedKey(project.id));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [copied, setCopied] = useState(false);
  const active = keys.data?.keys.find((k) => k.active);
  const shownKey = key || (active ? `${active.prefix}…` : "YOUR_WRITE_KEY");
  const text = snippet(shownKey, ingestEndpoint(), project.settings?.replay);
  const create = async () => {
    setBusy(true);
    setError("");
    try {
      const made = await client.request<{ key: string }>("POST", projectPath(project.id, "/keys"), { name: "SDK snippet" });
      rememberKey(project.id, made.key);
      setKey(made.key);
      keys.reload();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="snippet">
      <p>Add the GoSight SDK to your site; sessions show up here within seconds.</p>
      <pre data-testid="sdk-snippet">
        <code>{text}</code>
      </pre>
      <div className="row">
        <button
          type="button"
          onClick={() => {
            void navigator.clipboard?.writeText(text).then(() => setCopied(true));
          }}
        >
          {copied ? "Copied" : "Copy snippet"}
        </button>
        {!key && manage && (
          <button type="button" onClick={create} disabled={busy}>
            {active ? "Create a new key for this snippet" : "Create a write key"}
          </button>
        )}
        {!key && active && <span className="muted">Keys are shown once; the snippet shows the active key's prefix.</span>}
      </div>
      {error && <p className="error-text">{error}</p>}
    </div>
  );
}
