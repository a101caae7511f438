import type { WorkerHeartbeatEvent } from '@swarmflow/core';
import { EXCHANGES } from '@swarmflow/messaging';
import type { TaskInstance } from '@swarmflow/persistence';
import { waitUntil } from '@swarmflow/messaging/test-support/wait';
import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import { useStack } from './test-support/use-stack';

// Heartbeats are the scheduler's view of what workers run. A freshly (re)started scheduler
// must not take old heartbeats for dead workers; a heartbeat that no longer lists a try the
// database has running on that worker means the try is gone.
describeWithPostgres('heartbeats', () => {
  jest.setTimeout(90_000);
  const HEARTBEAT_TIMEOUT_MS = 1500;
  const stack = useStack({
    // Queue "elsewhere" has no worker here: the tests play that worker with hand-made heartbeats.
    dagFiles: { 'far.yaml': 'id: far\ndefaults: { retries: 1, retry_delay: 1h, queue: elsewhere }\ntasks:\n  job: { shell: "sleep 30" }\n' },
    scheduler: { heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS },
  });

  /** A run whose only task the database has running on `worker`, started `agoMs` ago (negative: ahead). */
  async function runningOn(worker: string, agoMs: number): Promise<TaskInstance> {
    const run = await stack().trigger('far');
    for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
      const [ti] = await stack().repos.tis.forRuns([run.pk]);
      if (ti?.state === 'queued') {
        await stack().db.query(`UPDATE task_instance SET state = 'running', worker = $2, started_at = now() - make_interval(secs => $3) WHERE id = $1`,
          [ti.id, worker, agoMs / 1000]);
        return (await stack().repos.tis.byIds([ti.id]))[0];
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('the task was never queued');
  }

  const beat = async (worker: string, running: { tiId: number; tryNumber: number }[]) => {
    const event: WorkerHeartbeatEvent = {
      type: 'worker.heartbeat', worker, hostname: 'h', queues: ['elsewhere'], concurrency: 1, gpus: 0, running, state: 'active',
      at: new Date().toISOString(),
    };
    await (await stack().broker()).publish(EXCHANGES.events, 'worker.heartbeat', event);
  };

  const stateOf = async (id: number) => (await stack().repos.tis.byIds([id]))[0];

  /**
   * Makes `worker` known to the scheduler, its last heartbeat a minute ahead: not silent however long the
   * test takes (with a real heartbeat, a loaded machine could pass the 1.5-s timeout before the next one and
   * lose the worker, failing its tries for the wrong reason).
   */
  const known = (worker: string) => stack().db.query(`INSERT INTO worker (name, hostname, queues, concurrency, state, running, last_heartbeat_at)
    VALUES ($1, 'h', '["elsewhere"]', 1, 'active', '[]', now() + interval '1 minute')`, [worker]);

  it('fails, for a retry, a try that its worker\'s heartbeat no longer lists', async () => {
    // Known to the scheduler first: a try running on a worker it has never heard of is expired as lost.
    await known('restarted-worker');
    const ti = await runningOn('restarted-worker', 10_000);
    await beat('restarted-worker', []);
    await waitUntil('ti no longer running', async () => (await stateOf(ti.id)).state !== 'running', { timeoutMs: 10_000, intervalMs: 20 });
    expect(await stateOf(ti.id)).toMatchObject({
      state: 'up_for_retry',
      reason: 'worker restarted-worker no longer runs try 1 (it restarted, stopped, or lost the try\'s report)',
    });
  });

  it('keeps a try its worker lists as ended: its end is on its way (held by another scheduler)', async () => {
    // A known worker, so that its tries are not taken for a dead worker's before its heartbeat comes.
    await known('ending-worker');
    const ending = await runningOn('ending-worker', 10_000);
    const gone = await runningOn('ending-worker', 10_000);
    const event: WorkerHeartbeatEvent = {
      type: 'worker.heartbeat', worker: 'ending-worker', hostname: 'h', queues: ['elsewhere'], concurrency: 1, gpus: 0, running: [],
      ended: [{ tiId: ending.id, tryNumber: 1 }], state: 'active', at: new Date().toISOString(),
    };
    await (await stack().broker()).publish(EXCHANGES.events, 'worker.heartbeat', event);
    // The same heartbeat fails the try it lists nowhere: once it has, the other was decided too.
    await waitUntil('gone no longer running', async () => (await stateOf(gone.id)).state !== 'running', { timeoutMs: 10_000, intervalMs: 20 });
    expect((await stateOf(gone.id)).state).toBe('up_for_retry');
    expect(await stateOf(ending.id)).toMatchObject({ state: 'running', worker: 'ending-worker' });
  });

  it('keeps a try its worker still lists, and one that started after the heartbeat was sent', async () => {
    // Known to the scheduler first: a try running on a worker it has never heard of is expired as lost.
    await known('busy-worker');
    const listed = await runningOn('busy-worker', 10_000);
    // Started after the heartbeat's `at` whatever the machine's speed (a start 0 ms ago, then the beat, was
    // within the 2-s grace only while the machine was quick).
    const fresh = await runningOn('busy-worker', -60_000);
    await beat('busy-worker', [{ tiId: listed.id, tryNumber: 1 }]);
    await stack().eventsApplied();
    expect(await stateOf(listed.id)).toMatchObject({ state: 'running' });
    expect((await stateOf(fresh.id)).state).toBe('running');
  });

  it('a worker silent past the heartbeat timeout is lost and its tries fail, but only once the scheduler has listened that long', async () => {
    const ti = await runningOn('silent-worker', 0);
    // Then its worker, whose last heartbeat is long gone, as a restarted scheduler finds them all. (The other way
    // round, an iteration could mark the worker lost before the try runs on it, and nothing would fail the try.)
    await stack().db.query(`INSERT INTO worker (name, hostname, queues, concurrency, state, running, last_heartbeat_at)
      VALUES ('silent-worker', 'h', '["elsewhere"]', 1, 'active', '[]', now() - interval '1 hour')`);
    await waitUntil('ti no longer running', async () => (await stateOf(ti.id)).state !== 'running', { timeoutMs: 10_000, intervalMs: 20 });
    expect((await stateOf(ti.id)).reason).toMatch(/worker silent-worker lost: no heartbeat for 1.5s/);
  });

  it('a stopped worker that handed its tries over: they wait for the next worker of its name, and are lost when none heartbeats in time', async () => {
    const stoppedBeat = async (worker: string, running: { tiId: number; tryNumber: number }[]) => {
      const event: WorkerHeartbeatEvent = {
        type: 'worker.heartbeat', worker, hostname: 'h', queues: ['elsewhere'], concurrency: 1, gpus: 0, running, state: 'stopped',
        at: new Date().toISOString(),
      };
      await (await stack().broker()).publish(EXCHANGES.events, 'worker.heartbeat', event);
    };
    await beat('handing-worker', []);
    await beat('orphaning-worker', []);
    await stack().eventsApplied();
    const adopted = await runningOn('handing-worker', 10_000);
    const orphaned = await runningOn('orphaning-worker', 10_000);
    await stoppedBeat('handing-worker', [{ tiId: adopted.id, tryNumber: 1 }]);
    await stoppedBeat('orphaning-worker', [{ tiId: orphaned.id, tryNumber: 1 }]);
    await stack().eventsApplied();
    expect((await stateOf(adopted.id)).state).toBe('running');
    // The successor (same name) comes up and lists it within the heartbeat timeout, and heartbeats on.
    await waitUntil('the orphaned try to be lost', async () => {
      await beat('handing-worker', [{ tiId: adopted.id, tryNumber: 1 }]);
      return (await stateOf(orphaned.id)).state !== 'running';
    }, { timeoutMs: 10_000, intervalMs: 200 });
    expect(await stateOf(orphaned.id)).toMatchObject({ state: 'up_for_retry', reason: 'worker orphaning-worker lost: no heartbeat for 1.5s' });
    await stack().eventsApplied();
    expect(await stateOf(adopted.id)).toMatchObject({ state: 'running', worker: 'handing-worker' });
  });

  it('tries a stopping worker handed over wait for adoption until the window it announced, past the heartbeat timeout; then they are lost', async () => {
    const handingBeat = async (worker: string, running: { tiId: number; tryNumber: number }[], untilMs: number) => {
      const at = new Date();
      const event: WorkerHeartbeatEvent = {
        type: 'worker.heartbeat', worker, hostname: 'h', queues: ['elsewhere'], concurrency: 1, gpus: 0, running, state: 'stopped',
        handedOver: { tries: running, until: new Date(at.getTime() + untilMs).toISOString() }, at: at.toISOString(),
      };
      await (await stack().broker()).publish(EXCHANGES.events, 'worker.heartbeat', event);
    };
    await beat('slow-slot', []);
    await beat('moved-slot', []);
    await beat('witness', []);
    await stack().eventsApplied();
    const slow = await runningOn('slow-slot', 10_000);
    const moved = await runningOn('moved-slot', 10_000);
    const witness = await runningOn('witness', 10_000);
    // Windows far past the 1.5-s heartbeat timeout. "slow-slot": no successor for now; "moved-slot": its
    // successor came up on another node, heartbeats, and has no container to adopt.
    await handingBeat('slow-slot', [{ tiId: slow.id, tryNumber: 1 }], 60_000);
    await handingBeat('moved-slot', [{ tiId: moved.id, tryNumber: 1 }], 60_000);
    await stack().eventsApplied();
    // The witness stopped listing its try and went silent: it fails, and the heartbeat timeout passes meanwhile.
    await waitUntil('the witness lost', async () => {
      await beat('moved-slot', []);
      return (await stack().repos.workers.get('witness'))?.state === 'lost';
    }, { timeoutMs: 20_000, intervalMs: 200 });
    await stack().eventsApplied();
    expect((await stateOf(witness.id)).state).toBe('up_for_retry');
    expect(await stateOf(slow.id)).toMatchObject({ state: 'running', worker: 'slow-slot' });
    expect(await stateOf(moved.id)).toMatchObject({ state: 'running', worker: 'moved-slot' });
    expect((await stack().repos.workers.get('slow-slot'))?.state).toBe('stopped');

    // The windows run out (moved to the past by hand: the same as waiting a minute): no adoption, so both are lost.
    await stack().db.query(`UPDATE worker SET handed_over_until = now() - interval '1 second' WHERE name IN ('slow-slot', 'moved-slot')`);
    await waitUntil('both handed-over tries lost', async () => {
      await beat('moved-slot', []);
      return (await stateOf(slow.id)).state !== 'running' && (await stateOf(moved.id)).state !== 'running';
    }, { timeoutMs: 20_000, intervalMs: 200 });
    const reason = (worker: string) => `worker ${worker} handed try 1 over and no worker of that name adopted it in time (SWARMFLOW_HANDOFF_TIMEOUT)`;
    expect(await stateOf(slow.id)).toMatchObject({ state: 'up_for_retry', reason: reason('slow-slot') });
    expect(await stateOf(moved.id)).toMatchObject({ state: 'up_for_retry', reason: reason('moved-slot') });
  });

  it('a scheduler that just (re)started does not take its workers for lost while their heartbeats come in', async () => {
    await stack().scheduler.stop();
    // Down for an hour: every heartbeat in the database is old, the worker is fine.
    const ti = await (async () => {
      await stack().db.query(`INSERT INTO worker (name, hostname, queues, concurrency, state, running, last_heartbeat_at)
        VALUES ('patient-worker', 'h', '["elsewhere"]', 1, 'active', '[]', now() - interval '1 hour')`);
      const run = await stack().repos.runs.create({
        dagId: 'far', runId: 'while-down', versionHash: (await stack().repos.dags.get('far'))!.latestVersion, runType: 'manual',
        logicalDate: new Date(), conf: {}, params: {},
      });
      await stack().db.query(`UPDATE dag_run SET state = 'running', needs_eval = false WHERE id = $1`, [run.pk]);
      const dag = await stack().repos.dags.version('far', run.versionHash);
      await stack().db.transaction((tx) => stack().repos.tis.createForRun(run.pk, dag, tx));
      const [row] = await stack().repos.tis.forRuns([run.pk]);
      await stack().db.query(`UPDATE task_instance SET state = 'running', try_number = 1, worker = 'patient-worker', started_at = now() - interval '2 hours' WHERE id = $1`, [row.id]);
      return row;
    })();
    const { Scheduler } = await import('./scheduler');
    const { quietLogger } = await import('./test-support/stack');
    stack().scheduler = new Scheduler({
      dagsFolder: stack().folder, dagParseIntervalMs: 60_000, dagFileTimeoutMs: 20_000, tickMs: 100, heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS, clusterKey: stack().clusterKey,
    }, stack().repos, await stack().broker(), quietLogger);
    await stack().scheduler.start();
    // The worker heartbeats while the scheduler runs its ticks, past twice the timeout of listening.
    const runner = stack().scheduler.runner;
    const listenedEnough = Date.now() + 2 * HEARTBEAT_TIMEOUT_MS;
    while (Date.now() < listenedEnough) {
      await beat('patient-worker', [{ tiId: ti.id, tryNumber: 1 }]);
      const seen = runner.iterations;
      await waitUntil('two scheduler iterations', () => runner.iterations >= seen + 2, { timeoutMs: 10_000, intervalMs: 10 });
    }
    expect(await stateOf(ti.id)).toMatchObject({ state: 'running', worker: 'patient-worker' });
  });
  it('stores what a heartbeat tells for `workers show`: state stopping, tries processed and failed, start time, version, unacked per queue', async () => {
    const event: WorkerHeartbeatEvent = {
      type: 'worker.heartbeat', worker: 'detailed-worker', hostname: 'h', queues: ['elsewhere'], concurrency: 2, gpus: 1, running: [],
      state: 'stopping', processed: 40, failed: 2, uptimeMs: 3_600_000, version: '9.9.9', unacked: { elsewhere: 2 }, at: new Date().toISOString(),
    };
    const before = Date.now();
    await (await stack().broker()).publish(EXCHANGES.events, 'worker.heartbeat', event);
    const worker = await waitUntil('the heartbeat stored', () => stack().repos.workers.get('detailed-worker'), { timeoutMs: 30_000, intervalMs: 20 });
    expect(worker).toMatchObject({ state: 'stopping', processed: 40, failed: 2, version: '9.9.9', unacked: { elsewhere: 2 }, gpus: 1 });
    // Receipt time minus the uptime: the worker's wall clock plays no part.
    expect(worker!.startedAt!.getTime()).toBeGreaterThanOrEqual(before - 3_600_000 - 1000);
    expect(worker!.startedAt!.getTime()).toBeLessThanOrEqual(Date.now() - 3_600_000 + 1000);
  });
});
