import { readFileSync } from 'node:fs';
import { killAll, shutdownSpawner } from '../process/process-executor';

/** Gone, or a zombie waiting for a reaper (PID 1 of a container may not reap). */
export function isDead(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/**
 * For the enclosing describe: process tasks start through `spawner`; every test's leftover
 * processes are killed after it, and the shared sf-spawner is stopped at the end.
 */
export function useSpawner(spawner: 'node' | 'native'): void {
  const previous = process.env.SWARMFLOW_PROCESS_SPAWNER;
  beforeAll(() => {
    process.env.SWARMFLOW_PROCESS_SPAWNER = spawner;
  });
  afterEach(async () => {
    await killAll('test cleanup');
  });
  afterAll(async () => {
    if (previous === undefined) delete process.env.SWARMFLOW_PROCESS_SPAWNER;
    else process.env.SWARMFLOW_PROCESS_SPAWNER = previous;
    await shutdownSpawner();
  });
}
