import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { DockerSpec } from '@swarmflow/core';
import { DockerExecutor } from '../docker/container-executor';
import { LABELS, taskLabels } from '../docker/container-options';
import { DockerClient } from '../docker/docker-client';

/** The image container tests run: busybox-static imported by test/support/build-test-image.sh. */
export const TEST_IMAGE = 'swarmflow/busybox:test';
/** Every container and volume a test makes carries this label, with the file's random value. */
export const TEST_LABEL = 'swarmflow.test';

const ROOT = join(__dirname, '..', '..', '..', '..');
const PROBE_TIMEOUT_MS = 3000;

let probe: { ok: boolean; why: string } | null = null;

/**
 * Whether the Docker engine answers `/_ping` (through `DOCKER_HOST` or the default
 * socket). Synchronous, in a child process, because jest's `describe` cannot wait.
 */
export function dockerAvailableSync(): { ok: boolean; why: string } {
  if (probe) return probe;
  const script = `
    const Docker = require('dockerode');
    new Docker().ping().then(() => process.exit(0), (e) => { process.stderr.write(String(e && e.message || e)); process.exit(1); });`;
  const result = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, timeout: PROBE_TIMEOUT_MS, encoding: 'utf8' });
  probe = result.status === 0
    ? { ok: true, why: '' }
    : { ok: false, why: (result.stderr || result.error?.message || `probe exited ${result.status ?? result.signal}`).trim() };
  return probe;
}

/** Builds the test image when it is missing (idempotent, no registry needed). */
export function ensureTestImage(): void {
  const result = spawnSync('bash', [join(ROOT, 'test/support/build-test-image.sh'), TEST_IMAGE], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  if (result.status !== 0) throw new Error(`cannot build ${TEST_IMAGE}: ${result.stderr || result.stdout || result.error?.message}`);
}

export interface DockerTestContext {
  client: DockerClient;
  executor: DockerExecutor;
  /** `{ 'swarmflow.test': <random> }`: put on everything the tests create. */
  labels: Record<string, string>;
  /** The random value of the label, also good as a unique worker name part. */
  id: string;
}

/**
 * `describe` for tests against the real Docker engine. Skips the block with a message
 * when the engine is unreachable, except under `CI=true` where that is a failure. Builds
 * the test image when missing, and after the block removes every container and volume
 * labelled with the block's `swarmflow.test` value.
 */
export function describeWithDocker(name: string, fn: (ctx: DockerTestContext) => void): void {
  const available = dockerAvailableSync();
  if (!available.ok) {
    if (process.env.CI === 'true') {
      describe(name, () => {
        it('needs a Docker engine (CI=true)', () => {
          throw new Error(`a Docker engine is required under CI=true: ${available.why}`);
        });
      });
      return;
    }
    console.warn(`skipping "${name}": no usable Docker engine (${available.why})`);
    describe.skip(name, () => fn({} as DockerTestContext));
    return;
  }
  const id = randomBytes(4).toString('hex');
  const client = new DockerClient();
  const ctx: DockerTestContext = { client, executor: new DockerExecutor(client), labels: { [TEST_LABEL]: id }, id };
  describe(name, () => {
    beforeAll(() => ensureTestImage(), 120_000);
    afterAll(() => removeTestObjects(client, id), 60_000);
    fn(ctx);
  });
}

/** Removes the containers (forcibly) and then the volumes labelled `swarmflow.test=<id>`. */
export async function removeTestObjects(client: DockerClient, id: string): Promise<void> {
  for (const c of await client.listContainers({ [TEST_LABEL]: id })) await client.removeContainer(c.id, true);
  for (const v of await client.listVolumes({ [TEST_LABEL]: id })) await client.removeVolume(v.name);
}

/** A container task's settings with the defaults of a validated DAG. */
export function dockerSpec(overrides: Partial<DockerSpec> = {}): DockerSpec {
  return {
    image: TEST_IMAGE, pullPolicy: 'never', entrypoint: null, user: null, volumes: [], network: 'none', labels: {},
    registryCredentials: null, cpus: null, memoryBytes: null, gpus: 0, gpuMode: 'device-request', runtime: null,
    autoRemove: true, secretsPath: '/secrets/variables', ...overrides,
  };
}

/** Whose a handed-over test container is, by its labels: the try `tiId` 1 of `worker` in `installation`. */
export interface HandedOverOwner {
  /** Null: no installation label, as a version without one made its containers. */
  installation: string | null;
  worker: string;
  tiId: number;
}

/**
 * Starts a looping container (labelled for the test and for `owner`'s try), waits for its
 * first line, and hands it over with the deadline `untilMs`, as a stopping worker leaves it.
 * `docker` overrides the container's settings (default {@link dockerSpec} with the test's
 * labels). Resolves to the container's id; fails the test if the hand-over is refused.
 */
function ownerLabels({ installation, ...owner }: HandedOverOwner): Record<string, string> {
  const labels = taskLabels({ ...owner, installation: installation ?? undefined, tryNumber: 1, dagId: 'd', runId: 'r', taskId: 't' });
  if (installation === null) delete labels[LABELS.installation];
  return labels;
}

export async function handedOverContainer(
  ctx: Pick<DockerTestContext, 'executor' | 'labels'>, owner: HandedOverOwner, untilMs: number, docker: Partial<DockerSpec> = {},
): Promise<string> {
  let logged!: () => void;
  const firstLine = new Promise<void>((resolve) => (logged = resolve));
  const run = ctx.executor.run({
    docker: dockerSpec({ labels: { ...ctx.labels }, ...docker }), command: 'trap "exit 143" TERM; while true; do echo tick; sleep 0.1; done',
    env: {}, cwd: null, timeoutMs: null, graceMs: 1000,
    labels: { ...ctx.labels, ...ownerLabels(owner) },
  }, { onLine: () => logged() });
  const id = (await run.started)!;
  await firstLine;
  expect(run.handOff(untilMs)).toBe(true);
  expect(await run.result).toMatchObject({ handedOff: true });
  return id;
}
