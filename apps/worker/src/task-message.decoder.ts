import type { ControlMessage, TaskMessage } from '@swarmflow/core';
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

const taskMessageSchema = z.object({
  tiId: z.number().int(),
  dagId: z.string().min(1),
  runId: z.string().min(1),
  taskId: z.string().min(1),
  tryNumber: z.number().int().min(1),
  queue: z.string(),
  command: z.union([z.string().min(1), z.array(z.string()).min(1)]),
  env: z.record(z.string(), z.string()),
  cwd: z.string().min(1).nullable(),
  timeoutMs: z.number().int().positive().nullable(),
  skipExitCode: z.number().int().min(0).max(255).nullable(),
  priority: z.number(),
}) satisfies z.ZodType<TaskMessage>;

const controlMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('task.cancel'), tiId: z.number().int(), tryNumber: z.number().int().min(1) }),
  z.object({ type: z.literal('worker.drain'), worker: z.string().min(1) }),
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
