import type { PipeTransform } from '@nestjs/common';
import { checkTaskPattern } from '@swarmflow/core';
import { z } from 'zod';
import { RequestValidationError } from './zod-validation.pipe';

const RUN_STATES = ['queued', 'running', 'success', 'failed'] as const;

/** Run ids travel in URL paths: no slashes, spaces or `?`. */
export const RUN_ID = /^[A-Za-z0-9_.:+-]+$/;

/** A JavaScript regular expression's source (`--force-task`), checked to compile and to be safe to run (checkTaskPattern). */
const regex = z.string().superRefine((source, ctx) => {
  try {
    checkTaskPattern('--force-task', source);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

export const TriggerRunBody = z.object({
  /** Checked against the DAG's params by the core (`resolveParams`), which names the bad field. */
  conf: z.unknown().optional(),
  runId: z.string().min(1).max(250)
    .regex(RUN_ID, 'may hold letters, digits and _ . : + - only')
    // As Airflow: the scheduler names its cron runs so, and a manual run holding one such id
    // would make the schedule skip that time.
    .refine((id) => !id.startsWith('scheduled__'), 'may not start with "scheduled__", which names the runs the schedule creates: pick another id, or leave it out for manual__<logical date>')
    .optional(),
  /**
   * An ISO 8601 timestamp with its offset, or a date (`2024-06-01`: midnight UTC, as a DAG's
   * start_date). The service refuses one later than now, or one that has a run of the DAG.
   */
  logicalDate: z.union([z.iso.datetime({ offset: true }), z.iso.date()], {
    error: 'must be an ISO 8601 date or a timestamp with its offset, e.g. 2024-06-01, 2024-06-01T00:00:00Z or 2024-06-01T02:00:00+02:00',
  }).transform((text) => (text.length === 10 ? `${text}T00:00:00.000Z` : text)).optional(),
  /** Run every task although cached tries exist. */
  force: z.boolean().optional(),
  /** Run the tasks whose id matches this regular expression although cached tries exist. */
  forceTasks: regex.optional(),
}).strict();
export type TriggerRunBody = z.infer<typeof TriggerRunBody>;

/** `force` or a `forceTasks` regex: what the cache may not skip in the new run. */
export const cacheForceOf = (body: Pick<TriggerRunBody, 'force' | 'forceTasks'>): string | null => (body.force ? '.*' : body.forceTasks ?? null);

const PAUSE_FIX = 'send {"isPaused": true} to pause the DAG or {"isPaused": false} to unpause it';

export const PatchDagBody = z.object({
  isPaused: z.boolean({
    error: (issue) => (issue.input === undefined ? `is required: ${PAUSE_FIX}` : `must be true or false (got ${JSON.stringify(issue.input)}): ${PAUSE_FIX}`),
  }),
}).strict();
export type PatchDagBody = z.infer<typeof PatchDagBody>;

export const MarkTaskBody = z.object({
  state: z.enum(['success', 'failed']),
  downstream: z.boolean().optional(),
  upstream: z.boolean().optional(),
  dryRun: z.boolean().optional(),
}).strict();
export type MarkTaskBody = z.infer<typeof MarkTaskBody>;

const limit = z.coerce.number().int().min(1).max(1000).default(100);

export const ClearTaskBody = z.object({
  /** Clear every task downstream of it too. */
  downstream: z.boolean().optional(),
  /** Clear every task it depends on too (in the same transaction as the rest). */
  upstream: z.boolean().optional(),
  /** Answer what would be reset, writing nothing. */
  dryRun: z.boolean().optional(),
  /** Let the run's container tries take the images' latest digests instead of the ones it recorded. */
  latestImages: z.boolean().optional(),
}).strict();
export type ClearTaskBody = z.infer<typeof ClearTaskBody>;

export const CacheQuery = z.object({
  dagId: z.string().min(1).optional(),
  taskId: z.string().min(1).optional(),
  key: z.string().regex(/^[0-9a-f]{64}$/, 'must be a cache key: 64 hex digits').optional(),
  limit,
});
export type CacheQuery = z.infer<typeof CacheQuery>;

export const InvalidateCacheBody = z.object({
  dagId: z.string().min(1).optional(),
  taskId: z.string().min(1).optional(),
  key: z.string().regex(/^[0-9a-f]{64}$/, 'must be a cache key: 64 hex digits').optional(),
  /** Required to invalidate every entry: a body with no filter is refused otherwise. */
  all: z.boolean().optional(),
}).strict().refine((b) => b.all === true || b.dagId !== undefined || b.taskId !== undefined || b.key !== undefined, {
  message: 'name what to invalidate: dagId, taskId or key, or send {"all": true} to invalidate every cache entry',
});
export type InvalidateCacheBody = z.infer<typeof InvalidateCacheBody>;


export const ListRunsQuery = z.object({
  dagId: z.string().min(1).optional(),
  state: z.enum(RUN_STATES).optional(),
  /** Runs whose run id, DAG id or run type contains it (case-insensitive), over all runs, not only the newest `limit`. */
  q: z.string().min(1).max(250).optional(),
  limit,
});
export type ListRunsQuery = z.infer<typeof ListRunsQuery>;

/** `GET /dags/:dagId/grid`: how many of the newest runs. */
export const GridQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(25) }).strict();
export type GridQuery = z.infer<typeof GridQuery>;

export const ReadLogsQuery = z.object({
  try: z.coerce.number().int().min(1).optional(),
  cursor: z.coerce.number().int().min(0).default(0),
});
export type ReadLogsQuery = z.infer<typeof ReadLogsQuery>;

// --- variables ---

/** Variable keys travel in URL paths and file names (`/secrets/variables/<key>`). */
export const VARIABLE_KEY = /^[A-Za-z0-9_.-]{1,250}$/;

/** `GET /variables/export` is a route of its own: a variable by that name could never be read. */
const RESERVED_VARIABLE_KEYS = new Set(['export']);

/**
 * Why `key` cannot name a variable, or null when it can. Keys of dots only are refused too:
 * HTTP clients resolve `.` and `..` as path segments, so they could not be addressed.
 */
export function variableKeyProblem(key: string): string | null {
  if (!VARIABLE_KEY.test(key)) {
    return `must be 1 to 250 letters, digits, "_", "." or "-" (got ${JSON.stringify(key.length > 260 ? `${key.slice(0, 250)}…` : key)})`;
  }
  if (/^\.+$/.test(key)) return `cannot be made of dots only (got ${JSON.stringify(key)})`;
  if (RESERVED_VARIABLE_KEYS.has(key)) return `"${key}" is reserved by the API (GET /variables/export): choose another key`;
  return null;
}

/** Validates the `:key` path parameter. */
export class VariableKeyPipe implements PipeTransform<string, string> {
  transform(key: string): string {
    const problem = variableKeyProblem(key);
    if (problem) throw new RequestValidationError('key', problem);
    return key;
  }
}

const valueSchema = z.string({
  error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string (store numbers and JSON as text)'),
});

export const PutVariableBody = z.object({
  value: valueSchema,
  /** Absent: keep the variable's current flag (a secret stays secret), false for a new one. */
  secret: z.boolean().optional(),
  /** Absent: keep the current description, '' for a new variable. */
  description: z.string().max(10_000).optional(),
}).strict();
export type PutVariableBody = z.infer<typeof PutVariableBody>;

export const ImportVariablesBody = z.object({
  /** key → value, or key → { value, secret?, description? }; each entry is checked by {@link importEntries}. */
  variables: z.record(z.string(), z.unknown(), {
    error: (issue) => `${issue.input === undefined ? 'is required: ' : 'must be '}an object of key → value or key → { value, secret?, description? }`,
  }),
  secrets_omitted: z.array(z.string()).optional(),
}).strict();
export type ImportVariablesBody = z.infer<typeof ImportVariablesBody>;

/** One variable to write: `secret` and `description` undefined = keep the current ones. */
export interface VariableInput {
  key: string;
  value: string;
  secret?: boolean;
  description?: string;
}

const ImportEntry = z.union([
  z.string(),
  z.object({ value: z.string(), secret: z.boolean().optional(), description: z.string().max(10_000).optional() }).strict(),
]);

/** The entries of an import body, each key and entry checked; the first bad one is named as `variables.<key>`. */
export function importEntries(body: ImportVariablesBody): VariableInput[] {
  return Object.entries(body.variables).map(([key, entry]) => {
    const field = `variables.${key}`;
    const problem = variableKeyProblem(key);
    if (problem) throw new RequestValidationError(field, `the key ${problem}`);
    const parsed = ImportEntry.safeParse(entry);
    if (!parsed.success) {
      throw new RequestValidationError(field, 'must be a string or an object { "value": string, "secret"?: boolean, "description"?: string }');
    }
    return typeof parsed.data === 'string' ? { key, value: parsed.data } : { key, ...parsed.data };
  });
}

// --- pools ---

/** Pool names travel in URL paths and DAG files (`pool: gpu_pool`). */
export class PoolNamePipe implements PipeTransform<string, string> {
  transform(name: string): string {
    if (!/^[A-Za-z0-9_.-]{1,250}$/.test(name)) {
      throw new RequestValidationError('name', `pool name "${name}" must be 1 to 250 letters, digits, "_", "." or "-"`);
    }
    return name;
  }
}

// --- workers ---

/** Worker names are routing-key words (`worker.<name>`): the worker refuses any other at boot. */
export const WORKER_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,249}$/;

