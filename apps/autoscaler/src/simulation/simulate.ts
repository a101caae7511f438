/**
 * The autoscaler in virtual time: groups of nodes (one worker per node), a day of synthetic
 * backlog, the core decision (decideReplicas, planScaleIn) and the simulated provider, all
 * driven by a seeded clock that jumps a second at a time, so a day takes seconds. What it
 * measures: queue wait, node-hours used against the least the work needed, scale-ins that
 * hit a busy worker (must be 0), flapping, bounds. bench/autoscaler-simulation.ts prints
 * the figures; simulate.spec.ts asserts the invariants.
 *
 * The model of a round: the autoscaler observes (queue length, running tries, replicas),
 * decides, and sends drains; a drain reaches its worker only after the next dispatch (so a
 * worker can pick up work while its drain is on the way, and planScaleIn must give it
 * back); an idle drained worker is shut down and the provider lowered for it; new replicas
 * take `startDelayS` to boot.
 */
import { decideReplicas, planScaleIn, rememberDecision, type ScalingMemory, type ScalingPolicy } from '@swarmflow/core';
import { SimulatedProvider } from '../providers/simulated.provider';

export interface SimTask {
  arrival: number;
  duration: number;
  /** Needs more than a worker of its group can hold (e.g. 2 GPUs on 1-GPU nodes): never runs. */
  unplaceable?: boolean;
  start?: number;
}

export interface SimGroup {
  name: string;
  policy: ScalingPolicy;
  /** Seconds from a scale-up to the new node's worker taking tasks. */
  startDelayS: number;
  /** Tasks of the day, by arrival (seconds from midnight). */
  tasks: SimTask[];
}

interface SimWorker {
  name: string;
  readyAt: number;
  state: 'active' | 'draining' | 'stopped';
  running: number;
  /** A drain sent, applied after the next dispatch. */
  drainPending: boolean;
}

export interface GroupFigures {
  name: string;
  tasks: number;
  unplaceable: number;
  waitP50: number;
  waitP95: number;
  nodeHours: number;
  minNodeHours: number;
  peakReplicas: number;
  scaleUps: number;
  scaleDowns: number;
  directionChanges: number;
  busyScaleIns: number;
  drainsGivenBack: number;
  outOfBounds: number;
}

export interface SimFigures {
  groups: GroupFigures[];
  totalNodes: number;
  waitP50: number;
  waitP95: number;
  nodeHours: number;
  minNodeHours: number;
  busyScaleIns: number;
  outOfBounds: number;
  /** Direction changes (up after down or down after up) per group per hour, the worst group. */
  flapsPerHourMax: number;
  /** The same, averaged over the groups. */
  flapsPerHourMean: number;
  unfinished: number;
}

const percentile = (sorted: number[], p: number) => sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

