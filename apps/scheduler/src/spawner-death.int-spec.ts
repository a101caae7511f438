import { readFileSync } from 'node:fs';
import { nativeSpawnerPath } from '@swarmflow/executors';
import { isDead } from '@swarmflow/executors/test-support/processes';
import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import { useStack } from './test-support/use-stack';

const binary = nativeSpawnerPath();
if (binary === null && process.env.CI === 'true') throw new Error('sf-spawner is not built: run `npm run build` (needs a C compiler)');
const describeNative = binary !== null && process.env.SWARMFLOW_PROCESS_SPAWNER !== 'node' ? describeWithPostgres : describe.skip;

// Two tasks of one run, both in flight on one worker (one sf-spawner) when it is killed:
// one with a retry left, whose second try finishes at once, and one without.
const DAG = `
id: spawner_dies
tasks:
  retried: { shell: "echo try $SWARMFLOW_TRY_NUMBER; [ $SWARMFLOW_TRY_NUMBER -ge 2 ] || sleep 60", retries: 1, retry_delay: 0s }
  not_retried: { shell: "echo started; sleep 60" }
`;

/** The parent of a process, from /proc (the task processes' parent is the spawner). */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

describeNative('a worker whose process spawner (sf-spawner) dies while tasks run', () => {
  const stack = useStack({ dagFiles: { 'spawner.yaml': DAG }, workers: [{ concurrency: 4 }] });

  it('ends each lost try as failed, retried when it has tries left, with a log that says the spawner died, and kills its process', async () => {
    const run = await stack().trigger('spawner_dies');
    const deadline = Date.now() + 90_000; // generous: a machine at load 28 missed 30 s once
    let pids: number[] = [];
    let seen = '';
    while (pids.length < 2) {
      if (Date.now() > deadline) throw new Error(`the two tasks never both ran: ${seen}`);
      await new Promise((r) => setTimeout(r, 20));
      const tis = await stack().repos.tis.forRuns([run.pk]);
      seen = tis.map((t) => `${t.taskId} try ${t.tryNumber} ${t.state} pid ${t.pid} (${t.reason ?? 'no reason'})`).join('; ');
      pids = tis.filter((t) => t.state === 'running' && t.pid !== null).map((t) => t.pid!);
    }
    const spawners = new Set(pids.map(parentOf));
    expect(spawners.size).toBe(1);
    const [spawner] = spawners;
    process.kill(spawner, 'SIGKILL');

    const { state, tis } = await stack().waitForRun(run, 20_000);
    expect(state).toBe('failed');
    const lostReason = expect.stringMatching(/^process spawner sf-spawner exited with signal SIGKILL while the task ran; its process group \d+ was killed$/);
    const retried = tis.get('retried')!;
    const notRetried = tis.get('not_retried')!;
    expect(notRetried).toMatchObject({ state: 'failed', tryNumber: 1, reason: lostReason, exitCode: null });
    expect(retried).toMatchObject({ state: 'success', tryNumber: 2 });
    expect((await stack().repos.tis.history(retried.id)).map((h) => [h.tryNumber, h.to, h.reason])).toEqual([
      [0, 'scheduled', null], [1, 'queued', null], [1, 'running', expect.any(String)], [1, 'up_for_retry', lostReason],
      [1, 'scheduled', 'retry delay passed'], [2, 'queued', null], [2, 'running', expect.any(String)], [2, 'success', null],
    ]);

    for (const ti of [retried, notRetried]) {
      let last = '';
      const deadline = Date.now() + 30_000; // generous for a loaded machine: it ends as soon as the line is there
      while (!last.startsWith("the task's process was lost") && Date.now() < deadline) {
        const { lines } = await stack().repos.logs.read(ti.id, 1);
        last = lines.filter((l) => l.stream === 'system').at(-1)?.line ?? '';
        if (!last.startsWith("the task's process was lost")) await new Promise((r) => setTimeout(r, 20));
      }
      expect(last).toMatch(/^the task's process was lost after [\d.]+s, its end unknown \(process spawner sf-spawner exited with signal SIGKILL while the task ran; its process group \d+ was killed\)$/);
      expect(last).not.toContain('could not start');
    }
    // Nothing of the lost tries runs on, unwatched.
    for (const pid of pids) expect(isDead(pid)).toBe(true);
  }, 240_000);
});
