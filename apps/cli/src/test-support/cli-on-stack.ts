import type { INestApplication } from '@nestjs/common';
import type { Stack } from '../../../scheduler/src/test-support/stack';
import { createTestToken } from '../../../webserver/src/test-support/auth';
import { createWebserver } from '../../../webserver/src/webserver';
import type { CliDeps } from '../cli-context';
import { runCli } from '../program';

/**
 * The real CLI against a webserver over a test stack's database (its scheduler and worker
 * run the work): call inside a describe after `useStack`. The webserver starts in beforeAll
 * with a token of `role` for `user`, and closes in afterAll. Returns the command runner.
 */
export function useCliOnStack(stack: () => Stack, role: 'admin' | 'operator' | 'viewer', user: string) {
  let app: INestApplication;
  let url: string;
  let token: string;

  beforeAll(async () => {
    app = await createWebserver({ repos: stack().repos, logger: false, clusterKey: stack().clusterKey, onChange: () => stack().scheduler.runner.nudge() });
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
    token = await createTestToken(stack().repos, role, user);
  });

  afterAll(async () => {
    await app?.close();
  });

  /** `swarmflow <args>`: its exit code and what it printed. */
  return async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const deps: CliDeps = {
      stdout: (s) => { out += s; }, stderr: (s) => { err += s; },
      env: { SWARMFLOW_URL: url, SWARMFLOW_TOKEN: token }, sleep: async () => {}, now: () => new Date(), readFile: () => null,
    };
    return { code: await runCli(args, deps), out, err };
  };
}
