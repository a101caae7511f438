import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import type { DagEvent, RunEvent, TiEvent } from '@swarmflow/contracts';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { Database, Repositories } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { Stack } from '../../scheduler/src/test-support/stack';
import { Accounts } from './auth/accounts';
import { createTestToken } from './test-support/auth';
import { SseClient } from './test-support/sse-client';
import { createWebserver } from './webserver';

const DAGS = {
  'live.yaml': [
    'id: live_a\ntasks:\n  first: { shell: "true" }\n  second: { shell: "true", upstream: [first] }',
    'id: live_b\ntasks:\n  only: { shell: "true" }',
    // No worker serves this topic: its task stays queued.
    'id: live_wait\ntasks:\n  parked: { shell: "true", queue: nowhere }',
  ].join('\n---\n') + '\n',
};

/**
 * The live feed across processes: the scheduler and its worker write through their own
 * database connection (as another process would); the webserver, on its own connection,
 * sees the changes through the database's change feed only.
 */
describeWithPostgres('GET /api/v1/events: the live feed of a scheduler\'s changes', () => {
  let testDb: TestDatabase;
  let stack: Stack;
  let db: Database;
  let repos: Repositories;
  let app: INestApplication;
  let url = '';
  let token = '';
  const clients: SseClient[] = [];

  const startServer = async () => {
    app = await createWebserver({ repos, logger: false, liveEvents: { pollMs: 100, keepAliveMs: 500 } });
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  };
  const open = async (query = '', headers: Record<string, string> = {}) => {
    const c = await SseClient.open(`${url}/api/v1/events${query}`, { Authorization: `Bearer ${token}`, ...headers });
    clients.push(c);
    return c;
  };
  const isTi = (dagId: string, taskId: string, state: string) => (e: { type: string }): boolean =>
    e.type === 'ti' && (e as TiEvent).dagId === dagId && (e as TiEvent).taskId === taskId && (e as TiEvent).state === state;
  const isRun = (runId: string, state: string) => (e: { type: string }): boolean =>
    e.type === 'run' && (e as RunEvent).runId === runId && (e as RunEvent).state === state;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    stack = await new Stack({ databaseUrl: testDb.url, dagFiles: DAGS, workers: [{ name: 'live-worker', heartbeatIntervalMs: 300 }] }).start();
    db = new Database({ url: testDb.url, poolSize: 2 });
    repos = new Repositories(db);
    token = await createTestToken(repos, 'viewer');
    await startServer();
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await app?.close();
    await stack?.stop();
    await db?.close();
    await testDb?.drop();
  });

  it('ends the stream once its token is revoked (checked with each keep-alive)', async () => {
    const accounts = new Accounts(repos, () => new Date());
    await accounts.createUser({ name: 'leaver', role: 'viewer', password: null });
    const created = await accounts.createToken({ name: 'sse', userName: 'leaver', lifetimeMs: null });
    const c = await SseClient.open(`${url}/api/v1/events`, { Authorization: `Bearer ${created.token}` });
    clients.push(c);
    await c.waitFor((e) => e.type === 'hello');
    await accounts.revokeToken(created.info.id);
    await c.waitForEnd(30_000); // keep-alives every 500 ms: a stream that never checks never ends
  }, 60_000);

  it('refuses a caller without credentials', async () => {
    const c = await SseClient.open(`${url}/api/v1/events`, {});
    expect(c.status).toBe(401);
    c.close();
  });

  it('sends hello, then every task and run change the scheduler makes, as it is written, and worker heartbeats', async () => {
    const c = await open();
    const hello = await c.waitFor((e) => e.type === 'hello');
    expect(hello.event).toMatchObject({ type: 'hello', resumed: false });
    await c.waitFor((e) => e.type === 'worker' && e.name === 'live-worker', 30_000, 'worker event');
    const run = await stack.trigger('live_a');
    // Snapshots: a try that goes queued → running → success between two polls is sent once, as it ends.
    await c.waitFor(isTi('live_a', 'first', 'success'), 30_000, 'first success');
    const second = await c.waitFor(isTi('live_a', 'second', 'success'), 30_000, 'second success');
    const ended = await c.waitFor(isRun(run.runId, 'success'), 30_000, 'run success');
    // Written by the scheduler at `endedAt`, seen by the stream after it (same clock): the feed sends
    // what was written, not a guess. "Within a second" is the documented promise (the feed polls every
    // 100 ms here); as a test bound a loaded CI machine can miss it, so the figure is printed and the
    // bound is 10 s: a hundred polls, still enough to tell a feed that sends a change at its next poll
    // from one that holds it back (until a reconnect, a resync, a later change).
    const runEvent = ended.event as RunEvent;
    const latencies = {
      run: ended.at - Date.parse(runEvent.endedAt!),
      ti: second.at - Date.parse((second.event as TiEvent).endedAt!),
    };
    process.stdout.write(`events: a run's end seen ${latencies.run} ms after it was written, a try's ${latencies.ti} ms (poll 100 ms)\n`);
    for (const latency of Object.values(latencies)) {
      expect(latency).toBeGreaterThanOrEqual(0);
      expect(latency).toBeLessThan(10_000);
    }
    expect(second.event).toMatchObject({ runId: run.runId, tryNumber: 1, worker: 'live-worker', exitCode: 0, queue: 'default' });
    // Snapshots: no row is sent twice for the same change.
    const keys = c.events.filter((e) => e.event.type === 'ti').map((e) => `${(e.event as TiEvent).taskId}:${e.event.seq}:${(e.event as TiEvent).state}`);
    expect(new Set(keys).size).toBe(keys.length);
    // A state that lasts is sent within a second of the scheduler's write.
    const parked = await stack.trigger('live_wait');
    const queued = await c.waitFor((e) => e.type === 'ti' && e.runId === parked.runId && e.state === 'queued', 30_000, 'parked queued');
    const [ti] = await stack.repos.tis.forRuns([parked.pk]);
    const queuedLatency = queued.at - ti.queuedAt!.getTime();
    process.stdout.write(`events: a queued try seen ${queuedLatency} ms after it was written\n`);
    expect(queuedLatency).toBeGreaterThanOrEqual(0);
    expect(queuedLatency).toBeLessThan(10_000); // the same wide bound, for the same reason
    expect(queued.event).toMatchObject({ queue: 'nowhere', tryNumber: 1, worker: null });
    c.close();
  }, 120_000);

  it('narrows the stream by DAG and by type', async () => {
    const c = await open('?dag=live_b&types=ti');
    await c.waitFor((e) => e.type === 'hello');
    const [a, b] = [await stack.trigger('live_a'), await stack.trigger('live_b')];
    await c.waitFor(isTi('live_b', 'only', 'success'), 30_000, 'live_b success');
    await stack.waitForRun(a);
    await stack.waitForRun(b);
    // One more poll after the other DAG's run ended.
    const marker = await stack.trigger('live_b');
    await stack.waitForRun(marker);
    await c.waitFor((e) => e.type === 'ti' && e.runId === marker.runId && e.state === 'success', 30_000, 'marker');
    expect(c.events.every((e) => e.event.type === 'hello' || (e.event.type === 'ti' && e.event.dagId === 'live_b'))).toBe(true);
    c.close();
  }, 120_000);

  it('answers 400 naming the field for an unknown type', async () => {
    const c = await SseClient.open(`${url}/api/v1/events?types=ti,dags`, { Authorization: `Bearer ${token}` });
    expect(c.status).toBe(400);
    c.close();
  });

  it('a client that reconnects after a webserver restart with Last-Event-ID is sent what changed meanwhile', async () => {
    const c = await open('?types=ti,run');
    await c.waitFor((e) => e.type === 'hello');
    const before = await stack.trigger('live_b');
    await c.waitFor(isRun(before.runId, 'success'), 30_000, 'first run success');
    const lastId = c.lastId!;
    // The webserver goes away: its streams end.
    await app.close();
    await c.waitForEnd();
    const missed = await stack.trigger('live_a');
    await stack.waitForRun(missed);
    await startServer();
    const again = await open('?types=ti,run', { 'Last-Event-ID': lastId });
    const hello = await again.waitFor((e) => e.type === 'hello');
    expect(hello.event).toMatchObject({ resumed: true });
    // Both ended before this stream opened: only the resume from Last-Event-ID can send them (a generous
    // wait, for a loaded machine; a stream that did not resume never sends them).
    await again.waitFor(isRun(missed.runId, 'success'), 30_000, 'missed run success');
    await again.waitFor((e) => e.type === 'ti' && e.runId === missed.runId && e.taskId === 'second' && e.state === 'success', 30_000, 'missed ti');
  }, 120_000);

  it('a Last-Event-ID it cannot resume from gets resync', async () => {
    const c = await open('', { 'Last-Event-ID': 'not-an-id' });
    const resync = await c.waitFor((e) => e.type === 'resync');
    expect(resync.event).toMatchObject({ reason: 'unknown_last_event_id' });
    await c.waitFor((e) => e.type === 'hello');
  });

  it('keeps an idle stream alive with comments', async () => {
    const c = await open('?dag=nothing_here&types=run');
    await c.waitFor((e) => e.type === 'hello');
    const deadline = Date.now() + 30_000; // one is due every 500 ms; generous for a loaded machine
    while (!c.comments.includes('keep-alive') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(c.comments).toContain('keep-alive');
  }, 60_000);

  it('sends `dag` events: a pause to the DAG\'s streams, a change of the import errors (dagId null) to unnarrowed ones only', async () => {
    const isDag = (dagId: string | null, paused?: boolean) => (e: { type: string }): boolean =>
      e.type === 'dag' && (e as DagEvent).dagId === dagId && (paused === undefined || (e as DagEvent).isPaused === paused);
    const all = await open('?types=dag');
    const mine = await open('?dag=live_b&types=dag');
    const other = await open('?dag=live_a&types=dag');
    await Promise.all([all, mine, other].map((c) => c.waitFor((e) => e.type === 'hello')));
    await repos.dags.setPaused('live_b', true);
    await all.waitFor(isDag('live_b', true), 30_000, 'live_b paused (all)');
    await mine.waitFor(isDag('live_b', true), 30_000, 'live_b paused (its stream)');
    stack.writeDags({ 'broken.yaml': 'id: broken\ntasks: [unclosed\n' });
    await all.waitFor(isDag(null), 30_000, 'import errors changed');
    await repos.dags.setPaused('live_b', false);
    await mine.waitFor(isDag('live_b', false), 30_000, 'live_b unpaused');
    rmSync(path.join(stack.folder, 'broken.yaml'));
    await all.waitFor((e) => isDag(null)(e) && all.events.filter((r) => isDag(null)(r.event)).length >= 2, 30_000, 'import errors cleared');
    // A later marker on `other`'s DAG: by then every event above has been through its filter.
    await repos.dags.setPaused('live_a', true);
    await other.waitFor(isDag('live_a', true), 30_000, 'live_a paused');
    await repos.dags.setPaused('live_a', false);
    expect(mine.events.filter((r) => r.event.type === 'dag').every((r) => (r.event as DagEvent).dagId === 'live_b')).toBe(true);
    expect(other.events.filter((r) => r.event.type === 'dag').every((r) => (r.event as DagEvent).dagId === 'live_a')).toBe(true);
  }, 120_000);
});
