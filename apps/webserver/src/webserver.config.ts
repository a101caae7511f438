import { parseArtifactsUrl, parseDuration } from '@swarmflow/core';
import { DEFAULT_AUTH_OPTIONS, type AuthOptions } from './auth/auth-options';
import { DEFAULT_AUDIT_RETENTION_MS } from './auth/audit-retention';

/** A bad setting found at boot; names the environment variable to fix. */
export class WebserverConfigError extends Error {
  override name = 'WebserverConfigError';

  constructor(readonly variable: string, readonly problem: string) {
    super(`${variable}: ${problem}`);
  }
}

export interface WebserverConfig {
  databaseUrl: string;
  port: number;
  host: string;
  /** RabbitMQ, for commands to workers (`tasks kill`); null = no broker, kill answers 503. */
  amqpUrl: string | null;
  brokerPrefix: string;
  /** SWARMFLOW_PUBLIC_URL: the URL users reach the server by; requests for other host names are refused. Null = not set. */
  publicUrl: string | null;
  /** SWARMFLOW_LOG_LEVEL: `error`, `warn`, `log` (default) or `debug`. */
  logLevel: LogLevelName;
  /** How callers are authenticated: SWARMFLOW_TRUSTED_PROXIES, SWARMFLOW_AUTH_PROXY_HEADER, SWARMFLOW_COOKIE_SECURE, SWARMFLOW_SESSION_TTL. */
  auth: AuthOptions;
  /** SWARMFLOW_ADMIN_PASSWORD_FILE: the first admin's password (a Docker secret); null = none. */
  adminPasswordFile: string | null;
  /** SWARMFLOW_ADMIN_USER: the name of that admin (default admin). */
  adminUser: string;
  /** SWARMFLOW_AUDIT_RETENTION: audit entries older than this are pruned (default 90 days); null keeps them all. */
  auditRetentionMs: number | null;
  /** SWARMFLOW_ARTIFACTS_URL (s3://bucket/prefix or file:///folder), to list tries' artefacts; null/absent = none. */
  artifactsUrl?: string | null;
  /** SWARMFLOW_LOG_ARCHIVE and SWARMFLOW_LOG_RETENTION: task logs archived to the artefacts store; null = off. */
  logArchive?: { retentionMs: number | null } | null;
  /**
   * SWARMFLOW_WEB_DRAIN: on SIGTERM, how long the webserver still answers (each answer closing its
   * connection) before it stops listening. Swarm takes a stopping task out of DNS at once, and the
   * gateway resolves the webserver's tasks every second: a drain longer than that means no request
   * reaches a closed port. Default 0 (stop listening at once); the stack sets 3s.
   */
  drainMs?: number;
}

export const LOG_LEVELS = ['error', 'warn', 'log', 'debug'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

/** Nest's levels printed at `level`: each level prints those above it too. */
export function nestLogLevels(level: LogLevelName): ('fatal' | 'error' | 'warn' | 'log' | 'debug' | 'verbose')[] {
  const all = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;
  return all.slice(0, level === 'debug' ? all.length : all.indexOf(level) + 1);
}

/** Reads SWARMFLOW_ARTIFACTS_URL (null when unset). Throws {@link WebserverConfigError}. */
export function readArtifactsUrl(env: NodeJS.ProcessEnv): string | null {
  const raw = env.SWARMFLOW_ARTIFACTS_URL?.trim();
  if (!raw) return null;
  try {
    parseArtifactsUrl(raw);
  } catch (err) {
    throw new WebserverConfigError('SWARMFLOW_ARTIFACTS_URL', (err as Error).message);
  }
  return raw;
}

/** Reads SWARMFLOW_LOG_LEVEL (default `log`). Throws {@link WebserverConfigError}. */
export function readLogLevel(env: NodeJS.ProcessEnv): LogLevelName {
  const raw = env.SWARMFLOW_LOG_LEVEL?.trim().toLowerCase() || 'log';
  if (!(LOG_LEVELS as readonly string[]).includes(raw)) {
    throw new WebserverConfigError('SWARMFLOW_LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(env.SWARMFLOW_LOG_LEVEL)})`);
  }
  return raw as LogLevelName;
}

/**
 * Reads SWARMFLOW_PUBLIC_URL: an http(s) URL without path, query or credentials, e.g.
 * https://swarmflow.example.com. Null when unset. Throws {@link WebserverConfigError}.
 */
export function readPublicUrl(env: NodeJS.ProcessEnv): string | null {
  const raw = env.SWARMFLOW_PUBLIC_URL?.trim();
  if (!raw) return null;
  const fix = 'set it to the URL users reach the server by, e.g. https://swarmflow.example.com or http://10.0.0.5:8080';
  if (!URL.canParse(raw)) throw new WebserverConfigError('SWARMFLOW_PUBLIC_URL', `is not a URL (got ${JSON.stringify(raw)}): ${fix}`);
  const url = new URL(raw);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new WebserverConfigError('SWARMFLOW_PUBLIC_URL', `must be an http:// or https:// URL (got ${JSON.stringify(raw)}): ${fix}`);
  }
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    throw new WebserverConfigError('SWARMFLOW_PUBLIC_URL', `must be scheme, host and port only, without a path, query or credentials (got ${JSON.stringify(raw)}): ${fix}`);
  }
  return url.origin;
}

