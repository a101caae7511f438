import { validateDag } from '../dag/validate-dag';
import { DagValidationError } from '../errors';
import { errorOf } from '../test-support/error-of';
import { cacheEntryFresh, cacheHitNeedsWorker, cacheKey, imageWithRecordedDigest, cacheForceMatcher, versionSetOf, type RenderedDefinition } from './cache-key';

const task = { kind: 'process' as const, cwd: null, upstream: ['prep'] };
const rendered: RenderedDefinition = { command: 'train --lr 0.1', env: { A: '1' }, docker: null };
const up = new Map([['prep', { cacheKey: 'k'.repeat(64), outputs: { rows: 10 } }]]);

describe('cacheKey', () => {
  const base = cacheKey('default', task, rendered, up);

  it('is a sha256 of what decides the result, stable across calls and key order', () => {
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(cacheKey('default', task, { ...rendered, env: { A: '1' } }, new Map(up))).toBe(base);
  });

  it.each<[string, () => string]>([
    ['the namespace', () => cacheKey('ml', task, rendered, up)],
    ['the rendered command (a param it reads)', () => cacheKey('default', task, { ...rendered, command: 'train --lr 0.2' }, up)],
    ['the env', () => cacheKey('default', task, { ...rendered, env: { A: '2' } }, up)],
    ['the working folder', () => cacheKey('default', { ...task, cwd: '/w' }, rendered, up)],
    ['an upstream cache key', () => cacheKey('default', task, rendered, new Map([['prep', { cacheKey: 'j'.repeat(64), outputs: null }]]))],
    ['an upstream without a key: its outputs', () => cacheKey('default', task, rendered, new Map([['prep', { cacheKey: null, outputs: { rows: 11 } }]]))],
    ['an artefacts store (its files are there)', () => cacheKey('default', task, rendered, up, 'file:///srv/artifacts/')],
  ])('changes with %s', (_what, other) => {
    expect(other()).not.toBe(base);
  });

  it('with an artefacts store: one key per store, so a try cached under another store is not taken', () => {
    const s3 = cacheKey('default', task, rendered, up, 's3://ml/runs/');
    expect(cacheKey('default', task, rendered, up, 's3://ml/runs/')).toBe(s3);
    expect(cacheKey('default', task, rendered, up, 's3://ml/other/')).not.toBe(s3);
    expect(cacheKey('default', task, rendered, up, null)).toBe(base);
  });

  it('of a container: changes with the image (its digest) and the result-changing settings, not with labels', () => {
    const docker = validateDag({ id: 'd', tasks: [{ id: 't', docker: { image: 'trainer:1' } }] }, 'd.ts').tasks[0].docker!;
    const k = (d: Partial<typeof docker>) => cacheKey('default', { ...task, kind: 'docker' }, { ...rendered, docker: { ...docker, ...d } }, up);
    expect(k({})).toBe(k({ labels: { team: 'x' } }));
    expect(k({ image: 'trainer@sha256:' + 'a'.repeat(64) })).not.toBe(k({}));
    expect(k({ gpus: 1 })).not.toBe(k({}));
  });
});

describe('cache helpers', () => {
  it('force patterns match task ids anywhere; a bad one forces', () => {
    expect(cacheForceMatcher(null)('train')).toBe(false);
    expect(cacheForceMatcher('.*')('train')).toBe(true);
    expect(cacheForceMatcher('^train$')('pretrain')).toBe(false);
    expect(cacheForceMatcher('rain')('train')).toBe(true);
    expect(cacheForceMatcher('(')('train')).toBe(true);
    // Refused by the check (nested quantifier) if it came here unchecked: forces, never runs it.
    expect(cacheForceMatcher('(a+)+$')('train')).toBe(true);
  });

  it('cache_ttl bounds how old a hit may be', () => {
    const ended = new Date('2026-01-01T00:00:00Z');
    expect(cacheEntryFresh({}, ended, new Date('2030-01-01T00:00:00Z'))).toBe(true);
    expect(cacheEntryFresh({ cacheTtlMs: 60_000 }, ended, new Date('2026-01-01T00:01:00Z'))).toBe(true);
    expect(cacheEntryFresh({ cacheTtlMs: 60_000 }, ended, new Date('2026-01-01T00:01:00.001Z'))).toBe(false);
  });

  it('a run reuses the digests it recorded; a pinned reference stays', () => {
    const recorded = new Map([['busybox:test', 'sha256:' + 'b'.repeat(64)]]);
    expect(imageWithRecordedDigest('busybox:test', recorded)).toBe('sha256:' + 'b'.repeat(64));
    expect(imageWithRecordedDigest('other:1', recorded)).toBe('other:1');
    const pinned = 'busybox@sha256:' + 'c'.repeat(64);
    expect(imageWithRecordedDigest(pinned, recorded)).toBe(pinned);
  });

  it('the version set is the newest digest per image, pinned ones only when asked', () => {
    const at = (s: number) => new Date(s * 1000);
    const tries = [
      { image: 'a:1', imageDigest: 'sha256:1', imagePinned: true, createdAt: at(1) },
      { image: 'a:1', imageDigest: 'sha256:2', imagePinned: false, createdAt: at(2) },
      { image: null, imageDigest: null, imagePinned: true, createdAt: at(3) },
    ];
    expect(versionSetOf(tries)).toEqual(new Map([['a:1', 'sha256:2']]));
    expect(versionSetOf(tries, true)).toEqual(new Map([['a:1', 'sha256:1']]));
  });
});

