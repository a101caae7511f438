/**
 * Telling "the database cannot be reached" from any other failure, so callers can answer
 * 503 and retry instead of reporting a bug. pg and TypeORM raise these as plain errors: a
 * socket error code (possibly inside an AggregateError, a TypeORM `driverError` or a
 * `cause`), a SQLSTATE of class 08 (connection exception) or 57P0x (the server shutting
 * down), or one of pg's own messages for a connection that died.
 */
const SOCKET_CAUSES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'unknown host',
  EPIPE: 'connection closed',
};

const SQLSTATE_CAUSES: Readonly<Record<string, string>> = {
  '57P01': 'the server is shutting down',
  '57P02': 'the server crashed',
  '57P03': 'the server is starting up',
  '53300': 'too many connections',
};

const PG_MESSAGES: readonly [RegExp, string][] = [
  [/^Connection terminated/, 'connection lost'],
  [/timeout exceeded when trying to connect/, 'connection timed out'],
  [/Client has encountered a connection error/, 'connection lost'],
  [/^Connection closed$/, 'connection lost'],
];

/** Why `err` says the database is unreachable (e.g. `connection refused`), or null when it is another failure. */
export function databaseUnavailableCause(err: unknown, depth = 0): string | null {
  if (depth > 4 || typeof err !== 'object' || err === null) return null;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown; driverError?: unknown; cause?: unknown };
  if (typeof e.code === 'string') {
    if (SOCKET_CAUSES[e.code]) return SOCKET_CAUSES[e.code];
    if (SQLSTATE_CAUSES[e.code]) return SQLSTATE_CAUSES[e.code];
    if (/^08[0-9A-Z]{3}$/.test(e.code)) return 'connection failure';
  }
  if (typeof e.message === 'string') {
    for (const [pattern, cause] of PG_MESSAGES) if (pattern.test(e.message)) return cause;
  }
  for (const inner of [e.driverError, e.cause, ...(Array.isArray(e.errors) ? e.errors : [])]) {
    const cause = databaseUnavailableCause(inner, depth + 1);
    if (cause) return cause;
  }
  return null;
}
