import { validateDag } from '@swarmflow/core';
import { chain, dag, docker, group, isDag, shell, task, type Dag, type DockerOptions, type TaskRef } from './index';
import { SdkUsageError } from './errors';

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

/** task id -> its upstream ids, from a Dag. */
const edges = (d: Dag) => Object.fromEntries(d.toInput().tasks.map((t) => [t.id, t.upstream ?? []]));

describe('dag()', () => {
  it('collects the tasks created in its callback, with options and wiring', () => {
    const etl = dag({ id: 'etl', schedule: '0 2 * * *', defaults: { retries: 2 } }, () => {
      const extract = shell('extract', 'extract.sh', { queue: 'io' });
      const transform = task('transform', { command: ['python', 'transform.py'], retries: 5 });
      extract.then(transform).then(shell('load', 'load.sh'));
    });
    expect(etl.id).toBe('etl');
    expect(etl.toInput()).toEqual({
      id: 'etl', schedule: '0 2 * * *', defaults: { retries: 2 },
      tasks: [
        { id: 'extract', command: 'extract.sh', queue: 'io' },
        { id: 'transform', command: ['python', 'transform.py'], retries: 5, upstream: ['extract'] },
        { id: 'load', command: 'load.sh', upstream: ['transform'] },
      ],
    });
    expect(validateDag(etl.toInput(), 'etl.ts').tasks.map((t) => t.upstream)).toEqual([[], ['extract'], ['transform']]);
  });

  it('accepts tasks as data (data-driven definitions)', () => {
    const d = dag({ id: 'data', tasks: [{ id: 'a', command: 'x' }, { id: 'b', command: 'y', upstream: ['a'] }] });
    expect(d.toInput().tasks).toEqual([{ id: 'a', command: 'x' }, { id: 'b', command: 'y', upstream: ['a'] }]);
    expect(validateDag(d.toInput(), 'data.ts').tasks).toHaveLength(2);
  });

  it('mixes listed tasks and tasks created in the callback', () => {
    const d = dag({ id: 'mixed', tasks: [{ id: 'a', command: 'x' }] }, () => {
      shell('b', 'y', { upstream: ['a'] });
    });
    expect(edges(d)).toEqual({ a: [], b: ['a'] });
  });

  it('works in builder functions and arrays (one DAG per dataset)', () => {
    const training = (dataset: string) =>
      dag({ id: `train_${dataset}`, params: { epochs: { type: 'integer', default: 10 } } }, () => {
        shell('ingest', `python ingest.py --dataset ${dataset}`).then(shell('train', ['python', 'train.py', '--epochs', '{{ params.epochs }}']));
      });
    const dags = ['ml1m', 'ml20m'].map(training);
    expect(dags.map((d) => d.id)).toEqual(['train_ml1m', 'train_ml20m']);
    expect(dags[1].toInput().tasks[0].command).toBe('python ingest.py --dataset ml20m');
    expect(edges(dags[0])).toEqual({ ingest: [], train: ['ingest'] });
  });

  it('returns a fresh copy from toInput()', () => {
    const d = dag({ id: 'copy', startDate: new Date('2024-01-01T00:00:00Z') }, () => {
      shell('a', 'x');
    });
    const input = d.toInput();
    input.tasks[0].command = 'changed';
    expect(d.toInput().tasks[0].command).toBe('x');
    expect(d.toInput().startDate).toEqual(new Date('2024-01-01T00:00:00Z'));
  });

  it('keeps nested dag() calls apart', () => {
    let inner: Dag | undefined;
    const outer = dag({ id: 'outer' }, () => {
      shell('a', 'x');
      inner = dag({ id: 'inner' }, () => {
        shell('b', 'y');
      });
      shell('c', 'z');
    });
    expect(Object.keys(edges(outer))).toEqual(['a', 'c']);
    expect(Object.keys(edges(inner!))).toEqual(['b']);
  });

  it('rejects an async callback', () => {
    const err = errorOf(() => dag({ id: 'async' }, (async () => undefined) as unknown as () => void));
    expect(err).toBeInstanceOf(SdkUsageError);
    expect(err.message).toBe('the build callback of dag("async") is async: tasks created after an await would belong to no DAG. Fix: make the callback synchronous; load data before calling dag().');
  });

  it('clears the current DAG when the callback throws', () => {
    expect(() => dag({ id: 'boom' }, () => { throw new Error('boom'); })).toThrow('boom');
    expect(() => shell('a', 'x')).toThrow(SdkUsageError);
  });
});

