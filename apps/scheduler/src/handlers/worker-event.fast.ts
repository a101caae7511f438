import { MAX_OUTPUT_BYTES_LIMIT, type TaskFinishedEvent, type TaskStartedEvent } from '@swarmflow/core';

// A hand-written check of the two events every task sends (`task.started`, `task.finished`
// without log lines, with or without outputs, image digest and cache key): zod cost ~10 µs an event under load. The zod schemas in
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
  'type', 'tiId', 'tryNumber', 'runPk', 'worker', 'outcome', 'exitCode', 'signal', 'reason', 'logTail', 'at', 'startedAt', 'hostname', 'retryable',
  'outputs', 'image', 'cacheKey',
]);
const CACHE_KEY = /^[0-9a-f]{64}$/;

/** True when a string, a key or a value anywhere in `v` holds a NUL (the schema's input is rewritten then). */
function anyNul(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('\0');
  if (Array.isArray(v)) return v.some(anyNul);
  if (typeof v !== 'object' || v === null) return false;
  for (const key in v) if (key.includes('\0') || anyNul((v as Record<string, unknown>)[key])) return true;
  return false;
}

/**
 * A task's outputs as the schema returns them (a copy of the record, the values shared);
 * null when the schema must decide: not a plain JSON object, an own `__proto__` (the schema
 * drops it), a NUL anywhere, or over the size limit.
 */
function fastOutputs(v: unknown): Record<string, unknown> | null {
  if (!isObject(v) || Object.getPrototypeOf(v) !== Object.prototype || Object.prototype.hasOwnProperty.call(v, '__proto__') || anyNul(v)) return null;
  if (JSON.stringify(v).length > MAX_OUTPUT_BYTES_LIMIT) return null;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(v)) out[key] = v[key];
  return out;
}

/** `image` as the schema returns it; null when the schema must decide. */
function fastImage(v: unknown): { ref: string; digest: string } | null {
  if (!isObject(v)) return null;
  for (const key in v) if (key !== 'ref' && key !== 'digest') return null;
  const { ref, digest } = v;
  return isText(ref) && ref.length <= 1000 && isText(digest) && digest.length <= 1000 ? { ref, digest } : null;
}
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
  if (b.hostname !== undefined && !isText(b.hostname)) return null;
  if (b.retryable !== undefined && typeof b.retryable !== 'boolean') return null;
  const outputs = b.outputs === undefined ? undefined : fastOutputs(b.outputs);
  const image = b.image === undefined ? undefined : fastImage(b.image);
  if (outputs === null || image === null) return null;
  if (b.cacheKey !== undefined && !(typeof b.cacheKey === 'string' && CACHE_KEY.test(b.cacheKey))) return null;
  const event: TaskFinishedEvent = {
    type: 'task.finished', ...common, outcome: b.outcome as TaskFinishedEvent['outcome'], exitCode: b.exitCode,
    signal: b.signal, reason: b.reason, logTail: [...b.logTail],
  };
  if (b.startedAt !== undefined) event.startedAt = b.startedAt;
  if (b.hostname !== undefined) event.hostname = b.hostname;
  if (b.retryable !== undefined) event.retryable = b.retryable;
  if (outputs !== undefined) event.outputs = outputs;
  if (image !== undefined) event.image = image;
  if (b.cacheKey !== undefined) event.cacheKey = b.cacheKey as string;
  return event;
}
