import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '@swarmflow/secrets';
import { loadClusterKey } from './server-commands';

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
