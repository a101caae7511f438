import type { INestApplication, Type } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { ID_PATTERN, MAX_ID_LENGTH } from '@swarmflow/core';
import { z } from 'zod';
import { EventsQuerySchema, QueueHistoryQuerySchema, TriesQuerySchema } from '@swarmflow/contracts';
import { PUBLIC_ROUTE, REQUIRED_ROLE } from './auth/requires-role.decorator';
import { AutoscalerQuery } from './autoscaler.controller';
import { CreateTokenBody, CreateUserBody, ListAuditQuery, ListTokensQuery, LoginBody, PatchUserBody, SetPasswordBody } from './auth.dto';
import {
  RUN_ID, VARIABLE_KEY, WORKER_NAME, CacheQuery, ClearTaskBody, InvalidateCacheBody, ImportVariablesBody, MarkTaskBody, ListRunsQuery, PatchDagBody, PutPoolBody, PutVariableBody, ReadLogsQuery, TriggerRunBody, GridQuery,
  CreateBackfillBody, UpgradeRunBody, ListArtifactsQuery,
} from './request.dto';

/** Where the generated document is served (a public route: the API's shape is no secret). */
export const OPENAPI_JSON_PATH = '/api/v1/openapi.json';
/** The interactive page (Swagger UI, served from the bundled swagger-ui-dist: no CDN). */
export const API_DOCS_PATH = '/api/docs';
/** The browser session cookie, as the document names it for the cookie auth scheme. */
export const SESSION_COOKIE = 'swarmflow_session';

type Method = 'get' | 'put' | 'post' | 'patch' | 'delete';

interface RouteDoc {
  summary: string;
  /** The zod schema the route validates its body with: the document's request body is derived from it. */
  body?: z.ZodType;
  /** The zod object the route validates its query with: one query parameter per field. */
  query?: z.ZodObject;
  /** The error reasons the route may answer besides 400 (by status), e.g. { 404: 'dag_not_found' }. */
  errors?: Record<number, string>;
  /** Needs no caller (also when the route is marked {@link Public}). */
  public?: boolean;
}

const NOT_FOUND_RUN = 'dag_not_found, run_not_found';
const NOT_FOUND_TASK = 'dag_not_found, run_not_found, task_not_found';

/**
 * What the document says about each route beyond what Nest knows: a summary, the body and
 * query schemas (from the zod schemas the routes validate with, not a second copy), the
 * errors. Keyed `METHOD /path` as the document writes paths. A route missing here is still
 * in the document (Nest lists every route), without a summary: a test refuses that.
 */
