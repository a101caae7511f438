import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter, type LoggerService } from '@nestjs/common';
import { BackfillRequestError, LogicalDateInFutureError, ParamValidationError, RunUpgradeError, UnknownTaskError } from '@swarmflow/core';
import { databaseUnavailableCause, DuplicateLogicalDateError, DuplicateRunError } from '@swarmflow/persistence';
import { NoControlKeyError } from '@swarmflow/messaging';
import { ConflictError, NoBrokerError, NoClusterKeyError, NotFoundError } from '../services/api-errors';
import { AuthError } from '../auth/auth-errors';
import type { ApiErrorBody } from '@swarmflow/contracts/api.types';
import { RequestValidationError } from './zod-validation.pipe';

export interface ErrorResponse {
  status: number;
  body: ApiErrorBody;
}

const INTERNAL: ErrorResponse = {
  status: 500,
  body: { reason: 'internal_error', message: 'internal server error; the server log has the details' },
};

const HTTP_REASONS: Record<number, string> = {
  400: 'bad_request', 404: 'not_found', 405: 'method_not_allowed', 409: 'conflict', 413: 'payload_too_large', 415: 'unsupported_media_type',
};

/** Maps an error thrown while handling a request to its status and body; null fields are left out. */
export function toErrorResponse(err: unknown): ErrorResponse {
  if (err instanceof AuthError) return { status: err.status, body: { reason: err.reason, message: err.message } };
  // An API caller sends the JSON field `conf`: the fix shows that, not the CLI's --conf flag. The
  // problem and the hint on their own serve a form, whose user fills fields rather than a body.
  if (err instanceof ParamValidationError) {
    return { status: 400, body: { reason: 'invalid_conf', message: err.apiMessage, field: err.field, problem: err.problem, hint: err.hint } };
  }
  if (err instanceof RequestValidationError) return withField(400, 'invalid_request', err.message, err.field);
  if (err instanceof NotFoundError) return { status: 404, body: { reason: err.reason, message: err.message } };
  if (err instanceof UnknownTaskError) return { status: 404, body: { reason: 'task_not_found', message: err.message } };
  if (err instanceof LogicalDateInFutureError) return { status: 400, body: { reason: 'logical_date_in_future', message: err.message, field: err.field } };
  if (err instanceof BackfillRequestError) return { status: 400, body: { reason: 'invalid_backfill', message: err.message, field: err.field } };
  if (err instanceof RunUpgradeError) return { status: 409, body: { reason: 'task_busy', message: err.message } };
  if (err instanceof DuplicateRunError) return { status: 409, body: { reason: 'duplicate_run', message: err.message, field: 'runId' } };
  if (err instanceof DuplicateLogicalDateError) {
    return { status: 409, body: { reason: 'duplicate_logical_date', message: err.message, field: 'logicalDate', problem: err.problem, hint: err.hint } };
  }
  if (err instanceof ConflictError) return withField(409, err.reason, err.message, err.field);
  // 400, not 5xx: the request cannot be served as asked; storing the variable as not secret, or a key on the server, fixes it.
  if (err instanceof NoClusterKeyError) return withField(400, err.reason, err.message, err.field);
  // 503: the server is missing a service it needs for this request; configuring it fixes it.
  if (err instanceof NoBrokerError) return withField(503, err.reason, err.message, undefined);
  // 503 too: commands to workers are signed, and this server was started without the cluster key.
  if (err instanceof NoControlKeyError) return withField(503, 'no_cluster_key', err.message, undefined);
  if (err instanceof HttpException && err.getStatus() < 500) {
    const status = err.getStatus();
    // Nest turns body-parser's SyntaxError into a bare BadRequestException carrying JSON.parse's message.
    if (status === 400 && /\bJSON\b/.test(err.message)) {
      return { status, body: { reason: 'invalid_json', message: notJson(err.message) } };
    }
    const route = status === 404 ? /^Cannot ([A-Z]+) (\S+)$/.exec(err.message) : null;
    if (route) return { status, body: { reason: 'route_not_found', message: noRoute(route[1], route[2]) } };
    return { status, body: { reason: HTTP_REASONS[status] ?? 'bad_request', message: err.message } };
  }
  // A body that says `Content-Encoding: gzip` (or deflate, br) and is not: zlib's error, which body-parser gives a 400.
  if (isZlibError(err)) {
    return {
      status: 400,
      body: {
        reason: 'invalid_body',
        message: `the request body does not decode as its Content-Encoding says (${(err as Error).message}). Fix: send the body compressed as Content-Encoding names, or leave the header out for a plain body`,
        field: 'body',
      },
    };
  }
  // A value PostgreSQL refuses (SQLSTATE class 22: too long, out of range, bad text) is the caller's input, not a server fault.
  if (isDataException(err)) {
    return {
      status: 400,
      body: { reason: 'invalid_request', message: `a value in the request cannot be stored or compared: ${(err as Error).message}. Fix: check the values of the path, query and body` },
    };
  }
  // body-parser errors (malformed JSON, body too large) reach us as plain errors with a 4xx status.
  if (err instanceof Error && (err as { type?: unknown }).type === 'entity.too.large') {
    const { limit, length } = err as unknown as { limit?: unknown; length?: unknown };
    const got = typeof length === 'number' ? ` (got ${formatBytes(length)})` : '';
    return {
      status: 413,
      body: {
        reason: 'body_too_large',
        message: `the request body is too large: the limit is ${typeof limit === 'number' ? formatBytes(limit) : '1 MiB'}${got}. ` +
          'Fix: send less at once (import variables in several requests)',
      },
    };
  }
  const parserStatus = bodyParserStatus(err);
  if (parserStatus !== null) {
    return { status: parserStatus, body: { reason: HTTP_REASONS[parserStatus] ?? 'bad_request', message: (err as Error).message } };
  }
  // 503, not 500: nothing is wrong with the request or the server; the database is out of reach for now.
  const unavailable = databaseUnavailableCause(err);
  if (unavailable !== null) {
    return {
      status: 503,
      body: { reason: 'unavailable', message: `the database cannot be reached (${unavailable}): try again shortly; GET /api/v1/health shows each dependency` },
    };
  }
  return INTERNAL;
}

