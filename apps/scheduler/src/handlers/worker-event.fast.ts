import type { TaskFinishedEvent, TaskStartedEvent } from '@swarmflow/core';

// A hand-written check of the two events every task sends (`task.started`, `task.finished`
// without log lines): zod cost ~10 µs an event under load. The zod schemas in
// worker-event.schema.ts stay the reference; worker-event.fast.spec.ts holds that this
// check never accepts what they refuse and returns what they return.

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isPositiveInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;
/** A string the schema keeps as is: one with a NUL is rewritten there (withoutNul). */
const isText = (v: unknown): v is string => typeof v === 'string' && !v.includes('\0');
const isTextOrNull = (v: unknown): v is string | null => v === null || isText(v);

const STARTED_KEYS = new Set(['type', 'tiId', 'tryNumber', 'runPk', 'worker', 'hostname', 'pid', 'at']);
const FINISHED_KEYS = new Set([
  'type', 'tiId', 'tryNumber', 'runPk', 'worker', 'outcome', 'exitCode', 'signal', 'reason', 'logTail', 'at', 'startedAt', 'retryable',
]);
const OUTCOMES = new Set(['success', 'failed', 'skipped']);

/**
 * `task.started`, or `task.finished` without log lines, as the schema returns it; null for
 * any other event, and for anything the check is unsure of (unknown fields, a NUL, an
 * invalid value): the schema decides those.
 * @param isInstant the schema's test of an ISO 8601 instant with offset
 */
export function fastTaskEvent(body: unknown, isInstant: (s: string) => boolean): TaskStartedEvent | TaskFinishedEvent | null {
  if (!isObject(body)) return null;
  const b = body;
  const keys = b.type === 'task.started' ? STARTED_KEYS : b.type === 'task.finished' ? FINISHED_KEYS : null;
  if (!keys) return null;
  for (const key in b) if (!keys.has(key)) return null;
  if (!isPositiveInt(b.tiId) || !isPositiveInt(b.tryNumber) || !isText(b.worker)) return null;
  if (b.runPk !== undefined && !isPositiveInt(b.runPk)) return null;
  if (typeof b.at !== 'string' || !isInstant(b.at)) return null;
  const common = { tiId: b.tiId, tryNumber: b.tryNumber, worker: b.worker, at: b.at, ...(b.runPk !== undefined && { runPk: b.runPk }) };
  if (b.type === 'task.started') {
    if (!isText(b.hostname) || !(b.pid === null || isInt(b.pid))) return null;
    return { type: 'task.started', ...common, hostname: b.hostname, pid: b.pid };
  }
  if (typeof b.outcome !== 'string' || !OUTCOMES.has(b.outcome)) return null;
  if (!(b.exitCode === null || isInt(b.exitCode)) || !isTextOrNull(b.signal) || !isTextOrNull(b.reason)) return null;
  if (!Array.isArray(b.logTail) || !b.logTail.every(isText)) return null;
  if (b.startedAt !== undefined && !(typeof b.startedAt === 'string' && isInstant(b.startedAt))) return null;
  if (b.retryable !== undefined && typeof b.retryable !== 'boolean') return null;
  const event: TaskFinishedEvent = {
    type: 'task.finished', ...common, outcome: b.outcome as TaskFinishedEvent['outcome'], exitCode: b.exitCode,
    signal: b.signal, reason: b.reason, logTail: [...b.logTail],
  };
  if (b.startedAt !== undefined) event.startedAt = b.startedAt;
  if (b.retryable !== undefined) event.retryable = b.retryable;
  return event;
}
