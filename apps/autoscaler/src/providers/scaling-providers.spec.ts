import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CommandProvider } from './command.provider';
import { describeProviderContract } from './scaling-provider.contract';
import { ProviderError } from './scaling-provider';
import { SimulatedProvider } from './simulated.provider';
import { SwarmApi, SwarmServiceProvider } from './swarm-service.provider';

/** An in-memory Docker Swarm API: one service, its tasks per slot, version-checked updates. */
class FakeSwarm implements SwarmApi {
  version = 10;
  updates: Array<Record<string, unknown>> = [];
  /** slot → task state (running / complete). */
  slots = new Map<number, string>();
  /** Make the next update fail as a concurrent change would. */
  conflictOnce = false;

  constructor(readonly name: string, public replicas: number) {
    for (let s = 1; s <= replicas; s++) this.slots.set(s, 'running');
  }

  getService(id: string) {
    if (id !== this.name) throw new Error(`no such service: ${id}`);
    return {
      inspect: async () => ({ Version: { Index: this.version }, Spec: { Name: this.name, Labels: { a: 'b' }, Mode: { Replicated: { Replicas: this.replicas } } } }),
      update: async (opts: Record<string, unknown>) => {
        if (this.conflictOnce) { this.conflictOnce = false; this.version += 1; throw new Error('(HTTP code 500) server error - rpc error: code = Unknown desc = update out of sequence'); }
        if (opts.version !== this.version) throw new Error('update out of sequence');
        this.updates.push(opts);
        const next = (opts.Mode as { Replicated: { Replicas: number } }).Replicated.Replicas;
        // Swarm removes exited slots first, then adds new ones at the lowest free slot numbers.
        for (let s = 1; this.slotsLive() < next; s++) if (this.slots.get(s) !== 'running') this.slots.set(s, 'running');
        this.replicas = next;
        this.version += 1;
        return {};
      },
    };
  }

  private slotsLive() {
    return [...this.slots.values()].filter((s) => s === 'running').length;
  }

  async listTasks() {
    return [...this.slots].map(([Slot, state]) => ({ Slot, DesiredState: state === 'running' ? 'running' : 'shutdown', Status: { State: state } }));
  }
}

describeProviderContract('simulated', async (initial) => {
  const running = new Set(Array.from({ length: initial }, (_, i) => `sim.${i + 1}`));
  return {
    provider: new SimulatedProvider('sim', initial, (w) => running.has(w)),
    worker: (n) => `sim.${n}`,
    setRunning: (w, on) => { if (on) running.add(w); else running.delete(w); },
  };
}, { seesWorkers: true });

describeProviderContract('swarm-service (fake Docker API)', async (initial) => {
  const swarm = new FakeSwarm('swarmflow_worker-gpu', initial);
  return {
    provider: new SwarmServiceProvider('gpu', swarm, 'swarmflow_worker-gpu'),
    worker: (n) => `swarmflow_worker-gpu.${n}`,
    setRunning: (w, on) => swarm.slots.set(Number(w.split('.').pop()), on ? 'running' : 'complete'),
  };
}, { seesWorkers: true });