/** Runs `groups` for `durationS` virtual seconds (autoscaler round every `intervalS`), then lets running work finish. */
export function simulate(groups: readonly SimGroup[], options: { durationS: number; intervalS: number }): SimFigures {
  const results: GroupFigures[] = [];
  const allWaits: number[] = [];
  let unfinished = 0;
  for (const g of groups) {
    const { policy } = g;
    const tasks = [...g.tasks].sort((a, b) => a.arrival - b.arrival);
    const workers: SimWorker[] = [];
    let seq = 0;
    const provider = new SimulatedProvider(g.name, policy.minReplicas, (w) => workers.some((x) => x.name === w && x.state !== 'stopped'));
    let size = policy.minReplicas;
    for (let i = 0; i < size; i++) workers.push({ name: `${g.name}.${String(++seq).padStart(5, '0')}`, readyAt: 0, state: 'active', running: 0, drainPending: false });
    let memory: ScalingMemory = { lastScaleUpAt: null, lastScaleDownAt: null };
    let scaleInTo: number | null = null;
    const draining = new Set<string>();
    const queue: SimTask[] = [];
    let nextArrival = 0;
    // Ends of running tasks: per second, the workers whose task ends then.
    const ends = new Map<number, SimWorker[]>();
    const f: GroupFigures = {
      name: g.name, tasks: 0, unplaceable: 0, waitP50: 0, waitP95: 0, nodeHours: 0, minNodeHours: 0, peakReplicas: size,
      scaleUps: 0, scaleDowns: 0, directionChanges: 0, busyScaleIns: 0, drainsGivenBack: 0, outOfBounds: 0,
    };
    const waits: number[] = [];
    let lastDirection: 'up' | 'down' | null = null;
    let nodeSeconds = 0;
    let workSeconds = 0;
    const horizon = options.durationS + 6 * 3600;

    for (let t = 0; t < horizon; t++) {
      for (const w of ends.get(t) ?? []) w.running -= 1;
      ends.delete(t);
      while (nextArrival < tasks.length && tasks[nextArrival].arrival <= t) queue.push(tasks[nextArrival++]);
      // Dispatch: FIFO over the placeable tasks, to active, booted workers with a free slot.
      if (queue.length > 0) {
        let qi = 0;
        for (const w of workers) {
          if (w.state !== 'active' || w.readyAt > t) continue;
          while (w.running < policy.slotsPerReplica) {
            while (qi < queue.length && queue[qi].unplaceable) qi++;
            if (qi >= queue.length) break;
            const task = queue.splice(qi, 1)[0];
            task.start = t;
            w.running += 1;
            workSeconds += task.duration;
            const end = t + Math.max(1, Math.round(task.duration));
            (ends.get(end) ?? ends.set(end, []).get(end)!).push(w);
          }
          if (qi >= queue.length) break;
        }
      }
      for (const w of workers) {
        if (w.drainPending) { w.drainPending = false; if (w.state === 'active') w.state = 'draining'; }
      }
      nodeSeconds += size;

      if (t % options.intervalS !== 0 || (t >= options.durationS && queue.every((x) => x.unplaceable) && workers.every((w) => w.running === 0) && size === policy.minReplicas)) continue;
      // --- the autoscaler's round -------------------------------------------------------------
      const live = workers.filter((w) => w.state !== 'stopped');
      const running = live.reduce((n, w) => n + w.running, 0);
      const unplaceable = queue.filter((x) => x.unplaceable).length;
      const decision = decideReplicas(policy, { backlog: queue.length, running, unplaceable, currentReplicas: size }, memory, t);
      memory = rememberDecision(memory, decision, t, policy.scaleDownCooldownMs);
      if (decision.action !== 'hold') {
        if (lastDirection !== null && lastDirection !== decision.action) f.directionChanges += 1;
        lastDirection = decision.action;
      }
      if (decision.action === 'up') {
        f.scaleUps += 1;
        scaleInTo = null;
        for (const name of draining) {
          const w = workers.find((x) => x.name === name)!;
          w.drainPending = false;
          if (w.state === 'draining') w.state = 'active';
        }
        draining.clear();
        void provider.scaleTo(decision.desired, []);
        for (let i = size; i < decision.desired; i++) {
          workers.push({ name: `${g.name}.${String(++seq).padStart(5, '0')}`, readyAt: t + g.startDelayS, state: 'active', running: 0, drainPending: false });
        }
        size = decision.desired;
      } else if (decision.action === 'down') {
        f.scaleDowns += 1;
        scaleInTo = decision.desired;
      } else if (scaleInTo !== null && decision.target >= size) {
        scaleInTo = null;
      }
      if (scaleInTo === null && draining.size > 0) {
        for (const name of draining) {
          const w = workers.find((x) => x.name === name)!;
          w.drainPending = false;
          if (w.state === 'draining') w.state = 'active';
        }
        draining.clear();
      }
      if (scaleInTo !== null) {
        const plan = planScaleIn({
          workers: live.map((w) => ({ name: w.name, state: w.readyAt > t ? 'active' : w.state, running: w.running, held: 0 })),
          draining: [...draining],
          surplus: size - scaleInTo,
        });
        for (const name of plan.drain) {
          const w = workers.find((x) => x.name === name)!;
          if (w.running > 0) f.busyScaleIns += 1; // never: planScaleIn drains idle workers only
          w.drainPending = true;
          draining.add(name);
        }
        for (const name of plan.resume) {
          const w = workers.find((x) => x.name === name)!;
          if (w.state === 'draining') w.state = 'active';
          w.drainPending = false;
          draining.delete(name);
          f.drainsGivenBack += 1;
        }
        const removed = plan.remove.map((name) => workers.find((x) => x.name === name)!);
        for (const w of removed) {
          if (w.running > 0) f.busyScaleIns += 1; // must stay 0
          w.state = 'stopped';
          draining.delete(w.name);
        }
        if (removed.length > 0) {
          const next = size - removed.length;
          void provider.scaleTo(next, removed.map((w) => ({ worker: w.name, node: w.name })));
          size = next;
          if (size <= scaleInTo) scaleInTo = null;
        }
        for (let i = workers.length - 1; i >= 0; i--) if (workers[i].state === 'stopped') workers.splice(i, 1);
      }
      if (size < policy.minReplicas || size > policy.maxReplicas) f.outOfBounds += 1;
      f.peakReplicas = Math.max(f.peakReplicas, size);
    }

    for (const task of tasks) {
      if (task.unplaceable) { f.unplaceable += 1; continue; }
      f.tasks += 1;
      if (task.start === undefined) { unfinished += 1; continue; }
      waits.push(task.start - task.arrival);
    }
    waits.sort((a, b) => a - b);
    f.waitP50 = percentile(waits, 0.5);
    f.waitP95 = percentile(waits, 0.95);
    f.nodeHours = nodeSeconds / 3600;
    f.minNodeHours = Math.max(workSeconds / policy.slotsPerReplica, policy.minReplicas * options.durationS) / 3600;
    for (const w of waits) allWaits.push(w);
    results.push(f);
  }
  allWaits.sort((a, b) => a - b);
  const flaps = results.map((r) => r.directionChanges / (options.durationS / 3600));
  return {
    groups: results,
    totalNodes: groups.reduce((n, g) => n + g.policy.maxReplicas, 0),
    waitP50: percentile(allWaits, 0.5),
    waitP95: percentile(allWaits, 0.95),
    nodeHours: results.reduce((n, r) => n + r.nodeHours, 0),
    minNodeHours: results.reduce((n, r) => n + r.minNodeHours, 0),
    busyScaleIns: results.reduce((n, r) => n + r.busyScaleIns, 0),
    outOfBounds: results.reduce((n, r) => n + r.outOfBounds, 0),
    flapsPerHourMax: Math.max(...flaps),
    flapsPerHourMean: flaps.reduce((a, b) => a + b, 0) / flaps.length,
    unfinished,
  };
}

