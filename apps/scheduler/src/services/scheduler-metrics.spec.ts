import { SwarmflowMetrics } from '@swarmflow/observability';
import type { TaskInstance, TiTransition } from '@swarmflow/persistence';
import { recordTransitions } from './scheduler-metrics';

const T0 = new Date('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

function ti(over: Partial<TaskInstance>): TaskInstance {
  return {
    id: 1, runPk: 1, dagId: 'd', taskId: 't', state: 'queued', tryNumber: 1, maxTries: 2, queue: 'default', pool: 'default_pool',
    poolSlots: 1, priority: 1, worker: null, hostname: null, pid: null, exitCode: null, reason: null, queuedAt: T0, startedAt: null,
    endedAt: null, nextRetryAt: null, ...over,
  };
}

function transition(before: Partial<TaskInstance>, after: Partial<TaskInstance>): TiTransition {
  return { before: ti(before), after: ti({ ...before, ...after }), steps: [] };
}

async function series(m: SwarmflowMetrics): Promise<string> {
  return (await m.exposition()).body;
}

describe('recordTransitions', () => {
  it('counts an ended try once by queue and outcome, with its run time and start latency', async () => {
    const m = new SwarmflowMetrics();
    recordTransitions(m, [
      // queued → success in one batch (a short try): both its latency and its end
      transition({ state: 'queued' }, { state: 'success', startedAt: at(40), endedAt: at(540) }),
      transition({ state: 'running', startedAt: at(0), queue: 'gpu' }, { state: 'up_for_retry', endedAt: at(3000) }),
      transition({ state: 'running', startedAt: at(0) }, { state: 'failed', endedAt: at(100) }),
      // started only: latency, no end
      transition({ state: 'queued', queue: 'gpu' }, { state: 'running', startedAt: at(2000) }),
      // not the end of a try: a clear, a dispatch, a skip
      transition({ state: 'success' }, { state: 'none' }),
      transition({ state: 'scheduled' }, { state: 'queued' }),
      transition({ state: 'none' }, { state: 'skipped' }),
    ]);
    const text = await series(m);
    expect(text).toContain('swarmflow_task_tries_finished_total{queue="default",outcome="success"} 1');
    expect(text).toContain('swarmflow_task_tries_finished_total{queue="default",outcome="failed"} 1');
    expect(text).toContain('swarmflow_task_tries_finished_total{queue="gpu",outcome="up_for_retry"} 1');
    expect(text).toContain('swarmflow_task_run_duration_seconds_sum{queue="default"} 0.6');
    expect(text).toContain('swarmflow_task_run_duration_seconds_count{queue="gpu"} 1');
    expect(text).toContain('swarmflow_task_start_latency_seconds_sum{queue="default"} 0.04');
    expect(text).toContain('swarmflow_task_start_latency_seconds_sum{queue="gpu"} 2');
    expect(text).toContain('swarmflow_task_start_latency_seconds_count{queue="gpu"} 1');
  });

  it('never records a negative time when worker and scheduler clocks disagree', async () => {
    const m = new SwarmflowMetrics();
    recordTransitions(m, [transition({ state: 'queued', queuedAt: at(500) }, { state: 'running', startedAt: at(0) })]);
    expect(await series(m)).toContain('swarmflow_task_start_latency_seconds_sum{queue="default"} 0');
  });
});
