import { dagHash, validateDag, type DagInput, type SerializedDag, type TiState } from '@swarmflow/core';
import type { DagRun, Repositories } from '@swarmflow/persistence';

/** A DAG with params and a chain, as the DAG processor would store it: extract → train → report, plus lint. */
export const TRAIN_DAG: DagInput = {
  id: 'train_ml1m',
  description: 'Train on ml1m',
  schedule: '0 3 * * *',
  tags: ['ml'],
  params: {
    epochs: { type: 'integer', default: 10, minimum: 1 },
    region: { type: 'string', enum: ['eu', 'us'], default: 'eu' },
  },
  defaults: { retries: 2 },
  tasks: [
    { id: 'extract', command: 'echo extract {{ params.region }}' },
    { id: 'train', command: ['python', 'train.py', '--epochs', '{{ params.epochs }}'], upstream: ['extract'], queue: 'gpu' },
    { id: 'report', command: 'echo report', upstream: ['train'], triggerRule: 'all_done', retries: 0 },
    { id: 'lint', command: 'echo lint' },
  ],
};

/** Stores DAG versions the way a parse of the DAGs folder does. */
export async function seedDags(repos: Repositories, inputs: DagInput[], now: Date, errors: { fileloc: string; message: string }[] = []): Promise<SerializedDag[]> {
  const dags = inputs.map((input) => validateDag(input, `${input.id}.ts`));
  await repos.dags.recordParse(dags.map((dag) => ({ dag, hash: dagHash(dag) })), errors, now);
  return dags;
}

/**
 * Moves a run and its task instances to given states, as the scheduler would have after
 * running them (test setup only: the webserver never writes these).
 */
export async function setRunStates(
  repos: Repositories,
  run: DagRun,
  dag: SerializedDag,
  runState: DagRun['state'],
  tis: Record<string, { state: TiState; tryNumber: number; worker?: string; exitCode?: number }>,
): Promise<void> {
  await repos.db.transaction(async (tx) => {
    await repos.tis.createForRun(run.pk, dag, tx);
    await tx.query(`UPDATE dag_run SET state = $2, needs_eval = false WHERE id = $1`, [run.pk, runState]);
    for (const [taskId, ti] of Object.entries(tis)) {
      await tx.query(
        `UPDATE task_instance SET state = $3, try_number = $4, worker = $5, exit_code = $6,
           started_at = CASE WHEN $4 > 0 THEN now() END
         WHERE run_pk = $1 AND task_id = $2`,
        [run.pk, taskId, ti.state, ti.tryNumber, ti.worker ?? null, ti.exitCode ?? null],
      );
    }
  });
}