const dir = mkdtempSync(path.join(tmpdir(), 'swarmflow-command-provider-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let scripts = 0;
/** A script that appends its argv (one per line) and SWARMFLOW_* to a log. */
function recorder(): { file: string; log: string } {
  const n = ++scripts;
  const file = path.join(dir, `scale-${n}.sh`);
  const log = path.join(dir, `scale-${n}.log`);
  writeFileSync(file, `#!/bin/sh\nfor a in "$@"; do echo "arg:$a" >> '${log}'; done\necho "env:$SWARMFLOW_GROUP $SWARMFLOW_DESIRED $SWARMFLOW_REMOVE_NODES" >> '${log}'\n`);
  chmodSync(file, 0o755);
  return { file, log };
}

describeProviderContract('command', async (initial) => {
  const script = recorder();
  const docker = recorder();
  return {
    provider: new CommandProvider('nodes', [script.file], initial, undefined, docker.file),
    worker: (n) => `w${n}`,
    setRunning: () => undefined,
  };
}, { seesWorkers: false });

describe('SwarmServiceProvider', () => {
  it('updates with the version it read and keeps the rest of the spec', async () => {
    const swarm = new FakeSwarm('svc', 1);
    await new SwarmServiceProvider('g', swarm, 'svc').scaleTo(3, []);
    expect(swarm.updates).toEqual([{ Name: 'svc', Labels: { a: 'b' }, Mode: { Replicated: { Replicas: 3 } }, version: 10 }]);
  });

  it('reads again and retries once when a concurrent change moved the version', async () => {
    const swarm = new FakeSwarm('svc', 1);
    swarm.conflictOnce = true;
    await new SwarmServiceProvider('g', swarm, 'svc').scaleTo(2, []);
    expect(swarm.updates.map((u) => u.version)).toEqual([11]);
    expect(swarm.replicas).toBe(2);
  });

  it('lowers replicas only after the drained slots exited, and the removed slots are the drained ones', async () => {
    const swarm = new FakeSwarm('svc', 3);
    const provider = new SwarmServiceProvider('g', swarm, 'svc');
    await expect(provider.scaleTo(2, [{ worker: 'svc.2', node: 'n' }])).rejects.toThrow('cannot scale g in: worker svc.2 still runs (task running)');
    swarm.slots.set(2, 'complete'); // drained, shut down, exited 0; on-failure keeps it down
    await provider.scaleTo(2, [{ worker: 'svc.2', node: 'n' }]);
    expect([...swarm.slots].filter(([, s]) => s === 'running').map(([slot]) => slot)).toEqual([1, 3]);
  });

  it('names a missing service and how to fix it', async () => {
    await expect(new SwarmServiceProvider('g', new FakeSwarm('svc', 1), 'other').current()).rejects.toThrow(
      /^g: cannot inspect Swarm service other: no such service: other\. Fix: deploy the stack/,
    );
  });
});

describe('CommandProvider', () => {
  it('runs the script with the desired size as its last argument, never through a shell', async () => {
    const script = recorder();
    const marker = path.join(dir, 'injected');
    await new CommandProvider('gpu', [script.file, '--pool', `$(touch ${marker}); x`], 0).scaleTo(2, []);
    expect(readFileSync(script.log, 'utf8')).toBe(`arg:--pool\narg:$(touch ${marker}); x\narg:2\nenv:gpu 2 \n`);
    expect(existsSync(marker)).toBe(false);
  });

  it('drains the removed workers\' nodes in Swarm before the script shrinks the group', async () => {
    const script = recorder();
    const docker = recorder();
    const calls: string[] = [];
    const provider = new CommandProvider('gpu', [script.file], 3, async (file, args, env) => {
      calls.push([path.basename(file) === path.basename(docker.file) ? 'docker' : 'script', ...args, env.SWARMFLOW_REMOVE_NODES ?? ''].join(' '));
      return '';
    }, docker.file);
    await provider.scaleTo(1, [{ worker: 'w3', node: 'node-c' }, { worker: 'w2', node: 'node-b' }]);
    expect(calls).toEqual([
      'docker node update --availability drain node-c ',
      'docker node update --availability drain node-b ',
      'script 1 node-c,node-b',
    ]);
  });

  it('reports a failing script with its exit and stderr, and keeps the size', async () => {
    const file = path.join(dir, 'fail.sh');
    writeFileSync(file, '#!/bin/sh\necho "quota exceeded" >&2\nexit 3\n');
    chmodSync(file, 0o755);
    const provider = new CommandProvider('gpu', [file], 1);
    const error = await provider.scaleTo(2, []).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as Error).message).toBe(`gpu: ${file} 2 failed (3): quota exceeded`);
    expect(await provider.current()).toBe(1);
  });
});