describe('docker()', () => {
  it('builds a docker task: container settings under docker, task settings beside them', () => {
    const d = dag({ id: 'ml', params: { epochs: { type: 'integer', default: 10 } }, defaults: { retries: 1 } }, () => {
      const prep = shell('prep', 'prep.sh');
      docker('train', {
        image: 'ghcr.io/acme/trainer:1.4', command: ['python', 'train.py', '--epochs', '{{ params.epochs }}'],
        entrypoint: ['/entry.sh'], pullPolicy: 'always', env: { SEED: '1' }, workingDir: '/work', user: '1000:1000',
        volumes: ['/srv/datasets:/data:ro', { source: 'models', target: '/models' }], network: 'bridge', labels: { team: 'ml' },
        registryCredentials: 'ghcr_credentials', resources: { cpus: 8, memory: '30g', gpus: 1 }, gpuMode: 'runtime',
        runtime: 'nvidia', autoRemove: false, secretsPath: '/run/secrets', secrets: ['wandb_api_key'],
        retries: 3, timeout: '6h', queue: 'gpu', triggerRule: 'all_done', upstream: ['prep'],
      }).after(prep);
    });
    expect(d.toInput().tasks[1]).toEqual({
      id: 'train', kind: 'docker', command: ['python', 'train.py', '--epochs', '{{ params.epochs }}'],
      env: { SEED: '1' }, cwd: '/work', retries: 3, timeout: '6h', queue: 'gpu', triggerRule: 'all_done',
      secrets: ['wandb_api_key'], upstream: ['prep'],
      docker: {
        image: 'ghcr.io/acme/trainer:1.4', entrypoint: ['/entry.sh'], pullPolicy: 'always', user: '1000:1000',
        volumes: ['/srv/datasets:/data:ro', { source: 'models', target: '/models' }], network: 'bridge', labels: { team: 'ml' },
        registryCredentials: 'ghcr_credentials', resources: { cpus: 8, memory: '30g', gpus: 1 }, gpuMode: 'runtime',
        runtime: 'nvidia', autoRemove: false, secretsPath: '/run/secrets',
      },
    });
    const spec = validateDag(d.toInput(), 'ml.ts').tasks[1];
    expect(spec).toMatchObject({ kind: 'docker', cwd: '/work', retries: 3, timeoutMs: 21_600_000, queue: 'gpu', secrets: ['wandb_api_key'], upstream: ['prep'] });
    expect(spec.docker).toMatchObject({ memoryBytes: 30 * 1024 ** 3, cpus: 8, gpus: 1, volumes: [{ source: '/srv/datasets', target: '/data', readOnly: true }, { source: 'models', target: '/models', readOnly: false }] });
  });

  it('needs only an image: the image\'s command, container defaults', () => {
    const d = dag({ id: 'min' }, () => {
      docker('hello', { image: 'hello-world' });
    });
    expect(d.toInput().tasks).toEqual([{ id: 'hello', kind: 'docker', docker: { image: 'hello-world' } }]);
    expect(validateDag(d.toInput(), 'min.ts').tasks[0]).toMatchObject({ kind: 'docker', command: [], secrets: [], docker: { image: 'hello-world', network: 'none', pullPolicy: 'if-not-present' } });
  });

  it('takes cwd as well as workingDir, and copies what it is given', () => {
    const command = ['run'];
    const secrets = ['k'];
    const d = dag({ id: 'cwd' }, () => {
      docker('a', { image: 'x', cwd: '/a', command, secrets });
    });
    command.push('changed');
    secrets.push('changed');
    expect(d.toInput().tasks[0]).toEqual({ id: 'a', kind: 'docker', cwd: '/a', command: ['run'], secrets: ['k'], docker: { image: 'x' } });
  });

  it('leaves checking values to validateDag, which names the file', () => {
    const d = dag({ id: 'bad' }, () => {
      docker('train', { image: 'Acme/Trainer' });
    });
    expect(() => validateDag(d.toInput(), 'bad.ts')).toThrow('bad.ts: DAG "bad", task "train": docker.image "Acme/Trainer" is not a valid image reference: the repository "Acme/Trainer" must be lowercase. Fix: write it in lowercase: "acme/trainer".');
  });

  it.each<[string, unknown, string]>([
    ['an unknown option', { image: 'x', pulPolicy: 'always' }, 'docker("t") has an unknown option "pulPolicy". Fix: did you mean "pullPolicy"? use only image, pullPolicy, entrypoint, user, volumes, network, labels, registryCredentials, resources, gpuMode, runtime, autoRemove, secretsPath, command, workingDir, secrets, upstream, retries, retryDelay, retryBackoff, maxRetryDelay, timeout, queue, priority, pool, poolSlots, triggerRule, skipExitCode, env, cwd, cache, cacheTtl.'],
    ['a memory option outside resources', { image: 'x', memory: '1g' }, 'docker("t") has an unknown option "memory". Fix: use only image, pullPolicy, entrypoint, user, volumes, network, labels, registryCredentials, resources, gpuMode, runtime, autoRemove, secretsPath, command, workingDir, secrets, upstream, retries, retryDelay, retryBackoff, maxRetryDelay, timeout, queue, priority, pool, poolSlots, triggerRule, skipExitCode, env, cwd, cache, cacheTtl.'],
    ['both cwd and workingDir', { image: 'x', cwd: '/a', workingDir: '/b' }, 'docker("t") has both cwd and workingDir. Fix: keep one: workingDir is an alias of cwd.'],
    ['no options', undefined, `docker("t") needs an options object. Fix: call docker("t", { image: 'python:3.12-slim', command: [...] }).`],
  ])('rejects %s', (_name, opts, message) => {
    dag({ id: 'd' }, () => {
      const err = errorOf(() => docker('t', opts as DockerOptions));
      expect(err).toBeInstanceOf(SdkUsageError);
      expect(err.message).toBe(message);
    });
  });

  it('throws outside dag()', () => {
    expect(() => docker('train', { image: 'x' })).toThrow(`docker("train") was called outside a dag() callback, so it belongs to no DAG. Fix: create tasks inside the callback: dag({ id: 'my_dag' }, () => { docker("train"); }).`);
  });

  it('builds a docker task as data with task()', () => {
    const d = dag({ id: 'data' }, () => {
      task('t', { docker: { image: 'alpine:3.20' }, command: 'echo hi', secrets: ['k'] });
    });
    expect(validateDag(d.toInput(), 'data.ts').tasks[0]).toMatchObject({ kind: 'docker', command: 'echo hi', secrets: ['k'] });
  });
});

