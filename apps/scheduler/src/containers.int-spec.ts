import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describeWithDocker, TEST_IMAGE } from '@swarmflow/executors/test-support/docker';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { ClusterKey } from '@swarmflow/secrets';
import { Stack } from './test-support/stack';

// Container tasks through the whole engine: the scheduler seals the variables a task
// mounts into its message, a worker runs the container with them as read-only files and
// masks them in the logs; a kill ends a try failed without retries; a task asking for
// more GPUs than any worker of its queue has fails at once. With an S3 artefacts store, a
// container gets the store's keys as a file in its secrets mount, never in its environment;
// a secret value a task writes to its outputs is stored masked.
const S3_DAG = `s3_env_${randomBytes(4).toString('hex')}`;
const DAGS = `
id: containers
tasks:
  read_secret:
    docker:
      image: ${TEST_IMAGE}
      command: "cat /secrets/variables/api_token; echo; cat /secrets/variables/region; echo; touch /secrets/variables/x 2>/dev/null || echo read-only"
    secrets: [api_token, region]
  after: { shell: "echo after", upstream: [read_secret] }
---
id: long_container
defaults: { retries: 3, retry_delay: 100ms }
tasks:
  sleeper:
    docker: { image: ${TEST_IMAGE}, command: "echo started; sleep 60" }
---
id: too_many_gpus
tasks:
  train:
    queue: gpu
    docker: { image: ${TEST_IMAGE}, command: "true", resources: { gpus: 4 } }
---
id: ${S3_DAG}
tasks:
  uses_s3:
    docker:
      image: ${TEST_IMAGE}
      command: "grep -c aws_secret_access_key $AWS_SHARED_CREDENTIALS_FILE; echo [$AWS_SECRET_ACCESS_KEY$AWS_ACCESS_KEY_ID]; while [ ! -f /tmp/go ]; do sleep 0.05; done"
---
id: leaky_outputs
tasks:
  leak:
    docker:
      image: ${TEST_IMAGE}
      command: 'printf "{\\"token\\": \\"%s\\", \\"rows\\": 3}" "$(cat /secrets/variables/api_token)" > /swarmflow/output.json'
    secrets: [api_token]
  after: { shell: "echo got {{ outputs.leak.token }}", upstream: [leak] }
`;

