// The API client: the browser session's cookie goes with every request; writes also send the
// session's CSRF token in X-CSRF-Token (see README, "Users, roles and tokens").
import type { ApiErrorBody } from './api-types';

export const API = '/api/v1';

/**
 * An error answer of the API, with its stable `reason` and the field at fault; for a conf
 * error also its `problem` and `hint` on their own, to word the message for a form.
 */
export class ApiError extends Error {
  readonly problem?: string;
  readonly hint?: string;

  constructor(readonly status: number, readonly reason: string, message: string, readonly field?: string, parts?: Pick<ApiErrorBody, 'problem' | 'hint'>) {
    super(message);
    this.name = 'ApiError';
    this.problem = parts?.problem;
    this.hint = parts?.hint;
  }
}

let csrfToken: string | null = null;

/** Set from the login answer or `GET /auth/me`. */
export function setCsrfToken(token: string | null | undefined): void {
  csrfToken = token ?? null;
}

/** Fired on every 401, so the app can show the login page. */
export const UNAUTHENTICATED = 'sf:unauthenticated';

function fromCookie(): string | null {
  const match = /(?:^|;\s*)swarmflow_csrf=([^;]+)/.exec(document.cookie);
  return match ? decodeURIComponent(match[1]!) : null;
}

export async function api<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') {
    const token = csrfToken ?? fromCookie();
    if (token) headers['X-CSRF-Token'] = token;
  }
  let res: Response;
  try {
    res = await fetch(API + path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'unreachable', 'the server does not answer: is it running? Retry in a moment.');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON: handled below */
  }
  if (!res.ok) {
    const err = (json ?? {}) as Partial<ApiErrorBody>;
    if (res.status === 401 && !path.startsWith('/auth/login')) window.dispatchEvent(new Event(UNAUTHENTICATED));
    throw new ApiError(res.status, err.reason ?? `http_${res.status}`, err.message ?? (text.slice(0, 200) || res.statusText), err.field, err);
  }
  return json as T;
}

export const get = <T,>(path: string) => api<T>('GET', path);
export const post = <T,>(path: string, body?: unknown) => api<T>('POST', path, body ?? {});
export const patch = <T,>(path: string, body: unknown) => api<T>('PATCH', path, body);
export const put = <T,>(path: string, body: unknown) => api<T>('PUT', path, body);
export const del = <T,>(path: string) => api<T>('DELETE', path);

/** `/dags/a%20b/runs/…`: each segment URL-encoded. */
export function apiPath(...segments: (string | number)[]): string {
  return '/' + segments.map((s) => encodeURIComponent(String(s))).join('/');
}