const ROUTES: Record<string, RouteDoc> = {
  'GET /api/v1/health': { summary: 'Liveness: answers {"status": "ok"}', public: true },
  'GET /api/v1/import-errors': { summary: 'DAG files that failed to import, with the error' },
  'GET /api/v1/workers': { summary: 'Workers as their last heartbeats describe them' },
  'GET /api/v1/workers/{name}': {
    summary: 'One worker: state, version, slots, GPUs, tries processed and failed, uptime, heartbeat age', errors: { 404: 'worker_not_found' },
  },
  'POST /api/v1/workers/{name}/drain': {
    summary: 'Stop taking tasks and finish the running ones; the worker stays up (202: the command is sent)',
    errors: { 404: 'worker_not_found', 409: 'worker_state', 503: 'no_broker' },
  },
  'POST /api/v1/workers/{name}/shutdown': {
    summary: 'Drain, then exit once the running tasks are reported (202: the command is sent)',
    errors: { 404: 'worker_not_found', 409: 'worker_state', 503: 'no_broker' },
  },
  'POST /api/v1/workers/{name}/resume': {
    summary: 'Take tasks again after a drain (202: the command is sent)',
    errors: { 404: 'worker_not_found', 409: 'worker_state', 503: 'no_broker' },
  },
  'GET /api/v1/queues': {
    summary: 'Task queue topics: messages ready and unacked, consumers, and the workers serving each', errors: { 503: 'no_broker' },
  },
  'GET /api/v1/autoscaler': { summary: 'Each instance group\'s latest autoscaler decision and the decision history, with their inputs', query: AutoscalerQuery },
  'GET /api/v1/pools': { summary: 'Pools and their slots' },
  'PUT /api/v1/pools/{name}': { summary: 'Create (201) or resize (200) a pool', body: PutPoolBody },
  'DELETE /api/v1/pools/{name}': { summary: 'Delete a pool (not default_pool)', errors: { 404: 'pool_not_found', 409: 'default_pool' } },
  'GET /api/v1/dags': { summary: 'DAGs with their next run, their last run and their last 5 runs (recentRuns, newest first)' },
  'GET /api/v1/dags/{dagId}': { summary: 'One DAG with its tasks', errors: { 404: 'dag_not_found' } },
  'PATCH /api/v1/dags/{dagId}': { summary: 'Pause or unpause a DAG', body: PatchDagBody, errors: { 404: 'dag_not_found' } },
  'POST /api/v1/dags/{dagId}/runs': {
    summary: 'Trigger a run (conf checked against the DAG\'s params; force / forceTasks: run tasks although cached tries exist)', body: TriggerRunBody,
    errors: { 404: 'dag_not_found', 409: 'duplicate_run, duplicate_logical_date, dag_inactive' },
  },
  'GET /api/v1/dags/{dagId}/runs': { summary: 'Runs of one DAG, newest first', query: ListRunsQuery.omit({ dagId: true }), errors: { 404: 'dag_not_found' } },
  'GET /api/v1/dags/{dagId}/runs/{runId}': {
    summary: 'One run with its task instances (their outputs, the try a cached one came from) and its version set (image digests)', errors: { 404: NOT_FOUND_RUN },
  },
  'GET /api/v1/dags/{dagId}/runs/{runId}/tasks/{taskId}': {
    summary: 'One task instance with its state history (each step with the worker, hostname, pid and exit code of its try as the step left them), its tries\' results (outputs, image digest, cache key, container id, GPU devices, runtime) and the containers of its container tries, readable while they run', errors: { 404: NOT_FOUND_TASK },
  },
  'GET /api/v1/dags/{dagId}/runs/{runId}/tasks/{taskId}/logs': {
    summary: 'A task try\'s log lines from a cursor (poll with the returned cursor to follow); a try whose rows were pruned (SWARMFLOW_LOG_RETENTION) is read whole from its archive (archivedUrl), with any batch stored after the prune merged in', query: ReadLogsQuery,
    errors: { 404: `${NOT_FOUND_TASK}, try_not_found` },
  },
  'GET /api/v1/dags/{dagId}/runs/{runId}/tasks/{taskId}/logs/stream': {
    summary: 'A task try\'s log as server-sent events: `lines` as they are written, then `end` (the web UI\'s live log)', query: ReadLogsQuery,
    errors: { 404: `${NOT_FOUND_TASK}, try_not_found` },
  },
  'GET /api/v1/dags/{dagId}/versions/{versionHash}': {
    summary: 'The DAG as of one version (the tasks and params a run pinned to it runs with)', errors: { 404: 'dag_not_found, version_not_found' },
  },
  'GET /api/v1/dags/{dagId}/grid': { summary: 'The newest runs with their task instances (the web UI\'s grid)', query: GridQuery, errors: { 404: 'dag_not_found' } },
  'POST /api/v1/dags/{dagId}/runs/{runId}/tasks/{taskId}/clear': {
    summary: 'Run a task (with downstream / upstream, also its downstream / upstream tasks: all in one transaction) again, never from the cache; dryRun lists the instances it would reset, with their states; latestImages: take the images\' newest digests', body: ClearTaskBody,
    errors: { 404: NOT_FOUND_TASK, 409: 'task_busy, concurrent_change' },
  },
  'POST /api/v1/dags/{dagId}/runs/{runId}/tasks/{taskId}/mark': {
    summary: 'Mark a task instance (with downstream and/or upstream) success or failed; a try a worker holds is stopped; dryRun lists the changes',
    body: MarkTaskBody, errors: { 404: NOT_FOUND_TASK, 409: 'task_not_markable, concurrent_change', 503: 'no_broker' },
  },
  'POST /api/v1/dags/{dagId}/runs/{runId}/cancel': {
    summary: 'Cancel a run: running tries end failed (stopped), unstarted ones skipped, the run ends failed (reason: cancelled by <user>)',
    errors: { 404: NOT_FOUND_RUN, 409: 'run_ended, concurrent_change', 503: 'no_broker' },
  },
  'POST /api/v1/dags/{dagId}/runs/{runId}/tasks/{taskId}/kill': {
    summary: 'Stop a try wherever it is; it ends failed, not retried (202: a running try\'s worker acts on it)',
    errors: { 404: NOT_FOUND_TASK, 409: 'task_not_running, concurrent_change', 503: 'no_broker' },
  },
  'POST /api/v1/dags/{dagId}/backfills': {
    summary: 'Backfill a date range: one run per schedule interval, created or reused, running the selected tasks (201; 200 for a dry run or a resumed backfill)',
    body: CreateBackfillBody, errors: { 400: 'invalid_backfill', 404: 'dag_not_found', 409: 'backfill_running, dag_inactive, duplicate_logical_date' },
  },
  'GET /api/v1/dags/{dagId}/backfills': { summary: 'Backfills of one DAG, newest first, with their progress', errors: { 404: 'dag_not_found' } },
  'GET /api/v1/dags/{dagId}/backfills/{backfillId}': { summary: 'One backfill: its dates, runs and their states', errors: { 404: 'dag_not_found, backfill_not_found' } },
  'POST /api/v1/dags/{dagId}/backfills/{backfillId}/pause': {
    summary: 'Interrupt a backfill: its queued runs wait, running ones go on; creating it again resumes it', errors: { 404: 'dag_not_found, backfill_not_found' },
  },
  'GET /api/v1/dags/{dagId}/runs/{runId}/tasks/{taskId}/artifacts': {
    summary: 'What a task try stored under its artefacts prefix (SWARMFLOW_ARTIFACTS_URL): name, size, time, URL; a cached task: its source try\'s (cachedFrom)', query: ListArtifactsQuery,
    errors: { 404: `${NOT_FOUND_TASK}, try_not_found`, 409: 'no_artifacts_store' },
  },
  'GET /api/v1/dags/{dagId}/versions': { summary: 'Versions of a DAG: hash, first seen, file, task count', errors: { 404: 'dag_not_found' } },
  'POST /api/v1/dags/{dagId}/runs/{runId}/upgrade': {
    summary: 'Move a run to another version of its DAG (default the latest): new tasks run, removed ones end removed, ended ones keep their state',
    body: UpgradeRunBody, errors: { 404: `${NOT_FOUND_RUN}, version_not_found`, 409: 'task_busy, version_ambiguous, concurrent_change' },
  },
  'GET /api/v1/runs': { summary: 'Runs across DAGs, newest first', query: ListRunsQuery },
  'GET /api/v1/cache': { summary: 'Cache entries (successful tries of cacheable tasks), newest first', query: CacheQuery },
  'POST /api/v1/cache/invalidate': {
    summary: 'End the matching cache entries (by DAG, task or key; {"all": true} for every one): their tasks run again next time', body: InvalidateCacheBody,
  },
  'GET /api/v1/variables': { summary: 'Variables (secret values are never returned)' },
  'GET /api/v1/variables/export': { summary: 'Every variable, for `variables import` (secrets left out, by key)' },
  'POST /api/v1/variables/import': { summary: 'Create or replace many variables at once', body: ImportVariablesBody, errors: { 400: 'invalid_request, no_cluster_key' } },
  'GET /api/v1/variables/{key}': { summary: 'One variable (a secret\'s value is masked)', errors: { 404: 'variable_not_found' } },
  'PUT /api/v1/variables/{key}': { summary: 'Create (201) or replace (200) a variable', body: PutVariableBody, errors: { 400: 'invalid_request, no_cluster_key' } },
  'DELETE /api/v1/variables/{key}': { summary: 'Delete a variable', errors: { 404: 'variable_not_found' } },
  'POST /api/v1/auth/login': {
    summary: 'Log in with a password: starts a session (HttpOnly cookie) and answers its CSRF token', body: LoginBody, public: true,
    errors: { 401: 'unauthenticated (wrong name or password)', 429: 'too_many_attempts' },
  },
  'POST /api/v1/auth/logout': { summary: 'End the calling session, or revoke the calling token' },
  'GET /api/v1/auth/me': { summary: 'The caller: user, role, how it authenticated, and a session\'s CSRF token' },
  'GET /api/v1/users': { summary: 'Users and their roles' },
  'GET /api/v1/users/{name}': { summary: 'One user', errors: { 404: 'user_not_found' } },
  'POST /api/v1/users': { summary: 'Create a user (a password, or none for a robot that only holds tokens)', body: CreateUserBody, errors: { 409: 'user_exists' } },
  'PATCH /api/v1/users/{name}': { summary: 'Change a user\'s role, or disable/enable it', body: PatchUserBody, errors: { 404: 'user_not_found', 409: 'last_admin' } },
  'PUT /api/v1/users/{name}/password': { summary: 'Set a user\'s password (ends their sessions)', body: SetPasswordBody, errors: { 404: 'user_not_found' } },
  'DELETE /api/v1/users/{name}': { summary: 'Delete a user with their tokens and sessions', errors: { 404: 'user_not_found', 409: 'last_admin' } },
  'GET /api/v1/tokens': { summary: 'API tokens (never their secrets): prefix, expiry, last use; an admin sees all (or one user\'s), anyone else their own', query: ListTokensQuery },
  'POST /api/v1/tokens': { summary: 'Create an API token; the answer holds it, once', body: CreateTokenBody, errors: { 404: 'user_not_found' } },
  'DELETE /api/v1/tokens/{id}': { summary: 'Revoke a token at once (an admin: any token; anyone else: their own)', errors: { 404: 'token_not_found' } },
  'GET /api/v1/events': {
    summary: 'Live feed (text/event-stream): ti, run and worker events within a second of a change; resumes from Last-Event-ID, else sends resync',
    query: EventsQuerySchema,
  },
  'GET /api/v1/tries': { summary: 'Every try across DAGs, one row per try (earlier tries with their own state, worker, exit code and times), newest first, filtered per try by state, queue, worker, DAG and time, paged', query: TriesQuerySchema },
  'GET /api/v1/queues/history': { summary: 'Queue topics\' depths sampled every 15 s (kept a day), oldest first', query: QueueHistoryQuerySchema },
  'GET /api/v1/audit': { summary: 'The audit log, newest first: who, how, what, outcome, from where', query: ListAuditQuery },
};

