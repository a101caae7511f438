import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describeWithDocker, TEST_IMAGE, TEST_LABEL } from '@swarmflow/executors/test-support/docker';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { ClearService } from '../../webserver/src/services/clear.service';
import { toRunDetailDto, toTryResultDto } from '../../webserver/src/http/presenters';
import { Stack } from './test-support/stack';

// Version sets: a container try records the digest its image ran; a cleared task runs the
// run's digest even after the tag moved, unless the clear asks for the latest images. The
// container writes its outputs to /swarmflow/output.json.
const docker = (...args: string[]): string => execFileSync('/usr/bin/docker', args, { encoding: 'utf8', input: args.includes('-') ? DOCKERFILE : undefined }).trim();
const DOCKERFILE = `FROM ${TEST_IMAGE}\nRUN echo v2 > /etc/marker\nLABEL ${TEST_LABEL}=image-digests\n`;
const tag = `swarmflow/version-set:${randomBytes(4).toString('hex')}`;
const v2tag = `${tag}-v2`;

const DAGS = `
id: versioned
tasks:
  marked:
    docker:
      image: ${tag}
      command: |
        m=$(cat /etc/marker 2>/dev/null || echo base)
        echo "{\\"marker\\": \\"$m\\"}" > /swarmflow/output.json
  reads: { shell: "echo {{ outputs.marked.marker }}", upstream: [marked] }
`;

describeWithPostgres('image digests of container tries (Postgres, Docker)', () => {
  describeWithDocker('image digests', () => {
    let testDb: TestDatabase;
    let stack: Stack;
    let v1: string;
    let v2: string;

    beforeAll(async () => {
      docker('tag', TEST_IMAGE, tag);
      v1 = docker('image', 'inspect', '--format', '{{.Id}}', tag);
      docker('build', '-q', '-t', v2tag, '-');
      v2 = docker('image', 'inspect', '--format', '{{.Id}}', v2tag);
      testDb = await createTestDatabase();
      stack = await new Stack({ databaseUrl: testDb.url, dagFiles: { 'versioned.yaml': DAGS } }).start();
    }, 120_000);

    afterAll(async () => {
      await stack?.stop();
      await testDb?.drop();
      for (const t of [tag, v2tag]) {
        try {
          docker('rmi', t);
        } catch {
          // already gone
        }
      }
    });

    it('records the digest a try ran, shows the version set, and a clear reuses it unless asked for the latest', async () => {
      const run = await stack.trigger('versioned');
      const ended = await stack.waitForRun(run, 60_000);
      expect([...ended.tis.values()].map((t) => `${t.taskId}=${t.state}: ${t.reason}`)).toEqual(['marked=success: null', 'reads=success: null']);
      const first = await stack.repos.results.forRun(run.pk);
      expect(first.find((r) => r.taskId === 'marked')).toMatchObject({ image: tag, imageDigest: v1, outputs: { marker: 'base' }, succeeded: true });
      // The container's id, GPU devices (none here) and runtime (Docker's default), reported with the end and shown on the try's page.
      const marked = first.find((r) => r.taskId === 'marked')!;
      expect(marked).toMatchObject({ containerId: expect.stringMatching(/^[0-9a-f]{64}$/), gpuDevices: [], runtime: null });
      expect(toTryResultDto(marked)).toMatchObject({ tryNumber: 1, containerId: marked.containerId, gpuDevices: [], runtime: null, imageDigest: v1 });
      const detail = toRunDetailDto((await stack.repos.runs.get('versioned', run.runId))!, await stack.repos.tis.forRuns([run.pk]), first);
      expect(detail.images).toEqual([{ image: tag, digest: v1 }]);
      expect(detail.taskInstances.find((t) => t.taskId === 'marked')!.outputs).toEqual({ marker: 'base' });

      // The tag moves to another image: the run's cleared task still runs the one it recorded.
      docker('tag', v2tag, tag);
      const clears = new ClearService(stack.repos, () => stack.scheduler.runner.nudge(), () => new Date());
      await clears.clear('versioned', run.runId, 'marked', { downstream: true });
      expect((await stack.waitForRun(run, 60_000)).state).toBe('success');
      const again = (await stack.repos.results.forTaskInstance(first.find((r) => r.taskId === 'marked')!.tiId))[0];
      expect(again).toMatchObject({ tryNumber: 2, image: tag, imageDigest: v1, outputs: { marker: 'base' } });

      // --latest-images: the tag's image now.
      await clears.clear('versioned', run.runId, 'marked', { downstream: true, latestImages: true });
      expect((await stack.waitForRun(run, 60_000)).state).toBe('success');
      const latest = (await stack.repos.results.forTaskInstance(again.tiId))[0];
      expect(latest).toMatchObject({ tryNumber: 3, image: tag, imageDigest: v2, outputs: { marker: 'v2' } });
      const after = toRunDetailDto((await stack.repos.runs.get('versioned', run.runId))!, await stack.repos.tis.forRuns([run.pk]), await stack.repos.results.forRun(run.pk));
      expect(after.images).toEqual([{ image: tag, digest: v2 }]);
    }, 120_000);
  });
});