/** Validates the `:name` path parameter of the worker routes. */
export class WorkerNamePipe implements PipeTransform<string, string> {
  transform(name: string): string {
    if (!WORKER_NAME.test(name)) {
      throw new RequestValidationError('name', `worker name ${JSON.stringify(name.length > 260 ? `${name.slice(0, 250)}…` : name)} must be 1 to 250 letters, digits, "_", "." or "-", not starting with "."`);
    }
    return name;
  }
}

export const PutPoolBody = z.object({
  slots: z.number({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a whole number of slots') })
    .int('must be a whole number of slots').min(0, 'must be 0 or more (0 holds every task of the pool)').max(1_000_000, 'must be at most 1,000,000'),
  /** Absent: keep the current description, '' for a new pool. */
  description: z.string().max(10_000).optional(),
}).strict();
export type PutPoolBody = z.infer<typeof PutPoolBody>;

// --- backfills and run upgrades ---

const DATE_OR_TIMESTAMP = z.union([z.iso.datetime({ offset: true }), z.iso.date()], {
  error: 'must be an ISO 8601 date or a timestamp with its offset, e.g. 2024-06-01 or 2024-06-01T00:00:00Z',
}).transform((text) => (text.length === 10 ? `${text}T00:00:00.000Z` : text));

export const CreateBackfillBody = z.object({
  /** First logical date (inclusive): a date is midnight UTC. */
  from: DATE_OR_TIMESTAMP,
  /** Last logical date (inclusive). */
  to: DATE_OR_TIMESTAMP,
  /** Regular expression of the task ids to run (with what they need upstream, unless ignoreDependencies). */
  tasks: z.string().min(1).max(1000).optional(),
  ignoreDependencies: z.boolean().optional(),
  rerunFailed: z.boolean().optional(),
  maxActiveRuns: z.number().int().min(1).max(1000).optional(),
  /** Answer the plan, store nothing. */
  dryRun: z.boolean().optional(),
}).strict();
export type CreateBackfillBody = z.infer<typeof CreateBackfillBody>;

export const UpgradeRunBody = z.object({
  /** The version to move to: a hash or a unique prefix of at least 6 characters; default the DAG's latest. */
  to: z.string().regex(/^[0-9a-f]{1,64}$/, 'must be a version hash (hex), or a prefix of one').optional(),
  dryRun: z.boolean().optional(),
}).strict();
export type UpgradeRunBody = z.infer<typeof UpgradeRunBody>;

/** A backfill's id in a path. */
export class BackfillIdPipe implements PipeTransform<string, number> {
  transform(value: string): number {
    const id = /^[1-9][0-9]{0,15}$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(id)) throw new RequestValidationError('backfillId', `${JSON.stringify(value)} is not a backfill id: it must be a positive integer`);
    return id;
  }
}

export const ListArtifactsQuery = z.object({ try: z.coerce.number().int().min(1).optional() });
export type ListArtifactsQuery = z.infer<typeof ListArtifactsQuery>;
