import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { arch, tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from '@swarmflow/messaging/test-support/wait';
import { holdBinary } from './hold-binary';

describe('holdBinary', () => {
  it('is a small ELF for amd64 and arm64, none for other architectures', () => {
    for (const a of ['amd64', 'x86_64', 'arm64', 'aarch64']) {
      const elf = holdBinary(a)!;
      expect(elf.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
      expect(elf.length).toBeLessThan(160);
    }
    expect(holdBinary('amd64')!.readUInt16LE(18)).toBe(0x3e);
    expect(holdBinary('arm64')!.readUInt16LE(18)).toBe(0xb7);
    expect(holdBinary('s390x')).toBeNull();
  });

  (arch() === 'x64' || arch() === 'arm64' ? it : it.skip)('blocks until killed, on this machine', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sf-hold-')), 'hold');
    writeFileSync(file, holdBinary(arch() === 'x64' ? 'amd64' : 'arm64')!, { mode: 0o755 });
    const child = spawn(file, [], { stdio: 'ignore' });
    const exited = new Promise<string | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    // Blocked in the syscall it loops on (pause on x86-64, ppoll on arm64), as /proc shows: it waits, it does not exit.
    const waiting = arch() === 'x64' ? '34' : '73';
    const blockedIn = () => {
      try {
        return readFileSync(`/proc/${child.pid}/syscall`, 'utf8').split(' ')[0];
      } catch {
        return null;
      }
    };
    const state = await Promise.race([exited.then((signal) => `exited (${signal})`), waitUntil('the syscall it blocks in', () => (blockedIn() === waiting ? 'blocked' : null), { timeoutMs: 30_000, intervalMs: 10 })]);
    expect(state).toBe('blocked');
    expect(child.exitCode).toBeNull();
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
  });
});