/** What each path parameter may hold (checked by PathParamsPipe and the name/key pipes). */
const PATH_PARAMS: Record<string, Record<string, unknown>> = {
  dagId: { type: 'string', pattern: ID_PATTERN.source, maxLength: MAX_ID_LENGTH },
  taskId: { type: 'string', pattern: ID_PATTERN.source, maxLength: MAX_ID_LENGTH },
  runId: { type: 'string', pattern: RUN_ID.source, maxLength: 250 },
  key: { type: 'string', pattern: VARIABLE_KEY.source },
  name: { type: 'string', pattern: WORKER_NAME.source },
  id: { type: 'integer', minimum: 1 },
  backfillId: { type: 'integer', minimum: 1 },
};

/** Statuses every route may answer, with what they mean here. */
const COMMON_ERRORS: Record<number, string> = {
  400: 'invalid_request (names the field or path parameter), invalid_json',
  401: 'no valid caller: a bearer token or a session cookie is needed',
  403: 'the caller lacks the role the route needs, or the request came from another site\'s page (foreign_origin)',
  413: 'body_too_large: the request body is over 1 MiB',
  415: 'unsupported_media_type: the body is not JSON',
  421: 'unknown_host: the Host is not a name this server answers to (SWARMFLOW_PUBLIC_URL)',
};

