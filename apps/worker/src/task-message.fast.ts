import type { SignedTaskMessage, TaskMessage } from '@swarmflow/core';

// Hand-written checks for the hottest messages a worker decodes, each one message per task:
// zod cost more than the rest of decoding a task (~10 µs a message under load). The zod
// schemas in task-message.decoder.ts stay the reference: task-message.fast.spec.ts holds
// that these accept exactly what they accept and return what they return.

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);

/** The same verdict as the envelope's zod schema (`signedTaskSchema`), without zod. */
export function isSignedEnvelope(body: unknown): body is SignedTaskMessage {
  if (!isObject(body)) return false;
  const { tiId, tryNumber, issuedAt, message, sig } = body;
  return isInt(tiId) && isInt(tryNumber) && tryNumber >= 1 && isInt(issuedAt) && issuedAt >= 0 &&
    typeof message === 'string' && message.length >= 2 && typeof sig === 'string' && sig.length >= 1;
}

const PROCESS_TASK_KEYS = new Set([
  'tiId', 'runPk', 'dagId', 'runId', 'taskId', 'tryNumber', 'queue', 'command', 'env', 'cwd', 'timeoutMs', 'skipExitCode',
  'priority', 'kind', 'docker', 'artifacts', 'cacheKey', 'imageRef',
]);

/** The schema's patterns, the same ones (task-message.fast.spec.ts checks the verdicts). */
const ARTIFACTS_URL = /^(s3|file):\/\//;
const CACHE_KEY = /^[0-9a-f]{64}$/;

/** `artifacts` as the schema returns it; null when the schema must decide (anything unusual or invalid). */
function fastArtifacts(v: unknown): NonNullable<TaskMessage['artifacts']> | null {
  if (!isObject(v)) return null;
  for (const key in v) if (key !== 'url' && key !== 'runUrl' && key !== 's3') return null;
  const { url, runUrl, s3 } = v;
  if (typeof url !== 'string' || !ARTIFACTS_URL.test(url) || typeof runUrl !== 'string' || !ARTIFACTS_URL.test(runUrl)) return null;
  if (s3 === undefined) return { url, runUrl };
  return isName(s3) ? { url, runUrl, s3: s3 as string } : null;
}

const isName = (v: unknown): boolean => typeof v === 'string' && v.length >= 1;

/**
 * A process task message (no container, no secrets; artefacts, cache key and image ref
 * allowed) as `taskMessageSchema` returns it,
 * when the message is one; null when it is anything else (a container task, one with
 * secrets, an unknown field, or anything invalid): the schema decides those. Never
 * accepts what the schema refuses.
 */
export function fastProcessTask(body: unknown): TaskMessage | null {
  if (!isObject(body)) return null;
  for (const key in body) if (!PROCESS_TASK_KEYS.has(key)) return null;
  const b = body;
  if (!isInt(b.tiId) || !isInt(b.tryNumber) || b.tryNumber < 1) return null;
  if (b.runPk !== undefined && !(isInt(b.runPk) && b.runPk > 0)) return null;
  if (!isName(b.dagId) || !isName(b.runId) || !isName(b.taskId) || typeof b.queue !== 'string') return null;
  if (!(isName(b.command) || (Array.isArray(b.command) && b.command.length > 0 && b.command.every((p) => typeof p === 'string')))) return null;
  if (!isObject(b.env)) return null;
  // An own `__proto__` (JSON.parse makes one) is left to the schema, which does not copy it as a key.
  for (const key in b.env) if (typeof b.env[key] !== 'string' || key === '__proto__') return null;
  if (!(b.cwd === null || isName(b.cwd))) return null;
  if (!(b.timeoutMs === null || (isInt(b.timeoutMs) && b.timeoutMs > 0))) return null;
  if (!(b.skipExitCode === null || (isInt(b.skipExitCode) && b.skipExitCode >= 0 && b.skipExitCode <= 255))) return null;
  if (typeof b.priority !== 'number' || !Number.isFinite(b.priority)) return null;
  if (!(b.kind === undefined || b.kind === 'process')) return null;
  if (!(b.docker === undefined || b.docker === null)) return null;
  const artifacts = b.artifacts === undefined ? undefined : fastArtifacts(b.artifacts);
  if (artifacts === null) return null;
  if (b.cacheKey !== undefined && !(typeof b.cacheKey === 'string' && CACHE_KEY.test(b.cacheKey))) return null;
  if (b.imageRef !== undefined && !(isName(b.imageRef) && (b.imageRef as string).length <= 1000)) return null;
  const task: TaskMessage = {
    tiId: b.tiId, dagId: b.dagId as string, runId: b.runId as string, taskId: b.taskId as string, tryNumber: b.tryNumber,
    queue: b.queue, command: Array.isArray(b.command) ? [...(b.command as string[])] : b.command as string, env: { ...(b.env as Record<string, string>) },
    cwd: b.cwd as string | null, timeoutMs: b.timeoutMs as number | null, skipExitCode: b.skipExitCode as number | null, priority: b.priority,
  };
  if (b.runPk !== undefined) task.runPk = b.runPk;
  if (b.kind !== undefined) task.kind = 'process';
  if (b.docker !== undefined) task.docker = null;
  if (artifacts !== undefined) task.artifacts = artifacts;
  if (b.cacheKey !== undefined) task.cacheKey = b.cacheKey as string;
  if (b.imageRef !== undefined) task.imageRef = b.imageRef as string;
  return task;
}
