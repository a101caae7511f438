import type { LoggerService } from '@nestjs/common';
import {
  checkScalingPolicy, decideReplicas, DEFAULT_SCALING, planScaleIn, rememberDecision,
  type ScalingDecision, type ScalingMemory, type ScalingPolicy, type WorkerCommand,
} from '@swarmflow/core';
import { QueueNotFoundError, taskQueue, type Broker, type ControlSender } from '@swarmflow/messaging';
import type { AutoscalerDecisionWrite } from '@swarmflow/persistence';
import type { SwarmflowMetrics } from '@swarmflow/observability';
import type { InstanceGroup } from '../../../cli/src/deploy/instance-groups';
import { ScaleInNotDrainedError, type ScalingProvider } from '../providers/scaling-provider';
import type { HeartbeatView, ObservedWorker } from './heartbeat-view';

/** Where decisions go (the autoscaler_decision table). */
export interface DecisionLog {
  record(d: AutoscalerDecisionWrite): Promise<void>;
  /** Newest first. */
  history(filter: { group?: string | null; limit: number }): Promise<Array<{ detail: Record<string, unknown> }>>;
  /** Queued tries on `queues` needing more GPUs than `gpusPerWorker`. */
  unplaceable(queues: readonly string[], gpusPerWorker: number): Promise<number>;
}

/** Who leads (the advisory lock in PostgreSQL). */
export interface Leadership {
  lead(): Promise<boolean>;
  release(): Promise<void>;
}

/** One group as the autoscaler runs it. */
export interface ScaledGroup {
  group: InstanceGroup;
  provider: ScalingProvider;
  policy: ScalingPolicy;
}

interface GroupState {
  memory: ScalingMemory;
  /** Workers drained for a scale-in and not removed yet. */
  draining: Set<string>;
  /** Drained workers sent `worker.shutdown`. */
  shutdownSent: Set<string>;
  /** The size a scale-in in progress goes down to; null when none is. */
  scaleInTo: number | null;
  /** The last recorded reason and action (a repeated hold is not recorded again). */
  lastRecorded: string | null;
}

/** What a round did for one group (tests and the log). */
export interface GroupRound {
  group: string;
  decision: ScalingDecision;
  current: number;
  drained: string[];
  resumed: string[];
  shutdown: string[];
  removed: string[];
  /** Workers that reported stopped whose exit the provider does not see yet: the size is lowered next round. */
  waitingExit: string[];
  error: string | null;
}

export function policyOf(group: InstanceGroup, overrides: Partial<ScalingPolicy> = {}): ScalingPolicy {
  const policy = { ...DEFAULT_SCALING, minReplicas: group.minReplicas, maxReplicas: group.maxReplicas, slotsPerReplica: group.concurrency, ...overrides };
  checkScalingPolicy(policy);
  return policy;
}

/**
 * The autoscaler's round, for every group: observe (queue depth from the broker, running
 * and held tries from the heartbeats), decide (libs/core), act through the group's provider,
 * record. Scale-up acts at once; scale-in drains idle workers (`worker.drain`), shuts down
 * those that stayed idle (`worker.shutdown`: they exit 0) and lowers the size only by the
 * workers that exited. Only the leader acts; the others keep their heartbeat view warm.
 */
export class AutoscalerService {
  private readonly states = new Map<string, GroupState>();
  private leading = false;

  constructor(
    private readonly groups: readonly ScaledGroup[],
    private readonly view: HeartbeatView,
    private readonly broker: Broker,
    /** Signs each command for its routing key: workers obey nothing else. */
    private readonly control: ControlSender,
    private readonly decisions: DecisionLog,
    private readonly leadership: Leadership,
    private readonly metrics: SwarmflowMetrics,
    private readonly logger: LoggerService,
    private readonly name: string,
  ) {
    for (const g of groups) this.states.set(g.group.name, { memory: { lastScaleUpAt: null, lastScaleDownAt: null }, draining: new Set(), shutdownSent: new Set(), scaleInTo: null, lastRecorded: null });
  }

  /** One round at `now` (ms). Returns what it did per group; empty when not leading. */
  async round(now: number): Promise<GroupRound[]> {
    const leading = await this.leadership.lead();
    this.metrics.autoscalerLeader.set(leading ? 1 : 0);
    const tookOver = leading && !this.leading;
    this.leading = leading;
    if (!leading) return [];
    if (tookOver) for (const g of this.groups) await this.adopt(g);
    const out: GroupRound[] = [];
    for (const g of this.groups) out.push(await this.roundOf(g, now));
    return out;
  }