// body-parser's strict mode refuses a top-level scalar (`5`, `"yes"`) with JSON.parse's words, too.
function notJson(detail: string): string {
  return `the request body is not a JSON object: ${detail}. Fix: send the body as one JSON object, with Content-Type: application/json`;
}

/** `1 MiB`, `512 KiB`, `100 bytes`. */
function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${Math.round((n / (1024 * 1024)) * 10) / 10} MiB`;
  if (n >= 1024) return `${Math.round((n / 1024) * 10) / 10} KiB`;
  return `${n} bytes`;
}

/** Nest's `Cannot PUT /api/v1/variables/` for a path no route serves, in words that say what to check. */
function noRoute(method: string, url: string): string {
  const path = url.split('?')[0];
  const hint = /\/\/|\/$/.test(path)
    ? 'a part of the path is empty (a key or id missing before a "/"?)'
    : path.startsWith('/api/v1/') ? 'check the path and the method' : 'the API is under /api/v1/';
  return `no API route answers ${method} ${path}: ${hint}. Fix: see the routes in the README ("REST API"), e.g. GET /api/v1/dags or PUT /api/v1/variables/<key>`;
}

function withField(status: number, reason: string, message: string, field: string | undefined): ErrorResponse {
  return { status, body: field === undefined ? { reason, message } : { reason, message, field } };
}

function isZlibError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && /^Z_[A-Z_]+$/.test(code);
}

/** node-postgres' DatabaseError of SQLSTATE class 22 (data exception), told by its fields. */
function isDataException(err: unknown): boolean {
  const e = err as { code?: unknown; severity?: unknown } | null;
  return err instanceof Error && typeof e?.code === 'string' && /^22[0-9A-Z]{3}$/.test(e.code) && typeof e.severity === 'string';
}

function bodyParserStatus(err: unknown): number | null {
  if (!(err instanceof Error) || typeof (err as { type?: unknown }).type !== 'string') return null;
  const status = (err as { status?: unknown }).status;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : null;
}

interface HttpResponse {
  status(code: number): { json(body: unknown): void };
  setHeader(name: string, value: string): void;
}

/**
 * Turns every error into `{ reason, message, field? }`: known errors with 400/404/409,
 * anything else with 500 and a generic message; stacks go to the server log only.
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  constructor(private readonly logger: LoggerService | null) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const { status, body } = toErrorResponse(exception);
    if (body.reason === 'unavailable') {
      // An outage fails every request alike: one line each, no stack.
      this.logger?.warn?.(`${host.switchToHttp().getRequest<{ method?: string; url?: string }>().method} ${host.switchToHttp().getRequest<{ url?: string }>().url}: ${body.message}`);
    } else if (status >= 500) {
      const req = host.switchToHttp().getRequest<{ method?: string; url?: string }>();
      const detail = exception instanceof Error ? exception.stack ?? exception.message : String(exception);
      this.logger?.error(`${req.method} ${req.url} failed: ${detail}`);
    }
    const res = host.switchToHttp().getResponse<HttpResponse>();
    if (exception instanceof AuthError && exception.retryAfterSeconds) res.setHeader('Retry-After', String(exception.retryAfterSeconds));
    res.status(status).json(body);
  }
}
