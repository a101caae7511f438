// Admin pages: variables (secrets write-only, shown masked), pools, users and tokens, the
// audit log. Write buttons show only to roles that may use them (the API refuses them anyway).
import { useState, type FormEvent, type ReactNode } from 'react';
import { ApiError, apiPath, del, get, patch, post, put } from '../../api';
import type { Role } from '../../api-types';
import { useCan } from '../../auth';
import { Empty, ErrorBox, LoadError, Loading, PageTitle } from '../../components/common';
import { Time } from '../../components/time';
import { useLoad } from '../../hooks';
import type { RouteDef } from '../../router';
import { Link, setQuery, useLocation } from '../../router';
import '../workers/workers.css';

interface VariableDto { key: string; value: string; secret: boolean; description: string; updatedAt: string }
interface PoolDto { name: string; slots: number; description: string }
interface UserDto { name: string; role: Role; disabled: boolean; hasPassword: boolean; createdAt: string; updatedAt: string }
interface TokenDto { id: number; name: string; user: string; prefix: string; createdAt: string; expiresAt: string | null; lastUsedAt: string | null; revokedAt: string | null }
interface CreatedTokenDto extends TokenDto { token: string }
interface AuditEntryDto {
  id: number; at: string; actor: string | null; method: string | null; action: string; target: string | null;
  outcome: string; status: number | null; sourceIp: string | null; detail: Record<string, unknown>;
}

const SECTIONS: { key: string; label: string; admin: boolean }[] = [
  { key: 'variables', label: 'Variables', admin: true },
  { key: 'pools', label: 'Pools', admin: false },
  { key: 'users', label: 'Users', admin: true },
  { key: 'tokens', label: 'Tokens', admin: true },
  { key: 'audit', label: 'Audit log', admin: true },
];

/** Runs a write, then reloads; keeps the API's error to show. */
function useAction(after: () => void) {
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (fn: () => Promise<unknown>): Promise<boolean> => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      after();
      return true;
    } catch (err) {
      setError(err as ApiError);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { error, busy, run };
}

/**
 * A Delete button that asks first, naming what goes (as Shut down… does on the workers page):
 * nothing is deleted until the second, explicit click; Cancel keeps it.
 */
function ConfirmDelete({ what, name, warning, busy, onConfirm }: { what: string; name: string; warning?: string; busy: boolean; onConfirm: () => void }) {
  const [asking, setAsking] = useState(false);
  if (!asking) return <button type="button" className="danger" disabled={busy} onClick={() => setAsking(true)} aria-label={`Delete ${name}`}>Delete…</button>;
  return (
    <span className="row-actions" role="group" aria-label={`Confirm deletion of ${name}`}>
      <span className="small" role="alert">Delete {what} <strong className="mono">{name}</strong>?{warning ? ` ${warning}` : ''}</span>
      <button type="button" className="danger" disabled={busy} onClick={() => { setAsking(false); onConfirm(); }} aria-label={`Confirm deletion of ${name}`}>Delete</button>
      <button type="button" className="ghost" onClick={() => setAsking(false)} aria-label={`Cancel deletion of ${name}`}>Cancel</button>
    </span>
  );
}

function Section({ title, children }: { title: string; children: ReactNode }) {
  return <section className="card" aria-label={title}>{children}</section>;
}

