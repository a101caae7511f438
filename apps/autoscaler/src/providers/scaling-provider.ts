/**
 * How the autoscaler resizes one instance group. One interface, three implementations
 * (`simulated`, `swarm-service`, `command`) held to one contract suite
 * (scaling-provider.contract.ts).
 *
 * The contract of a scale-in: the autoscaler first drains idle workers and shuts them down
 * (they exit 0); only then does it call {@link ScalingProvider.scaleTo} with a lower size,
 * naming those workers in `removed`. A provider refuses to lower the size by more than the
 * workers it is told were removed, and (where it can see them) refuses while one of them
 * still runs, so a scale-in can never take a busy worker.
 */
export interface RemovedWorker {
  /** The worker's name (on Swarm: `<service>.<slot>`). */
  worker: string;
  /** The node it ran on (its heartbeat's hostname), for node groups that drain nodes. */
  node: string;
}

export interface ScalingProvider {
  readonly kind: 'simulated' | 'swarm-service' | 'command';
  /** The group's size as the provider holds it now (desired replicas or nodes). */
  current(): Promise<number>;
  /**
   * Set the size. Raising takes effect at once. Lowering by k needs k `removed` workers
   * that exited after a drain.
   * @throws ScaleInNotDrainedError when fewer removed workers are named than the decrease, or one still runs.
   * @throws ProviderError when the underlying system refuses (the message says what and how to fix it).
   */
  scaleTo(desired: number, removed: readonly RemovedWorker[]): Promise<void>;
}

/** A scale-in asked before its workers were drained and gone: nothing was changed. */
export class ScaleInNotDrainedError extends Error {
  override name = 'ScaleInNotDrainedError';

  constructor(readonly group: string, readonly problem: string) {
    super(`cannot scale ${group} in: ${problem}. Drain the workers to remove (worker.drain), wait until they exited, then lower the size`);
  }
}

/** The system behind a provider refused or failed; `retryable` says whether the next round may succeed. */
export class ProviderError extends Error {
  override name = 'ProviderError';

  constructor(readonly group: string, message: string, readonly retryable: boolean) {
    super(`${group}: ${message}`);
  }
}

/** Shared check: a decrease of k needs k removed workers. */
export function checkDecrease(group: string, current: number, desired: number, removed: readonly RemovedWorker[]): void {
  if (!Number.isInteger(desired) || desired < 0) throw new ProviderError(group, `desired size must be a whole number ≥ 0 (got ${desired})`, false);
  const decrease = current - desired;
  if (decrease > removed.length) {
    throw new ScaleInNotDrainedError(group, `lowering ${current} → ${desired} removes ${decrease} worker(s) but only ${removed.length} were drained and exited`);
  }
}
