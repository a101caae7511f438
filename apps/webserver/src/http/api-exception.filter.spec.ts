import { BadRequestException, NotFoundException } from '@nestjs/common';
import { LogicalDateInFutureError, ParamValidationError, UnknownTaskError } from '@swarmflow/core';
import { DuplicateLogicalDateError, DuplicateRunError } from '@swarmflow/persistence';
import { ConflictError, NotFoundError } from '../services/api-errors';
import { ApiExceptionFilter, toErrorResponse } from './api-exception.filter';
import { RequestValidationError } from './zod-validation.pipe';

describe('toErrorResponse', () => {
  it.each([
    [new ParamValidationError('conf.epochs', 'must be integer (got "x")', 'pass a whole number'), 400,
      { reason: 'invalid_conf', field: 'conf.epochs', message: 'conf.epochs must be integer (got "x"). Fix: pass a whole number.', problem: 'must be integer (got "x")', hint: 'pass a whole number' }],
    [new ParamValidationError('conf.epochs', 'must be integer (got "x")', `pass a whole number, e.g. --conf '{"epochs": 1}'`, { hint: 'pass a whole number', conf: { epochs: 1 } }), 400,
      {
        reason: 'invalid_conf', field: 'conf.epochs', message: 'conf.epochs must be integer (got "x"). Fix: pass a whole number, e.g. the body {"conf": {"epochs":1}}.',
        // For a form: the problem and the fix, neither with the body's example.
        problem: 'must be integer (got "x")', hint: 'pass a whole number',
      }],
    [new RequestValidationError('isPaused', 'expected boolean'), 400, { reason: 'invalid_request', field: 'isPaused', message: 'isPaused: expected boolean' }],
    [new RequestValidationError(undefined, 'expected an object'), 400, { reason: 'invalid_request', message: 'expected an object' }],
    [new NotFoundError('run_not_found', 'no run'), 404, { reason: 'run_not_found', message: 'no run' }],
    [new UnknownTaskError('d', 't'), 404, { reason: 'task_not_found', message: 'DAG "d" has no task "t"' }],
    [new DuplicateRunError('d', 'r'), 409, { reason: 'duplicate_run', field: 'runId', message: expect.stringContaining('already has a run "r"') }],
    [new DuplicateLogicalDateError('d', new Date('2025-01-01T00:00:00Z'), 'r', 'success'), 409,
      {
        reason: 'duplicate_logical_date', field: 'logicalDate', message: expect.stringContaining('already has a run at logical date 2025-01-01T00:00:00.000Z: "r" (success)'),
        // For a page: without the CLI command of the message's fix.
        problem: 'DAG "d" already has a run at logical date 2025-01-01T00:00:00.000Z: "r" (success); a DAG has one run per logical date',
        hint: 'to run that date again, clear the tasks of that run, or pick another logical date',
      }],
    [new LogicalDateInFutureError(new Date('2030-01-01T00:00:00Z'), new Date('2025-01-01T00:00:00Z'), 60_000), 400,
      { reason: 'logical_date_in_future', field: 'logicalDate', message: expect.stringContaining('logicalDate 2030-01-01T00:00:00.000Z is in the future') }],
    [new ConflictError('task_busy', 'busy'), 409, { reason: 'task_busy', message: 'busy' }],
    [new NotFoundException('Cannot GET /x'), 404, { reason: 'route_not_found', message: expect.stringMatching(/^no API route answers GET \/x: the API is under \/api\/v1\/\. Fix: /) }],
    [new NotFoundException('Cannot PUT /api/v1/variables/'), 404, {
      reason: 'route_not_found',
      message: 'no API route answers PUT /api/v1/variables/: a part of the path is empty (a key or id missing before a "/"?). ' +
        'Fix: see the routes in the README ("REST API"), e.g. GET /api/v1/dags or PUT /api/v1/variables/<key>',
    }],
    [new NotFoundException('no such thing'), 404, { reason: 'not_found', message: 'no such thing' }],
    [Object.assign(new Error('incorrect header check'), { code: 'Z_DATA_ERROR', status: 400 }), 400, {
      reason: 'invalid_body', field: 'body', message: expect.stringMatching(/^the request body does not decode as its Content-Encoding says/),
    }],
    [Object.assign(new Error('value too long for type character varying(250)'), { code: '22001', severity: 'ERROR' }), 400, {
      reason: 'invalid_request', message: expect.stringMatching(/^a value in the request cannot be stored or compared: value too long/),
    }],
    [new BadRequestException('Unexpected end of JSON input'), 400, {
      reason: 'invalid_json',
      message: 'the request body is not a JSON object: Unexpected end of JSON input. Fix: send the body as one JSON object, with Content-Type: application/json',
    }],
  ])('maps %p to %i', (err, status, body) => {
    expect(toErrorResponse(err)).toEqual({ status, body });
  });

  it('hides unknown errors behind a generic 500', () => {
    const res = toErrorResponse(new Error('relation "dag" does not exist'));
    expect(res).toEqual({ status: 500, body: { reason: 'internal_error', message: 'internal server error; the server log has the details' } });
  });

  it('maps a body too large to 413 body_too_large stating the limit', () => {
    const tooLarge = Object.assign(new Error('request entity too large'), { type: 'entity.too.large', status: 413, limit: 1048576, length: 2097152 });
    expect(toErrorResponse(tooLarge)).toEqual({ status: 413, body: {
      reason: 'body_too_large',
      message: 'the request body is too large: the limit is 1 MiB (got 2 MiB). Fix: send less at once (import variables in several requests)',
    } });
  });

  it('maps another body-parser error by its status', () => {
    const aborted = Object.assign(new Error('request aborted'), { type: 'request.aborted', status: 400 });
    expect(toErrorResponse(aborted)).toEqual({ status: 400, body: { reason: 'bad_request', message: 'request aborted' } });
  });
});