function Variables() {
  const vars = useLoad(() => get<VariableDto[]>('/variables'), []);
  const action = useAction(vars.reload);
  const [form, setForm] = useState({ key: '', value: '', secret: false, description: '' });
  const [editing, setEditing] = useState<VariableDto | null>(null);
  const save = async (e: FormEvent) => {
    e.preventDefault();
    const body: Record<string, unknown> = { value: form.value, secret: form.secret, description: form.description };
    if (await action.run(() => put(apiPath('variables', form.key.trim()), body))) {
      setForm({ key: '', value: '', secret: false, description: '' });
      setEditing(null);
    }
  };
  const edit = (v: VariableDto) => {
    setEditing(v);
    // A secret's value is never sent to the browser: editing one means typing a new value.
    setForm({ key: v.key, value: v.secret ? '' : v.value, secret: v.secret, description: v.description });
  };
  return (
    <Section title="Variables">
      <p className="muted small">Variables are read by DAGs (<code>{'{{ var.key }}'}</code>) and mounted into container tasks. A secret is encrypted at rest with the cluster key and never shown again: you can replace it, not read it.</p>
      <form className="admin-form" onSubmit={save} aria-label="Set a variable">
        <label>Key <input value={form.key} onChange={(e) => setForm({ ...form, key: e.target.value })} required disabled={editing !== null} /></label>
        <label>Value {form.secret
          ? <input type="password" autoComplete="new-password" value={form.value} onChange={(e) => setForm({ ...form, value: e.target.value })} placeholder={editing ? 'new value (write-only)' : 'value (write-only)'} required />
          : <textarea rows={1} value={form.value} onChange={(e) => setForm({ ...form, value: e.target.value })} />}
        </label>
        <label>Description <input value={form.description} onChange={(e) => setForm({ ...form, description: e.target.value })} /></label>
        <label className="inline"><input type="checkbox" checked={form.secret} disabled={editing?.secret === true} onChange={(e) => setForm({ ...form, secret: e.target.checked })} /> Secret</label>
        <button type="submit" className="primary" disabled={action.busy}>{editing ? 'Save' : 'Add variable'}</button>
        {editing ? <button type="button" className="ghost" onClick={() => { setEditing(null); setForm({ key: '', value: '', secret: false, description: '' }); }}>Cancel</button> : null}
      </form>
      <ErrorBox error={action.error} what="change the variable" />
      <LoadError load={vars} what="load the variables" />
      {!vars.data && vars.loading ? <Loading /> : null}
      {vars.data?.length === 0 ? <Empty>No variables yet. Add one above, or import a file with <code>swarmflow variables import vars.json</code>.</Empty> : null}
      {vars.data && vars.data.length > 0 ? (
        <table className="table" data-testid="variables-table">
          <thead><tr><th>Key</th><th>Value</th><th>Description</th><th>Updated</th><th></th></tr></thead>
          <tbody>
            {vars.data.map((v) => (
              <tr key={v.key} data-key={v.key}>
                <td className="mono">{v.key}</td>
                <td>{v.secret ? <><span className="secret-mask" aria-label="hidden secret value">••••••••</span> <span className="tag">secret</span></> : <span className="mono">{v.value}</span>}</td>
                <td>{v.description}</td>
                <td><Time value={v.updatedAt} /></td>
                <td className="row-actions">
                  <button type="button" onClick={() => edit(v)} aria-label={`Edit ${v.key}`}>{v.secret ? 'Replace' : 'Edit'}</button>
                  <ConfirmDelete what={v.secret ? 'secret variable' : 'variable'} name={v.key} busy={action.busy}
                    warning={v.secret ? 'Its value cannot be recovered: only set again.' : undefined}
                    onConfirm={() => action.run(() => del(apiPath('variables', v.key)))} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Section>
  );
}

function Pools() {
  const pools = useLoad(() => get<PoolDto[]>('/pools'), []);
  const canWrite = useCan('admin');
  const action = useAction(pools.reload);
  const [form, setForm] = useState({ name: '', slots: '8', description: '' });
  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (await action.run(() => put(apiPath('pools', form.name.trim()), { slots: Number(form.slots), description: form.description }))) {
      setForm({ name: '', slots: '8', description: '' });
    }
  };
  return (
    <Section title="Pools">
      <p className="muted small">A pool caps how many tries of its tasks run at once (a task names its pool; the default is default_pool).</p>
      {canWrite ? (
        <form className="admin-form" onSubmit={save} aria-label="Set a pool">
          <label>Name <input value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} required /></label>
          <label>Slots <input type="number" min={0} value={form.slots} onChange={(e) => setForm({ ...form, slots: e.target.value })} required /></label>
          <label>Description <input value={form.description} onChange={(e) => setForm({ ...form, description: e.target.value })} /></label>
          <button type="submit" className="primary" disabled={action.busy}>Save pool</button>
        </form>
      ) : null}
      <ErrorBox error={action.error} what="change the pool" />
      <LoadError load={pools} what="load the pools" />
      {!pools.data && pools.loading ? <Loading /> : null}
      {pools.data ? (
        <table className="table" data-testid="pools-table">
          <thead><tr><th>Pool</th><th>Slots</th><th>Description</th>{canWrite ? <th></th> : null}</tr></thead>
          <tbody>
            {pools.data.map((p) => (
              <tr key={p.name} data-pool={p.name}>
                <td className="mono">{p.name}</td><td>{p.slots}</td><td>{p.description}</td>
                {canWrite ? (
                  <td className="row-actions">
                    <button type="button" onClick={() => setForm({ name: p.name, slots: String(p.slots), description: p.description })} aria-label={`Edit ${p.name}`}>Edit</button>
                    {p.name !== 'default_pool' ? <ConfirmDelete what="pool" name={p.name} busy={action.busy} onConfirm={() => action.run(() => del(apiPath('pools', p.name)))} /> : null}
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Section>
  );
}

const ROLES: Role[] = ['viewer', 'operator', 'admin'];

function Users() {
  const users = useLoad(() => get<UserDto[]>('/users'), []);
  const action = useAction(users.reload);
  const [form, setForm] = useState({ name: '', role: 'viewer' as Role, password: '' });
  const create = async (e: FormEvent) => {
    e.preventDefault();
    const body = { name: form.name.trim(), role: form.role, ...(form.password ? { password: form.password } : {}) };
    if (await action.run(() => post('/users', body))) setForm({ name: '', role: 'viewer', password: '' });
  };
  return (
    <Section title="Users">
      <form className="admin-form" onSubmit={create} aria-label="Create a user">
        <label>Name <input value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} required /></label>
        <label>Role <select value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value as Role })}>{ROLES.map((r) => <option key={r}>{r}</option>)}</select></label>
        <label>Password <input type="password" autoComplete="new-password" value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} placeholder="none: a robot with tokens only" /></label>
        <button type="submit" className="primary" disabled={action.busy}>Create user</button>
      </form>
      <ErrorBox error={action.error} what="change the user" />
      <LoadError load={users} what="load the users" />
      {!users.data && users.loading ? <Loading /> : null}
      {users.data ? (
        <table className="table" data-testid="users-table">
          <thead><tr><th>User</th><th>Role</th><th>Login</th><th>Status</th><th>Created</th><th></th></tr></thead>
          <tbody>
            {users.data.map((u) => (
              <tr key={u.name} data-user={u.name}>
                <td>{u.name}</td>
                <td>
                  <select aria-label={`Role of ${u.name}`} value={u.role} onChange={(e) => action.run(() => patch(apiPath('users', u.name), { role: e.target.value }))}>
                    {ROLES.map((r) => <option key={r}>{r}</option>)}
                  </select>
                </td>
                <td>{u.hasPassword ? 'password' : <span className="muted">tokens only</span>}</td>
                <td>{u.disabled ? <span className="warn-text">disabled</span> : 'enabled'}</td>
                <td><Time value={u.createdAt} /></td>
                <td className="row-actions">
                  <button type="button" onClick={() => action.run(() => patch(apiPath('users', u.name), { disabled: !u.disabled }))}>{u.disabled ? 'Enable' : 'Disable'}</button>
                  <ConfirmDelete what="user" name={u.name} busy={action.busy} warning="They can no longer sign in." onConfirm={() => action.run(() => del(apiPath('users', u.name)))} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Section>
  );
}

function Tokens() {
  const tokens = useLoad(() => get<TokenDto[]>('/tokens'), []);
  const action = useAction(tokens.reload);
  const [form, setForm] = useState({ name: '', user: '', expiresIn: '90d' });
  const [created, setCreated] = useState<CreatedTokenDto | null>(null);
  const create = async (e: FormEvent) => {
    e.preventDefault();
    await action.run(async () => {
      const body = { name: form.name.trim(), expiresIn: form.expiresIn, ...(form.user.trim() ? { user: form.user.trim() } : {}) };
      setCreated(await post<CreatedTokenDto>('/tokens', body));
      setForm({ name: '', user: '', expiresIn: '90d' });
    });
  };
  return (
    <Section title="Tokens">
      <form className="admin-form" onSubmit={create} aria-label="Create a token">
        <label>Name <input value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} placeholder="ci" required /></label>
        <label>User <input value={form.user} onChange={(e) => setForm({ ...form, user: e.target.value })} placeholder="you" /></label>
        <label>Expires in <select value={form.expiresIn} onChange={(e) => setForm({ ...form, expiresIn: e.target.value })}>{['1d', '30d', '90d', '365d', 'never'].map((x) => <option key={x}>{x}</option>)}</select></label>
        <button type="submit" className="primary" disabled={action.busy}>Create token</button>
      </form>
      {created ? (
        <div className="warn-box" role="status">
          Token <strong>{created.name}</strong> for {created.user}: copy it now, it is not shown again.
          <div className="mono once-token" data-testid="new-token">{created.token}</div>
        </div>
      ) : null}
      <ErrorBox error={action.error} what="change the token" />
      <LoadError load={tokens} what="load the tokens" />
      {!tokens.data && tokens.loading ? <Loading /> : null}
      {tokens.data ? (
        <table className="table" data-testid="tokens-table">
          <thead><tr><th>Name</th><th>User</th><th>Prefix</th><th>Created</th><th>Expires</th><th>Last used</th><th>Status</th><th></th></tr></thead>
          <tbody>
            {tokens.data.map((t) => (
              <tr key={t.id} data-token={t.name} data-state={t.revokedAt ? 'revoked' : 'active'}>
                <td>{t.name}</td><td>{t.user}</td><td className="mono">{t.prefix}…</td>
                <td><Time value={t.createdAt} /></td><td><Time value={t.expiresAt} fallback="never" /></td><td><Time value={t.lastUsedAt} fallback="never" /></td>
                <td>{t.revokedAt ? <span className="muted">revoked</span> : 'active'}</td>
                <td>{t.revokedAt ? null : <button type="button" className="danger" onClick={() => action.run(() => del(apiPath('tokens', t.id)))} aria-label={`Revoke token ${t.name} of ${t.user}`}>Revoke</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Section>
  );
}

function Audit() {
  const location = useLocation();
  const since = location.search.get('since') ?? '24h';
  const actor = location.search.get('actor') ?? '';
  const actionName = location.search.get('action') ?? '';
  const q = new URLSearchParams({ since, limit: '200', ...(actor ? { actor } : {}), ...(actionName ? { action: actionName } : {}) }).toString();
  const entries = useLoad(() => get<AuditEntryDto[]>(`/audit?${q}`), [q]);
  const [draft, setDraft] = useState({ actor, action: actionName });
  return (
    <Section title="Audit log">
      <form className="toolbar" aria-label="Filter the audit log" onSubmit={(e) => { e.preventDefault(); setQuery({ actor: draft.actor, action: draft.action }); }}>
        <label>Since <select value={since} onChange={(e) => setQuery({ since: e.target.value })}>{['1h', '24h', '7d', '30d'].map((s) => <option key={s}>{s}</option>)}</select></label>
        <label>Actor <input value={draft.actor} onChange={(e) => setDraft({ ...draft, actor: e.target.value })} size={12} /></label>
        <label>Action <input value={draft.action} onChange={(e) => setDraft({ ...draft, action: e.target.value })} placeholder="worker.drain" size={14} /></label>
        <button type="submit">Filter</button>
        <button type="button" onClick={entries.reload}>Refresh</button>
      </form>
      <LoadError load={entries} what="load the audit log" />
      {!entries.data && entries.loading ? <Loading /> : null}
      {entries.data?.length === 0 ? <Empty>Nothing audited in this period. Every write to the API (and bull-board's retries) is recorded here.</Empty> : null}
      {entries.data && entries.data.length > 0 ? (
        <table className="table" data-testid="audit-table">
          <thead><tr><th>When</th><th>Who</th><th>How</th><th>Action</th><th>Target</th><th>Outcome</th><th>From</th></tr></thead>
          <tbody>
            {entries.data.map((a) => (
              <tr key={a.id} data-action={a.action}>
                <td><Time value={a.at} /></td><td>{a.actor ?? <span className="muted">—</span>}</td><td>{a.method ?? '—'}</td>
                <td className="mono">{a.action}</td><td className="mono" title={JSON.stringify(a.detail)}>{a.target ?? '—'}</td>
                <td><span className={a.outcome === 'ok' ? '' : 'warn-text'}>{a.outcome}{a.status ? ` (${a.status})` : ''}</span></td>
                <td>{a.sourceIp ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Section>
  );
}

function AdminPage({ section }: { section: string }) {
  const isAdmin = useCan('admin');
  const visible = SECTIONS.filter((s) => isAdmin || !s.admin);
  const current = visible.find((s) => s.key === section) ?? visible[0]!;
  return (
    <>
      <PageTitle>Admin</PageTitle>
      <nav className="tabs" aria-label="Admin">
        {visible.map((s) => <Link key={s.key} to={`/admin/${s.key}`} className={s.key === current.key ? 'active' : ''}>{s.label}</Link>)}
      </nav>
      {!isAdmin ? <p className="muted small">Variables, users, tokens and the audit log are for admins; pools are read-only for your role.</p> : null}
      {current.key === 'variables' ? <Variables /> : null}
      {current.key === 'pools' ? <Pools /> : null}
      {current.key === 'users' ? <Users /> : null}
      {current.key === 'tokens' ? <Tokens /> : null}
      {current.key === 'audit' ? <Audit /> : null}
    </>
  );
}

/** Routes under /admin. */
export const adminRoutes: RouteDef[] = [
  { path: '/admin', render: () => <AdminPage section="" /> },
  { path: '/admin/:section', render: (p) => <AdminPage section={p.section!} /> },
];
