import { timingSafeEqual, createHash } from 'node:crypto';
import { isIP } from 'node:net';

/** A bad metrics setting found at boot; names the variable and the fix. */
export class MetricsConfigError extends Error {
  override name = 'MetricsConfigError';

  constructor(readonly variable: string, problem: string, fix: string) {
    super(`${variable} ${problem}. Fix: ${fix}`);
  }
}

/**
 * Who may read `/metrics`. With a token, only a request with `Authorization: Bearer <token>`
 * (Prometheus: `authorization: { credentials: … }` or `bearer_token_file`). Without one,
 * anyone when `open`, nobody otherwise (the answer names the fix).
 */
export interface MetricsAccess {
  token: string | null;
  open: boolean;
}

/** What a scrape request may get: serve it, or refuse it with a status and a message. */
export type AccessDecision = { ok: true } | { ok: false; status: 401 | 403; message: string };

/** Whether a listen address only takes connections from this machine. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}

/**
 * The access rule of an endpoint that listens on `host`: `SWARMFLOW_METRICS_TOKEN` set →
 * the bearer token is required; else `SWARMFLOW_METRICS_PUBLIC=true` or a loopback `host`
 * → open; else closed. Throws {@link MetricsConfigError} naming a bad variable.
 */
export function metricsAccessFromEnv(env: NodeJS.ProcessEnv, host: string): MetricsAccess {
  const token = env.SWARMFLOW_METRICS_TOKEN?.trim() || null;
  if (token !== null && token.length < 16) {
    throw new MetricsConfigError('SWARMFLOW_METRICS_TOKEN', 'is shorter than 16 characters', 'use a random token, e.g. `openssl rand -hex 32`');
  }
  const rawPublic = env.SWARMFLOW_METRICS_PUBLIC?.trim().toLowerCase();
  if (rawPublic && !['true', 'false', '1', '0'].includes(rawPublic)) {
    throw new MetricsConfigError('SWARMFLOW_METRICS_PUBLIC', `must be true or false (got "${env.SWARMFLOW_METRICS_PUBLIC}")`, 'set it to true to let anyone who reaches the port read /metrics');
  }
  const open = token === null && (rawPublic === 'true' || rawPublic === '1' || isLoopback(host));
  return { token, open };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Decides on one request from its `Authorization` header. */
export function checkMetricsAccess(access: MetricsAccess, authorization: string | undefined): AccessDecision {
  if (access.token !== null) {
    const m = /^Bearer\s+(.+)$/i.exec(authorization?.trim() ?? '');
    // Digests have equal lengths, which timingSafeEqual needs; it keeps the comparison's time independent of the token.
    if (m && timingSafeEqual(digest(m[1].trim()), digest(access.token))) return { ok: true };
    return { ok: false, status: 401, message: '/metrics needs the bearer token of SWARMFLOW_METRICS_TOKEN (Prometheus: authorization: { credentials_file: … })' };
  }
  if (access.open) return { ok: true };
  return {
    ok: false, status: 403,
    message: '/metrics is closed: this server listens beyond loopback and has no SWARMFLOW_METRICS_TOKEN. Fix: set SWARMFLOW_METRICS_TOKEN (and give Prometheus the token) or SWARMFLOW_METRICS_PUBLIC=true',
  };
}
