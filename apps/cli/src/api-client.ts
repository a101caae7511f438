import type {
  ApiErrorBody, CacheEntryDto, CancelRunResultDto, ClearResultDto, InvalidateCacheResultDto, KillResultDto, MarkResultDto, DagDetailDto, DagSummaryDto, HealthDto, ImportErrorDto, PoolDto, RunDetailDto, RunDto,
  TaskInstanceDetailDto, TaskLogsDto, VariableDto, VariablesExportDto, VariablesImportRequestDto, VariablesImportResultDto, WorkerDto,
  QueueDto, WorkerCommandResultDto, BackfillDto, DagVersionDto, RunUpgradeDto, TaskArtifactsDto,
  AuditEntryDto, AutoscalerViewDto, CreatedTokenDto, LoginTokenDto, MeDto, TokenDto, UserDto,
} from '@swarmflow/contracts/api.types';

export type * from '@swarmflow/contracts/api.types';

/** The API answered with an error (`{ reason, message, field? }`). */
export class ApiError extends Error {
  override name = 'ApiError';

  constructor(readonly status: number, readonly reason: string, message: string, readonly field?: string) {
    super(message);
  }
}

/** The API could not be reached at all (refused, unknown host, timeout). */
export class ApiConnectionError extends Error {
  override name = 'ApiConnectionError';

  constructor(readonly baseUrl: string, readonly problem: string) {
    super(`cannot reach the Swarmflow API at ${baseUrl} (${problem}). Start it with \`npm start\` or set SWARMFLOW_URL.`);
  }
}

export interface RunFilter {
  dagId?: string;
  state?: string;
  limit?: number;
}

/** The body of `POST /dags/:dag/backfills`. */
export interface BackfillRequest {
  from: string;
  to: string;
  tasks?: string;
  ignoreDependencies?: boolean;
  rerunFailed?: boolean;
  maxActiveRuns?: number;
  dryRun?: boolean;
}

export interface TriggerRequest {
  conf?: Record<string, unknown>;
  runId?: string;
  logicalDate?: string;
  /** Run every task although cached tries exist. */
  force?: boolean;
  /** Run the tasks whose id matches this regular expression although cached tries exist. */
  forceTasks?: string;
}

export interface SetVariableRequest {
  value: string;
  /** Undefined keeps the current flag (a secret stays secret). */
  secret?: boolean;
  /** Undefined keeps the current description. */
  description?: string;
}

export interface SwarmflowClientOptions {
  /** Per-request time limit in ms. Default 30 s. */
  timeoutMs?: number;
  /** Default the global fetch. */
  fetch?: typeof fetch;
  /** An API token, sent as `Authorization: Bearer <token>`; null = none (only /health and login answer). */
  token?: string | null;
}

const CONNECTION_CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'unknown host',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed',
};

const seg = encodeURIComponent;

/**
 * A typed client of the Swarmflow REST API (`/api/v1`) over fetch. Every method throws
 * {@link ApiError} for an error response and {@link ApiConnectionError} when the server
 * cannot be reached.
 */
export class SwarmflowClient {
  readonly baseUrl: string;
  private readonly fetchFn: typeof fetch;
  private readonly timeoutMs: number;
  private readonly token: string | null;

  constructor(baseUrl: string, options: SwarmflowClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.fetchFn = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.token = options.token ?? null;
  }

  health(): Promise<HealthDto> {
    return this.request('GET', '/health');
  }

  listDags(): Promise<DagSummaryDto[]> {
    return this.request('GET', '/dags');
  }

  getDag(dagId: string): Promise<DagDetailDto> {
    return this.request('GET', `/dags/${seg(dagId)}`);
  }

  setPaused(dagId: string, isPaused: boolean): Promise<DagSummaryDto> {
    return this.request('PATCH', `/dags/${seg(dagId)}`, { isPaused });
  }

  trigger(dagId: string, body: TriggerRequest = {}): Promise<RunDto> {
    return this.request('POST', `/dags/${seg(dagId)}/runs`, body);
  }

  /** Newest first; with `dagId`, 404 for an unknown DAG. */
  listRuns(filter: RunFilter = {}): Promise<RunDto[]> {
    const { dagId, ...rest } = filter;
    const query = toQuery(rest);
    return this.request('GET', dagId === undefined ? `/runs${query}` : `/dags/${seg(dagId)}/runs${query}`);
  }

  getRun(dagId: string, runId: string): Promise<RunDetailDto> {
    return this.request('GET', `/dags/${seg(dagId)}/runs/${seg(runId)}`);
  }

  getTaskInstance(dagId: string, runId: string, taskId: string): Promise<TaskInstanceDetailDto> {
    return this.request('GET', `/dags/${seg(dagId)}/runs/${seg(runId)}/tasks/${seg(taskId)}`);
  }

