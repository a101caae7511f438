import { existsSync } from 'node:fs';
import { sealFor, startHarness, taskMessage, type Harness } from './test-support/worker-harness';

describe('WorkerService: a try\'s artefacts prefix', () => {
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  it('hands the prefix, endpoint and region as environment variables and the keys as a 0400 credentials file, masking the secret key in its log and outputs', async () => {
    h = await startHarness({ startedDelayMs: 0 });
    const base = taskMessage({
      command: 'echo "$SWARMFLOW_ARTIFACTS_URL $SWARMFLOW_ARTIFACTS_RUN_URL $AWS_ENDPOINT_URL $AWS_REGION [${AWS_ACCESS_KEY_ID-unset}] [${AWS_SECRET_ACCESS_KEY-unset}]"; ' +
        'echo "$AWS_SHARED_CREDENTIALS_FILE"; stat -c %a "$AWS_SHARED_CREDENTIALS_FILE"; cat "$AWS_SHARED_CREDENTIALS_FILE"; ' +
        'printf \'{"leaked": "%s", "fine": 1}\' "$(sed -n \'s/^aws_secret_access_key = //p\' "$AWS_SHARED_CREDENTIALS_FILE")" > "$SWARMFLOW_OUTPUT"',
    });
    const s3 = JSON.stringify({ endpoint: 'http://minio:9000', region: 'eu-west-1', accessKeyId: 'minio', secretAccessKey: 'very-secret-key' });
    const task = { ...base, artifacts: { url: 's3://b/p/dag1/r/task1/try-1/', runUrl: 's3://b/p/dag1/r/', s3: sealFor(base, 'artifacts_s3', s3) } };
    await h.submit(task);
    const finished = await h.published.finishedOf(task.tiId);
    expect(finished.outcome).toBe('success');
    const [env, file, mode, ...content] = finished.logTail;
    expect(env).toBe('s3://b/p/dag1/r/task1/try-1/ s3://b/p/dag1/r/ http://minio:9000 eu-west-1 [unset] [unset]');
    expect(mode).toBe('400');
    expect(content).toEqual(['[default]', 'aws_access_key_id = minio', 'aws_secret_access_key = ***']);
    // Outputs are masked as the log is; the file is gone once the try ended.
    expect(finished.outputs).toEqual({ leaked: '***', fine: 1 });
    expect(existsSync(file)).toBe(false);
  });

  // Needs root (to switch users); CI runs as root.
  const asRoot = process.getuid?.() === 0 || process.env.CI === 'true' ? it : it.skip;
  asRoot('a task run as another user (--run-as-user) owns its credentials file, and it alone can read it', async () => {
    h = await startHarness({ startedDelayMs: 0, runAs: { name: 'nobody', uid: 65534, gid: 65534, home: '/nonexistent' } });
    const base = taskMessage({ command: 'stat -c "%u:%g %a" "$AWS_SHARED_CREDENTIALS_FILE"; sed -n "s/^aws_access_key_id = //p" "$AWS_SHARED_CREDENTIALS_FILE"', cwd: '/' });
    const s3 = JSON.stringify({ endpoint: null, region: 'us-east-1', accessKeyId: 'AKIDNOBODY', secretAccessKey: 'nobody-secret-key' });
    const task = { ...base, artifacts: { url: 's3://b/x/', runUrl: 's3://b/', s3: sealFor(base, 'artifacts_s3', s3) } };
    await h.submit(task);
    const finished = await h.published.finishedOf(task.tiId);
    expect(finished.outcome).toBe('success');
    expect(finished.logTail).toEqual(['65534:65534 400', 'AKIDNOBODY']);
  });

  it('tells the task where the run\'s cached tasks keep their artefacts (SWARMFLOW_ARTIFACTS_CACHED_URLS), unset when none', async () => {
    h = await startHarness({ startedDelayMs: 0 });
    const cached = { train: 'file:///a/ml/manual__0/train/try-1/' };
    const task = { ...taskMessage({ command: 'echo "[$SWARMFLOW_ARTIFACTS_CACHED_URLS]"' }), artifacts: { url: 'file:///a/ml/r/evaluate/try-1/', runUrl: 'file:///a/ml/r/', cached } };
    const plain = { ...taskMessage({ command: 'echo "[${SWARMFLOW_ARTIFACTS_CACHED_URLS-unset}]"' }), artifacts: { url: 'file:///a/ml/r/x/try-1/', runUrl: 'file:///a/ml/r/' } };
    await h.submit(task);
    await h.submit(plain);
    expect((await h.published.finishedOf(task.tiId)).logTail).toEqual([`[${JSON.stringify(cached)}]`]);
    expect((await h.published.finishedOf(plain.tiId)).logTail).toEqual(['[unset]']);
  });

  it('fails the try when the settings were sealed for another try', async () => {
    h = await startHarness({ startedDelayMs: 0 });
    const base = taskMessage({ command: 'true' });
    const task = { ...base, artifacts: { url: 's3://b/x/', runUrl: 's3://b/', s3: sealFor({ tiId: base.tiId, tryNumber: 2 }, 'artifacts_s3', '{}') } };
    await h.submit(task);
    const finished = await h.published.finishedOf(task.tiId);
    expect(finished.outcome).toBe('failed');
    expect(finished.reason).toMatch(/^cannot open the artefacts store's credentials: /);
  });
});
