import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describeWithDocker, TEST_IMAGE, TEST_LABEL } from '@swarmflow/executors/test-support/docker';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { toTaskInstanceDto } from '../../webserver/src/http/presenters';
import { waitUntil } from '@swarmflow/messaging/test-support/wait';
import { Stack } from './test-support/stack';

// A cache hit of a container task whose image is a tag is confirmed by a worker: the tag may
// have moved to other content since the cached try ran. The same digest ends the task
// `cached` with no container; a moved tag runs it. A digest-pinned image needs no worker.
const docker = (...args: string[]): string => execFileSync('/usr/bin/docker', args, { encoding: 'utf8', input: args.includes('-') ? DOCKERFILE : undefined }).trim();
const DOCKERFILE = `FROM ${TEST_IMAGE}\nRUN echo v2 > /etc/marker\nLABEL ${TEST_LABEL}=cache-images\n`;
const suffix = randomBytes(4).toString('hex');
const tag = `swarmflow/cache-images:${suffix}`;
const v2tag = `${tag}-v2`;
const TAGGED = `tagged_${suffix}`;
const PINNED = `pinned_${suffix}`;
// Two DAGs of one cache namespace with the same task: the second's runs on a queue no worker serves until the test starts one.
const SHARED_A = `shared_a_${suffix}`;
const SHARED_B = `shared_b_${suffix}`;
const LATE_QUEUE = `late_${suffix}`;

// auto_remove: false keeps each try's container, so the test counts the containers created.
const dagOf = (id: string, image: string, shared: { namespace: string; queue: string } | null = null): string => `
id: ${id}
defaults: { cache: true${shared ? `, queue: ${shared.queue}` : ''} }${shared ? `\ncache_namespace: ${shared.namespace}` : ''}
tasks:
  marked:
    docker:
      image: ${image}
      auto_remove: false
      command: |
        m=$(cat /etc/marker 2>/dev/null || echo base)
        echo "{\\"marker\\": \\"$m\\"}" > /swarmflow/output.json
`;

