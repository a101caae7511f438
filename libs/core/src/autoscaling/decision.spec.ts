import { checkScalingPolicy, decideReplicas, rememberDecision, ScalingPolicy, ScalingPolicyError, ScalingMemory } from './decision';

const policy = (p: Partial<ScalingPolicy> = {}): ScalingPolicy => ({
  minReplicas: 0, maxReplicas: 10, slotsPerReplica: 2, scaleUpCooldownMs: 10_000, scaleDownCooldownMs: 60_000, maxStep: 4, hysteresisSlots: 0, ...p,
});
const fresh: ScalingMemory = { lastScaleUpAt: null, lastScaleDownAt: null };
const load = (backlog: number, running: number, currentReplicas: number, unplaceable = 0) => ({ backlog, running, currentReplicas, unplaceable });
const NOW = 1_000_000;

describe('decideReplicas', () => {
  it.each([
    // backlog, running, current, desired
    [0, 0, 0, 0],
    [1, 0, 0, 1],
    [2, 0, 0, 1],
    [3, 0, 0, 2],
    [3, 2, 1, 3],
    [0, 4, 2, 2],
    [7, 0, 2, 4],
  ])('backlog %i + running %i on %i replicas of 2 slots → %i', (backlog, running, current, desired) => {
    expect(decideReplicas(policy(), load(backlog, running, current), fresh, NOW).desired).toBe(desired);
  });

  it('counts running work, not only the queue: a full group with an empty queue holds', () => {
    const d = decideReplicas(policy(), load(0, 6, 3), fresh, NOW);
    expect(d).toMatchObject({ action: 'hold', desired: 3, demand: 6, target: 3 });
  });

  it('clamps to max_replicas and says so', () => {
    const d = decideReplicas(policy({ maxReplicas: 3, maxStep: 10 }), load(30, 0, 0), fresh, NOW);
    expect(d).toMatchObject({ action: 'up', desired: 3, target: 3 });
    expect(d.reason).toBe('scale from zero: 30 task(s) need 15 replica(s) of 2 slot(s), capped at max_replicas 3');
  });

  it('clamps to min_replicas: an idle group keeps its minimum', () => {
    expect(decideReplicas(policy({ minReplicas: 2 }), load(0, 0, 2), fresh, NOW)).toMatchObject({ action: 'hold', desired: 2, target: 2 });
  });

  it('brings a group below min or above max back inside its bounds at once, cooldowns notwithstanding', () => {
    const recent = { lastScaleUpAt: NOW - 1, lastScaleDownAt: NOW - 1 };
    expect(decideReplicas(policy({ minReplicas: 2 }), load(0, 0, 0), recent, NOW)).toMatchObject({ action: 'up', desired: 2, reason: 'below min_replicas 2' });
    expect(decideReplicas(policy({ maxReplicas: 3 }), load(0, 0, 5), recent, NOW)).toMatchObject({ action: 'down', desired: 3, reason: 'above max_replicas 3' });
  });

  it('moves at most max_step replicas per decision, up and down', () => {
    expect(decideReplicas(policy({ maxStep: 2 }), load(20, 0, 1), fresh, NOW)).toMatchObject({ action: 'up', desired: 3, target: 10 });
    const d = decideReplicas(policy({ maxStep: 2 }), load(0, 0, 9), fresh, NOW);
    expect(d).toMatchObject({ action: 'down', desired: 7 });
    expect(d.reason).toBe('0 task(s) fit in 0 replica(s) (max step 2)');
  });

  describe('cooldowns', () => {
    it('waits out the scale-up cooldown after a scale-up', () => {
      const mem = { lastScaleUpAt: NOW - 4_000, lastScaleDownAt: null };
      const d = decideReplicas(policy(), load(10, 2, 1), mem, NOW);
      expect(d).toMatchObject({ action: 'hold', desired: 1 });
      expect(d.reason).toBe('scale-up cooldown: 6 s left (target 6)');
      expect(decideReplicas(policy(), load(10, 2, 1), mem, NOW + 6_000).action).toBe('up');
    });

    it('scales up right after a scale-down (no up cooldown from a down)', () => {
      expect(decideReplicas(policy(), load(10, 0, 1), { lastScaleUpAt: null, lastScaleDownAt: NOW - 1 }, NOW).action).toBe('up');
    });

    it('scales from zero at once when the first task is queued, even inside the scale-up cooldown', () => {
      const d = decideReplicas(policy(), load(1, 0, 0), { lastScaleUpAt: NOW - 1, lastScaleDownAt: NOW - 1 }, NOW);
      expect(d).toMatchObject({ action: 'up', desired: 1 });
      expect(d.reason).toBe('scale from zero: 1 task(s) need 1 replica(s) of 2 slot(s)');
    });

    it('waits out the scale-down cooldown after a change in either direction', () => {
      for (const mem of [{ lastScaleUpAt: NOW - 30_000, lastScaleDownAt: null }, { lastScaleUpAt: null, lastScaleDownAt: NOW - 30_000 }]) {
        const d = decideReplicas(policy(), load(0, 0, 4), mem, NOW);
        expect(d).toMatchObject({ action: 'hold', desired: 4 });
        expect(d.reason).toBe('scale-down cooldown: 30 s left (target 0)');
        expect(decideReplicas(policy(), load(0, 0, 4), mem, NOW + 30_000)).toMatchObject({ action: 'down', desired: 0 });
      }
    });
  });

  describe('hysteresis', () => {
    it('shrinks only when the work fits with the spare slots', () => {
      const p = policy({ hysteresisSlots: 1 });
      // 4 tasks on 3 replicas of 2: fits in 2 replicas exactly, not with 1 spare slot.
      expect(decideReplicas(p, load(0, 4, 3), fresh, NOW)).toMatchObject({ action: 'hold', desired: 3, target: 2 });
      expect(decideReplicas(p, load(0, 4, 3), fresh, NOW).reason).toBe('within hysteresis: 4 task(s) fit in 2 replica(s) but not with 1 spare slot(s)');
      expect(decideReplicas(p, load(0, 3, 3), fresh, NOW)).toMatchObject({ action: 'down', desired: 2 });
    });

    it('lets an idle group with min_replicas 0 go back to zero: no spare slot is kept for no work', () => {
      const p = policy({ hysteresisSlots: 1 });
      expect(decideReplicas(p, load(0, 0, 3), fresh, NOW)).toMatchObject({ action: 'down', desired: 0, need: 0 });
      expect(decideReplicas(p, load(0, 0, 1), fresh, NOW)).toMatchObject({ action: 'down', desired: 0, reason: '0 task(s) fit in 0 replica(s)' });
      expect(decideReplicas(policy({ hysteresisSlots: 1, minReplicas: 1 }), load(0, 0, 1), fresh, NOW)).toMatchObject({ action: 'hold', desired: 1 });
      // One task still running on the last replica: kept, with its spare slot.
      expect(decideReplicas(p, load(0, 1, 1), fresh, NOW)).toMatchObject({ action: 'hold', desired: 1 });
    });

    it('does not flip a load at a replica edge up and down', () => {
      const p = policy({ hysteresisSlots: 1, scaleUpCooldownMs: 0, scaleDownCooldownMs: 0 });
      let current = 2; let mem = fresh; const seen: string[] = [];
      for (const demand of [4, 5, 4, 5, 4, 5, 4]) {
        const d = decideReplicas(p, load(demand, 0, current), mem, NOW);
        mem = rememberDecision(mem, d, NOW); current = d.desired; seen.push(d.action);
      }
      expect(seen).toEqual(['hold', 'up', 'hold', 'hold', 'hold', 'hold', 'hold']);
    });
  });

  describe('tasks no worker of the group can hold', () => {
    it('are not counted: they never drive a scale-up', () => {
      const d = decideReplicas(policy(), load(5, 0, 1, 5), fresh, NOW);
      expect(d).toMatchObject({ action: 'down', desired: 0, demand: 0 });
      expect(d.reason).toBe('0 task(s) fit in 0 replica(s); 5 queued task(s) no worker of the group can hold are not counted');
    });

    it('do not wake a group at zero', () => {
      expect(decideReplicas(policy(), load(3, 0, 0, 3), fresh, NOW)).toMatchObject({ action: 'hold', desired: 0 });
    });

    it('leave the placeable rest counted', () => {
      expect(decideReplicas(policy(), load(7, 0, 0, 3), fresh, NOW)).toMatchObject({ action: 'up', desired: 2, demand: 4 });
    });

    it('repeated rounds with the same unplaceable backlog stay put (no scale-up forever)', () => {
      let current = 1; let mem = fresh;
      for (let i = 0; i < 50; i++) {
        const d = decideReplicas(policy({ minReplicas: 1, scaleUpCooldownMs: 0 }), load(9, 0, current, 9), mem, NOW + i * 1000);
        mem = rememberDecision(mem, d, NOW + i * 1000); current = d.desired;
      }
      expect(current).toBe(1);
    });
  });

  it('never leaves [min, max] whatever the inputs', () => {
    const p = policy({ minReplicas: 1, maxReplicas: 5, maxStep: 2, hysteresisSlots: 1 });
    for (let current = 1; current <= 5; current++) {
      for (const backlog of [0, 1, 3, 9, 100]) {
        for (const running of [0, 1, 4, 10]) {
          for (const mem of [fresh, { lastScaleUpAt: NOW - 1, lastScaleDownAt: NOW - 1 }]) {
            const d = decideReplicas(p, load(backlog, running, current), mem, NOW);
            expect(d.desired).toBeGreaterThanOrEqual(1);
            expect(d.desired).toBeLessThanOrEqual(5);
            expect(Math.abs(d.desired - current)).toBeLessThanOrEqual(2);
            expect(d.action).toBe(d.desired > current ? 'up' : d.desired < current ? 'down' : 'hold');
          }
        }
      }
    }
  });
});

