import { checkDecrease, RemovedWorker, ScaleInNotDrainedError, ScalingProvider } from './scaling-provider';

/**
 * A group that exists only in memory: tests, the simulation (bench/autoscaler-simulation.ts)
 * and what-if runs. `running` names the workers that still run (the caller's world);
 * a scale-in that names one of them is refused like on a real provider.
 */
export class SimulatedProvider implements ScalingProvider {
  readonly kind = 'simulated' as const;
  /** Every size set, in order (for tests and the simulation's figures). */
  readonly history: number[] = [];

  constructor(readonly group: string, private size: number, private readonly isRunning: (worker: string) => boolean = () => false) {}

  async current(): Promise<number> {
    return this.size;
  }

  async scaleTo(desired: number, removed: readonly RemovedWorker[]): Promise<void> {
    checkDecrease(this.group, this.size, desired, removed);
    const busy = desired < this.size ? removed.find((r) => this.isRunning(r.worker)) : undefined;
    if (busy) throw new ScaleInNotDrainedError(this.group, `worker ${busy.worker} still runs`);
    this.size = desired;
    this.history.push(desired);
  }
}
