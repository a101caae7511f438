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
