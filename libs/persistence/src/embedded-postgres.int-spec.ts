import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';

/**
 * The standalone database as `swarmflow standalone` runs it, in a child process (jest's
 * sandbox cannot load PGlite), started under umask 0: the worst case for the modes of
 * the files PGlite creates.
 */
describe('the embedded database is private to its user', () => {
  jest.setTimeout(120_000);
  let home: string;
  let child: ChildProcess;
  let url: string;

  beforeAll(async () => {
    home = mkdtempSync(path.join(tmpdir(), 'sf-home-'));
    const script = path.join(__dirname, 'test-support/embedded-server.ts');
    child = spawn('/bin/sh', ['-c', `umask 0 && exec "${process.execPath}" --require tsx/cjs "${script}" "${path.join(home, 'db')}"`], {
      env: { ...process.env, TSX_TSCONFIG_PATH: path.resolve(__dirname, '../../../tsconfig.json') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(out.trim());
      });
      child.once('exit', (code) => reject(new Error(`the embedded database exited (${code}) before it was ready`)));
    });
  });

  afterAll(async () => {
    if (child?.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(home, { recursive: true, force: true });
  });

  const mode = (p: string): number => statSync(p).mode & 0o777;

  it('keeps its folders 0700 and its files 0600, even under umask 0', () => {
    expect(mode(home)).toBe(0o700);
    const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? [path.join(dir, e.name), ...walk(path.join(dir, e.name))] : [path.join(dir, e.name)]);
    const entries = walk(home);
    expect(entries.length).toBeGreaterThan(10);
    const wrong = entries.filter((p) => {
      const s = statSync(p);
      return s.isDirectory() ? mode(p) !== 0o700 : s.isSocket() ? mode(p) !== 0o600 : mode(p) !== 0o600;
    }).map((p) => `${path.relative(home, p)} ${mode(p).toString(8)}`);
    expect(wrong).toEqual([]);
  });

  it('answers on a Unix socket in the home folder, and on no TCP port', async () => {
    expect(url).toMatch(/^postgres:\/\/postgres@localhost\/postgres\?host=/);
    const socketDir = decodeURIComponent(new URL(url).searchParams.get('host')!);
    expect(socketDir.startsWith(home)).toBe(true);
    expect(statSync(path.join(socketDir, '.s.PGSQL.5432')).isSocket()).toBe(true);
    const client = new Client({ connectionString: url });
    await client.connect();
    expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await client.end();

    // Every socket the process holds, against the kernel's tables of TCP sockets.
    const inodes = readdirSync(`/proc/${child.pid}/fd`).map((fd) => {
      try {
        return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${child.pid}/fd/${fd}`))?.[1];
      } catch {
        return undefined;
      }
    }).filter((i): i is string => i !== undefined);
    expect(inodes.length).toBeGreaterThan(0);
    const tcp = ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((f) => readFileSync(f, 'utf8').split('\n').slice(1))
      .map((line) => line.trim().split(/\s+/)).filter((cols) => cols.length > 9).map((cols) => cols[9]);
    expect(inodes.filter((i) => tcp.includes(i))).toEqual([]);
  });
});