describeWithPostgres('cache hits of container tasks (Postgres, Docker)', () => {
  describeWithDocker('cache hits confirmed by the image digest', () => {
    let testDb: TestDatabase;
    let stack: Stack;
    let v1: string;
    let v2: string;
    const containers = (dagId: string): number =>
      docker('ps', '-a', '-q', '--filter', `label=swarmflow.dag_id=${dagId}`, '--filter', 'label=swarmflow.role=task').split('\n').filter(Boolean).length;
    const logOf = async (tiId: number, tryNumber: number): Promise<string[]> => (await stack.repos.logs.read(tiId, tryNumber)).lines.map((l) => l.line);

    beforeAll(async () => {
      docker('tag', TEST_IMAGE, tag);
      v1 = docker('image', 'inspect', '--format', '{{.Id}}', tag);
      docker('build', '-q', '-t', v2tag, '-');
      v2 = docker('image', 'inspect', '--format', '{{.Id}}', v2tag);
      testDb = await createTestDatabase();
      stack = await new Stack({
        databaseUrl: testDb.url,
        dagFiles: {
          'tagged.yaml': dagOf(TAGGED, tag), 'pinned.yaml': dagOf(PINNED, v1),
          'shared_a.yaml': dagOf(SHARED_A, v2tag, { namespace: `ns_${suffix}`, queue: 'default' }),
          'shared_b.yaml': dagOf(SHARED_B, v2tag, { namespace: `ns_${suffix}`, queue: LATE_QUEUE }),
        },
      }).start();
    }, 120_000);

    afterAll(async () => {
      await stack?.stop();
      await testDb?.drop();
      for (const dagId of [TAGGED, PINNED, SHARED_A, SHARED_B]) {
        const ids = docker('ps', '-a', '-q', '--filter', `label=swarmflow.dag_id=${dagId}`).split('\n').filter(Boolean);
        if (ids.length > 0) docker('rm', '-f', ...ids);
      }
      for (const t of [tag, v2tag]) {
        try {
          docker('rmi', t);
        } catch {
          // already gone
        }
      }
    });

    let firstRunId: string;
    let firstTi: number;

    it('the same image: a worker confirms the digest, the task ends cached with no container', async () => {
      const first = await stack.trigger(TAGGED);
      const ran = await stack.waitForRun(first, 60_000);
      expect(ran.tis.get('marked')).toMatchObject({ state: 'success', tryNumber: 1 });
      expect(containers(TAGGED)).toBe(1);
      firstRunId = first.runId;
      firstTi = ran.tis.get('marked')!.id;

      const second = await stack.trigger(TAGGED);
      const { state, tis } = await stack.waitForRun(second, 60_000);
      expect(state).toBe('success');
      const marked = tis.get('marked')!;
      // Dispatched once (try 1) for the worker to confirm: the scheduler alone would have ended it at try 0.
      expect(marked).toMatchObject({ state: 'cached', tryNumber: 1 });
      expect(marked.reason).toBe(
        `cached: took the outputs of ${TAGGED}.marked try 1 in run ${firstRunId} (cache key ${marked.reason!.match(/cache key ([0-9a-f]{12})/)![1]}; ` +
        `${marked.worker} found image ${tag} still at ${v1})`,
      );
      expect(containers(TAGGED)).toBe(1);
      const [result] = await stack.repos.results.forTaskInstance(marked.id);
      expect(result).toMatchObject({ tryNumber: 1, succeeded: true, cachedFromTi: firstTi, cachedFromTry: 1, outputs: { marker: 'base' }, imageDigest: v1, containerId: null });
      // `runs show` / `tasks show` name the source as for a scheduler-found hit.
      expect(toTaskInstanceDto(marked, result)).toMatchObject({
        state: 'cached', outputs: { marker: 'base' }, cachedFrom: { dagId: TAGGED, runId: firstRunId, taskId: 'marked', tryNumber: 1 },
      });
      expect(await logOf(marked.id, 1)).toEqual(expect.arrayContaining([
        `cache hit confirmed: image ${tag} is still ${v1}, the digest the cached try ran: no container is created`,
      ]));
    }, 120_000);

    it('the tag moved to other content: the task runs again, records the new digest, and the log says why', async () => {
      docker('tag', v2tag, tag);
      const third = await stack.trigger(TAGGED);
      const { state, tis } = await stack.waitForRun(third, 60_000);
      expect(state).toBe('success');
      const marked = tis.get('marked')!;
      expect(marked).toMatchObject({ state: 'success', tryNumber: 1, reason: null });
      expect(containers(TAGGED)).toBe(2);
      const [result] = await stack.repos.results.forTaskInstance(marked.id);
      expect(result).toMatchObject({ tryNumber: 1, succeeded: true, cachedFromTi: null, outputs: { marker: 'v2' }, image: tag, imageDigest: v2 });
      expect(await logOf(marked.id, 1)).toEqual(expect.arrayContaining([
        `cache hit refused: image ${tag} is now ${v2}, the cached try ran ${v1}: the task runs`,
      ]));

      // Its try is now the cache entry of the key: the next run takes it (confirmed again).
      const fourth = await stack.trigger(TAGGED);
      const again = (await stack.waitForRun(fourth, 60_000)).tis.get('marked')!;
      expect(again).toMatchObject({ state: 'cached', tryNumber: 1 });
      expect(again.reason).toContain(`try 1 in run ${third.runId}`);
      expect((await stack.repos.results.forTaskInstance(again.id))[0]).toMatchObject({ cachedFromTi: marked.id, outputs: { marker: 'v2' } });
      expect(containers(TAGGED)).toBe(2);

      // What a worker's confirmation is checked against: executed, valid entries only (a cached try is none).
      const tries = [{ tiId: firstTi, tryNumber: 1 }, { tiId: marked.id, tryNumber: 1 }, { tiId: again.id, tryNumber: 1 }];
      expect([...(await stack.repos.results.cacheEntries(tries)).keys()].sort()).toEqual([`${firstTi}:1`, `${marked.id}:1`].sort());
      await stack.repos.results.invalidate({ dagId: TAGGED }, new Date());
      expect((await stack.repos.results.cacheEntries(tries)).size).toBe(0);
    }, 120_000);

    it('an entry invalidated before the worker confirmed its hit: the try fails, saying so, and nothing ran', async () => {
      const a = await stack.trigger(SHARED_A);
      expect((await stack.waitForRun(a, 60_000)).tis.get('marked')).toMatchObject({ state: 'success' });
      const b = await stack.trigger(SHARED_B);
      const waiting = await waitUntil('the task to wait on its queue', async () => {
        const ti = (await stack.repos.tis.forRuns([b.pk])).find((t) => t.taskId === 'marked');
        return ti?.state === 'queued' ? ti : undefined;
      }, { timeoutMs: 30_000, intervalMs: 50 });
      await stack.repos.results.invalidate({ dagId: SHARED_A }, new Date());
      await stack.addWorker({ queues: [LATE_QUEUE] });
      const { state, tis } = await stack.waitForRun(b, 60_000);
      expect(state).toBe('failed');
      const [source] = await stack.repos.results.forRun(a.pk);
      expect(tis.get('marked')).toMatchObject({
        id: waiting.id, state: 'failed', tryNumber: 1,
        reason: `the cached try 1 of task instance ${source.tiId} was invalidated before its hit was confirmed: nothing ran`,
      });
      expect(containers(SHARED_B)).toBe(0);
    }, 120_000);

    it('an image pinned by digest: the scheduler alone ends the task cached, nothing is dispatched', async () => {
      const first = await stack.trigger(PINNED);
      expect((await stack.waitForRun(first, 60_000)).tis.get('marked')).toMatchObject({ state: 'success', tryNumber: 1 });
      expect(containers(PINNED)).toBe(1);
      const second = await stack.trigger(PINNED);
      const marked = (await stack.waitForRun(second, 60_000)).tis.get('marked')!;
      expect(marked).toMatchObject({ state: 'cached', tryNumber: 0, worker: null });
      expect(marked.reason).toMatch(new RegExp(`^cached: took the outputs of ${PINNED}\\.marked try 1 in run ${first.runId} \\(cache key [0-9a-f]{12}\\)$`));
      expect(containers(PINNED)).toBe(1);
    }, 120_000);
  });
});
