import type { TaskInstance } from '@swarmflow/persistence';
import { PendingWrites } from './pending-writes';

const ti = (over: Partial<TaskInstance>): TaskInstance => ({
  id: 7, runPk: 1, dagId: 'd', taskId: 't', state: 'running', tryNumber: 1, maxTries: 2, queue: 'default', pool: 'default', poolSlots: 1, priority: 1,
  worker: 'w1', hostname: 'h1', pid: 11, exitCode: null, reason: null, queuedAt: null, startedAt: null, endedAt: null, nextRetryAt: null, ...over,
});

describe('PendingWrites', () => {
  it("folds two writes of one instance, each step keeping the try's worker and exit code as its own write left them", () => {
    const writes = new PendingWrites();
    const running = ti({});
    const failed = ti({ state: 'up_for_retry', exitCode: 3 });
    writes.add({ before: running, after: failed, steps: [{ from: 'running', to: 'up_for_retry', tryNumber: 1, reason: null }] });
    const scheduled = { ...failed, state: 'scheduled' as const };
    writes.add({ before: failed, after: scheduled, steps: [{ from: 'up_for_retry', to: 'scheduled', tryNumber: 1, reason: null }] });
    // The dispatch of try 2 clears them: the earlier steps must not take the write's `after`.
    const queued = ti({ state: 'queued', tryNumber: 2, worker: null, hostname: null, pid: null });
    writes.add({ before: scheduled, after: queued, steps: [{ from: 'scheduled', to: 'queued', tryNumber: 2, reason: null }] });
    const [write] = writes.transitions();
    expect(write.before).toBe(running);
    expect(write.after).toBe(queued);
    expect(write.steps.map((s) => [s.to, s.ran])).toEqual([
      ['up_for_retry', { worker: 'w1', hostname: 'h1', pid: 11, exitCode: 3 }],
      ['scheduled', { worker: 'w1', hostname: 'h1', pid: 11, exitCode: 3 }],
      // The last write's steps take its `after` when stored.
      ['queued', undefined],
    ]);
  });

  it('keeps facts a step already carries (a started step folded with its end)', () => {
    const writes = new PendingWrites();
    const queued = ti({ state: 'queued', worker: null, hostname: null, pid: null });
    const ended = ti({ state: 'success', exitCode: 0 });
    const ran = { worker: 'w1', hostname: 'h1', pid: 11, exitCode: null };
    writes.add({ before: queued, after: ended, steps: [{ from: 'queued', to: 'running', tryNumber: 1, reason: null, ran }, { from: 'running', to: 'success', tryNumber: 1, reason: null }] });
    writes.add({ before: ended, after: { ...ended, reason: 'why' }, steps: [] });
    expect(writes.transitions()[0].steps.map((s) => s.ran)).toEqual([ran, { worker: 'w1', hostname: 'h1', pid: 11, exitCode: 0 }]);
  });
});
