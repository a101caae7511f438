import type { ProcessResult } from '@swarmflow/executors';
import { formatSeconds, taskVerdict } from './task-outcome';

const ended = (r: Partial<ProcessResult>): ProcessResult => ({ exitCode: null, signal: null, timedOut: false, cancelled: false, error: null, ...r });
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
  ])('%j (cancel reason %s) → %j', (result, cancelReason, verdict) => {
    expect(taskVerdict(result, task, cancelReason)).toEqual(verdict);
  });

  it('does not skip when no skip exit code is set', () => {
    expect(taskVerdict(ended({ exitCode: 99 }), { skipExitCode: null, timeoutMs: null }, null)).toEqual({ outcome: 'failed', reason: null });
  });

  it('formats seconds without noise', () => {
    expect([formatSeconds(300), formatSeconds(7_200_000), formatSeconds(1234)]).toEqual(['0.3s', '7200s', '1.234s']);
  });
});