describe('rememberDecision', () => {
  it('records the time of the last scale-up and scale-down; a hold changes nothing', () => {
    const base = { desired: 0, target: 0, demand: 0, need: 0, reason: '' };
    expect(rememberDecision(fresh, { ...base, action: 'up' }, 5)).toEqual({ lastScaleUpAt: 5, lastScaleDownAt: null });
    expect(rememberDecision(fresh, { ...base, action: 'down' }, 6)).toEqual({ lastScaleUpAt: null, lastScaleDownAt: 6 });
    expect(rememberDecision(fresh, { ...base, action: 'hold' }, 7)).toEqual(fresh);
  });

  it('keeps each round\'s need for the window, dropping older ones', () => {
    const base = { desired: 0, target: 0, demand: 0, reason: '', action: 'hold' as const };
    let mem = rememberDecision(fresh, { ...base, need: 3 }, 0, 100);
    mem = rememberDecision(mem, { ...base, need: 1 }, 50, 100);
    mem = rememberDecision(mem, { ...base, need: 2 }, 120, 100);
    expect(mem.recent).toEqual([{ at: 50, replicas: 1 }, { at: 120, replicas: 2 }]);
  });
});

describe('scale-down stabilization', () => {
  it('shrinks only to the most a round needed within the scale-down cooldown', () => {
    const p = policy({ scaleDownCooldownMs: 100 });
    const mem: ScalingMemory = { lastScaleUpAt: NOW - 1000, lastScaleDownAt: null, recent: [{ at: NOW - 90, replicas: 3 }, { at: NOW - 200, replicas: 5 }] };
    const d = decideReplicas(p, load(0, 0, 4), mem, NOW);
    expect(d).toMatchObject({ action: 'down', desired: 3, need: 0 });
    expect(d.reason).toBe('0 task(s) fit in 0 replica(s) (3 needed within the scale-down cooldown)');
    expect(decideReplicas(p, load(0, 0, 3), mem, NOW)).toMatchObject({ action: 'hold', reason: 'stabilizing: 3 replica(s) were needed within the scale-down cooldown' });
  });

  it('keeps a steady trickle from flapping: arrivals between idle rounds hold the group', () => {
    const p = policy({ scaleUpCooldownMs: 0, scaleDownCooldownMs: 30, hysteresisSlots: 0 });
    let current = 0; let mem: ScalingMemory = fresh; const actions: string[] = [];
    for (let t = 0; t < 300; t += 10) {
      const d = decideReplicas(p, load(t % 20 === 0 ? 1 : 0, 0, current), mem, t);
      mem = rememberDecision(mem, d, t, p.scaleDownCooldownMs); current = d.desired;
      if (d.action !== 'hold') actions.push(d.action);
    }
    expect(actions).toEqual(['up']);
  });
});

describe('checkScalingPolicy', () => {
  it('accepts a sound policy', () => expect(() => checkScalingPolicy(policy())).not.toThrow());
  it.each([
    [{ slotsPerReplica: 0 }, 'scaling policy: slotsPerReplica must be a whole number ≥ 1 (got 0)'],
    [{ minReplicas: 3, maxReplicas: 2 }, 'scaling policy: maxReplicas must be a whole number ≥ 3 (got 2)'],
    [{ maxStep: 0 }, 'scaling policy: maxStep must be a whole number ≥ 1 (got 0)'],
    [{ scaleDownCooldownMs: -1 }, 'scaling policy: scaleDownCooldownMs must be a duration ≥ 0 ms (got -1)'],
  ])('rejects %j', (p, message) => {
    const error = (() => { try { checkScalingPolicy(policy(p)); } catch (e) { return e; } })();
    expect(error).toBeInstanceOf(ScalingPolicyError);
    expect((error as Error).message).toBe(message);
  });
});
