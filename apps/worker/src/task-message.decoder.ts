import type { ControlMessage, DockerSpec, SignedTaskMessage, TaskMessage } from '@swarmflow/core';
import type { TaskSigner } from '@swarmflow/secrets';
import { z } from 'zod';
import { fastProcessTask, isSignedEnvelope } from './task-message.fast';

/** A broker message that does not have the expected shape; it is dropped (dead-lettered), never retried. */
export class InvalidMessageError extends Error {
  override name = 'InvalidMessageError';

  constructor(
    readonly kind: 'task' | 'control',
    /** Dotted path of the first bad field ('' for the whole body). */
    readonly field: string,
    readonly problem: string,
  ) {
    super(`invalid ${kind} message: ${field === '' ? 'body' : field}: ${problem}`);
  }
}

const dockerSpecSchema = z.object({
  image: z.string().min(1),
  pullPolicy: z.enum(['if-not-present', 'always', 'never']),
  entrypoint: z.array(z.string()).nullable(),
  user: z.string().min(1).nullable(),
  volumes: z.array(z.object({ source: z.string().min(1), target: z.string().startsWith('/'), readOnly: z.boolean() })),
  network: z.string(),
  labels: z.record(z.string(), z.string()),
  registryCredentials: z.string().nullable(),
  cpus: z.number().positive().nullable(),
  memoryBytes: z.number().int().positive().nullable(),
  gpus: z.number().int().min(0),
  gpuMode: z.enum(['device-request', 'runtime']),
  runtime: z.string().min(1).nullable(),
  autoRemove: z.boolean(),
  secretsPath: z.string().startsWith('/'),
}) satisfies z.ZodType<DockerSpec>;

/** The reference for task messages (task-message.fast.ts decides the common ones alike, faster). */
export const taskMessageSchema = z.object({
  tiId: z.number().int(),
  runPk: z.number().int().positive().optional(),
  dagId: z.string().min(1),
  runId: z.string().min(1),
  taskId: z.string().min(1),
  tryNumber: z.number().int().min(1),
  queue: z.string(),
  // [] is a container's image command; a process task needs one (checked below).
  command: z.union([z.string().min(1), z.array(z.string())]),
  env: z.record(z.string(), z.string()),
  cwd: z.string().min(1).nullable(),
  timeoutMs: z.number().int().positive().nullable(),
  skipExitCode: z.number().int().min(0).max(255).nullable(),
  priority: z.number(),
  kind: z.enum(['process', 'docker']).optional(),
  docker: dockerSpecSchema.nullable().optional(),
  // Secret keys become file names under secretsPath: no path separators, not "." or "..".
  secrets: z.array(z.object({ key: z.string().regex(/^(?!\.+$)[A-Za-z0-9_.-]{1,250}$/), ciphertext: z.string().min(1) })).optional(),
  registryAuth: z.string().min(1).optional(),
  artifacts: z.object({
    url: z.string().regex(/^(s3|file):\/\//), runUrl: z.string().regex(/^(s3|file):\/\//), s3: z.string().min(1).optional(),
    cached: z.record(z.string().min(1), z.string().regex(/^(s3|file):\/\//)).optional(),
  }).optional(),
  cacheKey: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  imageRef: z.string().min(1).max(1000).optional(),
  cacheCheck: z.object({ tiId: z.number().int().positive(), tryNumber: z.number().int().min(1), digest: z.string().min(1).max(1000) }).optional(),
}).superRefine((task, ctx) => {
  if (task.kind === 'docker' && !task.docker) ctx.addIssue({ code: 'custom', path: ['docker'], message: 'a docker task needs its container settings' });
  if (task.kind !== 'docker' && Array.isArray(task.command) && task.command.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['command'], message: 'a process task needs a command' });
  }
}) satisfies z.ZodType<TaskMessage>;

const controlMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('task.cancel'), tiId: z.number().int(), tryNumber: z.number().int().min(1) }),
  z.object({ type: z.enum(['worker.drain', 'worker.shutdown', 'worker.resume']), worker: z.string().min(1) }),
]) satisfies z.ZodType<ControlMessage>;

/**
 * Why a worker refused a task message without running it:
 * - `unsigned`: not a signed envelope (a bare task message: forged, or from an older scheduler);
 * - `bad_signature`: the signature does not match (forged or altered, or signed under another cluster key);
 * - `stale`: authentic, but issued longer ago than the worker's max age (or too far in the future);
 * - `malformed`: signed, but not a valid task message;
 * - `no_key`: this worker has no cluster key to verify with;
 * - `secret_not_bound`: a sealed value that does not open for this try (copied from the database, a label or another message).
 */
