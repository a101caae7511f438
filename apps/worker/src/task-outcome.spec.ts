import type { ProcessResult } from '@swarmflow/executors';
import { describeEnd, formatSeconds, taskVerdict } from './task-outcome';

const ended = (r: Partial<ProcessResult>): ProcessResult => ({ exitCode: null, signal: null, timedOut: false, cancelled: false, error: null, lost: null, ...r });
const task = { skipExitCode: 99, timeoutMs: 90_000 };

describe('taskVerdict', () => {
  it.each([
    [ended({ exitCode: 0 }), null, { outcome: 'success', reason: null }],
    [ended({ exitCode: 99 }), null, { outcome: 'skipped', reason: null }],
    [ended({ exitCode: 1 }), null, { outcome: 'failed', reason: null }],
    [ended({ signal: 'SIGSEGV' }), null, { outcome: 'failed', reason: 'killed by SIGSEGV' }],
    [ended({ signal: 'SIGTERM', timedOut: true }), null, { outcome: 'failed', reason: 'timeout after 90s' }],
    [ended({ exitCode: 0, timedOut: true }), null, { outcome: 'failed', reason: 'timeout after 90s' }],
    [ended({ signal: 'SIGTERM', cancelled: true }), 'worker shutdown', { outcome: 'failed', reason: 'worker shutdown' }],
    [ended({ signal: 'SIGTERM', cancelled: true }), null, { outcome: 'failed', reason: 'cancelled' }],
    [ended({ error: 'working directory /x does not exist' }), null, { outcome: 'failed', reason: 'working directory /x does not exist' }],
    [ended({ lost: 'process spawner sf-spawner exited with signal SIGKILL while the task ran; its process group 42 was killed' }), null,
      { outcome: 'failed', reason: 'process spawner sf-spawner exited with signal SIGKILL while the task ran; its process group 42 was killed' }],
  ])('%j (cancel reason %s) → %j', (result, cancelReason, verdict) => {
    expect(taskVerdict(result, task, cancelReason)).toEqual(verdict);
  });

  it('does not skip when no skip exit code is set', () => {
    expect(taskVerdict(ended({ exitCode: 99 }), { skipExitCode: null, timeoutMs: null }, null)).toEqual({ outcome: 'failed', reason: null });
  });

  it('ends the log of a try that could not start, ran, or was lost, each saying which', () => {
    expect(describeEnd(ended({ error: 'cannot start "x": spawn x ENOENT' }), 5)).toBe('could not start: cannot start "x": spawn x ENOENT');
    expect(describeEnd(ended({ exitCode: 3 }), 1500)).toBe('exited with code 3 after 1.5s');
    expect(describeEnd(ended({ signal: 'SIGKILL' }), 1500)).toBe('ended by signal SIGKILL after 1.5s');
    expect(describeEnd(ended({ lost: 'process spawner sf-spawner exited with signal SIGKILL while the task ran' }), 1500))
      .toBe("the task's process was lost after 1.5s, its end unknown");
  });

  it('formats seconds without noise', () => {
    expect([formatSeconds(300), formatSeconds(7_200_000), formatSeconds(1234)]).toEqual(['0.3s', '7200s', '1.234s']);
  });
});
