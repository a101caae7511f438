import { fastProcessTask, isSignedEnvelope } from './task-message.fast';
import { signedTaskSchema, taskMessageSchema } from './task-message.decoder';
import { taskMessage } from './test-support/worker-harness';

/** Values of every JSON kind, and the edges of the checks (ints, lengths, ranges). */
const VALUES: unknown[] = [
  null, true, false, 0, -0, 1, -1, 2, 255, 256, 1.5, -1.5, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), 1e300,
  '', 'x', 'process', 'docker', '{}', [], [''], ['a', 'b'], ['a', 1], {}, { A: 'b' }, { A: 1 }, { __proto__: null, A: 'b' },
  JSON.parse('{"__proto__":"x"}'),
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
  ] as unknown as Record<string, unknown>[];
  const inputs = bases.flatMap((b) => [...mutations(viaJson(b), ['runPk', 'kind', 'docker', 'secrets', 'registryAuth'])]);

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
