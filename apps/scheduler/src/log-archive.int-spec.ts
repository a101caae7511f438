import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { parseArtifactsUrl } from '@swarmflow/core';
import { S3ArtifactStore } from '@swarmflow/executors';
import { AmqpBroker, taskQueue } from '@swarmflow/messaging';
import { deleteRabbitMQTopology, describeWithRabbitMQ, rabbitmqUrl } from '@swarmflow/messaging/test-support/rabbitmq';
import { processMetrics } from '@swarmflow/observability';
import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import { runCli } from '../../cli/src/program';
import { LogArchive } from '../../webserver/src/services/log-archive.service';
import { createTestToken } from '../../webserver/src/test-support/auth';
import { createWebserver } from '../../webserver/src/webserver';
import { useStack } from './test-support/use-stack';
// s3rver ships no types; the little used here is declared by hand.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (o: object) => { run(): Promise<{ port: number }>; close(): Promise<void> };

// Remote logging: the webserver archives each ended try's log to the artefacts store (an
// S3-compatible server, s3rver, through the AWS SDK), prunes the database rows of archived
// tries past SWARMFLOW_LOG_RETENTION, and serves a pruned try's log from its archive. A
// store that is down loses nothing: the rows stay until the upload succeeds.

const tmp = mkdtempSync(path.join(tmpdir(), 'swarmflow-log-archive-it-'));
const prefix = `sftest-${randomBytes(4).toString('hex')}.`;
const HOUR = 3600_000;

const DAGS = `id: chatty
tasks:
  talk: { shell: 'echo "first line"; echo "second line" >&2; echo "third: {{ run_id }}"' }
  flaky:
    shell: 'test -f ${path.join(tmp, 'flaky-$SWARMFLOW_RUN_ID')} || { touch ${path.join(tmp, 'flaky-$SWARMFLOW_RUN_ID')}; echo "try one fails"; exit 3; }; echo "try two works"'
    retries: 1
    retry_delay: 10ms
`;