  readLogs(dagId: string, runId: string, taskId: string, options: { tryNumber?: number; cursor?: number } = {}): Promise<TaskLogsDto> {
    const query = toQuery({ try: options.tryNumber, cursor: options.cursor });
    return this.request('GET', `/dags/${seg(dagId)}/runs/${seg(runId)}/tasks/${seg(taskId)}/logs${query}`);
  }

  clearTask(
    dagId: string, runId: string, taskId: string, options: { downstream?: boolean; upstream?: boolean; dryRun?: boolean; latestImages?: boolean } = {},
  ): Promise<ClearResultDto> {
    // `upstream` only when asked: a server older than it refuses the field.
    return this.request('POST', `/dags/${seg(dagId)}/runs/${seg(runId)}/tasks/${seg(taskId)}/clear`, {
      downstream: options.downstream ?? false, ...(options.upstream ? { upstream: true } : {}), ...(options.dryRun ? { dryRun: true } : {}), ...(options.latestImages ? { latestImages: true } : {}),
    });
  }

  markTask(
    dagId: string, runId: string, taskId: string, body: { state: 'success' | 'failed'; downstream?: boolean; upstream?: boolean; dryRun?: boolean },
  ): Promise<MarkResultDto> {
    return this.request('POST', `/dags/${seg(dagId)}/runs/${seg(runId)}/tasks/${seg(taskId)}/mark`, body);
  }

  cancelRun(dagId: string, runId: string): Promise<CancelRunResultDto> {
    return this.request('POST', `/dags/${seg(dagId)}/runs/${seg(runId)}/cancel`);
  }

  createBackfill(dagId: string, body: BackfillRequest): Promise<BackfillDto> {
    return this.request('POST', `/dags/${seg(dagId)}/backfills`, body);
  }

  getBackfill(dagId: string, id: number): Promise<BackfillDto> {
    return this.request('GET', `/dags/${seg(dagId)}/backfills/${id}`);
  }

  pauseBackfill(dagId: string, id: number): Promise<BackfillDto> {
    return this.request('POST', `/dags/${seg(dagId)}/backfills/${id}/pause`);
  }

  listArtifacts(dagId: string, runId: string, taskId: string, tryNumber?: number): Promise<TaskArtifactsDto> {
    return this.request('GET', `/dags/${seg(dagId)}/runs/${seg(runId)}/tasks/${seg(taskId)}/artifacts${toQuery({ try: tryNumber })}`);
  }

  dagVersions(dagId: string): Promise<DagVersionDto[]> {
    return this.request('GET', `/dags/${seg(dagId)}/versions`);
  }

  upgradeRun(dagId: string, runId: string, body: { to?: string; dryRun?: boolean }): Promise<RunUpgradeDto> {
    return this.request('POST', `/dags/${seg(dagId)}/runs/${seg(runId)}/upgrade`, body);
  }

  /** Cache entries, newest first. */
  listCache(filter: { dagId?: string; taskId?: string; key?: string; limit?: number } = {}): Promise<CacheEntryDto[]> {
    return this.request('GET', `/cache${toQuery(filter)}`);
  }

  invalidateCache(body: { dagId?: string; taskId?: string; key?: string; all?: boolean }): Promise<InvalidateCacheResultDto> {
    return this.request('POST', '/cache/invalidate', body);
  }

  killTask(dagId: string, runId: string, taskId: string): Promise<KillResultDto> {
    return this.request('POST', `/dags/${seg(dagId)}/runs/${seg(runId)}/tasks/${seg(taskId)}/kill`);
  }

  importErrors(): Promise<ImportErrorDto[]> {
    return this.request('GET', '/import-errors');
  }

  workers(): Promise<WorkerDto[]> {
    return this.request('GET', '/workers');
  }

  worker(name: string): Promise<WorkerDto> {
    return this.request('GET', `/workers/${seg(name)}`);
  }

  /** Sends drain, shutdown or resume to a worker (the API answers 202 once the command is on the broker). */
  workerCommand(name: string, command: 'drain' | 'shutdown' | 'resume'): Promise<WorkerCommandResultDto> {
    return this.request('POST', `/workers/${seg(name)}/${command}`);
  }

  queues(): Promise<QueueDto[]> {
    return this.request('GET', '/queues');
  }

  pools(): Promise<PoolDto[]> {
    return this.request('GET', '/pools');
  }

  /** Creates or resizes a pool; `created` is false when it resized one. */
  async setPool(name: string, body: { slots: number; description?: string }): Promise<{ pool: PoolDto; created: boolean }> {
    const res = await this.send('PUT', `/pools/${seg(name)}`, body);
    return { pool: res.body as PoolDto, created: res.status === 201 };
  }

