import type { ControlMessage, DockerSpec, TaskMessage } from '@swarmflow/core';
import { z } from 'zod';

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

const taskMessageSchema = z.object({
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

/** Validates a task message from the broker. Throws {@link InvalidMessageError}. */
export function decodeTaskMessage(body: unknown): TaskMessage {
  return decode('task', taskMessageSchema, body);
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