describeWithRabbitMQ('task logs archived to an S3-compatible store, pruned by retention, still readable', () => {
  describeWithPostgres('', () => {
    let server: { run(): Promise<{ port: number }>; close(): Promise<void> };
    let endpoint = '';
    let app: INestApplication;
    let url = '';
    let token = '';
    /** The webserver's clock: moved forward to pass the retention. */
    let offsetMs = 0;
    const stack = useStack({
      dagFiles: { 'chatty.yaml': DAGS },
      makeBroker: async () => {
        const broker = new AmqpBroker({ url: rabbitmqUrl(), prefix, logger: { log: () => {}, warn: () => {}, error: () => {} }, connectionName: `swarmflow log archive test ${prefix}` });
        await broker.start();
        return broker;
      },
      scheduler: { artifactsUrl: 's3://swarmflow-logs/store' },
    });

    const setEndpoint = async (value: string) => {
      await stack().repos.variables.upsert({ key: 'artifacts_s3_endpoint', value, isSecret: false, description: '' }, new Date());
    };

    beforeAll(async () => {
      server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: path.join(tmp, 's3'), configureBuckets: [{ name: 'swarmflow-logs' }] });
      endpoint = `http://127.0.0.1:${(await server.run()).port}`;
      const s = stack();
      await setEndpoint(endpoint);
      for (const key of ['artifacts_s3_access_key_id', 'artifacts_s3_secret_access_key']) {
        await s.repos.variables.upsert({ key, value: s.clusterKey.encrypt('S3RVER'), isSecret: true, description: '' }, new Date());
      }
      app = await createWebserver({
        repos: s.repos, logger: false, clusterKey: s.clusterKey, artifactsUrl: 's3://swarmflow-logs/store',
        // Passes are run by the test (the first one at start); a try is due as soon as it ended.
        logArchive: { retentionMs: HOUR, intervalMs: 24 * HOUR, graceMs: 0 },
        clock: () => new Date(Date.now() + offsetMs),
      });
      await app.listen(0, '127.0.0.1');
      url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
      token = await createTestToken(s.repos, 'viewer');
    }, 60_000);

    afterAll(async () => {
      await app?.close();
      await server?.close();
      await deleteRabbitMQTopology(prefix, [taskQueue('default').name]).catch(() => {});
      rmSync(tmp, { recursive: true, force: true });
    });

    async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
      let out = '';
      let err = '';
      const code = await runCli(args, {
        stdout: (t) => { out += t; }, stderr: (t) => { err += t; }, env: { SWARMFLOW_URL: url, SWARMFLOW_TOKEN: token },
        sleep: async () => {}, now: () => new Date(), readFile: () => null,
      });
      return { code, out, err };
    }

    const counted = async (name: string, outcome?: string) => {
      const metric = await processMetrics().registry.getSingleMetric(name)!.get();
      return metric.values.filter((v) => outcome === undefined || v.labels.outcome === outcome).reduce((sum, v) => sum + v.value, 0);
    };
    const archiveRow = async (tiId: number, tryNumber: number) => stack().repos.logs.archiveOf(tiId, tryNumber);
    const dbLines = async (tiId: number, tryNumber: number) => (await stack().repos.logs.read(tiId, tryNumber)).lines.map((l) => l.line);

    it('archives every ended try as one object, prunes the rows past the retention, and the API and CLI read the archive', async () => {
      const s = stack();
      const run = await s.trigger('chatty');
      const { state, tis } = await s.waitForRun(run, 30_000);
      expect(state).toBe('success');
      const talk = tis.get('talk')!;
      const flaky = tis.get('flaky')!;
      expect(flaky.tryNumber).toBe(2);
      const before = await dbLines(talk.id, 1);
      const beforeStreams = (await s.repos.logs.read(talk.id, 1)).lines.map((l) => [l.stream, l.line]);
      expect(before).toEqual(expect.arrayContaining(['first line', 'second line', `third: ${run.runId}`]));

      await app.get(LogArchive).pass();
      await app.get(LogArchive).pass();
      // Each try: one object holding its whole log; rows kept (within the retention).
      const store = new S3ArtifactStore({ endpoint, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
      try {
        const listed = (await store.list(parseArtifactsUrl(`s3://swarmflow-logs/store/@logs/chatty/${run.runId}`))).map((o) => o.name);
        expect(listed).toEqual([`flaky/try-1.ti-${flaky.id}.jsonl`, `flaky/try-2.ti-${flaky.id}.jsonl`, `talk/try-1.ti-${talk.id}.jsonl`]);
        const object = await store.get(parseArtifactsUrl(`s3://swarmflow-logs/store/@logs/chatty/${run.runId}/talk`), `try-1.ti-${talk.id}.jsonl`);
        expect(object.toString().trim().split('\n').map((l) => JSON.parse(l).line)).toEqual(before);
      } finally {
        store.destroy();
      }
      expect(await archiveRow(talk.id, 1)).toMatchObject({ lineCount: before.length, prunedAt: null, url: `s3://swarmflow-logs/store/@logs/chatty/${run.runId}/talk/try-1.ti-${talk.id}.jsonl` });
      expect(await dbLines(talk.id, 1)).toEqual(before);

      // Past the retention: the rows go; the log is read from the archive, by the API and the CLI.
      offsetMs = 2 * HOUR;
      await app.get(LogArchive).pass();
      expect(await dbLines(talk.id, 1)).toEqual([]);
      expect(await dbLines(flaky.id, 1)).toEqual([]);
      expect((await archiveRow(talk.id, 1))!.prunedAt).not.toBeNull();
      const api = await fetch(`${url}/api/v1/dags/chatty/runs/${encodeURIComponent(run.runId)}/tasks/talk/logs`, { headers: { authorization: `Bearer ${token}` } });
      const body = await api.json() as { lines: { line: string; stream: string }[]; finished: boolean; archivedUrl: string };
      expect(body.lines.map((l) => l.line)).toEqual(before);
      expect(body.lines.map((l) => [l.stream, l.line])).toEqual(beforeStreams);
      expect(body).toMatchObject({ finished: true, archivedUrl: `s3://swarmflow-logs/store/@logs/chatty/${run.runId}/talk/try-1.ti-${talk.id}.jsonl` });

      const first = await cli(['tasks', 'logs', 'chatty', run.runId, 'flaky', '--try', '1']);
      expect(first.code).toBe(0);
      expect(first.out).toContain('try one fails');
      expect(first.out).not.toContain('try two works');
      expect(first.err).toContain(`log was read from its archive s3://swarmflow-logs/store/@logs/chatty/${run.runId}/flaky/try-1.ti-${flaky.id}.jsonl`);
      const second = await cli(['tasks', 'logs', 'chatty', run.runId, 'flaky']);
      expect(second.out).toContain('try two works');
    }, 60_000);

    it('a batch stored after the prune is read with the archive (API, stream, CLI), once, in order, and the next pass merges it into the archive', async () => {
      const s = stack();
      offsetMs = 0;
      const run = await s.trigger('chatty');
      const { state, tis } = await s.waitForRun(run, 30_000);
      expect(state).toBe('success');
      const talk = tis.get('talk')!;
      const before = await dbLines(talk.id, 1);
      const stored = await s.repos.logs.readBatches(talk.id, 1);
      expect(stored.length).toBeGreaterThan(0);
      await app.get(LogArchive).pass();
      offsetMs = 2 * HOUR;
      await app.get(LogArchive).pass();
      expect(await dbLines(talk.id, 1)).toEqual([]);

      // Late: a new batch (it must not hide the archived lines) ...
      const lastSeq = Math.max(...stored.map((b) => b.seq));
      await s.repos.logs.append([
        { tiId: talk.id, tryNumber: 1, seq: lastSeq + 1, lines: [{ at: new Date().toISOString(), stream: 'stderr', line: 'late line' }] },
      ]);
      const want = [...before, 'late line'];
      const headers = { authorization: `Bearer ${token}` };
      const logsUrl = `${url}/api/v1/dags/chatty/runs/${encodeURIComponent(run.runId)}/tasks/talk/logs`;
      const readApi = async () => await (await fetch(logsUrl, { headers })).json() as { lines: { line: string }[]; finished: boolean; archivedUrl?: string };
      const archivedUrl = `s3://swarmflow-logs/store/@logs/chatty/${run.runId}/talk/try-1.ti-${talk.id}.jsonl`;
      const api = await readApi();
      expect(api.lines.map((l) => l.line)).toEqual(want);
      expect(api).toMatchObject({ finished: true, archivedUrl });
      // ... and a redelivery of a batch the archive holds already (not shown twice).
      await s.repos.logs.append([{ tiId: talk.id, tryNumber: 1, seq: stored[0].seq, lines: stored[0].lines }]);
      expect((await readApi()).lines.map((l) => l.line)).toEqual(want);

      const stream = await (await fetch(`${logsUrl}/stream`, { headers })).text();
      const events = stream.split('\n\n').filter((e) => e.startsWith('event: '));
      const streamed = events.filter((e) => e.startsWith('event: lines'))
        .flatMap((e) => (JSON.parse(e.slice(e.indexOf('data: ') + 6)) as { lines: { line: string }[] }).lines.map((l) => l.line));
      expect(streamed).toEqual(want);
      expect(events[events.length - 1]).toMatch(/^event: end/);

      const cliRead = await cli(['tasks', 'logs', 'chatty', run.runId, 'talk']);
      expect(cliRead.code).toBe(0);
      expect(cliRead.out.trim().split('\n')).toEqual(want);

      // The next pass merges the late batch into the archive and deletes its rows: nothing is
      // left behind in the database, and the log reads the same.
      await app.get(LogArchive).pass();
      expect(await s.repos.logs.readBatches(talk.id, 1)).toEqual([]);
      expect(await archiveRow(talk.id, 1)).toMatchObject({ url: archivedUrl, lineCount: want.length, prunedAt: expect.any(Date) });
      const store = new S3ArtifactStore({ endpoint, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
      try {
        const object = await store.get(parseArtifactsUrl(`s3://swarmflow-logs/store/@logs/chatty/${run.runId}/talk`), `try-1.ti-${talk.id}.jsonl`);
        expect(object.toString().trim().split('\n').map((l) => JSON.parse(l).line)).toEqual(want);
      } finally {
        store.destroy();
      }
      expect((await readApi()).lines.map((l) => l.line)).toEqual(want);
    }, 60_000);

    it('a store that is down loses nothing: the rows stay, unarchived and unpruned, until an upload succeeds', async () => {
      const s = stack();
      offsetMs = 0;
      const run = await s.trigger('chatty');
      const { state, tis } = await s.waitForRun(run, 30_000);
      expect(state).toBe('success');
      const talk = tis.get('talk')!;
      const lines = await dbLines(talk.id, 1);
      expect(lines).toContain(`third: ${run.runId}`);

      // Nothing listens there: every upload fails.
      await setEndpoint('http://127.0.0.1:9');
      const failedBefore = await counted('swarmflow_task_logs_archived_total', 'failed');
      await app.get(LogArchive).pass();
      expect(await counted('swarmflow_task_logs_archived_total', 'failed')).toBeGreaterThan(failedBefore);
      offsetMs = 4 * HOUR;
      await app.get(LogArchive).pass();
      expect(await archiveRow(talk.id, 1)).toBeNull();
      expect(await dbLines(talk.id, 1)).toEqual(lines);

      // Back up: archived at the next pass, pruned once past the retention.
      await setEndpoint(endpoint);
      offsetMs = 0;
      await app.get(LogArchive).pass();
      expect(await archiveRow(talk.id, 1)).toMatchObject({ lineCount: lines.length, prunedAt: null });
      offsetMs = 4 * HOUR;
      const prunedBefore = await counted('swarmflow_task_logs_pruned_total');
      await app.get(LogArchive).pass();
      expect(await counted('swarmflow_task_logs_pruned_total')).toBeGreaterThan(prunedBefore);
      expect(await dbLines(talk.id, 1)).toEqual([]);
      const read = await cli(['tasks', 'logs', 'chatty', run.runId, 'talk']);
      expect(read.out.trim().split('\n')).toEqual(lines);
    }, 60_000);
  });
});