  private async roundOf(g: ScaledGroup, now: number): Promise<GroupRound> {
    const state = this.states.get(g.group.name)!;
    const result: GroupRound = { group: g.group.name, decision: null as unknown as ScalingDecision, current: 0, drained: [], resumed: [], shutdown: [], removed: [], waitingExit: [], error: null };
    try {
      const [current, backlog] = await Promise.all([g.provider.current(), this.backlog(g.group.queues)]);
      result.current = current;
      const workers = this.view.workersOf(g.group.queues, now);
      const live = workers.filter((w) => !w.gone && w.state !== 'stopped');
      const running = live.reduce((n, w) => n + w.running + w.held, 0);
      const unplaceable = backlog > 0 ? Math.min(backlog, await this.decisions.unplaceable(g.group.queues, g.group.gpus)) : 0;
      const decision = decideReplicas(g.policy, { backlog, running, unplaceable, currentReplicas: current }, state.memory, now);
      result.decision = decision;
      this.metrics.autoscalerCurrent.set({ group: g.group.name }, current);
      this.metrics.autoscalerDesired.set({ group: g.group.name }, decision.desired);

      if (decision.action === 'up') {
        state.scaleInTo = null;
        await g.provider.scaleTo(decision.desired, []);
      } else if (decision.action === 'down') {
        state.scaleInTo = decision.desired;
      } else if (state.scaleInTo !== null && decision.target >= current) {
        state.scaleInTo = null; // the work came back: keep every worker
      }
      state.memory = rememberDecision(state.memory, decision, now, g.policy.scaleDownCooldownMs);

      if (state.scaleInTo === null && state.draining.size > 0) {
        result.resumed = await this.send(g, [...state.draining].filter((n) => !state.shutdownSent.has(n)), 'worker.resume');
        for (const n of result.resumed) state.draining.delete(n);
      }
      if (state.scaleInTo !== null) await this.scaleIn(g, state, current, workers, result);
      await this.record(g, state, decision, current, { backlog, running, unplaceable }, result, now);
    } catch (error) {
      result.error = (error as Error).message ?? String(error);
      this.logger.error(`autoscaler: group ${g.group.name}: ${result.error}`);
      await this.decisions.record({
        at: new Date(now), group: g.group.name, provider: g.provider.kind, action: 'error', currentReplicas: result.current,
        desiredReplicas: result.current, targetReplicas: result.current, backlog: 0, running: 0, unplaceable: 0,
        reason: result.error, detail: {}, leader: this.name,
      }).catch(() => undefined);
    }
    return result;
  }

  /**
   * On taking the lead: carries on the scale-in a previous leader left, from the decision
   * history (workers drained and not yet resumed or removed, those shut down, the size it
   * was shrinking to), so its drained workers are removed or given back, not left draining.
   */
  private async adopt(g: ScaledGroup): Promise<void> {
    const state = this.states.get(g.group.name)!;
    const history = await this.decisions.history({ group: g.group.name, limit: 200 }).catch(() => []);
    const names = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
    state.draining.clear();
    state.shutdownSent.clear();
    state.scaleInTo = null;
    for (const { detail } of [...history].reverse()) {
      for (const n of names(detail.drained)) state.draining.add(n);
      for (const n of names(detail.resumed)) state.draining.delete(n);
      for (const n of names(detail.shutdown)) state.shutdownSent.add(n);
      for (const n of names(detail.removed)) { state.draining.delete(n); state.shutdownSent.delete(n); }
      state.scaleInTo = typeof detail.scaleInTo === 'number' ? detail.scaleInTo : null;
    }
    if (state.draining.size > 0) this.logger.log(`autoscaler: group ${g.group.name}: took over a scale-in to ${state.scaleInTo ?? '?'} with ${[...state.draining].join(', ')} drained`);
  }

