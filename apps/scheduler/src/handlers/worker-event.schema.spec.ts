import { parseLogBatch, parseWorkerEvent } from './worker-event.schema';

const finished = {
  type: 'task.finished', tiId: 7, runPk: 2, tryNumber: 1, worker: 'w1', outcome: 'failed', exitCode: 3, signal: null,
  reason: null, logTail: ['oops'], at: '2026-11-21T10:00:00.000Z', startedAt: '2026-11-21T09:59:59.500Z',
  logs: { seq: 2, lines: [{ at: '2026-11-21T10:00:00.000Z', stream: 'stdout', line: 'done' }] },
};

describe('worker event schema', () => {
  it('accepts a task.finished with its last lines', () => {
    expect(parseWorkerEvent(finished)).toEqual({ ok: true, event: finished });
  });

  it('accepts the end of a cache hit its worker confirmed, naming the source try', () => {
    const hit = { ...finished, outcome: 'success', exitCode: null, logTail: [], cachedFrom: { tiId: 3, tryNumber: 1 } };
    expect(parseWorkerEvent(hit)).toEqual({ ok: true, event: hit });
    expect(parseWorkerEvent({ ...hit, cachedFrom: { tiId: 3, tryNumber: 0 } }).ok).toBe(false);
  });

  it('rejects a time that is not an ISO 8601 instant, naming the field', () => {
    const parsed = parseWorkerEvent({ ...finished, at: 'yesterday' });
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.error).toContain('"at"');
    expect(parseWorkerEvent({ ...finished, startedAt: '2026-11-21 10:00' }).ok).toBe(false);
  });

  it('turns NUL characters into U+FFFD everywhere, which Postgres text could not store', () => {
    const parsed = parseWorkerEvent({ ...finished, reason: 'a\0b', logTail: ['\0'], logs: { seq: 2, lines: [{ ...finished.logs.lines[0], line: 'x\0y' }] } });
    expect(parsed).toMatchObject({ ok: true, event: { reason: 'a\uFFFDb', logTail: ['\uFFFD'], logs: { lines: [{ line: 'x\uFFFDy' }] } } });
    expect(parseLogBatch({ tiId: 7, tryNumber: 1, seq: 1, lines: [{ at: finished.at, stream: 'stderr', line: '\0\0' }] }))
      .toMatchObject({ ok: true, batch: { lines: [{ line: '\uFFFD\uFFFD' }] } });
  });
});
