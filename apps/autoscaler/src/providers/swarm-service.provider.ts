import { checkDecrease, ProviderError, RemovedWorker, ScaleInNotDrainedError, ScalingProvider } from './scaling-provider';

/** The part of dockerode the Swarm provider uses (a stub in tests). */
export interface SwarmApi {
  getService(id: string): {
    inspect(): Promise<{ Version?: { Index?: number }; Spec?: { Mode?: { Replicated?: { Replicas?: number } } } & Record<string, unknown> }>;
    update(options: Record<string, unknown>): Promise<unknown>;
  };
  listTasks(options: { filters: string }): Promise<Array<{ Slot?: number; DesiredState?: string; Status?: { State?: string; ContainerStatus?: { ExitCode?: number } } }>>;
}

/** Task states in which a worker container may still run or come back. */
const LIVE = new Set(['new', 'pending', 'assigned', 'accepted', 'preparing', 'ready', 'starting', 'running']);

/**
 * Scales a Swarm service's replicas (`swarmflow_worker-<group>`), version-checked: the update
 * carries the version it read, so a concurrent change (an operator's `docker service scale`,
 * another autoscaler) makes Docker refuse it instead of being overwritten; the provider then
 * reads again once. Lowering happens only once the removed workers' slots (worker name
 * `<service>.<slot>`) have no live task: drained workers exited 0 and, under
 * `restart_policy: on-failure`, stay down, and Swarm removes those exited slots first when
 * the count drops.
 */
export class SwarmServiceProvider implements ScalingProvider {
  readonly kind = 'swarm-service' as const;

  constructor(readonly group: string, private readonly docker: SwarmApi, readonly service: string) {}

  async current(): Promise<number> {
    return (await this.read()).replicas;
  }

  async scaleTo(desired: number, removed: readonly RemovedWorker[]): Promise<void> {
    checkDecrease(this.group, desired, desired, removed); // the size itself: a whole number ≥ 0
    for (let attempt = 1; ; attempt++) {
      const { replicas, version, spec } = await this.read();
      if (desired === replicas) return;
      if (desired < replicas) {
        checkDecrease(this.group, replicas, desired, removed);
        await this.checkExited(removed);
      }
      const mode = (spec.Mode ?? {}) as { Replicated?: { Replicas?: number } };
      try {
        await this.docker.getService(this.service).update({ ...spec, Mode: { ...mode, Replicated: { ...mode.Replicated, Replicas: desired } }, version });
        return;
      } catch (e) {
        const message = (e as Error).message ?? String(e);
        if (attempt < 2 && /out of sequence|version/i.test(message)) continue;
        throw new ProviderError(this.group, `docker service update ${this.service} to ${desired} replicas failed: ${message}`, true);
      }
    }
  }

  private async read(): Promise<{ replicas: number; version: number; spec: Record<string, unknown> }> {
    let info: Awaited<ReturnType<ReturnType<SwarmApi['getService']>['inspect']>>;
    try {
      info = await this.docker.getService(this.service).inspect();
    } catch (e) {
      throw new ProviderError(this.group, `cannot inspect Swarm service ${this.service}: ${(e as Error).message}. Fix: deploy the stack (docker stack deploy) and run the autoscaler on a manager with the Docker socket`, true);
    }
    const replicas = info.Spec?.Mode?.Replicated?.Replicas;
    if (typeof replicas !== 'number' || typeof info.Version?.Index !== 'number') {
      throw new ProviderError(this.group, `Swarm service ${this.service} is not a replicated service (mode global cannot be scaled)`, false);
    }
    return { replicas, version: info.Version.Index, spec: info.Spec as Record<string, unknown> };
  }

  private async checkExited(removed: readonly RemovedWorker[]): Promise<void> {
    const tasks = await this.docker.listTasks({ filters: JSON.stringify({ service: [this.service] }) });
    for (const r of removed) {
      const slot = Number(r.worker.slice(r.worker.lastIndexOf('.') + 1));
      if (!r.worker.startsWith(`${this.service}.`) || !Number.isInteger(slot)) {
        throw new ScaleInNotDrainedError(this.group, `worker ${r.worker} is not a slot of ${this.service} (expected ${this.service}.<slot>)`);
      }
      const live = tasks.find((t) => t.Slot === slot && (t.DesiredState === 'running' && LIVE.has(t.Status?.State ?? '')));
      if (live) throw new ScaleInNotDrainedError(this.group, `worker ${r.worker} still runs (task ${live.Status?.State})`);
    }
  }
}
