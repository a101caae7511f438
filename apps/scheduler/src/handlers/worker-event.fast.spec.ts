import { MAX_OUTPUT_BYTES_LIMIT } from '@swarmflow/core';
import { fastTaskEvent } from './worker-event.fast';
import { parseWorkerEvent, withoutNul, workerEvent } from './worker-event.schema';

const HEX64 = '0123456789abcdef'.repeat(4);

const VALUES: unknown[] = [
  null, true, false, 0, -0, 1, -1, 255, 1.5, 2 ** 53 - 1, 2 ** 53, '', 'x', 'a\0b', 'success', 'failed', 'skipped', 'task.started',
  'task.finished', 'worker.heartbeat', '2026-11-21T10:00:00.000Z', '2026-11-21T10:00:00+01:00', '2026-02-30T10:00:00Z',
  '2026-11-21 10:00', '2026-11-21T10:00:00.000Z\n', [], ['x'], ['a\0'], [1], {}, { seq: 1, lines: [] },
  // cache keys, image refs and digests, outputs: at and past their edges
  HEX64, HEX64.slice(1), HEX64.toUpperCase(), `${HEX64}\n`, 'r'.repeat(1000), 'r'.repeat(1001), { a: 1 }, { a: { b: ['x', null] }, n: 1.5 },
  { a: 'x\0' }, { a: { b: 'x\0' } }, { 'k\0': 1 }, JSON.parse('{"__proto__":{"a":1}}'), JSON.parse('{"a":1,"__proto__":2}'),
  { __proto__: null, a: 1 }, { a: 'x'.repeat(MAX_OUTPUT_BYTES_LIMIT - 8) }, { a: 'x'.repeat(MAX_OUTPUT_BYTES_LIMIT - 7) },
  { ref: 'img:1', digest: `sha256:${HEX64}` }, new Date(0),
];

const started = { type: 'task.started', tiId: 7, runPk: 2, tryNumber: 1, worker: 'w1', hostname: 'h', pid: 42, at: '2026-11-21T10:00:00.000Z' };
const finished = {
  type: 'task.finished', tiId: 7, runPk: 2, tryNumber: 1, worker: 'w1', outcome: 'success', exitCode: 0, signal: null,
  reason: null, logTail: [], at: '2026-11-21T10:00:00.000Z', startedAt: '2026-11-21T09:59:59.500Z', hostname: 'h', retryable: false,
};

/** A cached task's end with outputs and an image digest, as a worker sends it. */
const finishedFull = {
  ...finished, outputs: { model: 's3://b/m.pt', metrics: { loss: 0.25, epochs: [1, 2] }, ok: true, none: null },
  image: { ref: 'trainer:1', digest: `sha256:${HEX64}` }, cacheKey: HEX64,
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
    ...mutations(finishedFull, ['logs', 'cachedFrom']),
    // each field of the image and of the outputs altered, removed, an unknown one added
    ...[...mutations(finishedFull.image, [])].map((image) => ({ ...finishedFull, image })),
    ...[...mutations(finishedFull.outputs, [])].map((outputs) => ({ ...finishedFull, outputs })),
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
    expect(fastTaskEvent(finishedFull, isInstant)).not.toBeNull();
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