export const DEFAULT_WEB_PORT = 8080;
export const DEFAULT_WEB_HOST = '0.0.0.0';

/**
 * Reads `SWARMFLOW_DATABASE_URL` (required), `SWARMFLOW_WEB_PORT` (default 8080),
 * `SWARMFLOW_WEB_HOST` (default 0.0.0.0), `SWARMFLOW_PUBLIC_URL` and `SWARMFLOW_LOG_LEVEL`. Throws {@link WebserverConfigError} naming the
 * first bad variable; never echoes the database URL (it holds a password).
 */
export function loadWebserverConfig(env: NodeJS.ProcessEnv = process.env): WebserverConfig {
  const databaseUrl = env.SWARMFLOW_DATABASE_URL?.trim();
  if (!databaseUrl) {
    throw new WebserverConfigError('SWARMFLOW_DATABASE_URL', 'is required: set it to the metadata database, e.g. postgres://swarmflow:password@postgres:5432/swarmflow');
  }
  if (!/^postgres(ql)?:\/\/./.test(databaseUrl) || !URL.canParse(databaseUrl)) {
    throw new WebserverConfigError('SWARMFLOW_DATABASE_URL', 'must be a postgres:// URL, e.g. postgres://swarmflow:password@postgres:5432/swarmflow');
  }
  const rawPort = env.SWARMFLOW_WEB_PORT?.trim();
  const port = rawPort ? Number(rawPort) : DEFAULT_WEB_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new WebserverConfigError('SWARMFLOW_WEB_PORT', `must be a port number between 0 and 65535 (got ${JSON.stringify(rawPort)})`);
  }
  const host = env.SWARMFLOW_WEB_HOST?.trim() || DEFAULT_WEB_HOST;
  const amqpUrl = env.SWARMFLOW_AMQP_URL?.trim() || null;
  if (amqpUrl && !/^amqps?:\/\/./.test(amqpUrl)) {
    throw new WebserverConfigError('SWARMFLOW_AMQP_URL', 'must be an amqp:// or amqps:// URL, e.g. amqp://user:password@rabbitmq:5672');
  }
  return {
    databaseUrl, port, host, amqpUrl, brokerPrefix: env.SWARMFLOW_BROKER_PREFIX ?? '',
    publicUrl: readPublicUrl(env), logLevel: readLogLevel(env),
    auth: loadAuthOptions(env),
    adminPasswordFile: env.SWARMFLOW_ADMIN_PASSWORD_FILE?.trim() || null,
    adminUser: env.SWARMFLOW_ADMIN_USER?.trim() || 'admin',
    auditRetentionMs: readAuditRetention(env),
    artifactsUrl: readArtifactsUrl(env),
    logArchive: readLogArchive(env, readArtifactsUrl(env)),
    drainMs: readDrain(env),
  };
}

/** Reads SWARMFLOW_WEB_DRAIN (default 0). Throws {@link WebserverConfigError}. */
export function readDrain(env: NodeJS.ProcessEnv): number {
  const raw = env.SWARMFLOW_WEB_DRAIN?.trim();
  if (!raw || raw === '0') return 0;
  try {
    return parseDuration(raw, 'SWARMFLOW_WEB_DRAIN');
  } catch {
    throw new WebserverConfigError('SWARMFLOW_WEB_DRAIN', `must be a duration such as 3s, or 0 to stop listening at once (got ${JSON.stringify(raw)})`);
  }
}

/**
 * Reads SWARMFLOW_AUDIT_RETENTION: a duration (`90d`, `12h`), `0` or `forever` to keep every
 * entry; default 90 days. Throws {@link WebserverConfigError}.
 */
export function readAuditRetention(env: NodeJS.ProcessEnv): number | null {
  const raw = env.SWARMFLOW_AUDIT_RETENTION?.trim().toLowerCase();
  if (!raw) return DEFAULT_AUDIT_RETENTION_MS;
  if (raw === '0' || raw === 'forever') return null;
  try {
    return parseDuration(raw, 'SWARMFLOW_AUDIT_RETENTION');
  } catch {
    throw new WebserverConfigError('SWARMFLOW_AUDIT_RETENTION', `must be a duration such as 90d or 720h, or 0 / forever to keep every entry (got ${JSON.stringify(env.SWARMFLOW_AUDIT_RETENTION)})`);
  }
}

/**
 * Reads SWARMFLOW_LOG_ARCHIVE (`true`/`false`, default false: archive each ended try's log
 * to the artefacts store) and SWARMFLOW_LOG_RETENTION (a duration: the database rows of
 * tries archived longer ago are deleted; `0`/`forever`/unset keeps them). Null = off.
 * Throws {@link WebserverConfigError} for a bad value, a retention without the archive, or
 * an archive without an artefacts store (`artifactsUrl`).
 */
