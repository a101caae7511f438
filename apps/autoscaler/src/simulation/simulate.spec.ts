import { rng, simulate, syntheticDay, type SimGroup } from './simulate';

describe('autoscaler simulation (virtual time, simulated provider)', () => {
  it('a day of 10 groups and 1,000 nodes: no scale-in hits a busy worker, every size stays in bounds, every placeable task runs', () => {
    const day = syntheticDay();
    expect(day).toHaveLength(10);
    const f = simulate(day, { durationS: 24 * 3600, intervalS: 10 });
    expect(f.totalNodes).toBe(1000);
    expect(f.busyScaleIns).toBe(0);
    expect(f.outOfBounds).toBe(0);
    expect(f.unfinished).toBe(0);
    for (const g of f.groups) {
      const group = day.find((x) => x.name === g.name)!;
      expect(g.peakReplicas).toBeLessThanOrEqual(group.policy.maxReplicas);
      expect(g.nodeHours).toBeGreaterThanOrEqual(g.minNodeHours * 0.999);
    }
    // The GPU tasks no node can hold stay queued and do not keep the group at its max.
    const gpu = f.groups.find((g) => g.name === 'gpu')!;
    expect(gpu.unplaceable).toBe(5);
    expect(gpu.nodeHours).toBeLessThan(50 * 24);
  });

  it('drains racing new work: workers that picked up a task while their drain was on its way are given back, never removed busy', () => {
    const r = rng(7);
    const tasks = [];
    for (let t = 0; t < 4 * 3600; t += Math.floor(1 + r() * 12)) tasks.push({ arrival: t, duration: 3 + r() * 20 });
    const group: SimGroup = {
      name: 'racy', startDelayS: 5, tasks,
      policy: { minReplicas: 0, maxReplicas: 20, slotsPerReplica: 1, scaleUpCooldownMs: 0, scaleDownCooldownMs: 0, maxStep: 20, hysteresisSlots: 0 },
    };
    const f = simulate([group], { durationS: 4 * 3600, intervalS: 10 });
    expect(f.groups[0].drainsGivenBack).toBeGreaterThan(0);
    expect(f.busyScaleIns).toBe(0);
    expect(f.outOfBounds).toBe(0);
  });
});
