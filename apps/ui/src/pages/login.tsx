import { useState, type FormEvent } from 'react';
import { ApiError, post, setCsrfToken } from '../api';
import type { MeDto } from '../api-types';

/** The login form: a password login that starts a browser session (cookie + CSRF token). */
export function LoginPage({ onLogin }: { onLogin: (me: MeDto) => void }) {
  const [name, setName] = useState('admin');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const me = await post<MeDto>('/auth/login', { name, password });
      setCsrfToken(me.csrfToken);
      onLogin(me);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="login">
      <form onSubmit={submit} className="card login-card" aria-label="Log in">
        <h1>
          <span className="logo" aria-hidden="true">⬡</span> Swarmflow
        </h1>
        <label>
          User
          <input name="name" autoComplete="username" value={name} onChange={(e) => setName(e.target.value)} autoFocus required />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
        {error ? <div className="error-box" role="alert">{error}</div> : null}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
        <p className="muted small">
          Standalone (<code>npm start</code>) prints the admin's first password, also kept in <code>~/.swarmflow/admin-password</code>.
        </p>
      </form>
    </main>
  );
}