export function readLogArchive(env: NodeJS.ProcessEnv, artifactsUrl: string | null): { retentionMs: number | null } | null {
  const rawArchive = env.SWARMFLOW_LOG_ARCHIVE?.trim().toLowerCase() ?? '';
  if (!['', 'true', 'false', '1', '0'].includes(rawArchive)) {
    throw new WebserverConfigError('SWARMFLOW_LOG_ARCHIVE', `must be true or false (got ${JSON.stringify(env.SWARMFLOW_LOG_ARCHIVE)})`);
  }
  const archive = rawArchive === 'true' || rawArchive === '1';
  const rawRetention = env.SWARMFLOW_LOG_RETENTION?.trim().toLowerCase() ?? '';
  let retentionMs: number | null = null;
  if (rawRetention !== '' && rawRetention !== '0' && rawRetention !== 'forever') {
    try {
      retentionMs = parseDuration(rawRetention, 'SWARMFLOW_LOG_RETENTION');
    } catch {
      throw new WebserverConfigError('SWARMFLOW_LOG_RETENTION', `must be a duration such as 30d or 12h, or 0 / forever to keep the rows (got ${JSON.stringify(env.SWARMFLOW_LOG_RETENTION)})`);
    }
  }
  if (!archive) {
    if (retentionMs !== null) {
      throw new WebserverConfigError('SWARMFLOW_LOG_RETENTION', 'prunes only archived task logs: set SWARMFLOW_LOG_ARCHIVE=true (and SWARMFLOW_ARTIFACTS_URL), or unset it');
    }
    return null;
  }
  if (artifactsUrl === null) {
    throw new WebserverConfigError('SWARMFLOW_LOG_ARCHIVE', 'archives task logs to the artefacts store: set SWARMFLOW_ARTIFACTS_URL (s3://<bucket>/<prefix> or file:///<folder>) too');
  }
  return { retentionMs };
}

/**
 * The authentication settings: SWARMFLOW_TRUSTED_PROXIES (comma-separated addresses or CIDRs
 * of reverse proxies whose X-Forwarded-* headers count; default none), SWARMFLOW_AUTH_PROXY_HEADER
 * (a header such as X-Forwarded-User naming the user, honoured from those proxies only; default
 * off), SWARMFLOW_COOKIE_SECURE (auto, true or false; default auto = when the request is HTTPS),
 * SWARMFLOW_SESSION_TTL (default 12h).
 */
export function loadAuthOptions(env: NodeJS.ProcessEnv): AuthOptions {
  const trustedProxies = (env.SWARMFLOW_TRUSTED_PROXIES ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const proxy of trustedProxies) {
    if (!/^(loopback|linklocal|uniquelocal|[0-9a-fA-F:.]+(\/\d{1,3})?)$/.test(proxy)) {
      throw new WebserverConfigError('SWARMFLOW_TRUSTED_PROXIES', `${JSON.stringify(proxy)} is not an IP address or CIDR: give e.g. 10.0.0.5,10.0.1.0/24`);
    }
  }
  const proxyUserHeader = env.SWARMFLOW_AUTH_PROXY_HEADER?.trim() || null;
  if (proxyUserHeader && !/^[A-Za-z0-9-]+$/.test(proxyUserHeader)) {
    throw new WebserverConfigError('SWARMFLOW_AUTH_PROXY_HEADER', 'must be a header name such as X-Forwarded-User');
  }
  if (proxyUserHeader && trustedProxies.length === 0) {
    throw new WebserverConfigError('SWARMFLOW_AUTH_PROXY_HEADER', 'needs SWARMFLOW_TRUSTED_PROXIES: the header is believed only from those addresses (anyone could send it otherwise)');
  }
  const rawSecure = env.SWARMFLOW_COOKIE_SECURE?.trim().toLowerCase() || 'auto';
  if (!['auto', 'true', 'false'].includes(rawSecure)) {
    throw new WebserverConfigError('SWARMFLOW_COOKIE_SECURE', `must be auto, true or false (got ${JSON.stringify(rawSecure)})`);
  }
  let sessionTtlMs = DEFAULT_AUTH_OPTIONS.sessionTtlMs;
  const rawTtl = env.SWARMFLOW_SESSION_TTL?.trim();
  if (rawTtl) {
    try {
      sessionTtlMs = parseDuration(rawTtl, 'SWARMFLOW_SESSION_TTL');
    } catch {
      throw new WebserverConfigError('SWARMFLOW_SESSION_TTL', `must be a duration such as 12h or 30m (got ${JSON.stringify(rawTtl)})`);
    }
  }
  return {
    ...DEFAULT_AUTH_OPTIONS, trustedProxies, proxyUserHeader, sessionTtlMs,
    cookieSecure: rawSecure === 'auto' ? 'auto' : rawSecure === 'true',
  };
}