/** JSON schema (OpenAPI 3.0 dialect) of the input a zod schema accepts. */
export function openApiSchemaOf(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, { io: 'input', target: 'openapi-3.0', unrepresentable: 'any' }) as Record<string, unknown>;
}

/**
 * Builds the OpenAPI document from the controllers (Nest's route metadata) and the zod
 * request schemas, with the auth schemes (bearer token, session cookie) and each route's
 * least role (`x-required-role`, from {@link RequiresRole}).
 */
export function buildOpenApiDocument(app: INestApplication, controllers: Type[]): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Swarmflow REST API')
    .setDescription('DAG workflows run by workers on RabbitMQ queues. Errors are `{ reason, message, field? }`.')
    .setVersion('v1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An API token (`swarmflow tokens create`), sent as `Authorization: Bearer <token>`' }, 'bearer')
    .addCookieAuth(SESSION_COOKIE, { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'The browser session after a login' }, 'session')
    .addSecurityRequirements('bearer')
    .addSecurityRequirements('session')
    .build();
  const document = SwaggerModule.createDocument(app, config);
  document.components = { ...document.components, schemas: { ...document.components?.schemas, ApiError: API_ERROR_SCHEMA } };
  const handlers = handlerMetadata(controllers);
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of ['get', 'put', 'post', 'patch', 'delete'] as Method[]) {
      const operation = item[method];
      if (!operation) continue;
      const route = ROUTES[`${method.toUpperCase()} ${path}`];
      const meta = operation.operationId ? handlers.get(operation.operationId) : undefined;
      const isPublic = meta?.isPublic === true || route?.public === true;
      if (isPublic) operation.security = [];
      else (operation as unknown as Record<string, unknown>)['x-required-role'] = meta?.role ?? (method === 'get' ? 'viewer' : 'admin');
      if (route) {
        operation.summary = route.summary;
        if (route.body) {
          operation.requestBody = { required: false, content: { 'application/json': { schema: openApiSchemaOf(route.body) } } };
        }
        if (route.query) {
          const schema = openApiSchemaOf(route.query) as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
          operation.parameters = [...Object.entries(schema.properties ?? {}).map(([name, s]) => ({
            name, in: 'query' as const, required: schema.required?.includes(name) === true && s.default === undefined, schema: s,
          }))];
        }
      }
      // Nest knows path parameters' types only from emitted decorator metadata, which tsx lacks: named here from the path.
      const queryParams = (operation.parameters ?? []).filter((p) => !('in' in p) || p.in !== 'path');
      operation.parameters = [
        ...[...path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
          name, in: 'path' as const, required: true, schema: PATH_PARAMS[name] ?? { type: 'string' },
        })),
        ...queryParams,
      ];
      for (const response of Object.values(operation.responses)) {
        if (response && 'description' in response && response.description === '') response.description = 'success';
      }
      const errors: Record<number, string> = { ...COMMON_ERRORS, ...route?.errors };
      if (isPublic) {
        delete errors[401];
        delete errors[403];
      }
      for (const [status, reasons] of Object.entries(errors)) {
        operation.responses[status] = {
          description: reasons,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiError' } } },
        };
      }
    }
  }
  return document;
}

