import { type FormEvent, useEffect, useState } from "react";
import { client } from "../api";

/** Sign-in; while no user exists, the form creates the first admin instead. */
export function Login() {
  const [setup, setSetup] = useState<boolean | null>(null);
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    client.needsSetup().then(setSetup, () => setSetup(false));
  }, []);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      // Sent before the server said whether an account exists (a quick Enter): ask now.
      const creating = setup ?? (await client.needsSetup().catch(() => false));
      if (creating && !setup) {
        // The form becomes the first admin's (with its name field), to be sent again.
        setSetup(true);
        setBusy(false);
        return;
      }
      if (creating) await client.setup(email, password, name);
      else await client.login(email, password);
    } catch (err) {
      setError((err as Error).message);
      setBusy(false);
    }
  };
  return (
    <div className="login">
      <form className="card login-card" onSubmit={submit} aria-labelledby="login-title">
        <div className="brand big">
          <span className="logo" aria-hidden="true">◉</span> GoSight
        </div>
        <h1 id="login-title">{setup ? "Create the first admin" : "Sign in"}</h1>
        {setup && <p className="muted">No account exists yet. This one becomes the administrator.</p>}
        {setup && (
          <label>
            Name
            <input value={name} onChange={(e) => setName(e.target.value)} autoComplete="name" />
          </label>
        )}
        <label>
          Email
          <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="username" required autoFocus />
        </label>
        <label>
          Password
          <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete={setup ? "new-password" : "current-password"} required minLength={setup ? 8 : undefined} />
        </label>
        {error && (
          <p className="error-text" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "…" : setup ? "Create admin and sign in" : "Sign in"}
        </button>
      </form>
    </div>
  );
}