describe('validateDag: cache settings and output reads', () => {
  const dag = (tasks: unknown[], extra: Record<string, unknown> = {}) => ({ id: 'ml', tasks, ...extra }) as never;

  it('keeps cache settings only where set, so DAGs without them keep their hash', () => {
    const plain = validateDag(dag([{ id: 'a', command: 'true' }]), 'ml.ts');
    expect(plain.tasks[0]).not.toHaveProperty('cache');
    expect(plain).not.toHaveProperty('cacheNamespace');
    const cached = validateDag(dag([{ id: 'a', command: 'true' }, { id: 'b', command: 'true', cache: false }], {
      defaults: { cache: true, cacheTtl: '7d' }, cacheNamespace: 'ml',
    }), 'ml.ts');
    expect(cached.tasks[0]).toMatchObject({ cache: true, cacheTtlMs: 7 * 86_400_000 });
    expect(cached.tasks[1]).not.toHaveProperty('cache');
    expect(cached.cacheNamespace).toBe('ml');
  });

  it('allows reading the outputs of any task upstream, directly or further up', () => {
    expect(() => validateDag(dag([
      { id: 'prep', command: 'true' },
      { id: 'train', command: 'train {{ outputs.prep.rows }}', upstream: ['prep'] },
      { id: 'evaluate', command: 'eval {{ outputs.train.model_uri }} {{ outputs.prep.rows }}', upstream: ['train'] },
    ]), 'ml.ts')).not.toThrow();
  });

  it('refuses reading the outputs of a task that is not upstream, naming the task, the template and the fix', () => {
    const err = errorOf<DagValidationError>(() => validateDag(dag([
      { id: 'prep', command: 'true' },
      { id: 'train', command: 'true', upstream: ['prep'] },
      { id: 'report', command: 'echo {{ outputs.train.model_uri }}', upstream: ['prep'] },
    ]), 'ml.ts'));
    expect(err.message).toBe(
      'ml.ts: DAG "ml", task "report": command reads outputs.train, but "train" is not upstream of "report" (its upstream tasks: prep): ' +
      'its outputs may not exist when "report" runs. Fix: make "train" an upstream of "report" (e.g. train.then(report), or upstream: [train] in YAML).',
    );
    expect(err).toMatchObject({ taskId: 'report', field: 'command' });
  });

  it('refuses reading the outputs of a task the DAG does not have', () => {
    const err = errorOf<DagValidationError>(() => validateDag(dag([
      { id: 'prep', command: 'true' },
      { id: 'train', command: 'train', env: { ROWS: '{{ outputs.prpe.rows }}' }, upstream: ['prep'] },
    ]), 'ml.ts'));
    expect(err.message).toBe('ml.ts: DAG "ml", task "train": env.ROWS reads outputs.prpe, but the DAG has no task "prpe" (its upstream tasks: prep). Fix: did you mean outputs.prep? if not, read the outputs of a task upstream of "train".');
  });

  it('refuses a cache setting of the wrong type', () => {
    expect(errorOf<DagValidationError>(() => validateDag(dag([{ id: 'a', command: 'true', cache: 'yes' }]), 'ml.ts')).message)
      .toBe('ml.ts: DAG "ml", task "a": cache must be true or false (got "yes"). Fix: use true to skip the task when an identical try already succeeded.');
  });
});

describe('cacheHitNeedsWorker', () => {
  it('a container task whose image is a tag: a worker confirms the hit; a digest-pinned image or a process task: the scheduler alone', () => {
    expect(cacheHitNeedsWorker({ kind: 'docker' }, 'myimage:latest')).toBe(true);
    expect(cacheHitNeedsWorker({ kind: 'docker' }, 'registry.local:5000/ml/train')).toBe(true);
    expect(cacheHitNeedsWorker({ kind: 'docker' }, 'myimage@sha256:' + 'a'.repeat(64))).toBe(false);
    expect(cacheHitNeedsWorker({ kind: 'docker' }, 'sha256:' + 'a'.repeat(64))).toBe(false); // an image id
    expect(cacheHitNeedsWorker({ kind: 'docker' }, 'sha256:latest')).toBe(true); // a repository named sha256
    expect(cacheHitNeedsWorker({ kind: 'process' }, null)).toBe(false);
    expect(cacheHitNeedsWorker({ kind: 'docker' }, null)).toBe(false);
  });
});