  async deletePool(name: string): Promise<void> {
    await this.send('DELETE', `/pools/${seg(name)}`);
  }

  /** Secret values come back masked (`***`): the API never returns them. */
  listVariables(): Promise<VariableDto[]> {
    return this.request('GET', '/variables');
  }

  getVariable(key: string): Promise<VariableDto> {
    return this.request('GET', `/variables/${seg(key)}`);
  }

  /** Creates or replaces a variable; `created` is false when it replaced one. */
  async setVariable(key: string, body: SetVariableRequest): Promise<{ variable: VariableDto; created: boolean }> {
    const res = await this.send('PUT', `/variables/${seg(key)}`, body);
    return { variable: res.body as VariableDto, created: res.status === 201 };
  }

  async deleteVariable(key: string): Promise<void> {
    await this.send('DELETE', `/variables/${seg(key)}`);
  }

  importVariables(body: VariablesImportRequestDto): Promise<VariablesImportResultDto> {
    return this.request('POST', '/variables/import', body);
  }

  exportVariables(): Promise<VariablesExportDto> {
    return this.request('GET', '/variables/export');
  }

  /** Checks a password; `as: "token"` answers a new API token (shown once). */
  login(body: { name: string; password: string; as?: 'cookie' | 'token'; tokenName?: string; expiresIn?: string }): Promise<LoginTokenDto> {
    return this.request('POST', '/auth/login', body);
  }

  /** Revokes the token this client sends. */
  async logout(): Promise<void> {
    await this.send('POST', '/auth/logout');
  }

  me(): Promise<MeDto> {
    return this.request('GET', '/auth/me');
  }

  listUsers(): Promise<UserDto[]> {
    return this.request('GET', '/users');
  }

  createUser(body: { name: string; role: string; password?: string }): Promise<UserDto> {
    return this.request('POST', '/users', body);
  }

  updateUser(name: string, body: { role?: string; disabled?: boolean }): Promise<UserDto> {
    return this.request('PATCH', `/users/${seg(name)}`, body);
  }

  async setPassword(name: string, password: string): Promise<void> {
    await this.send('PUT', `/users/${seg(name)}/password`, { password });
  }

  async deleteUser(name: string): Promise<void> {
    await this.send('DELETE', `/users/${seg(name)}`);
  }

  listTokens(user?: string): Promise<TokenDto[]> {
    return this.request('GET', `/tokens${toQuery({ user })}`);
  }

  createToken(body: { name: string; user?: string; expiresIn?: string }): Promise<CreatedTokenDto> {
    return this.request('POST', '/tokens', body);
  }

  revokeToken(id: number): Promise<TokenDto> {
    return this.request('DELETE', `/tokens/${id}`);
  }

  /** Newest first. */
  audit(query: { since?: string; limit?: number; actor?: string; action?: string } = {}): Promise<AuditEntryDto[]> {
    return this.request('GET', `/audit${toQuery(query)}`);
  }

  /** Each group's latest autoscaler decision and the history, newest first. */
  autoscaler(query: { group?: string; limit?: number } = {}): Promise<AutoscalerViewDto> {
    return this.request('GET', `/autoscaler${toQuery(query)}`);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await this.send(method, path, body)).body as T;
  }

  private async send(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    let res: Response;
    try {
      res = await this.fetchFn(`${this.baseUrl}/api/v1${path}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new ApiConnectionError(this.baseUrl, connectionCause(err, this.timeoutMs));
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const error = parsed as Partial<ApiErrorBody> | undefined;
      if (error && typeof error.message === 'string') {
        throw new ApiError(res.status, error.reason ?? 'unknown', error.message, error.field);
      }
      throw new ApiError(res.status, 'unknown', `${method} ${path} failed with HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`);
    }
    if (parsed === undefined && res.status !== 204) {
      throw new ApiError(res.status, 'invalid_response', `${method} ${path} answered HTTP ${res.status} with a body that is not JSON; is ${this.baseUrl} a Swarmflow API?`);
    }
    return { status: res.status, body: parsed };
  }
}

function toQuery(values: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) if (value !== undefined) params.set(key, String(value));
  const query = params.toString();
  return query ? `?${query}` : '';
}

function connectionCause(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `no answer within ${timeoutMs / 1000}s`;
  let cause: unknown = err;
  // fetch wraps the socket error: TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }), sometimes twice.
  for (let depth = 0; depth < 4 && cause; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') return CONNECTION_CAUSES[code] ?? code;
    cause = (cause as { cause?: unknown }).cause;
  }
  return err instanceof Error ? err.message : String(err);
}