  private async scaleIn(g: ScaledGroup, state: GroupState, current: number, workers: ObservedWorker[], result: GroupRound): Promise<void> {
    const target = state.scaleInTo!;
    // Drained workers that exited (last heartbeat `stopped`, or silent past the timeout): lower the size for them.
    const exited = workers.filter((w) => state.shutdownSent.has(w.name) && (w.state === 'stopped' || w.gone));
    const lower = Math.min(exited.length, current - target);
    if (lower > 0) {
      const removed = exited.slice(0, lower);
      try {
        await g.provider.scaleTo(current - lower, removed.map((w) => ({ worker: w.name, node: w.hostname })));
        for (const w of removed) { state.draining.delete(w.name); state.shutdownSent.delete(w.name); }
        result.removed = removed.map((w) => w.name);
        current -= lower;
      } catch (error) {
        // A worker sends its `stopped` heartbeat just before its process exits: on the Swarm, the
        // provider can still see its container running for a moment. Not an error: lower next round.
        if (!(error instanceof ScaleInNotDrainedError)) throw error;
        result.waitingExit = removed.map((w) => w.name);
        this.logger.log(`autoscaler: group ${g.group.name}: waiting for ${result.waitingExit.join(', ')} to exit before lowering the size (${error.problem})`);
      }
    }
    if (current <= target) {
      state.scaleInTo = null;
      return;
    }
    const inFlight = workers.filter((w) => state.shutdownSent.has(w.name)).length;
    const plan = planScaleIn({
      workers: workers.filter((w) => !w.gone && !state.shutdownSent.has(w.name)),
      draining: [...state.draining].filter((n) => !state.shutdownSent.has(n)),
      surplus: current - target - inFlight,
    });
    result.drained = await this.send(g, plan.drain, 'worker.drain');
    for (const n of result.drained) state.draining.add(n);
    result.resumed = await this.send(g, plan.resume, 'worker.resume');
    for (const n of result.resumed) state.draining.delete(n);
    result.shutdown = await this.send(g, plan.remove, 'worker.shutdown');
    for (const n of result.shutdown) state.shutdownSent.add(n);
  }

  /** Publishes one signed command per worker on `swarmflow.control` (routing key `worker.<name>`, the operator's path); returns those confirmed. */
  private async send(g: ScaledGroup, workers: string[], type: WorkerCommand['type']): Promise<string[]> {
    const sent: string[] = [];
    for (const worker of workers) {
      const body: WorkerCommand = { type, worker };
      try {
        await this.control.send(`worker.${worker}`, body);
        sent.push(worker);
      } catch (error) {
        this.logger.warn(`autoscaler: group ${g.group.name}: ${type} to ${worker} not confirmed, next round tries again: ${(error as Error).message}`);
      }
    }
    return sent;
  }

  private async backlog(queues: readonly string[]): Promise<number> {
    let total = 0;
    for (const q of queues) {
      const stats = await this.broker.queueStats(taskQueue(q).name).catch((err: unknown) => {
        if (err instanceof QueueNotFoundError) return { messages: 0 };
        throw err;
      });
      total += stats.messages;
    }
    return total;
  }

  private async record(
    g: ScaledGroup, state: GroupState, d: ScalingDecision, current: number,
    { backlog, running, unplaceable }: { backlog: number; running: number; unplaceable: number }, r: GroupRound, now: number,
  ): Promise<void> {
    const stepped = r.drained.length + r.resumed.length + r.shutdown.length + r.removed.length > 0;
    const action = d.action === 'hold' && stepped ? 'drain' : d.action;
    const key = `${action}|${d.reason}|${current}`;
    if (action === 'hold' && state.lastRecorded === key) return;
    state.lastRecorded = key;
    const detail = {
      ...(r.drained.length ? { drained: r.drained } : {}), ...(r.resumed.length ? { resumed: r.resumed } : {}),
      ...(r.shutdown.length ? { shutdown: r.shutdown } : {}), ...(r.removed.length ? { removed: r.removed } : {}),
      ...(state.scaleInTo !== null ? { scaleInTo: state.scaleInTo } : {}),
    };
    this.metrics.autoscalerDecisions.inc({ group: g.group.name, action });
    this.logger.log(`autoscaler: group ${g.group.name}: ${action} ${current} → ${d.desired} (backlog ${backlog}, running ${running}): ${d.reason}${Object.keys(detail).length ? ` ${JSON.stringify(detail)}` : ''}`);
    await this.decisions.record({
      at: new Date(now), group: g.group.name, provider: g.provider.kind, action, currentReplicas: current, desiredReplicas: d.desired,
      targetReplicas: d.target, backlog, running, unplaceable, reason: d.reason, detail, leader: this.name,
    });
  }
}