describe('creating tasks outside dag()', () => {
  it('throws a clear error', () => {
    const err = errorOf(() => shell('extract', 'extract.sh'));
    expect(err).toBeInstanceOf(SdkUsageError);
    expect(err.message).toBe(`shell("extract") was called outside a dag() callback, so it belongs to no DAG. Fix: create tasks inside the callback: dag({ id: 'my_dag' }, () => { shell("extract"); }).`);
    expect(() => task('t', { command: 'x' })).toThrow(`task("t") was called outside a dag() callback, so it belongs to no DAG.`);
  });
});

describe('wiring', () => {
  it('a.then([b, c]) fans out and group(b, c).then(d) fans in', () => {
    const d = dag({ id: 'fan' }, () => {
      const [a, b, c, dd] = ['a', 'b', 'c', 'd'].map((id) => shell(id, 'x'));
      a.then([b, c]);
      group(b, c).then(dd);
    });
    expect(edges(d)).toEqual({ a: [], b: ['a'], c: ['a'], d: ['b', 'c'] });
  });

  it('a.then(group(b, c)) returns the group, whose then() fans in', () => {
    const d = dag({ id: 'grp' }, () => {
      const [a, b, c, e] = ['a', 'b', 'c', 'e'].map((id) => shell(id, 'x'));
      const returned = a.then(group(b, c)).then(e);
      expect(returned).toBe(e);
    });
    expect(edges(d)).toEqual({ a: [], b: ['a'], c: ['a'], e: ['b', 'c'] });
  });

  it('after() adds upstreams and ignores repeated links', () => {
    const d = dag({ id: 'after' }, () => {
      const [a, b, c] = ['a', 'b', 'c'].map((id) => shell(id, 'x'));
      c.after(a, [b]).after(a);
      group(a).after(b);
    });
    expect(edges(d)).toEqual({ a: ['b'], b: [], c: ['a', 'b'] });
  });

  it('chain(a, b, [c, d], e) wires in sequence', () => {
    const d = dag({ id: 'chain' }, () => {
      const [a, b, c, dd, e] = ['a', 'b', 'c', 'd', 'e'].map((id) => shell(id, 'x'));
      chain(a, b, [c, dd], e);
    });
    expect(edges(d)).toEqual({ a: [], b: ['a'], c: ['b'], d: ['b'], e: ['c', 'd'] });
  });

  it('chain() wires two adjacent lists pairwise, like Airflow', () => {
    const d = dag({ id: 'pairs' }, () => {
      const [a, b, c, dd] = ['a', 'b', 'c', 'd'].map((id) => shell(id, 'x'));
      chain([a, b], [c, dd]);
    });
    expect(edges(d)).toEqual({ a: [], b: [], c: ['a'], d: ['b'] });
  });

  it('chain() rejects adjacent lists of different lengths', () => {
    dag({ id: 'bad_pairs' }, () => {
      const [a, b, c] = ['a', 'b', 'c'].map((id) => shell(id, 'x'));
      expect(() => chain([a, b], [c])).toThrow('chain() got adjacent lists of 2 and 1 tasks. Fix: give adjacent lists the same length (they are wired pairwise), or wrap one in group().');
    });
  });

  it('rejects wiring tasks of two DAGs', () => {
    let a: TaskRef | undefined;
    dag({ id: 'one' }, () => {
      a = shell('a', 'x');
    });
    dag({ id: 'two' }, () => {
      const b = shell('b', 'x');
      expect(() => a!.then(b)).toThrow('task "a" of DAG "one" cannot be upstream of task "b" of DAG "two". Fix: wire only tasks of the same DAG.');
    });
  });

  it('explains that a task is not a Promise when awaited', async () => {
    let a: TaskRef | undefined;
    dag({ id: 'await' }, () => {
      a = shell('a', 'x');
    });
    await expect((async () => await (a as unknown as Promise<unknown>))()).rejects.toThrow(
      'a function was passed to .then(): a TaskRef wires tasks, it is not a Promise. Fix: do not await a task; pass a task, a group() or an array of tasks to .then().',
    );
  });
});

describe('isDag', () => {
  it('recognises DAGs by their brand, also from another copy of the SDK', () => {
    const d = dag({ id: 'x' }, () => {
      shell('a', 'x');
    });
    const foreign = { id: 'y', [Symbol.for('swarmflow.dag')]: true, toInput: () => ({ id: 'y', tasks: [] }) };
    expect(isDag(d)).toBe(true);
    expect(isDag(foreign)).toBe(true);
  });

  it('rejects anything else', () => {
    for (const x of [null, undefined, 'dag', { id: 'x' }, { [Symbol.for('swarmflow.dag')]: 'yes', toInput: () => null }, [1]]) {
      expect(isDag(x)).toBe(false);
    }
  });
});