describeWithPostgres('container tasks end to end (Postgres, Docker)', () => {
  describeWithDocker('container tasks end to end', () => {
    let testDb: TestDatabase;
    let stack: Stack;
    const key = ClusterKey.generate();

    beforeAll(async () => {
      testDb = await createTestDatabase();
      stack = new Stack({
        databaseUrl: testDb.url, clusterKey: key, dagFiles: { 'containers.yaml': DAGS },
        workers: [{ concurrency: 4 }, { queues: ['gpu'], gpus: ['0', '1'] }],
        // No S3 server is needed: only what the container is given is looked at.
        scheduler: { artifactsUrl: 's3://swarmflow-test/runs' },
      });
      await stack.start();
      for (const [k, value, isSecret] of [
        ['artifacts_s3_endpoint', 'http://127.0.0.1:9', false], ['artifacts_s3_access_key_id', 'AKIDCONTAINERENV', true],
        ['artifacts_s3_secret_access_key', 'container-s3-secret-key', true],
      ] as const) {
        await stack.repos.variables.upsert({ key: k, value: isSecret ? key.encrypt(value) : value, isSecret, description: '' }, new Date());
      }
      await stack.repos.variables.upsert({ key: 'api_token', value: key.encrypt('s3cr3t-t0ken'), isSecret: true, description: '' }, new Date());
      await stack.repos.variables.upsert({ key: 'region', value: 'eu-west', isSecret: false, description: '' }, new Date());
    }, 120_000);

    afterAll(async () => {
      await stack?.stop();
      await testDb?.drop();
    });

    const logsOf = async (tiId: number, tryNumber: number, want: RegExp) => {
      for (let i = 0; i < 200; i++) {
        const lines = (await stack.repos.logs.read(tiId, tryNumber)).lines.map((l) => l.line);
        if (lines.some((l) => want.test(l))) return lines;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`no log line matching ${want}`);
    };

    it('mounts the variables as read-only files and masks their values in the logs', async () => {
      const { state, tis } = await stack.waitForRun(await stack.trigger('containers'), 60_000);
      expect(state).toBe('success');
      const ti = tis.get('read_secret')!;
      const lines = await logsOf(ti.id, 1, /read-only/);
      // Both files were read (two lines), and every mounted variable is masked, plain or secret.
      expect(lines.filter((l) => l === '***')).toHaveLength(2);
      expect(lines).toContain('read-only');
      expect(lines.join('\n')).not.toMatch(/s3cr3t-t0ken|eu-west/);
      expect(tis.get('after')!.state).toBe('success');
    }, 90_000);

    it('gives a container the S3 keys as a file in its secrets mount: docker inspect shows no secret value', async () => {
      const run = await stack.trigger(S3_DAG);
      const docker = (...args: string[]) => {
        const r = spawnSync('/usr/bin/docker', args, { encoding: 'utf8', timeout: 30_000 });
        if (r.status !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
        return r.stdout.trim();
      };
      let id = '';
      for (let i = 0; i < 800 && id === ''; i++) {
        id = docker('ps', '-q', '--filter', `label=swarmflow.dag_id=${S3_DAG}`, '--filter', 'label=swarmflow.role=task');
        if (id === '') await new Promise((r) => setTimeout(r, 25));
      }
      expect(id).not.toBe('');
      const [inspected] = JSON.parse(docker('inspect', id)) as { Config: { Env: string[] } }[];
      const env = inspected.Config.Env;
      expect(env).toEqual(expect.arrayContaining([
        'AWS_ENDPOINT_URL=http://127.0.0.1:9', 'AWS_REGION=us-east-1', 'AWS_SHARED_CREDENTIALS_FILE=/secrets/variables/swarmflow@aws-credentials',
      ]));
      expect(env.filter((e) => /^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)=/.test(e))).toEqual([]);
      expect(JSON.stringify(inspected)).not.toMatch(/container-s3-secret-key|AKIDCONTAINERENV/);
      docker('exec', id, 'touch', '/tmp/go');
      const { state, tis } = await stack.waitForRun(run, 60_000);
      expect(state).toBe('success');
      // The file held the secret key (masked in the log), and no AWS key variable was set.
      const lines = await logsOf(tis.get('uses_s3')!.id, 1, /^\[/);
      expect(lines).toEqual(expect.arrayContaining(['1', '[]']));
    }, 90_000);

    it('stores outputs with the secret values a task wrote masked, as its log is; downstream templates read the masked value', async () => {
      const { state, tis } = await stack.waitForRun(await stack.trigger('leaky_outputs'), 60_000);
      expect(state).toBe('success');
      const [result] = await stack.repos.results.forTaskInstance(tis.get('leak')!.id);
      expect(result.outputs).toEqual({ token: '***', rows: 3 });
      const lines = await logsOf(tis.get('after')!.id, 1, /^got /);
      expect(lines).toContain('got ***');
      expect(JSON.stringify(await stack.repos.results.forRun(tis.get('leak')!.runPk))).not.toContain('s3cr3t-t0ken');
    }, 90_000);

    it('a killed container try ends failed and is not retried', async () => {
      const run = await stack.trigger('long_container');
      const running = async () => {
        for (let i = 0; i < 400; i++) {
          const [ti] = await stack.repos.tis.forRuns([run.pk]);
          if (ti?.state === 'running') return ti;
          await new Promise((r) => setTimeout(r, 25));
        }
        throw new Error('the container task never ran');
      };
      const ti = await running();
      const worker = stack.workers.find((w) => w.runningTasks().some((t) => t.tiId === ti.id))!;
      expect(worker.cancelTask(ti.id, ti.tryNumber, 'cancelled')).toBe(true);
      const { state, tis } = await stack.waitForRun(run, 60_000);
      expect(state).toBe('failed');
      expect(tis.get('sleeper')).toMatchObject({ state: 'failed', tryNumber: 1, reason: expect.stringMatching(/cancel/) });
    }, 90_000);

    it('fails a task asking for more GPUs than any worker of its queue has, saying so', async () => {
      const { state, tis } = await stack.waitForRun(await stack.trigger('too_many_gpus'), 30_000);
      expect(state).toBe('failed');
      expect(tis.get('train')!.reason).toMatch(/asks for 4 GPU\(s\) but the workers of queue "gpu" have at most 2/);
    }, 60_000);
  });
});
