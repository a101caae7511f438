import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '@swarmflow/secrets';
import type { CliDeps } from './cli-context';
import { runCli } from './program';
import { installationOf, ofInstallation } from '@swarmflow/executors';
import { loadClusterKey, standaloneAddress, standaloneInstallation } from './server-commands';

/** The help of a server command, as `swarmflow <command> --help` prints it with `env`; spaces and line breaks squeezed. */
async function helpOf(command: string, env: NodeJS.ProcessEnv): Promise<string> {
  let out = '';
  const deps: CliDeps = { stdout: (s) => { out += s; }, stderr: () => undefined, env, sleep: async () => undefined, now: () => new Date() };
  expect(await runCli([command, '--help'], deps)).toBe(0);
  return out.replace(/\s+/g, ' ');
}

describe('server commands --help', () => {
  it('shows the port and host standalone would listen on, and where they come from', async () => {
    expect(await helpOf('standalone', {})).toContain('--port <port> API port (default: $SWARMFLOW_WEB_PORT, else 8080)');
    expect(await helpOf('standalone', {})).toContain('--host <host> API host (default: $SWARMFLOW_WEB_HOST, else 127.0.0.1)');
    const set = await helpOf('standalone', { SWARMFLOW_WEB_PORT: '9999', SWARMFLOW_WEB_HOST: '0.0.0.0' });
    expect(set).toContain('--port <port> API port (default: 9999, from $SWARMFLOW_WEB_PORT)');
    expect(set).toContain('--host <host> API host (default: 0.0.0.0, from $SWARMFLOW_WEB_HOST)');
    // Blank is unset, for the help as for the command.
    expect(await helpOf('standalone', { SWARMFLOW_WEB_PORT: ' ' })).toContain('(default: $SWARMFLOW_WEB_PORT, else 8080)');
  });

  it('shows the webserver\'s port and host from the same environment', async () => {
    expect(await helpOf('webserver', {})).toContain('SWARMFLOW_WEB_PORT: the API port (default: $SWARMFLOW_WEB_PORT, else 8080)');
    expect(await helpOf('webserver', {})).toContain('SWARMFLOW_WEB_HOST: the API host (default: $SWARMFLOW_WEB_HOST, else 0.0.0.0)');
    expect(await helpOf('webserver', { SWARMFLOW_WEB_PORT: '9999' })).toContain('SWARMFLOW_WEB_PORT: the API port (default: 9999, from $SWARMFLOW_WEB_PORT)');
  });
});

describe('standaloneAddress', () => {
  it('takes --port and --host first, then SWARMFLOW_WEB_PORT and SWARMFLOW_WEB_HOST, then 8080 on 127.0.0.1', () => {
    const env = { SWARMFLOW_WEB_PORT: '9999', SWARMFLOW_WEB_HOST: '0.0.0.0' };
    expect(standaloneAddress({ port: '7000', host: '::1' }, env)).toEqual({ port: 7000, host: '::1' });
    expect(standaloneAddress({}, env)).toEqual({ port: 9999, host: '0.0.0.0' });
    expect(standaloneAddress({}, {})).toEqual({ port: 8080, host: '127.0.0.1' });
    expect(standaloneAddress({ port: '0' }, {})).toEqual({ port: 0, host: '127.0.0.1' });
  });

  it('treats a blank variable as unset, as the webserver does (not as port 0)', () => {
    expect(standaloneAddress({}, { SWARMFLOW_WEB_PORT: '', SWARMFLOW_WEB_HOST: ' ' })).toEqual({ port: 8080, host: '127.0.0.1' });
  });

  it('names where a bad port came from, and the fix', () => {
    expect(() => standaloneAddress({}, { SWARMFLOW_WEB_PORT: 'http' })).toThrow(
      'SWARMFLOW_WEB_PORT must be a port number between 0 and 65535 (got "http"). Fix: set SWARMFLOW_WEB_PORT to a port, unset it, or pass --port <n>',
    );
    expect(() => standaloneAddress({ port: '70000' }, { SWARMFLOW_WEB_PORT: '9999' })).toThrow(
      '--port must be a port number between 0 and 65535 (got "70000"). Fix: pass --port <n>',
    );
    expect(() => standaloneAddress({ port: '-1' }, {})).toThrow(/^--port must be a port number/);
  });
});

describe('standaloneInstallation', () => {
  it('is one per home folder, the same across restarts, and never the default installation of a cluster', () => {
    const one = standaloneInstallation('/srv/a/.swarmflow');
    expect(one).toMatch(/^standalone-[0-9a-f]{8}\.swarmflow$/);
    expect(standaloneInstallation('/srv/a/./.swarmflow')).toBe(one);
    expect(standaloneInstallation('/srv/b/.swarmflow')).not.toBe(one);
    // Containers of a cluster without a broker prefix (and unlabelled ones) are not its own to reap.
    expect(ofInstallation({ 'swarmflow.installation': installationOf(undefined) }, one)).toBe(false);
    expect(ofInstallation({}, one)).toBe(false);
  });
});

describe('loadClusterKey', () => {
  let home: string;
  beforeEach(() => {
    home = mkdtempSync(path.join(tmpdir(), 'swarmflow-home-'));
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('creates <home>/cluster.key (0600) on first start and reuses it', () => {
    const first = loadClusterKey({}, home);
    const file = path.join(home, 'cluster.key');
    expect(first.source).toBe(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toBe(first.key.toBase64());
    expect(loadClusterKey({}, home).key.fingerprint).toBe(first.key.fingerprint);
  });

  it('finds the home folder in SWARMFLOW_HOME', () => {
    expect(loadClusterKey({ SWARMFLOW_HOME: home }).source).toBe(path.join(home, 'cluster.key'));
  });

  it('prefers SWARMFLOW_CLUSTER_KEY and names it when malformed', () => {
    const key = Buffer.alloc(32, 1).toString('base64');
    expect(loadClusterKey({ SWARMFLOW_CLUSTER_KEY: key }, home)).toEqual({ key: expect.anything(), source: 'SWARMFLOW_CLUSTER_KEY' });
    expect(loadClusterKey({ SWARMFLOW_CLUSTER_KEY: key }, home).key.toBase64()).toBe(key);
    expect(() => loadClusterKey({ SWARMFLOW_CLUSTER_KEY: 'abc' }, home)).toThrow(ConfigError);
    expect(() => loadClusterKey({ SWARMFLOW_CLUSTER_KEY: 'abc' }, home)).toThrow(/^SWARMFLOW_CLUSTER_KEY: /);
  });
});
