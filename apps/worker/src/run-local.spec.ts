import { runTaskLocally } from './run-local';
import { taskMessage } from './test-support/worker-harness';

describe('runTaskLocally', () => {
  it('streams output and reports success with the task env', async () => {
    const out: string[] = [];
    const result = await runTaskLocally(taskMessage({ command: 'echo "$SWARMFLOW_TASK_ID $SWARMFLOW_TRY_NUMBER"; echo warn >&2' }), (l) => out.push(l));
    expect(result).toEqual({ exitCode: 0, outcome: 'success', reason: null });
    expect(out.slice(0, -1).sort()).toEqual(['task1 1', 'warn']);
    expect(out.at(-1)).toMatch(/^\[swarmflow\] exited with code 0 after [\d.]+s: success$/);
  });

  it.each([[1, 'failed'], [7, 'skipped']])('exit %i → %s (skip exit code 7)', async (code, outcome) => {
    const result = await runTaskLocally(taskMessage({ command: `exit ${code}`, skipExitCode: 7 }), () => undefined);
    expect(result).toEqual({ exitCode: code, outcome, reason: null });
  });

  it('applies the timeout', async () => {
    const out: string[] = [];
    const result = await runTaskLocally(taskMessage({ command: 'sleep 30', timeoutMs: 100 }), (l) => out.push(l));
    expect(result).toEqual({ exitCode: null, outcome: 'failed', reason: 'timeout after 0.1s' });
    expect(out[0]).toBe('[swarmflow] timeout: SIGTERM sent to the process group');
  });
});
