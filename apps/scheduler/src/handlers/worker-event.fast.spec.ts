import { fastTaskEvent } from './worker-event.fast';
import { parseWorkerEvent, withoutNul, workerEvent } from './worker-event.schema';

const VALUES: unknown[] = [
  null, true, false, 0, -0, 1, -1, 255, 1.5, 2 ** 53 - 1, 2 ** 53, '', 'x', 'a\0b', 'success', 'failed', 'skipped', 'task.started',
  'task.finished', 'worker.heartbeat', '2026-11-21T10:00:00.000Z', '2026-11-21T10:00:00+01:00', '2026-02-30T10:00:00Z',
  '2026-11-21 10:00', '2026-11-21T10:00:00.000Z\n', [], ['x'], ['a\0'], [1], {}, { seq: 1, lines: [] },
];

const started = { type: 'task.started', tiId: 7, runPk: 2, tryNumber: 1, worker: 'w1', hostname: 'h', pid: 42, at: '2026-11-21T10:00:00.000Z' };
const finished = {
  type: 'task.finished', tiId: 7, runPk: 2, tryNumber: 1, worker: 'w1', outcome: 'success', exitCode: 0, signal: null,
  reason: null, logTail: [], at: '2026-11-21T10:00:00.000Z', startedAt: '2026-11-21T09:59:59.500Z', retryable: false,
};

function* mutations(base: Record<string, unknown>, extra: string[]): Generator<unknown> {
  yield base;
  for (const key of [...Object.keys(base), ...extra]) {
    for (const v of VALUES) yield { ...base, [key]: v };
    const { [key]: _, ...without } = base;
    yield without;
  }
  yield { ...base, unknown: 1 };
  yield* [null, [], 'x', 1, [base]];
}

const isInstant = (s: string) => workerEvent.options[0].shape.at.safeParse(s).success;

describe('fastTaskEvent never disagrees with the worker event schema', () => {
  const inputs = [
    ...mutations(started, []),
    ...mutations(finished, ['logs', 'logBatches']),
    ...mutations({ ...finished, exitCode: null, signal: 'SIGKILL', reason: 'timeout', logTail: ['a', 'b'], outcome: 'failed' }, []),
  ];

  it(`on ${inputs.length} events: what it decides, it decides alike; it decides the common ones`, () => {
    let decided = 0;
    for (const input of inputs) {
      const fast = fastTaskEvent(input, isInstant);
      if (fast === null) continue;
      decided++;
      const reference = workerEvent.safeParse(withoutNul(input));
      expect([input, reference.success]).toEqual([input, true]);
      expect([input, fast]).toEqual([input, reference.data]);
    }
    expect(fastTaskEvent(started, isInstant)).not.toBeNull();
    expect(fastTaskEvent(finished, isInstant)).not.toBeNull();
    expect(decided).toBeGreaterThan(50);
  });

  it('parseWorkerEvent, with the schema\'s own instant pattern, gives what the schema gives', () => {
    for (const input of inputs) {
      const reference = workerEvent.safeParse(withoutNul(input));
      const parsed = parseWorkerEvent(input);
      expect([input, parsed.ok]).toEqual([input, reference.success]);
      if (parsed.ok) expect([input, parsed.event]).toEqual([input, reference.data]);
    }
  });

  it('returns a copy: the body it was given is not shared', () => {
    const body = { ...finished, logTail: ['x'] };
    const event = fastTaskEvent(body, isInstant) as { logTail: string[] };
    expect(event.logTail).toEqual(['x']);
    expect(event.logTail).not.toBe(body.logTail);
  });
});