export type TaskRefusalReason = 'unsigned' | 'bad_signature' | 'stale' | 'malformed' | 'no_key' | 'secret_not_bound';

/** A task message the worker will not run; the message never contains secret material. */
export class TaskMessageRefusedError extends Error {
  override name = 'TaskMessageRefusedError';

  constructor(
    readonly reason: TaskRefusalReason,
    message: string,
    /** The try the envelope claims (unverified unless `reason` is `stale`), for the log. */
    readonly claims: { tiId: number; tryNumber: number } | null = null,
    /** Set for `stale` only: the verified message, so the worker can report the try instead of losing it. */
    readonly task: TaskMessage | null = null,
  ) {
    super(message);
  }
}

/** A scheduler's clock may run this far ahead of a worker's. */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

/** The reference for the envelope ({@link isSignedEnvelope} decides alike, faster). */
export const signedTaskSchema = z.object({
  tiId: z.number().int(),
  tryNumber: z.number().int().min(1),
  issuedAt: z.number().int().min(0),
  message: z.string().min(2),
  sig: z.string().min(1),
}) satisfies z.ZodType<SignedTaskMessage>;

/**
 * Verifies and decodes a task message from the broker: the envelope's signature over
 * `<issuedAt>.<message>` first (nothing unverified is parsed), then its age, then the
 * task message itself. `signer` null = this worker cannot verify: everything is refused.
 * @throws TaskMessageRefusedError naming the reason; `stale` carries the verified message.
 */
export function openTaskMessage(body: unknown, signer: TaskSigner | null, nowMs: number, maxAgeMs: number): TaskMessage {
  if (!isSignedEnvelope(body)) {
    const claims = claimsOf(body);
    throw new TaskMessageRefusedError('unsigned', 'the message is not a signed task message (no tiId, tryNumber, issuedAt, message and sig)', claims);
  }
  const { tiId, tryNumber, issuedAt, message, sig } = body;
  const claims = { tiId, tryNumber };
  if (!signer) throw new TaskMessageRefusedError('no_key', 'this worker has no cluster key to verify task messages with: set SWARMFLOW_CLUSTER_KEY or SWARMFLOW_CLUSTER_KEY_FILE', claims);
  if (!signer.verify(issuedAt, message, sig)) {
    throw new TaskMessageRefusedError('bad_signature',
      'its signature does not match: forged or altered, or signed with another cluster key (give the scheduler and the workers the same SWARMFLOW_CLUSTER_KEY)', claims);
  }
  let task: TaskMessage;
  try {
    task = decodeTaskMessage(JSON.parse(message));
  } catch (err) {
    throw new TaskMessageRefusedError('malformed', `signed, but ${err instanceof InvalidMessageError ? err.message : 'not JSON'}`, claims);
  }
  if (task.tiId !== tiId || task.tryNumber !== tryNumber) {
    throw new TaskMessageRefusedError('malformed', `signed, but its envelope names task instance ${tiId} try ${tryNumber} and its message ${task.tiId} try ${task.tryNumber}`, claims);
  }
  const age = nowMs - issuedAt;
  if (age > maxAgeMs || age < -FUTURE_TOLERANCE_MS) {
    const when = age > 0 ? `${Math.round(age / 1000)} s ago, more than this worker's max age of ${Math.round(maxAgeMs / 1000)} s (SWARMFLOW_TASK_MESSAGE_MAX_AGE)`
      : `${Math.round(-age / 1000)} s in the future: the scheduler's and this worker's clocks differ`;
    throw new TaskMessageRefusedError('stale', `issued ${when}`, claims, task);
  }
  return task;
}

function claimsOf(body: unknown): { tiId: number; tryNumber: number } | null {
  const b = body as { tiId?: unknown; tryNumber?: unknown } | null;
  return b && typeof b === 'object' && Number.isInteger(b.tiId) && Number.isInteger(b.tryNumber) ? { tiId: b.tiId as number, tryNumber: b.tryNumber as number } : null;
}

/** Validates a task message (the signed envelope's `message`, parsed). Throws {@link InvalidMessageError}. */
export function decodeTaskMessage(body: unknown): TaskMessage {
  return fastProcessTask(body) ?? decode('task', taskMessageSchema, body);
}

/** Validates a control message from the broker. Throws {@link InvalidMessageError}. */
export function decodeControlMessage(body: unknown): ControlMessage {
  return decode('control', controlMessageSchema, body);
}

function decode<T>(kind: 'task' | 'control', schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new InvalidMessageError(kind, issue.path.join('.'), issue.message);
}
