/**
 * The autoscaler's decision for one instance group: how many replicas it should have now.
 * Pure: the caller passes what it observed, what it remembers of earlier decisions and
 * `now` (ms); the result says what to do and why. Scale-in (which workers go) is
 * {@link planScaleIn}'s job; this only sizes the group.
 */

/** How a group may be scaled. */
export interface ScalingPolicy {
  minReplicas: number;
  maxReplicas: number;
  /** Tasks one replica runs at once (the group's concurrency). */
  slotsPerReplica: number;
  /** No scale-up sooner than this after the last scale-up (ms); waived when the group is at 0 replicas with work. */
  scaleUpCooldownMs: number;
  /** No scale-down sooner than this after the last change in either direction (ms). */
  scaleDownCooldownMs: number;
  /** Most replicas added or removed by one decision. */
  maxStep: number;
  /**
   * Slots of slack kept before scaling down: the group shrinks only when the work fits in
   * fewer replicas with this many slots to spare, so a load at the edge of a replica does
   * not flip the group up and down.
   */
  hysteresisSlots: number;
}

/** Defaults for the settings the groups file leaves out. */
export const DEFAULT_SCALING: Omit<ScalingPolicy, 'minReplicas' | 'maxReplicas' | 'slotsPerReplica'> = {
  scaleUpCooldownMs: 15_000,
  scaleDownCooldownMs: 120_000,
  maxStep: 4,
  hysteresisSlots: 1,
};

/** What the autoscaler observed of a group. */
export interface GroupLoad {
  /** Ready messages on the group's queues (broker queue depth). */
  backlog: number;
  /** Tries running (or held for a slot) on the group's workers, from their heartbeats. */
  running: number;
  /**
   * Of `backlog`, tasks that wait on a pool or on GPUs that no worker of the group can
   * hold: more replicas would not run them, so they never drive a scale-up.
   */
  unplaceable: number;
  /** Replicas the provider has now (its desired count). */
  currentReplicas: number;
}

/** What the autoscaler remembers of its earlier decisions for the group. */
export interface ScalingMemory {
  lastScaleUpAt: number | null;
  lastScaleDownAt: number | null;
  /**
   * The replicas (with slack) each recent round needed, oldest first, kept for the
   * scale-down cooldown: a group shrinks only to the most any of them needed, so a dip
   * between two arrivals of a steady trickle does not shrink it (Kubernetes calls this the
   * scale-down stabilization window). Absent = none.
   */
  recent?: ReadonlyArray<{ at: number; replicas: number }>;
}

export type ScalingAction =
  | 'up' //   more replicas
  | 'down' // fewer replicas (carried out by draining idle workers first)
  | 'hold'; // no change

export interface ScalingDecision {
  action: ScalingAction;
  /** Replicas wanted after this decision (equal to current on hold). */
  desired: number;
  /** ceil(demand / slots) clamped to [min, max], before cooldowns, step and hysteresis. */
  target: number;
  /** backlog − unplaceable + running: the slots the group's work needs. */
  demand: number;
  /** ceil((demand + hysteresis slots) / slots) clamped (min when there is no demand): what this round needs, remembered for the stabilization window. */
  need: number;
  /** One sentence: why. */
  reason: string;
}

/** A policy that cannot be applied: names the field and how to fix it. */
export class ScalingPolicyError extends Error {
  override name = 'ScalingPolicyError';

  constructor(readonly field: keyof ScalingPolicy, readonly problem: string) {
    super(`scaling policy: ${field} ${problem}`);
  }
}

/** @throws ScalingPolicyError naming the first bad field. */
export function checkScalingPolicy(p: ScalingPolicy): void {
  const whole = (field: keyof ScalingPolicy, min: number) => {
    if (!Number.isInteger(p[field]) || p[field] < min) throw new ScalingPolicyError(field, `must be a whole number ≥ ${min} (got ${p[field]})`);
  };
  whole('minReplicas', 0);
  whole('maxReplicas', Math.max(1, p.minReplicas));
  whole('slotsPerReplica', 1);
  whole('maxStep', 1);
  whole('hysteresisSlots', 0);
  for (const f of ['scaleUpCooldownMs', 'scaleDownCooldownMs'] as const) {
    if (!Number.isFinite(p[f]) || p[f] < 0) throw new ScalingPolicyError(f, `must be a duration ≥ 0 ms (got ${p[f]})`);
  }
}

const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n));

