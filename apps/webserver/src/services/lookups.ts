import type { DagRecord, DagRun, Queryable, Repositories, TaskInstance } from '@swarmflow/persistence';
import { NotFoundError } from './api-errors';

export async function requireDag(repos: Repositories, dagId: string, q?: Queryable): Promise<DagRecord> {
  const dag = await repos.dags.get(dagId, q);
  if (!dag) {
    throw new NotFoundError('dag_not_found', `DAG "${dagId}" does not exist. List the DAGs with \`swarmflow dags list\`; if its file is new, wait for the next parse or check \`swarmflow dags errors\`.`);
  }
  return dag;
}

/** The run, or a 404 that says whether the DAG or the run is missing. */
export async function requireRun(repos: Repositories, dagId: string, runId: string, q?: Queryable): Promise<DagRun> {
  const run = await repos.runs.get(dagId, runId, q);
  if (run) return run;
  await requireDag(repos, dagId, q);
  throw new NotFoundError('run_not_found', `DAG "${dagId}" has no run "${runId}". List its runs with \`swarmflow runs list --dag ${dagId}\`.`);
}

export function requireTaskInstance(run: DagRun, tis: TaskInstance[], taskId: string): TaskInstance {
  const ti = tis.find((t) => t.taskId === taskId);
  if (ti) return ti;
  const known = tis.map((t) => t.taskId);
  const hint = known.length
    ? `Its tasks are ${known.map((t) => `"${t}"`).join(', ')}.`
    : `The run is ${run.state} and has no task instances yet.`;
  throw new NotFoundError('task_not_found', `run "${run.runId}" of DAG "${run.dagId}" has no task "${taskId}". ${hint}`);
}