describe('ApiExceptionFilter', () => {
  function hostFor(sent: { status?: number; body?: unknown }) {
    const response = { status: (code: number) => ({ json: (body: unknown) => Object.assign(sent, { status: code, body }) }) };
    const http = { getResponse: () => response, getRequest: () => ({ method: 'GET', url: '/api/v1/dags' }) };
    return { switchToHttp: () => http } as never;
  }

  it('logs the stack of an unknown error and answers without it', () => {
    const errors: string[] = [];
    const logger = { error: (m: string) => errors.push(m), log: () => undefined, warn: () => undefined };
    const sent: { status?: number; body?: unknown } = {};
    const err = new Error('boom');
    new ApiExceptionFilter(logger).catch(err, hostFor(sent));
    expect(sent).toEqual({ status: 500, body: { reason: 'internal_error', message: 'internal server error; the server log has the details' } });
    expect(errors).toEqual([`GET /api/v1/dags failed: ${err.stack}`]);
  });

  it('does not log expected errors', () => {
    const errors: string[] = [];
    const logger = { error: (m: string) => errors.push(m), log: () => undefined, warn: () => undefined };
    const sent: { status?: number; body?: unknown } = {};
    new ApiExceptionFilter(logger).catch(new NotFoundError('dag_not_found', 'no DAG'), hostFor(sent));
    expect(sent).toEqual({ status: 404, body: { reason: 'dag_not_found', message: 'no DAG' } });
    expect(errors).toEqual([]);
  });
});

describe('an unreachable database', () => {
  const message = (cause: string) => `the database cannot be reached (${cause}): try again shortly; GET /api/v1/health shows each dependency`;
  const withCode = (msg: string, code: string) => Object.assign(new Error(msg), { code });

  it.each([
    ['a refused connection', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'), 'connection refused'],
    ['a refused connection on every address (AggregateError)', Object.assign(new AggregateError([withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], ''), { code: 'ECONNREFUSED' }), 'connection refused'],
    ['only the inner errors coded', new AggregateError([withCode('x', 'ECONNRESET')], ''), 'connection reset'],
    ['a TypeORM error wrapping pg\'s', Object.assign(new Error('query failed'), { driverError: withCode('read ECONNRESET', 'ECONNRESET') }), 'connection reset'],
    ['pg losing its connection', new Error('Connection terminated unexpectedly'), 'connection lost'],
    ['pg\'s connect timeout', new Error('timeout exceeded when trying to connect'), 'connection timed out'],
    ['the server shutting down', withCode('terminating connection due to administrator command', '57P01'), 'the server is shutting down'],
    ['the server starting', withCode('the database system is starting up', '57P03'), 'the server is starting up'],
    ['a SQLSTATE of class 08', withCode('connection failure', '08006'), 'connection failure'],
  ])('%s: 503 unavailable', (_what, err, cause) => {
    expect(toErrorResponse(err)).toEqual({ status: 503, body: { reason: 'unavailable', message: message(cause) } });
  });

  it('leaves other database errors at 500', () => {
    expect(toErrorResponse(withCode('duplicate key value violates unique constraint', '23505')).status).toBe(500);
    expect(toErrorResponse(withCode('syntax error', '42601')).status).toBe(500);
  });
});
