import { fastProcessTask, isSignedEnvelope } from './task-message.fast';
import { signedTaskSchema, taskMessageSchema } from './task-message.decoder';
import { taskMessage } from './test-support/worker-harness';

const HEX64 = '0123456789abcdef'.repeat(4);

/** Values of every JSON kind, and the edges of the checks (ints, lengths, ranges). */
const VALUES: unknown[] = [
  null, true, false, 0, -0, 1, -1, 2, 255, 256, 1.5, -1.5, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), 1e300,
  '', 'x', 'process', 'docker', '{}', [], [''], ['a', 'b'], ['a', 1], {}, { A: 'b' }, { A: 1 }, { __proto__: null, A: 'b' },
  JSON.parse('{"__proto__":"x"}'),
  // artefacts URLs, cache keys, image refs, at and past their edges
  'file:///tmp/a', 's3://bucket/p', 'file:/x', 'http://x', ' s3://b', HEX64, HEX64.slice(1), HEX64.toUpperCase(), `${HEX64}\n`,
  'r'.repeat(1000), 'r'.repeat(1001),
];

/** `base`, then each field set to each value, removed, and an unknown field added. */
function* mutations(base: Record<string, unknown>, extra: string[] = []): Generator<unknown> {
  yield base;
  for (const key of [...Object.keys(base), ...extra]) {
    for (const v of VALUES) yield { ...base, [key]: v };
    const { [key]: _, ...without } = base;
    yield without;
  }
  yield { ...base, unknown: 1 };
  yield* [null, [], 'x', 1, [base]];
}

function viaJson<T>(v: T): T {
  return v === undefined ? v : JSON.parse(JSON.stringify(v));
}

describe('isSignedEnvelope decides as the envelope schema does', () => {
  const base = { tiId: 7, tryNumber: 1, issuedAt: 1_700_000_000_000, message: '{}', sig: 'c2ln' };
  const inputs = [...mutations(base)];

  it(`on ${inputs.length} envelopes, valid and not`, () => {
    let accepted = 0;
    for (const input of inputs) {
      const reference = signedTaskSchema.safeParse(input).success;
      expect([input, isSignedEnvelope(input)]).toEqual([input, reference]);
      if (reference) accepted++;
    }
    expect(accepted).toBeGreaterThan(10);
  });
});

describe('fastProcessTask never disagrees with taskMessageSchema', () => {
  const bases = [
    taskMessage(),
    taskMessage({ command: ['python', 'train.py'], cwd: '/srv', timeoutMs: 5000, skipExitCode: 99, priority: 2.5 }),
    { ...taskMessage(), runPk: 3, kind: 'process', docker: null },
    // as a scheduler with SWARMFLOW_ARTIFACTS_URL (standalone's default) and a cached task sends it
    { ...taskMessage(), runPk: 3, artifacts: { url: 'file:///a/d/r/t/1', runUrl: 'file:///a/d/r' }, cacheKey: HEX64 },
    { ...taskMessage(), artifacts: { url: 's3://b/d/r/t/1', runUrl: 's3://b/d/r', s3: 'c2VhbGVk' }, imageRef: 'img:1' },
  ] as unknown as Record<string, unknown>[];
  const extra = ['runPk', 'kind', 'docker', 'secrets', 'registryAuth', 'artifacts', 'cacheKey', 'imageRef', 'cacheCheck'];
  const inputs = [
    ...bases.flatMap((b) => [...mutations(viaJson(b), extra)]),
    // each field of the artefacts location altered, removed, an unknown one added
    ...bases.slice(3).flatMap((b) => [...mutations(viaJson(b.artifacts) as Record<string, unknown>, ['s3'])].map((artifacts) => ({ ...viaJson(b), artifacts }))),
  ];

  it(`on ${inputs.length} task messages: what it decides, it decides alike; it decides the common ones`, () => {
    let decided = 0;
    for (const input of inputs) {
      const fast = fastProcessTask(input);
      if (fast === null) continue;
      decided++;
      const reference = taskMessageSchema.safeParse(input);
      expect([input, reference.success]).toEqual([input, true]);
      expect([input, fast]).toEqual([input, reference.data]);
    }
    for (const base of bases) expect(fastProcessTask(viaJson(base))).not.toBeNull();
    expect(decided).toBeGreaterThan(100);
  });

  it('returns a copy: the message it was given is not shared', () => {
    const input = viaJson({ ...taskMessage(), command: ['a'] }) as unknown as Record<string, unknown>;
    const task = fastProcessTask(input)!;
    expect(task.env).not.toBe(input.env);
    expect(task.command).not.toBe(input.command);
  });
});
