import { dagHash, InvalidTransitionError, NEXT, TransitionStepsError, validateDag, type SerializedDag } from '@swarmflow/core';
import { Database } from '../database';
import type { TaskInstance, TiTransition } from '../records';
import { DuplicateLogicalDateError, DuplicateRunError } from '../repositories/dag-run.repository';
import { TransitionsNotAppliedError } from '../repositories/task-instance.repository';
import { Repositories } from '../repositories/repositories';

/**
 * The repository contract: the same specs against PostgreSQL and the embedded database
 * (PGlite), so standalone mode runs on the SQL that production runs on.
 */
export function describeRepositoryContract(name: string, open: () => Promise<{ db: Database; close(): Promise<void> }>): void {
  describe(`repositories on ${name}`, () => {
    let db: Database;
    let close: () => Promise<void>;
    let repos: Repositories;
    const now = new Date('2026-01-01T00:00:00Z');
    const dag: SerializedDag = validateDag({
      id: 'contract', tasks: [{ id: 'a', command: 'true', retries: 2 }, { id: 'b', command: 'true', upstream: ['a'] }],
    }, 'contract.ts');
    const hash = dagHash(dag);

    beforeAll(async () => {
      ({ db, close } = await open());
      repos = new Repositories(db);
      await repos.dags.recordParse([{ dag, hash }], [{ fileloc: 'broken.ts', message: 'broken.ts: SyntaxError' }], now);
    }, 60_000);

    afterAll(async () => close?.());

    // One logical date per run: a DAG has one run per logical date.
    let runs = 0;
    const newRun = (runId: string, logicalDate = new Date(now.getTime() + 60_000 * runs++)) => repos.runs.create({
      dagId: 'contract', runId, versionHash: hash, runType: 'manual', logicalDate, conf: { x: 1 }, params: { p: 'v' },
    });

    it('stores DAG versions by content hash and import errors by file', async () => {
      expect(await repos.dags.version('contract', hash)).toEqual(dag);
      expect((await repos.dags.list()).map((d) => [d.dagId, d.latestVersion])).toEqual([['contract', hash]]);
      expect(await repos.dags.importErrors()).toEqual([{ fileloc: 'broken.ts', message: 'broken.ts: SyntaxError', at: now }]);
      const again = await repos.dags.recordParse([{ dag, hash }], [], now);
      expect(again.newVersions).toEqual([]);
      expect(await repos.dags.importErrors()).toEqual([]);
    });

    it('lists queued runs oldest first, at most perDag of each DAG so one backlog cannot starve the others', async () => {
      const other: SerializedDag = validateDag({ id: 'other', tasks: [{ id: 'x', command: 'true' }] }, 'other.ts');
      await repos.dags.recordParse([{ dag, hash }, { dag: other, hash: dagHash(other) }], [], now);
      const day = (n: number) => new Date(Date.UTC(2020, 0, n));
      for (let n = 1; n <= 4; n++) {
        await repos.runs.create({ dagId: 'contract', runId: `backlog${n}`, versionHash: hash, runType: 'backfill', logicalDate: day(n), conf: {}, params: {} });
      }
      await repos.runs.create({ dagId: 'other', runId: 'late', versionHash: dagHash(other), runType: 'manual', logicalDate: day(9), conf: {}, params: {} });
      const queued = await db.transaction((tx) => repos.runs.queued(10, tx, 2));
      expect(queued.map((r) => r.runId)).toEqual(['backlog1', 'backlog2', 'late']);
      await db.query(`DELETE FROM dag_run WHERE run_id LIKE 'backlog%' OR run_id = 'late'`);
      await repos.dags.recordParse([{ dag, hash }], [], now);
    });

    it("lists a DAG's own queued runs beside its backfill's backlog: a long backfill cannot keep them out of the batch", async () => {
      const day = (n: number) => new Date(Date.UTC(2019, 0, n));
      const backfill = await repos.backfills.create({
        dagId: 'contract', from: day(1), to: day(4), taskPattern: null, ignoreDependencies: false, rerunFailed: false, maxActiveRuns: 1, runCount: 4,
      });
      for (let n = 1; n <= 4; n++) {
        await repos.runs.create({ dagId: 'contract', runId: `bf${n}`, versionHash: hash, runType: 'backfill', logicalDate: day(n), conf: {}, params: {}, backfillId: backfill.id });
      }
      await repos.runs.create({ dagId: 'contract', runId: 'scheduled-today', versionHash: hash, runType: 'scheduled', logicalDate: day(20), conf: {}, params: {} });
      const queued = await db.transaction((tx) => repos.runs.queued(10, tx, 2));
      expect(queued.map((r) => r.runId)).toEqual(['bf1', 'bf2', 'scheduled-today']);
      await db.query(`DELETE FROM dag_run WHERE run_id LIKE 'bf%' OR run_id = 'scheduled-today'`);
      await db.query(`DELETE FROM backfill`);
    });

    it('creates runs once per run id', async () => {
      const run = await newRun('r1');
      expect(run).toMatchObject({ dagId: 'contract', runId: 'r1', state: 'queued', conf: { x: 1 }, params: { p: 'v' } });
      await expect(newRun('r1')).rejects.toThrow(DuplicateRunError);
      // Taken run id and taken date: the run id is named, as the caller chose it.
      await expect(newRun('r1', run.logicalDate)).rejects.toThrow(DuplicateRunError);
    });

    it('starts a queued run only while it is queued (a user may have cancelled it since it was read)', async () => {
      const run = await newRun('start-me');
      const later = new Date(now.getTime() + 1000);
      expect(await db.transaction((tx) => repos.runs.startQueued(run.pk, later, tx))).toBe(true);
      expect(await repos.runs.get('contract', 'start-me')).toMatchObject({ state: 'running', startedAt: later, endedAt: null, reason: null });
      const cancelled = await newRun('cancelled-first');
      await db.transaction((tx) => repos.runs.setState(cancelled.pk, 'failed', later, tx, 'cancelled by olga'));
      expect(await db.transaction((tx) => repos.runs.startQueued(cancelled.pk, later, tx))).toBe(false);
      expect(await repos.runs.get('contract', 'cancelled-first')).toMatchObject({ state: 'failed', reason: 'cancelled by olga', endedAt: later });
      await db.query(`DELETE FROM dag_run WHERE run_id IN ('start-me', 'cancelled-first')`);
    });

    it('creates one run per DAG and logical date, naming the run that holds the date', async () => {
      const date = new Date('2025-06-01T00:00:00Z');
      const held = await newRun('date-holder', date);
      const err = await newRun('date-second', date).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DuplicateLogicalDateError);
      expect(err).toMatchObject({ dagId: 'contract', existingRunId: 'date-holder', existingState: 'queued', logicalDate: date });
      expect((err as Error).message).toBe('DAG "contract" already has a run at logical date 2025-06-01T00:00:00.000Z: "date-holder" (queued); ' +
        'a DAG has one run per logical date. Fix: to run that date again, clear the tasks of that run ' +
        '(`swarmflow tasks clear contract date-holder <task> --downstream`), or pick another logical date.');
      // Inside a transaction the conflict is no SQL error: the transaction goes on.
      const after = await db.transaction(async (tx) => {
        await expect(repos.runs.create({ ...held, runId: 'date-in-tx' }, tx)).rejects.toThrow(DuplicateLogicalDateError);
        return repos.runs.get('contract', 'date-holder', tx);
      });
      expect(after!.pk).toBe(held.pk);
      // Another DAG may use the date.
      const other: SerializedDag = validateDag({ id: 'other_date', tasks: [{ id: 'x', command: 'true' }] }, 'other.ts');
      await repos.dags.recordParse([{ dag, hash }, { dag: other, hash: dagHash(other) }], [], now);
      await repos.runs.create({ dagId: 'other_date', runId: 'same-date', versionHash: dagHash(other), runType: 'manual', logicalDate: date, conf: {}, params: {} });
      await db.query(`DELETE FROM dag_run WHERE dag_id = 'other_date'`);
      await repos.dags.recordParse([{ dag, hash }], [], now);
    });

    it('lets exactly one of several concurrent creates of a logical date win', async () => {
      const date = new Date('2025-07-01T00:00:00Z');
      const results = await Promise.allSettled(['race-a', 'race-b', 'race-c'].map((runId) => newRun(runId, date)));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const winner = (results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ runId: string }>).value.runId;
      for (const r of results.filter((x): x is PromiseRejectedResult => x.status === 'rejected')) {
        expect(r.reason).toBeInstanceOf(DuplicateLogicalDateError);
        expect(r.reason.existingRunId).toBe(winner);
      }
    });

    it('finds the first millisecond at or after a date that has no run', async () => {
      const date = new Date('2025-08-01T00:00:00Z');
      const plus = (ms: number) => new Date(date.getTime() + ms);
      expect(await repos.runs.nextFreeLogicalDate('contract', date)).toEqual(date);
      for (const ms of [0, 1, 3]) await newRun(`free-${ms}`, plus(ms));
      expect(await repos.runs.nextFreeLogicalDate('contract', date)).toEqual(plus(2));
      expect(await repos.runs.nextFreeLogicalDate('contract', plus(3))).toEqual(plus(4));
    });

    it('applies transitions as compare-and-set and records their history', async () => {
      const run = await newRun('r2');
      await db.transaction((tx) => repos.tis.createForRun(run.pk, dag, tx));
      const [a] = (await repos.tis.forRuns([run.pk])).filter((t) => t.taskId === 'a');
      expect(a).toMatchObject({ state: 'none', tryNumber: 0, maxTries: 3 });
      const scheduled: TaskInstance = { ...a, state: 'scheduled' };
      const step = { from: 'none' as const, to: 'scheduled' as const, tryNumber: 0, reason: null };
      const first = await db.transaction((tx) => repos.tis.applyTransitions([{ before: a, after: scheduled, steps: [step] }], now, tx));
      expect([...first]).toEqual([a.id]);
      // The same transition again: the row is no longer in `none`, so nothing applies.
      const second = await db.transaction((tx) => repos.tis.applyTransitions([{ before: a, after: scheduled, steps: [step] }], now, tx));
      expect(second.size).toBe(0);
      expect((await repos.tis.history(a.id)).map((h) => [h.from, h.to])).toEqual([['none', 'scheduled']]);
      const [locked] = await db.transaction((tx) => repos.runs.lockWithTaskStates([run.pk], tx));
      expect(locked.run.runId).toBe('r2');
      expect(locked.tis!.map((t) => [t.taskId, t.state, t.tryNumber, t.maxTries]).sort()).toEqual([['a', 'scheduled', 0, 3], ['b', 'none', 0, 1]]);
      const view = await db.transaction((tx) => repos.tis.dispatchView(10, tx));
      expect(view.candidates.map((c) => c.id)).toContain(a.id);
    });

    it("records each try's worker, hostname, pid and exit code in its history rows: an earlier try keeps its own once a retry ran elsewhere", async () => {
      const run = await newRun('r-tries');
      await db.transaction((tx) => repos.tis.createForRun(run.pk, dag, tx));
      const [a] = (await repos.tis.forRuns([run.pk])).filter((t) => t.taskId === 'a');
      // Each write as the scheduler commits it (prepared, committed in its round trip).
      const write = async (before: TaskInstance, after: TaskInstance, steps: TiTransition['steps']) => {
        const { applied } = await db.transaction((tx) => repos.tis.applyWithMessages([{ before, after, steps }], new Map(), now, tx, { commit: true }));
        expect([...applied]).toEqual([a.id]);
        return after;
      };
      const cleared = { worker: null, hostname: null, pid: null, exitCode: null };
      let ti = await write(a, { ...a, state: 'queued', tryNumber: 1 }, [
        { from: 'none', to: 'scheduled', tryNumber: 0, reason: null }, { from: 'scheduled', to: 'queued', tryNumber: 1, reason: null },
      ]);
      // Try 1 starts on w1 and fails with exit code 3, in one write: the start's row has no exit code yet.
      ti = await write(ti, { ...ti, state: 'up_for_retry', worker: 'w1', hostname: 'host-1', pid: 101, exitCode: 3, reason: 'boom' }, [
        { from: 'queued', to: 'running', tryNumber: 1, reason: 'on w1', ran: { worker: 'w1', hostname: 'host-1', pid: 101, exitCode: null } },
        { from: 'running', to: 'up_for_retry', tryNumber: 1, reason: 'boom' },
      ]);
      // The retry and the dispatch of try 2 in one write, which clears the worker and exit code:
      // try 1's step keeps what it had (`ran`, as the scheduler's folding of writes sets it).
      ti = await write(ti, { ...ti, state: 'queued', tryNumber: 2, ...cleared, reason: null }, [
        { from: 'up_for_retry', to: 'scheduled', tryNumber: 1, reason: null, ran: { worker: 'w1', hostname: 'host-1', pid: 101, exitCode: 3 } },
        { from: 'scheduled', to: 'queued', tryNumber: 2, reason: null },
      ]);
      // Try 2 succeeds on w2, its start and end reported apart.
      ti = await write(ti, { ...ti, state: 'running', worker: 'w2', hostname: 'host-2', pid: 202 }, [{ from: 'queued', to: 'running', tryNumber: 2, reason: 'on w2' }]);
      await write(ti, { ...ti, state: 'success', exitCode: 0 }, [{ from: 'running', to: 'success', tryNumber: 2, reason: null }]);

      const history = await repos.tis.history(a.id);
      expect(history.map((h) => [h.tryNumber, h.to, h.worker, h.hostname, h.pid, h.exitCode])).toEqual([
        [0, 'scheduled', null, null, null, null],
        [1, 'queued', null, null, null, null],
        [1, 'running', 'w1', 'host-1', 101, null],
        [1, 'up_for_retry', 'w1', 'host-1', 101, 3],
        [1, 'scheduled', 'w1', 'host-1', 101, 3],
        [2, 'queued', null, null, null, null],
        [2, 'running', 'w2', 'host-2', 202, null],
        [2, 'success', 'w2', 'host-2', 202, 0],
      ]);
      // Each try as the try page reads it: its last row's worker and exit code.
      const lastOf = (n: number) => history.filter((h) => h.tryNumber === n).at(-1)!;
      expect([lastOf(1).worker, lastOf(1).exitCode, lastOf(2).worker, lastOf(2).exitCode]).toEqual(['w1', 3, 'w2', 0]);
      // The task instance itself holds only the latest try's.
      expect((await repos.tis.byIds([a.id]))[0]).toMatchObject({ tryNumber: 2, worker: 'w2', exitCode: 0 });
    });

    it('leaves out the task states of a run whose ti_seq the caller has cached, until someone raises it', async () => {
      const run = await newRun('r-seq');
      await db.transaction((tx) => repos.tis.createForRun(run.pk, dag, tx));
      const [fresh] = await db.transaction((tx) => repos.runs.lockWithTaskStates([run.pk], tx));
      expect(fresh.tis).toHaveLength(2);
      const cached = new Map([[run.pk, fresh.tiSeq]]);
      const [same] = await db.transaction((tx) => repos.runs.lockWithTaskStates([run.pk], tx, cached));
      expect(same).toMatchObject({ tiSeq: fresh.tiSeq, tis: null });
      // A stale cached counter reads them.
      const [stale] = await db.transaction((tx) => repos.runs.lockWithTaskStates([run.pk], tx, new Map([[run.pk, fresh.tiSeq - 1]])));
      expect(stale.tis).toHaveLength(2);
      // Asking for an evaluation (a clear does) and bumping both raise it.
      await repos.runs.markNeedsEval(run.pk);
      const [afterClear] = await db.transaction((tx) => repos.runs.lockWithTaskStates([run.pk], tx, cached));
      expect(afterClear.tiSeq).toBe(fresh.tiSeq + 1);
      expect(afterClear.tis).toHaveLength(2);
      await db.transaction((tx) => repos.runs.bumpTiSeq([run.pk], tx));
      const [bumped] = await db.transaction((tx) => repos.runs.lockWithTaskStates([run.pk], tx, new Map([[run.pk, afterClear.tiSeq]])));
      expect(bumped).toMatchObject({ tiSeq: fresh.tiSeq + 2 });
      expect(bumped.tis).toHaveLength(2);
    });

    it('commits a write in its own round trip, and rolls everything back when one compare-and-set fails', async () => {
      const run = await newRun('r-commit');
      await db.transaction((tx) => repos.tis.createForRun(run.pk, dag, tx));
      const [a, b] = await repos.tis.forRuns([run.pk]);
      const schedule = (ti: TaskInstance, from: TaskInstance['state']) => ({
        before: { ...ti, state: from }, after: { ...ti, state: 'scheduled' as const, reason: `it's "quoted" \\ back` },
        steps: [{ from, to: 'scheduled' as const, tryNumber: 0, reason: null }],
      });
      const logs = [{ tiId: a.id, tryNumber: 0, seq: 1, lines: [{ at: now.toISOString(), stream: 'stdout' as const, line: `a 'line' with {braces}, "quotes" and \\` }] }];
      // Nothing applies: refused all the same.
      await expect(db.transaction((tx) => repos.tis.applyWithMessages([schedule(b, 'queued')], new Map(), now, tx, { commit: true })))
        .rejects.toEqual(new TransitionsNotAppliedError([b.id]));
      // b expects a state it is not in: nothing of this transaction stays, not even a's change or its log.
      await expect(db.transaction((tx) => repos.tis.applyWithMessages([schedule(a, 'none'), schedule(b, 'queued')], new Map(), now, tx, { commit: true, logs })))
        .rejects.toEqual(new TransitionsNotAppliedError([b.id]));
      expect((await repos.tis.byIds([a.id]))[0].state).toBe('none');
      expect((await repos.logs.read(a.id, 0)).lines).toEqual([]);
      // Both apply: committed with the write (a second run reuses the connection's prepared statement).
      for (const ti of [a, b]) {
        const { applied } = await db.transaction((tx) => repos.tis.applyWithMessages([schedule(ti, 'none')], new Map(), now, tx, { commit: true, logs: ti === a ? logs : [] }));
        expect([...applied]).toEqual([ti.id]);
      }
      expect((await repos.tis.byIds([a.id, b.id])).map((t) => [t.state, t.reason])).toEqual([
        ['scheduled', `it's "quoted" \\ back`], ['scheduled', `it's "quoted" \\ back`],
      ]);
      expect((await repos.logs.read(a.id, 0)).lines.map((l) => l.line)).toEqual([`a 'line' with {braces}, "quotes" and \\`]);
    });

    it('prepares the committing write on a second pool of the same database (PGlite shares one session)', async () => {
      const run = await newRun('r-second-pool');
      await db.transaction((tx) => repos.tis.createForRun(run.pk, dag, tx));
      const [a, b] = await repos.tis.forRuns([run.pk]);
      const schedule = (ti: TaskInstance) => ({
        before: ti, after: { ...ti, state: 'scheduled' as const }, steps: [{ from: 'none' as const, to: 'scheduled' as const, tryNumber: 0, reason: null }],
      });
      // This pool has prepared it (an earlier test); a new one has not, but its session may have.
      await db.transaction((tx) => repos.tis.applyWithMessages([schedule(a)], new Map(), now, tx, { commit: true }));
      const other = new Database({ url: db.config.url, poolSize: 1 });
      try {
        const { applied } = await other.transaction((tx) => new Repositories(other).tis.applyWithMessages([schedule(b)], new Map(), now, tx, { commit: true }));
        expect([...applied]).toEqual([b.id]);
      } finally {
        await other.close();
      }
    });

    it('refuses a write whose steps are not edges of the state table, before touching the row', async () => {
      const run = await newRun('r-gate');
      await db.transaction((tx) => repos.tis.createForRun(run.pk, dag, tx));
      const [a] = await repos.tis.forRuns([run.pk]);
      // none -> running is no edge: refused, though the compare-and-set would match the row.
      await expect(db.transaction((tx) => repos.tis.applyTransitions([{
        before: a, after: { ...a, state: 'running' }, steps: [{ from: 'none', to: 'running', tryNumber: 0, reason: null }],
      }], now, tx))).rejects.toThrow(new InvalidTransitionError('none', 'running', NEXT.none));
      // A state change that records no step.
      await expect(db.transaction((tx) => repos.tis.applyTransitions([{ before: a, after: { ...a, state: 'scheduled' }, steps: [] }], now, tx)))
        .rejects.toThrow(TransitionStepsError);
      expect((await repos.tis.byIds([a.id]))[0].state).toBe('none');
      expect(await repos.tis.history(a.id)).toEqual([]);
    });

    it('stores the last log lines of a write that changes no task instance', async () => {
      const run = await newRun('r-logs-only');
      await db.transaction((tx) => repos.tis.createForRun(run.pk, dag, tx));
      const [a] = await repos.tis.forRuns([run.pk]);
      const logs = [{ tiId: a.id, tryNumber: 1, seq: 3, lines: [{ at: now.toISOString(), stream: 'stdout' as const, line: 'late' }] }];
      await db.transaction((tx) => repos.tis.applyWithMessages([], new Map(), now, tx, { commit: true, logs }));
      expect((await repos.logs.read(a.id, 1)).lines.map((l) => l.line)).toEqual(['late']);
    });

    it('refuses a committing write whose run counter or scheduler epoch moved since the caller read them', async () => {
      const run = await newRun('r-guards');
      await db.transaction((tx) => repos.tis.createForRun(run.pk, dag, tx));
      const [a] = (await repos.tis.forRuns([run.pk])).filter((t) => t.taskId === 'a');
      const [locked] = await db.transaction((tx) => repos.runs.lockWithTaskStates([run.pk], tx));
      const step = { before: a, after: { ...a, state: 'scheduled' as const }, steps: [{ from: 'none' as const, to: 'scheduled' as const, tryNumber: 0, reason: null }] };
      const write = (seq: number, epoch: number | null) => db.transaction((tx) =>
        repos.tis.applyWithMessages([step], new Map(), now, tx, { bumpRuns: [{ id: run.pk, seq }], epoch: { expect: epoch }, commit: true }));
      // Whatever the epoch is: raised, and told before and after.
      const first = await write(locked.tiSeq, null);
      expect(first.epoch!.now).toBe(first.epoch!.was + 1);
      await db.transaction((tx) => repos.tis.applyTransitions([{ before: { ...a, state: 'scheduled' }, after: a, steps: [{ from: 'scheduled', to: 'none', tryNumber: 0, reason: null }] }], now, tx));
      await expect(write(locked.tiSeq, first.epoch!.now)).rejects.toThrow('a run changed during the iteration');
      await expect(write(locked.tiSeq + 1, first.epoch!.was)).rejects.toThrow('another scheduler wrote during the iteration');
      const second = await write(locked.tiSeq + 1, first.epoch!.now);
      expect(second.epoch).toEqual({ was: first.epoch!.now, now: first.epoch!.now + 1 });
      expect((await repos.tis.byIds([a.id]))[0].state).toBe('scheduled');
    });

    it('writes task messages to the outbox only for transitions that applied, and sweeps old ones', async () => {
      const run = await newRun('r4');
      await db.transaction((tx) => repos.tis.createForRun(run.pk, dag, tx));
      const [a, b] = await repos.tis.forRuns([run.pk]);
      await db.transaction((tx) => repos.tis.applyTransitions([{
        before: a, after: { ...a, state: 'scheduled' }, steps: [{ from: 'none', to: 'scheduled', tryNumber: 0, reason: null }],
      }], now, tx));
      const move = (ti: TaskInstance, from: TaskInstance['state']) => ({
        before: { ...ti, state: from }, after: { ...ti, state: 'queued' as const, tryNumber: 1 }, steps: [{ from, to: 'queued' as const, tryNumber: 1, reason: null }],
      });
      const messages = new Map([
        [a.id, { exchange: 'swarmflow.tasks', routingKey: 'default', payload: { n: 1, tryNumber: 1 } }],
        [b.id, { exchange: 'swarmflow.tasks', routingKey: 'default', payload: { n: 2, tryNumber: 1 } }],
      ]);
      // b's compare-and-set expects a state it is not in: it does not apply, and its message is not written.
      const { applied, outboxIds } = await db.transaction((tx) => repos.tis.applyWithMessages([move(a, 'scheduled'), move(b, 'scheduled')], messages, now, tx));
      expect([...applied]).toEqual([a.id]);
      expect([...outboxIds.keys()]).toEqual([a.id]);
      expect(await repos.outbox.pending()).toBe(1);
      const sent: unknown[] = [];
      // A row its scheduler is still publishing (a broker outage) is not swept.
      expect(await repos.outbox.relay(async (m) => void sent.push(m.payload), -60_000, 1000, [outboxIds.get(a.id)!])).toEqual({ published: 0, dropped: 0 });
      expect(await repos.outbox.relay(async (m) => void sent.push(m.payload), -60_000)).toEqual({ published: 1, dropped: 0 });
      expect(sent).toEqual([{ n: 1, tryNumber: 1 }]);
      expect(await repos.outbox.pending()).toBe(0);
    });

    it('sweeps a task message away unpublished once its try is no longer queued', async () => {
      const run = await newRun('r5');
      await db.transaction((tx) => repos.tis.createForRun(run.pk, dag, tx));
      const [a, b] = await repos.tis.forRuns([run.pk]);
      const queue = (ti: TaskInstance) => ({
        before: ti, after: { ...ti, state: 'queued' as const, tryNumber: 1 }, steps: [
          { from: ti.state, to: 'scheduled' as const, tryNumber: 0, reason: null }, { from: 'scheduled' as const, to: 'queued' as const, tryNumber: 1, reason: null },
        ],
      });
      const message = (n: number) => ({ exchange: 'swarmflow.tasks', routingKey: 'default', payload: { n, tryNumber: 1 } });
      await db.transaction((tx) => repos.tis.applyWithMessages([queue(a), queue(b)], new Map([[a.id, message(1)], [b.id, message(2)]]), now, tx));
      // a was delivered and started before its scheduler could delete the row (it crashed);
      // b's message never reached the broker and b is still queued.
      const [queuedA] = await repos.tis.byIds([a.id]);
      await db.transaction((tx) => repos.tis.applyTransitions([{
        before: queuedA, after: { ...queuedA, state: 'running' }, steps: [{ from: 'queued', to: 'running', tryNumber: 1, reason: null }],
      }], now, tx));
      const sent: unknown[] = [];
      expect(await repos.outbox.relay(async (m) => void sent.push(m.payload), -60_000)).toEqual({ published: 1, dropped: 1 });
      expect(sent).toEqual([{ n: 2, tryNumber: 1 }]);
      expect(await repos.outbox.pending()).toBe(0);
    });

    it('reads log lines of a try in order with a cursor', async () => {
      const run = await newRun('r3');
      await db.transaction((tx) => repos.tis.createForRun(run.pk, dag, tx));
      const [a] = await repos.tis.forRuns([run.pk]);
      const line = (text: string) => ({ at: now.toISOString(), stream: 'stdout' as const, line: text });
      await repos.logs.append([{ tiId: a.id, tryNumber: 1, seq: 1, lines: [line('one'), line('two')] }]);
      const first = await repos.logs.read(a.id, 1);
      expect(first.lines.map((l) => l.line)).toEqual(['one', 'two']);
      await repos.logs.append([{ tiId: a.id, tryNumber: 1, seq: 2, lines: [line('three')] }]);
      const next = await repos.logs.read(a.id, 1, first.cursor);
      expect(next.lines.map((l) => l.line)).toEqual(['three']);
      expect((await repos.logs.read(a.id, 2)).lines).toEqual([]);
    });

    it('reads a log stored in one write of many batches page by page, skipping none (ids follow seq)', async () => {
      const run = await newRun('r-pages');
      await db.transaction((tx) => repos.tis.createForRun(run.pk, dag, tx));
      const [a, b] = (await repos.tis.forRuns([run.pk])).sort((x, y) => x.taskId.localeCompare(y.taskId));
      const line = (text: string) => ({ at: now.toISOString(), stream: 'stdout' as const, line: text });
      // As the log sink writes: batches of several tries, each try's in seq order, in one statement.
      await repos.logs.append([
        ...[1, 2, 3].map((seq) => ({ tiId: a.id, tryNumber: 1, seq, lines: [line(`a${seq}`)] })), { tiId: b.id, tryNumber: 1, seq: 1, lines: [line('b1')] },
      ]);
      const want = ['a1', 'a2', 'a3'];
      expect((await repos.logs.read(a.id, 1)).lines.map((l) => l.line)).toEqual(want);
      const paged = async (limit: number) => {
        const lines: string[] = [];
        for (let cursor = 0; ;) {
          const page = await repos.logs.read(a.id, 1, cursor, limit);
          if (page.cursor === cursor) return lines;
          lines.push(...page.lines.map((l) => l.line));
          cursor = page.cursor;
        }
      };
      expect(await paged(1)).toEqual(want);
      // A batch stored again later (a redelivery) repeats its lines; it hides none of the others.
      await repos.logs.append([{ tiId: a.id, tryNumber: 1, seq: 1, lines: [line('a1')] }]);
      expect((await paged(2)).sort()).toEqual(['a1', 'a1', 'a2', 'a3']);
    });

    it('log archive: lists complete unarchived tries, records each once, prunes the rows of archived ones only', async () => {
      const run = await newRun('r-archive');
      await db.transaction((tx) => repos.tis.createForRun(run.pk, dag, tx));
      const [a, b] = (await repos.tis.forRuns([run.pk])).sort((x, y) => x.taskId.localeCompare(y.taskId));
      const line = (text: string) => ({ at: now.toISOString(), stream: 'stdout' as const, line: text });
      await repos.logs.append([
        { tiId: a.id, tryNumber: 1, seq: 1, lines: [line('one'), line('two')] }, { tiId: a.id, tryNumber: 1, seq: 2, lines: [line('three')] },
        { tiId: b.id, tryNumber: 1, seq: 1, lines: [line('still writing')] },
      ]);
      // b's try 1 is running: its log is not complete.
      await db.query(`UPDATE task_instance SET state = 'running', try_number = 1 WHERE id = $1`, [b.id]);
      const scan = async () => { while ((await repos.logs.scanForArchive(0, 1000)).more); };
      const due = async () => { await scan(); return (await repos.logs.unarchived(now, 100)).filter((t) => t.runId === 'r-archive'); };
      const batches = await repos.logs.readBatches(a.id, 1);
      expect(batches.map((x) => [x.seq, x.lines.map((l) => l.line)])).toEqual([[1, ['one', 'two']], [2, ['three']]]);
      const upTo = Math.max(...batches.map((x) => x.id));
      expect(await due()).toEqual([{ tiId: a.id, tryNumber: 1, dagId: 'contract', runId: 'r-archive', taskId: 'a', upTo, prunedArchiveUrl: null }]);

      await repos.logs.markArchived([{ tiId: a.id, tryNumber: 1, url: 's3://bucket/first', lineCount: 3, archivedAt: now, upTo }]);
      expect(await repos.logs.archiveOf(a.id, 1)).toEqual({ tiId: a.id, tryNumber: 1, url: 's3://bucket/first', lineCount: 3, archivedAt: now, prunedAt: null });
      expect(await repos.logs.archiveOf(b.id, 1)).toBeNull();
      expect(await due()).toEqual([]);

      expect(await repos.logs.pruneArchived(now, now, 100)).toBe(0);
      // A batch stored after the archive: the try is archived again before its rows go.
      await repos.logs.append([{ tiId: a.id, tryNumber: 1, seq: 3, lines: [line('late')] }]);
      expect(await due()).toEqual([]);
      expect(await repos.logs.pruneArchived(new Date(now.getTime() + 1000), now, 100)).toBe(0);
      expect((await repos.logs.read(a.id, 1)).lines.map((l) => l.line)).toEqual(['one', 'two', 'three', 'late']);
      const lateId = Math.max(...(await repos.logs.readBatches(a.id, 1)).map((x) => x.id));
      expect(await due()).toEqual([{ tiId: a.id, tryNumber: 1, dagId: 'contract', runId: 'r-archive', taskId: 'a', upTo: lateId, prunedArchiveUrl: null }]);
      // An archive that missed the late row does not clear it; the one holding it does, and replaces the record.
      await repos.logs.markArchived([{ tiId: a.id, tryNumber: 1, url: 's3://bucket/first', lineCount: 3, archivedAt: now, upTo }]);
      expect(await due()).toHaveLength(1);
      await repos.logs.markArchived([{ tiId: a.id, tryNumber: 1, url: 's3://bucket/again', lineCount: 4, archivedAt: now, upTo: lateId }]);
      expect(await due()).toEqual([]);
      const later = new Date(now.getTime() + 1000);
      expect(await repos.logs.pruneArchived(later, later, 100)).toBe(1);
      expect((await repos.logs.read(a.id, 1)).lines).toEqual([]);
      expect((await repos.logs.read(b.id, 1)).lines.map((l) => l.line)).toEqual(['still writing']);
      expect((await repos.logs.archiveOf(a.id, 1))).toMatchObject({ url: 's3://bucket/again', lineCount: 4, prunedAt: later });
      expect(await repos.logs.pruneArchived(later, later, 100)).toBe(0);

      // A batch stored after the prune: due, naming the archive to merge it into; once merged
      // (the record replaced, the rows folded in deleted), the try stays pruned and is not due.
      await repos.logs.append([{ tiId: a.id, tryNumber: 1, seq: 4, lines: [line('after the prune')] }]);
      const afterPrune = Math.max(...(await repos.logs.readBatches(a.id, 1)).map((x) => x.id));
      expect(await due()).toEqual([{ tiId: a.id, tryNumber: 1, dagId: 'contract', runId: 'r-archive', taskId: 'a', upTo: afterPrune, prunedArchiveUrl: 's3://bucket/again' }]);
      await repos.logs.markArchived([{ tiId: a.id, tryNumber: 1, url: 's3://bucket/merged', lineCount: 5, archivedAt: later, upTo: afterPrune, folded: [afterPrune] }]);
      expect(await due()).toEqual([]);
      expect(await repos.logs.readBatches(a.id, 1)).toEqual([]);
      expect(await repos.logs.archiveOf(a.id, 1)).toMatchObject({ url: 's3://bucket/merged', lineCount: 5, prunedAt: later });
      // Folding deletes rows of pruned tries only.
      await repos.logs.markArchived([{ tiId: b.id, tryNumber: 1, url: 's3://bucket/b', lineCount: 1, archivedAt: later, upTo: 0, folded: (await repos.logs.readBatches(b.id, 1)).map((x) => x.id) }]);
      expect((await repos.logs.read(b.id, 1)).lines.map((l) => l.line)).toEqual(['still writing']);
    });

    it('log archive: what is due is found from the rows stored since the last look (a watermark), a bounded batch at a time, never from every row kept', async () => {
      const run = await newRun('r-archive-watermark');
      await db.transaction((tx) => repos.tis.createForRun(run.pk, dag, tx));
      const [a] = (await repos.tis.forRuns([run.pk])).sort((x, y) => x.taskId.localeCompare(y.taskId));
      const line = (text: string) => ({ at: now.toISOString(), stream: 'stdout' as const, line: text });
      const ours = async () => (await repos.logs.unarchived(now, 1000)).filter((t) => t.runId === 'r-archive-watermark');
      while ((await repos.logs.scanForArchive(0, 1000)).more);
      const start = await repos.logs.archiveWatermark();
      await repos.logs.append([1, 2, 3, 4, 5].map((seq) => ({ tiId: a.id, tryNumber: 1, seq, lines: [line(`line ${seq}`)] })));
      const ids = (await repos.logs.readBatches(a.id, 1)).map((x) => x.id).sort((x, y) => x - y);

      // Rows younger than the settle time are not passed: an older id may still be uncommitted.
      expect(await repos.logs.scanForArchive(3_600_000, 2)).toEqual({ scanned: 0, more: false });
      expect(await repos.logs.archiveWatermark()).toBe(start);
      expect(await ours()).toEqual([]);
      // Two rows a statement: the watermark moves over exactly those.
      expect(await repos.logs.scanForArchive(0, 2)).toEqual({ scanned: 2, more: true });
      expect(await repos.logs.archiveWatermark()).toBe(ids[1]);
      expect(await ours()).toEqual([expect.objectContaining({ tiId: a.id, tryNumber: 1, upTo: ids[1] })]);
      while ((await repos.logs.scanForArchive(0, 2)).more);
      expect(await repos.logs.archiveWatermark()).toBe(ids[4]);
      expect(await ours()).toEqual([expect.objectContaining({ tiId: a.id, upTo: ids[4] })]);

      await repos.logs.markArchived([{ tiId: a.id, tryNumber: 1, url: 's3://bucket/w', lineCount: 5, archivedAt: now, upTo: ids[4] }]);
      expect(await ours()).toEqual([]);
      // Rows below the watermark are never looked at again: a try whose archive record went
      // (here deleted by hand) is not found by reading every row kept, as a full scan would.
      await db.query(`DELETE FROM task_log_archive WHERE ti_id = $1`, [a.id]);
      while ((await repos.logs.scanForArchive(0, 1000)).more);
      expect(await ours()).toEqual([]);
    });

    it('records ends held for their logs for every scheduler to see; old holds stop counting and are deleted', async () => {
      const run = await newRun('r-holds');
      await db.transaction((tx) => repos.tis.createForRun(run.pk, dag, tx));
      const [a, b] = await repos.tis.forRuns([run.pk]);
      const at = (s: number) => new Date(now.getTime() + s * 1000);
      await repos.logs.holdEnd(a.id, 1, at(0), at(-120));
      await repos.logs.holdEnd(999_999_999, 1, at(0), at(-120)); // no such task instance: nothing recorded
      const tries = [{ tiId: a.id, tryNumber: 1 }, { tiId: a.id, tryNumber: 2 }, { tiId: b.id, tryNumber: 1 }, { tiId: 999_999_999, tryNumber: 1 }];
      expect(await repos.logs.heldEnds(tries, at(-60))).toEqual(new Set([`${a.id}:1`]));
      expect(await repos.logs.heldEnds(tries, at(1))).toEqual(new Set());
      // A redelivered end held again refreshes the hold; another hold deletes those expired meanwhile.
      await repos.logs.holdEnd(a.id, 1, at(10), at(-120));
      expect(await repos.logs.heldEnds(tries, at(5))).toEqual(new Set([`${a.id}:1`]));
      await repos.logs.holdEnd(b.id, 1, at(200), at(100));
      expect(await repos.logs.heldEnds(tries, at(-60))).toEqual(new Set([`${b.id}:1`]));
      expect(await repos.logs.heldEnds([], at(0))).toEqual(new Set());
    });

    it('marks workers lost after their heartbeats stop, running nothing we know of', async () => {
      const running = [{ tiId: 7, tryNumber: 2 }];
      await repos.workers.recordHeartbeats([{ name: 'w1', hostname: 'h', queues: ['default'], concurrency: 4, gpus: 0, state: 'active', running }], now);
      expect((await repos.workers.list())[0].running).toEqual(running);
      const lost = await db.transaction((tx) => repos.workers.markLost(new Date(now.getTime() + 1000), new Date(now.getTime() + 1000), tx));
      expect(lost).toEqual(['w1']);
      // Its last heartbeat's list would read as tries still running there.
      expect((await repos.workers.list())[0]).toMatchObject({ name: 'w1', state: 'lost', queues: ['default'], running: [] });
      // Back with a heartbeat: active, with what it reports.
      await repos.workers.recordHeartbeats([{ name: 'w1', hostname: 'h', queues: ['default'], concurrency: 4, gpus: 0, state: 'active', running }], now);
      expect((await repos.workers.list())[0]).toMatchObject({ state: 'active', running });
    });

    it('creates, replaces, reads and deletes variables by key', async () => {
      const later = new Date(now.getTime() + 60_000);
      expect(await repos.variables.get('region')).toBeNull();
      expect(await repos.variables.upsert({ key: 'region', value: 'eu', isSecret: false, description: 'where' }, now)).toEqual({ created: true });
      expect(await repos.variables.upsert({ key: 'api.token', value: 'v1.iv.tag.ct', isSecret: true, description: '' }, now)).toEqual({ created: true });
      expect(await repos.variables.get('region')).toEqual({ key: 'region', value: 'eu', isSecret: false, description: 'where', updatedAt: now });
      expect(await repos.variables.upsert({ key: 'region', value: 'us', isSecret: false, description: '' }, later)).toEqual({ created: false });
      expect(await repos.variables.get('region')).toEqual({ key: 'region', value: 'us', isSecret: false, description: '', updatedAt: later });
      expect((await repos.variables.list()).map((v) => [v.key, v.value, v.isSecret])).toEqual([['api.token', 'v1.iv.tag.ct', true], ['region', 'us', false]]);
      expect((await repos.variables.many(['region', 'missing', 'region'])).map((v) => v.key)).toEqual(['region']);
      expect(await repos.variables.many([])).toEqual([]);
      expect(await repos.variables.delete('region')).toBe(true);
      expect(await repos.variables.delete('region')).toBe(false);
      expect((await repos.variables.list()).map((v) => v.key)).toEqual(['api.token']);
    });

    it('locks a variable row inside a transaction and stores values verbatim', async () => {
      const value = "multi\nline 'quoted' \u00e9 \u{1F511}";
      await repos.variables.upsert({ key: 'verbatim', value, isSecret: false, description: 'd' }, now);
      const read = await db.transaction(async (tx) => {
        const row = await repos.variables.get('verbatim', tx, { forUpdate: true });
        await repos.variables.upsert({ ...row!, value: `${row!.value}!` }, now, tx);
        return repos.variables.get('verbatim', tx);
      });
      expect(read!.value).toBe(`${value}!`);
      expect((await repos.variables.get('verbatim'))!.value).toBe(`${value}!`);
    });

    it('change feed: reads the task instances, runs and workers changed since a cursor, each with its transaction', async () => {
      const cursor = await repos.changes.start();
      const run = await newRun('feed');
      await db.transaction((tx) => repos.tis.createForRun(run.pk, dag, tx));
      await db.query(`UPDATE task_instance SET state = 'queued', try_number = 1 WHERE run_pk = $1 AND task_id = 'a'`, [run.pk]);
      await repos.workers.recordHeartbeats([{ name: 'feed-w', hostname: 'h', queues: ['default'], concurrency: 2, gpus: 0, state: 'active', running: [] }], now);
      const batch = await repos.changes.read(cursor);
      expect(batch.truncated).toBe(false);
      expect(batch.tis.filter((t) => t.runId === 'feed').map((t) => [t.taskId, t.state, t.tryNumber]).sort()).toEqual([['a', 'queued', 1], ['b', 'none', 0]]);
      expect(batch.runs.map((r) => [r.runId, r.state])).toContainEqual(['feed', 'queued']);
      expect(batch.workers.map((w) => w.name)).toContain('feed-w');
      // From the new horizon: only what changes afterwards, and not the scheduler's bookkeeping.
      const quiet = await repos.changes.read(batch.horizon);
      const later = quiet.horizon;
      await db.query(`UPDATE dag_run SET ti_seq = ti_seq + 1, needs_eval = false WHERE id = $1`, [run.pk]);
      await db.query(`UPDATE task_instance SET priority = 5 WHERE run_pk = $1`, [run.pk]);
      const none = await repos.changes.read(later);
      expect(none.tis.filter((t) => t.runId === 'feed')).toEqual([]);
      expect(none.runs.filter((r) => r.runId === 'feed')).toEqual([]);
      await db.query(`UPDATE task_instance SET state = 'running' WHERE run_pk = $1 AND task_id = 'a'`, [run.pk]);
      const one = await repos.changes.read(later);
      expect(one.tis.map((t) => [t.taskId, t.state])).toEqual([['a', 'running']]);
      await expect(repos.changes.read("1'; DROP TABLE dag_run; --")).rejects.toThrow('is not a transaction id');
    });

    it('change feed: a DAG added, paused, given a new version or gone, and the import errors changed; a parse that changed nothing is not read', async () => {
      const feedDag = (cmd: string) => validateDag({ id: 'feed_dag', tasks: [{ id: 'x', command: cmd }] }, 'feed.ts');
      const v1 = feedDag('true');
      const v2 = feedDag('echo v2');
      const dags = (...more: SerializedDag[]) => [{ dag, hash }, ...more.map((d) => ({ dag: d, hash: dagHash(d) }))];
      const broken = [{ fileloc: 'broken_feed.ts', message: 'broken_feed.ts:3: SyntaxError' }];
      const read = async (from: string) => {
        const batch = await repos.changes.read(from);
        return { horizon: batch.horizon, dags: batch.dags.map((d) => [d.dagId, d.isPaused, d.isActive, d.latestVersion]), importErrors: batch.importErrors !== null };
      };
      let cursor = await repos.changes.start();
      await repos.dags.recordParse(dags(v1), broken, now);
      let batch = await read(cursor);
      expect(batch).toMatchObject({ dags: [['feed_dag', false, true, dagHash(v1)]], importErrors: true });
      // The same parse again (last_parsed_at moves): nothing to tell.
      cursor = (await read(batch.horizon)).horizon;
      await repos.dags.recordParse(dags(v1), broken, new Date(now.getTime() + 1000));
      expect(await read(cursor)).toMatchObject({ dags: [], importErrors: false });
      await repos.dags.setPaused('feed_dag', true);
      batch = await read(cursor);
      expect(batch).toMatchObject({ dags: [['feed_dag', true, true, dagHash(v1)]], importErrors: false });
      cursor = (await read(batch.horizon)).horizon;
      await repos.dags.recordParse(dags(v2), [], now); // a new version; the broken file fixed
      expect(await read(cursor)).toMatchObject({ dags: [['feed_dag', true, true, dagHash(v2)]], importErrors: true });
      cursor = (await read(cursor)).horizon;
      await repos.dags.recordParse(dags(), [], now); // its file deleted
      expect(await read(cursor)).toMatchObject({ dags: [['feed_dag', true, false, dagHash(v2)]], importErrors: false });
    });

    it('change feed: a transaction that commits after a read is still read from that read\'s horizon', async () => {
      if ((db.config.poolSize ?? 10) < 2) return; // one connection: no transaction can be open beside the read
      const run = await newRun('feed-late');
      await db.transaction((tx) => repos.tis.createForRun(run.pk, dag, tx));
      const cursor = await repos.changes.start();
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let began!: () => void;
      const started = new Promise<void>((r) => (began = r));
      const late = db.transaction(async (tx) => {
        await tx.query(`UPDATE task_instance SET state = 'scheduled' WHERE run_pk = $1 AND task_id = 'a'`, [run.pk]);
        began();
        await held;
      });
      await started;
      await db.query(`UPDATE task_instance SET state = 'scheduled' WHERE run_pk = $1 AND task_id = 'b'`, [run.pk]);
      const first = await repos.changes.read(cursor);
      expect(first.tis.filter((t) => t.runId === 'feed-late').map((t) => t.taskId)).toEqual(['b']);
      release();
      await late;
      const second = await repos.changes.read(first.horizon);
      expect(second.tis.filter((t) => t.runId === 'feed-late').map((t) => t.taskId)).toContain('a');
    });

    it('dashboard: tries across DAGs filtered and paged; queue samples kept bounded', async () => {
      const run = await newRun('dash');
      await db.transaction((tx) => repos.tis.createForRun(run.pk, dag, tx));
      await db.query(`UPDATE task_instance SET state = 'failed', try_number = 3, worker = 'w9', queued_at = $2, started_at = $2, ended_at = $2
                      WHERE run_pk = $1 AND task_id = 'a'`, [run.pk, now]);
      await db.query(`UPDATE task_instance SET state = 'queued', try_number = 1, queued_at = $2 WHERE run_pk = $1 AND task_id = 'b'`, [run.pk, new Date(now.getTime() + 1000)]);
      const all = await repos.dashboard.tries({ dagId: 'contract', limit: 50, offset: 0 });
      expect(all.items.filter((t) => t.runId === 'dash').map((t) => t.taskId)).toEqual(['b', 'a']);
      const failed = await repos.dashboard.tries({ states: ['failed'], worker: 'w9', limit: 1, offset: 0 });
      expect(failed).toMatchObject({ total: 1, items: [{ runId: 'dash', taskId: 'a', tryNumber: 3, worker: 'w9' }] });
      const busy = await repos.dashboard.busyByQueue();
      expect(busy.get('default')?.queued).toBeGreaterThanOrEqual(1);
      const at = (m: number) => new Date(now.getTime() + m * 60_000);
      const sample = (m: number) => ({ at: at(m), queue: 'default', ready: m, unacked: 0, consumers: 1, queued: 0, running: 0 });
      await repos.dashboard.recordQueueSamples([sample(0), sample(1)], at(-10));
      await repos.dashboard.recordQueueSamples([sample(1), sample(2)], at(1));
      expect((await repos.dashboard.queueSamples(at(-100))).map((s) => s.ready)).toEqual([1, 2]);
      expect((await repos.dashboard.queueSamples(at(2), 'gpu'))).toEqual([]);
    });
  });
}
