/**
 * The autoscaler's simulation (issue 15, point 7): 10 instance groups, 1,000 nodes, a day of
 * synthetic backlog (bursts, a steady trickle, working-hours load, a GPU queue with long
 * tasks and a few it cannot hold), driven through the core decision and the simulated
 * provider in virtual time. Prints queue wait p50/p95, node-hours used against the least the
 * work needed, scale-ins that hit a busy worker (must be 0) and flapping.
 *
 *   npx tsx bench/autoscaler-simulation.ts [--seed 15] [--interval 10]
 */
import { simulate, syntheticDay } from '../apps/autoscaler/src/simulation/simulate';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const seed = arg('seed', 15);
const intervalS = arg('interval', 10);
const started = Date.now();
const f = simulate(syntheticDay(seed), { durationS: 24 * 3600, intervalS });
const ms = Date.now() - started;
const pad = (v: unknown, n: number) => String(v).padStart(n);
const fix = (n: number) => n.toFixed(1);

console.log(`Autoscaler simulation: 10 groups, ${f.totalNodes} nodes, one day (seed ${seed}, a round every ${intervalS} s), ${ms} ms of real time\n`);
console.log(`${'group'.padEnd(10)}${pad('tasks', 8)}${pad('wait p50', 10)}${pad('p95', 7)}${pad('node-h', 9)}${pad('min', 8)}${pad('ratio', 7)}${pad('peak', 6)}${pad('ups', 5)}${pad('downs', 7)}${pad('flaps/h', 9)}${pad('busy', 6)}${pad('given back', 12)}`);
for (const g of f.groups) {
  console.log(`${g.name.padEnd(10)}${pad(g.tasks, 8)}${pad(`${g.waitP50} s`, 10)}${pad(`${g.waitP95} s`, 7)}${pad(fix(g.nodeHours), 9)}${pad(fix(g.minNodeHours), 8)}` +
    `${pad((g.nodeHours / g.minNodeHours).toFixed(2), 7)}${pad(g.peakReplicas, 6)}${pad(g.scaleUps, 5)}${pad(g.scaleDowns, 7)}${pad((g.directionChanges / 24).toFixed(1), 9)}${pad(g.busyScaleIns, 6)}${pad(g.drainsGivenBack, 12)}`);
}
const unplaceable = f.groups.reduce((n, g) => n + g.unplaceable, 0);
console.log(`
queue wait (all tasks):        p50 ${f.waitP50} s, p95 ${f.waitP95} s
node-hours used / least needed: ${fix(f.nodeHours)} / ${fix(f.minNodeHours)} (${(f.nodeHours / f.minNodeHours).toFixed(2)}x)
scale-ins that hit a busy worker: ${f.busyScaleIns} (must be 0)
sizes outside [min, max]:       ${f.outOfBounds}
flapping (direction changes per group per hour): mean ${f.flapsPerHourMean.toFixed(1)}, worst ${f.flapsPerHourMax.toFixed(1)}
tasks never run: ${f.unfinished} placeable, ${unplaceable} that no node of their group can hold (left queued, not scaled for)`);
if (f.busyScaleIns > 0 || f.outOfBounds > 0) process.exitCode = 1;
