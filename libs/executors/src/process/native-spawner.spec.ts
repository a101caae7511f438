import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeSpawner, nativeSpawnerPath, sharedSpawner } from './native-spawner';
import { runProcess, type ProcessSpec } from './process-executor';
import { isDead, useSpawner } from '../test-support/processes';

const binary = nativeSpawnerPath();
if (binary === null && process.env.CI === 'true') throw new Error('sf-spawner is not built: run `npm run build` (needs a C compiler)');
const describeNative = binary !== null ? describe : describe.skip;


/** Polls a cheap condition every 20 ms until true, failing after `ms`. */
async function waitUntil(condition: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function spec(command: string | string[], overrides: Partial<ProcessSpec> = {}): ProcessSpec {
  return { command, env: {}, cwd: null, timeoutMs: null, onLine: () => undefined, ...overrides };
}

/** A RUN (or, with type 'r', RUN ON BASE) request as the protocol (spawner.c) defines it, built by hand. */
function runFrame(id: number, argv: string[], env: string[], cwd = '', type: 'R' | 'r' = 'R'): Buffer {
  const text = Buffer.from([cwd, ...argv, ...env].map((s) => `${s}\0`).join(''));
  const head = Buffer.alloc(17);
  head.writeUInt32LE(13 + text.length, 0);
  head[4] = type.charCodeAt(0);
  head.writeUInt32LE(id, 5);
  head.writeUInt32LE(argv.length, 9);
  head.writeUInt32LE(env.length, 13);
  return Buffer.concat([head, text]);
}

/** A BASE request: the environment later 'r' requests add to. */
function baseFrame(env: string[]): Buffer {
  const text = Buffer.from(env.map((s) => `${s}\0`).join(''));
  const head = Buffer.alloc(9);
  head.writeUInt32LE(5 + text.length, 0);
  head[4] = 'B'.charCodeAt(0);
  head.writeUInt32LE(env.length, 5);
  return Buffer.concat([head, text]);
}

interface Frame {
  type: string;
  id: number;
  body: Buffer;
}

/** Reads the frames a raw spawner sends; `next(type)` resolves with the next one of that type. */
function frameReader(child: ChildProcess): { frames: Frame[]; next(type: string, ms?: number): Promise<Frame> } {
  const frames: Frame[] = [];
  let pending = Buffer.alloc(0);
  let waiters: { type: string; resolve: (f: Frame) => void }[] = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32LE(0)) {
      const length = pending.readUInt32LE(0);
      const frame = { type: String.fromCharCode(pending[4]), id: pending.readUInt32LE(5), body: Buffer.from(pending.subarray(9, 4 + length)) };
      pending = pending.subarray(4 + length);
      frames.push(frame);
      waiters = waiters.filter((w) => (w.type === frame.type ? (w.resolve(frame), false) : true));
    }
  });
  return {
    frames,
    next: (type, ms = 5000) => {
      const seen = frames.find((f) => f.type === type);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${type} frame within ${ms} ms`)), ms);
        waiters.push({ type, resolve: (f) => { clearTimeout(timer); resolve(f); } });
      });
    },
  };
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
}

describe('sf-spawner build', () => {
  it('compiles without warnings with -Wall -Wextra', () => {
    const compiler = spawnSync('cc', ['--version']);
    if (compiler.error && process.env.CI !== 'true') return; // no C compiler here: nothing to check
    const out = join(mkdtempSync(join(tmpdir(), 'sf-spawner-')), 'sf-spawner');
    const result = spawnSync('cc', ['-O2', '-Wall', '-Wextra', '-std=gnu11', '-o', out, join(__dirname, '../../native/spawner.c')], { encoding: 'utf8' });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
  });
});

describeNative('sf-spawner protocol (the binary driven directly)', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    child?.kill('SIGKILL');
    child = undefined;
  });

  it('takes requests split at any byte, and answers SPAWNED, OUT and EXIT in order', async () => {
    child = spawn(binary!, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    const reader = frameReader(child);
    const request = Buffer.concat([
      runFrame(7, ['sh', '-c', 'printf out; printf err >&2; exit 99'], [`PATH=${process.env.PATH}`]),
      runFrame(8, ['no-such-binary-swarmflow'], []),
    ]);
    for (let i = 0; i < request.length; i += 3) child.stdin!.write(request.subarray(i, i + 3));
    const exit = await reader.next('X');
    const error = await reader.next('E');
    const frames = reader.frames.filter((f) => f.id === 7);
    expect(frames[0].type).toBe('S');
    expect(frames.at(-1)).toBe(exit);
    const output = (stream: number) => Buffer.concat(frames.filter((f) => f.type === 'O' && f.body[0] === stream).map((f) => f.body.subarray(1))).toString();
    // One pipe for stdout and stderr, in the order written.
    expect([output(1), output(2)]).toEqual(['outerr', '']);
    expect([exit.body.readInt32LE(0), exit.body.readUInt32LE(4)]).toEqual([99, 0]);
    expect(error.id).toBe(8);
    expect([error.body.readUInt32LE(0), error.body.subarray(4).toString()]).toEqual([2, 'cannot start "no-such-binary-swarmflow": No such file or directory']);
  });

  it('runs an r request with the base environment, the task\'s entries replacing those of the same name', async () => {
    child = spawn(binary!, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    const reader = frameReader(child);
    const env = (id: number) => Buffer.concat(reader.frames.filter((f) => f.id === id && f.type === 'O').map((f) => f.body.subarray(1))).toString();
    child.stdin!.write(Buffer.concat([
      baseFrame(['A=base', 'AB=not A', 'B=base', 'EMPTY=']),
      runFrame(1, ['/usr/bin/env'], ['B=own', 'C=own'], '', 'r'),
      // R ignores the base: exactly its own environment.
      runFrame(2, ['/usr/bin/env'], ['ONLY=this']),
      baseFrame(['NEW=base']),
      runFrame(3, ['/usr/bin/env'], [], '', 'r'),
    ]));
    for (const id of [1, 2, 3]) await waitUntil(() => reader.frames.some((f) => f.id === id && f.type === 'X'), 30_000);
    expect(env(1).split('\n').filter(Boolean).sort()).toEqual(['A=base', 'AB=not A', 'B=own', 'C=own', 'EMPTY=']);
    expect(env(2)).toBe('ONLY=this\n');
    expect(env(3)).toBe('NEW=base\n');
  });

  it('a BASE request with fewer entries than it counts is malformed: it ends as EOF does', async () => {
    child = spawn(binary!, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    const done = exited(child);
    const frame = baseFrame(['A=1']);
    frame.writeUInt32LE(2, 5);
    child.stdin!.write(frame);
    expect(await done).toEqual({ code: 0, signal: null });
  });

  it('at EOF on stdin, terminates every running task\'s group and exits', async () => {
    child = spawn(binary!, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    const reader = frameReader(child);
    const done = exited(child);
    child.stdin!.write(runFrame(1, ['sleep', '30'], [`PATH=${process.env.PATH}`]));
    child.stdin!.write(runFrame(2, ['/bin/sh', '-c', 'sleep 30 & echo $!; wait'], [`PATH=${process.env.PATH}`]));
    const pid = (await reader.next('S')).body.readUInt32LE(0);
    const grandchild = Number((await reader.next('O')).body.subarray(1).toString());
    child.stdin!.end();
    expect(await done).toEqual({ code: 0, signal: null });
    expect(isDead(pid)).toBe(true);
    await waitUntil(() => isDead(grandchild), 30_000);
    const exits = reader.frames.filter((f) => f.type === 'X').map((f) => [f.id, f.body.readInt32LE(0), f.body.readUInt32LE(4)]);
    expect(exits.sort()).toEqual([[1, -1, 15], [2, -1, 15]]);
  });

  it('ignores SIGINT and SIGTERM, which are for the worker: it stops with its stdin', async () => {
    child = spawn(binary!, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    const reader = frameReader(child);
    child.stdin!.write(runFrame(1, ['true'], []));
    await reader.next('X'); // running, signal dispositions set
    child.kill('SIGINT');
    child.kill('SIGTERM');
    child.stdin!.write(runFrame(2, ['/bin/true'], []));
    expect((await reader.next('S')).id).toBe(1);
    await waitUntil(() => reader.frames.filter((f) => f.type === 'X').length === 2, 30_000);
    const done = exited(child);
    child.stdin!.end();
    expect(await done).toEqual({ code: 0, signal: null });
  });

  it('a malformed request ends it as EOF does', async () => {
    child = spawn(binary!, [], { stdio: ['pipe', 'pipe', 'ignore'] });
    const done = exited(child);
    child.stdin!.write(Buffer.from([2, 0, 0, 0, 'Z'.charCodeAt(0), 0]));
    expect(await done).toEqual({ code: 0, signal: null });
  });
});

describeNative('the native spawner behind runProcess', () => {
  useSpawner('native');

  it('runs 200 tasks, 20 at a time, each with its own exit code and output', async () => {
    const results: string[] = [];
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < 200) {
        const i = next++;
        const lines: string[] = [];
        const command = i % 2 === 0 ? ['true'] : ['/bin/sh', '-c', `echo task ${i}; exit ${i % 7}`];
        const result = await runProcess(spec(command, { onLine: (_s, line) => lines.push(line) })).result;
        results[i] = `${result.exitCode}|${result.error}|${lines.join(',')}`;
      }
    };
    await Promise.all(Array.from({ length: 20 }, lane));
    expect(results).toEqual(Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? '0|null|' : `${i % 7}|null|task ${i}`)));
  });

  it('sends a base environment once and again only when another object is passed', async () => {
    const spawner = new NativeSpawner(binary!);
    const writes: Buffer[] = [];
    const stdin = (spawner as unknown as { child: ChildProcess }).child.stdin!;
    const write = stdin.write.bind(stdin);
    stdin.write = ((chunk: Buffer, ...rest: never[]) => (writes.push(chunk), write(chunk, ...rest))) as typeof stdin.write;
    const run = (baseEnv: Record<string, string>, env: Record<string, string>) => new Promise<string>((resolve) => {
      const out: Buffer[] = [];
      spawner.run({ argv: ['/usr/bin/env'], baseEnv, env, cwd: null }, {
        spawned: () => undefined,
        output: (_stream, bytes) => out.push(Buffer.from(bytes)),
        exited: () => resolve(Buffer.concat(out).toString().split('\n').filter(Boolean).sort().join(' ')),
        failed: resolve,
      });
    });
    try {
      const shared = { SHARED: '1', TASK: 'base' };
      expect(await run(shared, { TASK: 'a' })).toBe('SHARED=1 TASK=a');
      expect(await run(shared, { TASK: 'b' })).toBe('SHARED=1 TASK=b');
      expect(await run({ OTHER: '2' }, {})).toBe('OTHER=2');
      expect(writes.map((w) => String.fromCharCode(w[4]))).toEqual(['B', 'r', 'r', 'B', 'r']);
    } finally {
      await spawner.close();
    }
  });

  it('tells a task that could not start from one whose spawner died under it', async () => {
    const spawner = new NativeSpawner(binary!);
    const pids: number[] = [];
    const outcome = (argv: string[]) => new Promise<{ error: string; notStarted: boolean | undefined }>((resolve) => {
      spawner.run({ argv, env: {}, cwd: null }, {
        spawned: (pid) => pids.push(pid),
        output: () => undefined,
        exited: () => resolve({ error: 'exited', notStarted: undefined }),
        failed: (error, notStarted) => resolve({ error, notStarted }),
      });
    });
    try {
      expect(await outcome(['/no/such/binary'])).toEqual({ error: 'cannot start "/no/such/binary": spawn /no/such/binary ENOENT', notStarted: true });
      const running = outcome(['/bin/sleep', '30']);
      await waitUntil(() => pids.length === 1, 30_000);
      process.kill(spawner.pid!, 'SIGKILL');
      expect(await running).toEqual({ error: 'process spawner sf-spawner exited with signal SIGKILL', notStarted: false });
      // Asked of the dead spawner: never sent, so it did not start.
      expect(await outcome(['/bin/true'])).toEqual({ error: 'process spawner sf-spawner exited with signal SIGKILL', notStarted: true });
    } finally {
      await spawner.close();
      for (const pid of pids) process.kill(-pid, 'SIGKILL'); // left running by the killed spawner
    }
  });

  it('passes binary output byte for byte, however the frames are split', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sf-spawner-'));
    const data = randomBytes(3 * 1024 * 1024 + 17);
    writeFileSync(join(dir, 'data'), data);
    const spawner = new NativeSpawner(binary!);
    try {
      const chunks: Record<string, Buffer[]> = { stdout: [], stderr: [] };
      const end = await new Promise<string>((resolve) => {
        spawner.run({ argv: ['/bin/sh', '-c', 'cat data; cat data >&2'], env: {}, cwd: dir }, {
          spawned: () => undefined,
          output: (stream, bytes) => chunks[stream].push(Buffer.from(bytes)),
          exited: (code, signal) => resolve(`${code}|${signal}`),
          failed: (error) => resolve(error),
        });
      });
      expect(end).toBe('0|null');
      expect(Buffer.concat(chunks.stdout).equals(Buffer.concat([data, data]))).toBe(true);
      expect(chunks.stderr).toEqual([]);
    } finally {
      await spawner.close();
    }
  });

  it('when the spawner dies, its running tasks are lost (not "could not start") and their process groups killed', async () => {
    const lines: string[] = [];
    const first = runProcess(spec('sleep 30 & echo $!; wait', { onLine: (_s, line) => lines.push(line) }));
    const pid = (await first.spawned)!;
    await waitUntil(() => lines.length === 1, 30_000);
    const grandchild = Number(lines[0]);
    const spawnerPid = sharedSpawner(binary!).pid!;
    process.kill(spawnerPid, 'SIGKILL');
    expect(await first.result).toEqual({
      exitCode: null, signal: null, timedOut: false, cancelled: false, error: null,
      lost: `process spawner sf-spawner exited with signal SIGKILL while the task ran; its process group ${pid} was killed`,
    });
    // Nothing of the task runs on unwatched (without the spawner nobody would ever stop it).
    await waitUntil(() => isDead(pid) && isDead(grandchild), 30_000);
    const next = runProcess(spec(['true']));
    expect(await next.result).toMatchObject({ exitCode: 0, error: null });
    expect(sharedSpawner(binary!).pid).not.toBe(spawnerPid);
  });

  it('does not keep an idle Node process alive, but keeps it alive while a task runs', () => {
    const script = `
      const { runProcess } = require(${JSON.stringify(join(__dirname, 'process-executor.ts'))});
      runProcess({ command: 'sleep 0.3; echo late', env: {}, cwd: null, timeoutMs: null, onLine: (_s, l) => console.log(l) })
        .result.then((r) => console.log('exit ' + r.exitCode));
    `;
    // A process kept alive never exits by itself (the spawner has no idle timer): spawnSync kills it at
    // its timeout and the status is null. That, not a clock, tells the two apart; the time is printed.
    const started = Date.now();
    const result = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], {
      encoding: 'utf8', timeout: 120_000, env: { ...process.env, SWARMFLOW_PROCESS_SPAWNER: 'native' },
    });
    process.stdout.write(`native-spawner: a Node process with an idle spawner exited ${Date.now() - started} ms after its start\n`);
    expect({ status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr })
      .toEqual({ status: 0, signal: null, stdout: 'late\nexit 0\n', stderr: '' });
  });

  it('a bad SWARMFLOW_PROCESS_SPAWNER fails the task, naming the variable', async () => {
    process.env.SWARMFLOW_PROCESS_SPAWNER = 'fork';
    try {
      expect((await runProcess(spec(['true'])).result).error).toBe('SWARMFLOW_PROCESS_SPAWNER must be node, native or auto, got "fork"');
    } finally {
      process.env.SWARMFLOW_PROCESS_SPAWNER = 'native';
    }
  });
});
