import type { ReactNode } from 'react';
import type { ApiError } from '../api';

/** An error that says what went wrong and what to do. */
export function ErrorBox({ error, what }: { error: ApiError | null; what?: string }) {
  if (!error) return null;
  const hint =
    error.status === 0 ? 'Check that the Swarmflow server is running, then reload.' :
    error.status === 403 ? 'Ask an admin for a role that may do this.' :
    error.status === 404 ? 'It may have been removed, or the link is wrong.' :
    error.status >= 500 ? 'The server had a problem: see its log, then retry.' : null;
  return (
    <div className="error-box" role="alert">
      <strong>{what ? `Could not ${what}: ` : ''}</strong>
      {error.message}
      {error.field ? <span className="muted"> (field {error.field})</span> : null}
      {hint ? <div className="muted">{hint}</div> : null}
    </div>
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