/** A small, seeded PRNG (mulberry32): the same day every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DAY = 24 * 3600;

/**
 * The day of issue 15: 10 groups, 1,000 nodes. Three burst groups (a few bursts of
 * 1,000–3,000 short tasks), four trickle groups (a steady Poisson stream), two diurnal ones
 * (busy in working hours), and a GPU group (long tasks of 30–120 min, a morning burst, and
 * a few tasks needing 2 GPUs that its 1-GPU nodes cannot hold).
 */
export function syntheticDay(seed = 15): SimGroup[] {
  const r = rng(seed);
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * r();
  const exp = (mean: number) => -Math.log(1 - r()) * mean;
  const policy = (min: number, max: number, slots: number, maxStep: number, up = 30, down = 300): ScalingPolicy => ({
    minReplicas: min, maxReplicas: max, slotsPerReplica: slots, scaleUpCooldownMs: up, scaleDownCooldownMs: down, maxStep, hysteresisSlots: slots,
  });
  // Times are seconds: the decision takes ms, but it only compares them, so one unit throughout works.
  const groups: SimGroup[] = [];
  for (const name of ['burst-a', 'burst-b', 'burst-c']) {
    const tasks: SimTask[] = [];
    const bursts = 4 + Math.floor(r() * 4);
    for (let b = 0; b < bursts; b++) {
      const at = uniform(0, DAY - 3600);
      const n = Math.floor(uniform(1000, 3000));
      for (let i = 0; i < n; i++) tasks.push({ arrival: Math.floor(at + uniform(0, 120)), duration: uniform(60, 240) });
    }
    groups.push({ name, policy: policy(0, 150, 4, 40), startDelayS: 45, tasks });
  }
  for (const [i, name] of ['trickle-a', 'trickle-b', 'trickle-c', 'trickle-d'].entries()) {
    const tasks: SimTask[] = [];
    const mean = [5, 2, 1, 0.5][i];
    for (let t = exp(mean); t < DAY; t += exp(mean)) tasks.push({ arrival: Math.floor(t), duration: uniform(20, 120) });
    groups.push({ name, policy: policy(1, 75, 4, 10), startDelayS: 45, tasks });
  }
  for (const name of ['diurnal-a', 'diurnal-b']) {
    const tasks: SimTask[] = [];
    for (let t = 0; t < DAY; t += 1) {
      const hour = t / 3600;
      const rate = hour >= 8 && hour < 19 ? 1.2 * Math.sin(((hour - 8) / 11) * Math.PI) : 0.02;
      if (r() < rate) tasks.push({ arrival: t, duration: uniform(30, 300) });
    }
    groups.push({ name, policy: policy(1, 100, 8, 20), startDelayS: 45, tasks });
  }
  const gpu: SimTask[] = [];
  for (let t = exp(180); t < DAY; t += exp(180)) gpu.push({ arrival: Math.floor(t), duration: uniform(1800, 7200) });
  for (let i = 0; i < 40; i++) gpu.push({ arrival: 9 * 3600 + i, duration: uniform(1800, 7200) });
  for (let i = 0; i < 5; i++) gpu.push({ arrival: 2 * 3600 + i, duration: 3600, unplaceable: true });
  groups.push({ name: 'gpu', policy: policy(0, 50, 1, 5, 30, 600), startDelayS: 120, tasks: gpu });
  return groups;
}
