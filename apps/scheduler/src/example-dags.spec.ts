import path from 'node:path';
import { isDag } from '@swarmflow/sdk';
import type { DagInput } from '@swarmflow/core';

// The example scripts' failure hints name the upstream task to re-run ("run the "preprocess"
// task first"): each DAG must tell a script the ids its own upstream tasks have.
const EXAMPLES = path.resolve(__dirname, '../../../examples/dags');

function dagsOf(file: string): DagInput[] {
  const found: DagInput[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (isDag(v)) found.push(v.toInput());
  };
  Object.values(require(path.join(EXAMPLES, file)) as Record<string, unknown>).forEach(visit);
  return found;
}

function option(command: unknown, name: string, fallback: string): string {
  const argv = command as string[];
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? argv[at + 1] : fallback;
}

describe('the example DAGs', () => {
  const dags = [...dagsOf('ml_pipeline.ts'), ...dagsOf('train_test.ts')];

  it.each(dags.map((d) => [d.id, d]))('%s names its own upstream tasks in the scripts\' hints', (_id, dag) => {
    const ancestors = (taskId: string): Set<string> => {
      const seen = new Set<string>();
      const walk = (id: string) => {
        for (const up of dag.tasks!.find((t) => t.id === id)?.upstream ?? []) if (!seen.has(up)) { seen.add(up); walk(up); }
      };
      walk(taskId);
      return seen;
    };
    let checked = 0;
    for (const task of dag.tasks!) {
      const script = (task.command as string[]).find((a) => /(train|evaluate)\.js$/.test(a));
      if (!script) continue;
      const upstream = ancestors(task.id!);
      expect({ task: task.id, data: upstream.has(option(task.command, 'data-task', 'preprocess')) }).toEqual({ task: task.id, data: true });
      if (script.endsWith('evaluate.js')) {
        expect({ task: task.id, train: upstream.has(option(task.command, 'train-task', 'train')) }).toEqual({ task: task.id, train: true });
      }
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
  });
});

describe('the train/test example DAGs', () => {
  it('create the same prepare_data, its command holding no run id: one cache key for both DAGs', () => {
    const dags = dagsOf('train_test.ts');
    const prep = (id: string) => {
      const dag = dags.find((d) => d.id === id)!;
      return { task: dag.tasks!.find((t) => t.id === 'prepare_data')!, namespace: dag.cacheNamespace, env: dag.defaults?.env };
    };
    const [training, testing] = [prep('ml_training'), prep('ml_testing')];
    expect(training).toEqual(testing);
    expect(training.task).toMatchObject({ cache: true });
    expect(training.namespace).toBe('ml_examples');
    // Its templates read only the params: nothing that differs between runs or DAGs.
    const templates = (training.task.command as string[]).flatMap((a) => a.match(/\{\{[^}]*\}\}/g) ?? []);
    expect(templates).toEqual(['{{ params.dataset }}']);
  });
});

describe('SWARMFLOW_EXAMPLES_QUEUES', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { exampleQueues } = require(path.join(EXAMPLES, '_shared', 'common')) as { exampleQueues(tasks: string[], value?: string): Record<string, { queue: string }> };
  const tasks = ['ingest', 'preprocess', 'train', 'evaluate'];

  it('unset: no task gets a queue of its own (all on the DAG default, `default`)', () => {
    expect(exampleQueues(tasks, '')).toEqual({});
    const ml = dagsOf('ml_pipeline.ts').find((d) => d.id === 'ml_pipeline')!;
    expect(ml.tasks!.map((t) => t.queue)).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('routes the named tasks to their queues', () => {
    expect(exampleQueues(tasks, 'train=ml_train, evaluate=ml_eval')).toEqual({ train: { queue: 'ml_train' }, evaluate: { queue: 'ml_eval' } });
  });

  it('one variable for every example file: each file takes the pairs of its own tasks', () => {
    const value = 'train=ml_train,prepare_data=prep,test_model=ml_eval';
    expect(exampleQueues(tasks, value)).toEqual({ train: { queue: 'ml_train' } });
    expect(exampleQueues(['prepare_data', 'train_model', 'build_model', 'test_model'], value)).toEqual({ prepare_data: { queue: 'prep' }, test_model: { queue: 'ml_eval' } });
  });

  it('fails naming the variable on a malformed pair or an unknown task', () => {
    expect(() => exampleQueues(tasks, 'train:gpu')).toThrow('SWARMFLOW_EXAMPLES_QUEUES: "train:gpu" is not <task>=<queue> (e.g. train=ml_train,evaluate=ml_eval)');
    expect(() => exampleQueues(tasks, 'trian=gpu')).toThrow(
      'SWARMFLOW_EXAMPLES_QUEUES: no example task "trian"; these have queues to set: ingest, preprocess, train, evaluate, prepare_data, train_model, build_model, test_model',
    );
  });
});
