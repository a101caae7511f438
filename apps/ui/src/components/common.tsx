import type { ReactNode } from 'react';
import type { ApiError } from '../api';
import type { Loaded } from '../hooks';
import { Link } from '../router';

/** Statuses a load may get past by asking again: the server unreachable or failing, a DAG not parsed yet. */
const RETRYABLE = (status: number) => status === 0 || status === 404 || status === 408 || status === 429 || status >= 500;

/**
 * An error that says what went wrong and what to do. A failed load passes `retry` (its
 * reload): the box then has a Retry button for an error asking again may get past; a
 * not-found page passes `elsewhere`, the page to go to instead (the DAG's runs for a run
 * that does not exist).
 */
export function ErrorBox({ error, what, retry, retrying = false, elsewhere }: {
  error: ApiError | null; what?: string;
  retry?: () => void; retrying?: boolean;
  elsewhere?: { to: string; label: string };
}) {
  if (!error) return null;
  const canRetry = retry !== undefined && RETRYABLE(error.status);
  const goTo = error.status === 404 ? elsewhere : undefined;
  const hint =
    error.status === 0 ? `Check that the Swarmflow server is running, then ${canRetry ? 'retry' : 'reload'}.` :
    error.status === 403 ? 'Ask an admin for a role that may do this.' :
    error.status === 404 ? 'It may have been removed, or the link is wrong.' :
    error.status >= 500 ? 'The server had a problem: see its log, then retry.' : null;
  return (
    <div className="error-box" role="alert">
      <strong>{what ? `Could not ${what}: ` : ''}</strong>
      {error.message}
      {error.field ? <span className="muted"> (field {error.field})</span> : null}
      {hint ? <div className="muted">{hint}</div> : null}
      {canRetry || goTo ? (
        <div className="error-actions">
          {canRetry ? <button type="button" onClick={retry} disabled={retrying}>{retrying ? 'Retrying…' : '↻ Retry'}</button> : null}
          {goTo ? <Link to={goTo.to} className="button">{goTo.label}</Link> : null}
        </div>
      ) : null}
    </div>
  );
}

/**
 * A DAG's paused or active state as text, for a user whose role may not change it: not a
 * control (the pause switch is for operators and admins only).
 */
export function PauseState({ paused }: { paused: boolean }) {
  return (
    <span className="pause-state small" data-testid="pause-state" data-paused={paused}
      title={paused ? 'Paused: no new runs, no new tasks (an operator may unpause it)' : 'Active: it runs on its schedule and when triggered'}>
      {paused ? 'paused' : 'active'}
    </span>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

export function Loading() {
  return <div className="loading" aria-busy="true">Loading…</div>;
}

export function PageTitle({ children, actions }: { children: ReactNode; actions?: ReactNode }) {
  return (
    <div className="page-title">
      <h1>{children}</h1>
      {actions ? <div className="actions">{actions}</div> : null}
    </div>
  );
}

/** The error of a failed load (useLoad), with its Retry: what `ErrorBox` shows, the load asked again on a click. */
export function LoadError({ load, what, elsewhere }: { load: Loaded<unknown>; what: string; elsewhere?: { to: string; label: string } }) {
  return <ErrorBox error={load.error} what={what} retry={load.reload} retrying={load.loading} elsewhere={elsewhere} />;
}