/** Serves the document at {@link OPENAPI_JSON_PATH} and Swagger UI at {@link API_DOCS_PATH}. */
export function serveOpenApi(app: INestApplication, document: OpenAPIObject): void {
  SwaggerModule.setup(API_DOCS_PATH, app, document, {
    jsonDocumentUrl: OPENAPI_JSON_PATH,
    yamlDocumentUrl: '/api/v1/openapi.yaml',
    customSiteTitle: 'Swarmflow API',
    swaggerOptions: { persistAuthorization: false },
  });
}

const API_ERROR_SCHEMA = {
  type: 'object',
  required: ['reason', 'message'],
  properties: {
    reason: { type: 'string', description: 'A stable machine-readable code, e.g. dag_not_found' },
    message: { type: 'string', description: 'What was wrong, where, and the fix' },
    field: { type: 'string', description: 'The request field or path parameter at fault, when there is one' },
    problem: { type: 'string', description: 'invalid_conf, duplicate_logical_date: what was wrong, without the fix (and without the field\'s name), for a client that words its own message' },
    hint: { type: 'string', description: 'With problem: the fix, without an example body or CLI command' },
  },
};

/** `<Controller>_<method>` (Nest's default operationId) → the route's role and public flag. */
function handlerMetadata(controllers: Type[]): Map<string, { role?: string; isPublic: boolean }> {
  const map = new Map<string, { role?: string; isPublic: boolean }>();
  for (const controller of controllers) {
    for (const key of Object.getOwnPropertyNames(controller.prototype)) {
      const handler = (controller.prototype as Record<string, unknown>)[key];
      if (key === 'constructor' || typeof handler !== 'function') continue;
      const role = Reflect.getMetadata(REQUIRED_ROLE, handler) ?? Reflect.getMetadata(REQUIRED_ROLE, controller);
      const isPublic = Reflect.getMetadata(PUBLIC_ROUTE, handler) === true || Reflect.getMetadata(PUBLIC_ROUTE, controller) === true;
      map.set(`${controller.name}_${key}`, { role, isPublic });
    }
  }
  return map;
}