/**
 * Desired replicas of a group: ceil((backlog − unplaceable + running) / slots) clamped to
 * [min, max]; scale-up waits out its cooldown (except from 0 replicas with work queued),
 * scale-down waits out its cooldown after any change and needs `hysteresisSlots` of slack;
 * each step moves at most `maxStep` replicas. A current count outside [min, max] is brought
 * back inside at once (bounds win over cooldowns).
 */
export function decideReplicas(policy: ScalingPolicy, load: GroupLoad, memory: ScalingMemory, now: number): ScalingDecision {
  const { minReplicas: min, maxReplicas: max, slotsPerReplica: slots } = policy;
  const placeable = Math.max(0, load.backlog - Math.max(0, load.unplaceable));
  const demand = placeable + Math.max(0, load.running);
  const target = clamp(Math.ceil(demand / slots), min, max);
  const current = load.currentReplicas;
  // No work at all needs no spare slot: with one, a group with min_replicas 0 would keep a replica forever
  // (found on the Swarm: the gpu group stayed at 1 after its burst). The stabilization window still
  // keeps a trickle from flapping at zero.
  const need = demand === 0 ? min : clamp(Math.ceil((demand + policy.hysteresisSlots) / slots), min, max);
  const hold = (reason: string): ScalingDecision => ({ action: 'hold', desired: current, target, demand, need, reason });
  const unplaceableNote = load.unplaceable > 0 ? `; ${load.unplaceable} queued task(s) no worker of the group can hold are not counted` : '';

  if (current < min) return { action: 'up', desired: min, target, demand, need, reason: `below min_replicas ${min}` };
  if (current > max) return { action: 'down', desired: max, target, demand, need, reason: `above max_replicas ${max}` };

  if (target > current) {
    const fromZero = current === 0;
    if (!fromZero && memory.lastScaleUpAt !== null && now - memory.lastScaleUpAt < policy.scaleUpCooldownMs) {
      return hold(`scale-up cooldown: ${Math.ceil((policy.scaleUpCooldownMs - (now - memory.lastScaleUpAt)) / 1000)} s left (target ${target})${unplaceableNote}`);
    }
    const desired = Math.min(target, current + policy.maxStep);
    const capped = desired < target ? ` (max step ${policy.maxStep})` : '';
    return {
      action: 'up', desired, target, demand, need,
      reason: `${fromZero ? 'scale from zero: ' : ''}${demand} task(s) need ${Math.ceil(demand / slots)} replica(s) of ${slots} slot(s)${capped}${max < Math.ceil(demand / slots) ? `, capped at max_replicas ${max}` : ''}${unplaceableNote}`,
    };
  }

  if (target < current) {
    if (need >= current) return hold(`within hysteresis: ${demand} task(s) fit in ${target} replica(s) but not with ${policy.hysteresisSlots} spare slot(s)${unplaceableNote}`);
    const last = Math.max(memory.lastScaleUpAt ?? -Infinity, memory.lastScaleDownAt ?? -Infinity);
    if (now - last < policy.scaleDownCooldownMs) {
      return hold(`scale-down cooldown: ${Math.ceil((policy.scaleDownCooldownMs - (now - last)) / 1000)} s left (target ${need})${unplaceableNote}`);
    }
    const peak = (memory.recent ?? []).filter((r) => now - r.at < policy.scaleDownCooldownMs).reduce((m, r) => Math.max(m, r.replicas), need);
    if (peak >= current) return hold(`stabilizing: ${peak} replica(s) were needed within the scale-down cooldown${unplaceableNote}`);
    const desired = Math.max(peak, current - policy.maxStep);
    const capped = desired > peak ? ` (max step ${policy.maxStep})` : '';
    const stabilized = peak > need ? ` (${peak} needed within the scale-down cooldown)` : '';
    return { action: 'down', desired, target, demand, need, reason: `${demand} task(s) fit in ${need} replica(s)${stabilized}${capped}${unplaceableNote}` };
  }

  return hold(`${demand} task(s) fit the current ${current} replica(s)${unplaceableNote}`);
}

/**
 * The memory after carrying out `decision` at `now`: the time of a scale-up or down, and
 * this round's need, kept for `windowMs` (the policy's scale-down cooldown).
 */
export function rememberDecision(memory: ScalingMemory, decision: ScalingDecision, now: number, windowMs = 0): ScalingMemory {
  const recent = windowMs > 0
    ? [...(memory.recent ?? []).filter((r) => now - r.at < windowMs), { at: now, replicas: decision.need }]
    : memory.recent;
  return {
    lastScaleUpAt: decision.action === 'up' ? now : memory.lastScaleUpAt,
    lastScaleDownAt: decision.action === 'down' ? now : memory.lastScaleDownAt,
    ...(recent ? { recent } : {}),
  };
}
