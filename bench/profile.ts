/**
 * Optional instrumentation of the scheduler in the benchmark process (BENCH_PROFILE=1):
 * wraps, at run time and without touching the sources, the scheduling iteration and its
 * phases, the outbox publish, and every SQL statement (inside and outside transactions).
 */
import { performance } from 'node:perf_hooks';
import { Database, type Queryable } from '@swarmflow/persistence';
import { SchedulerRunner } from '../apps/scheduler/src/services/scheduler-runner';
import { SchedulingService } from '../apps/scheduler/src/services/scheduling.service';

interface Stat {
  n: number;
  ms: number;
  max: number;
  rows: number;
}

export interface Profiler {
  reset(): void;
  report(name: string, wallMs: number): void;
}

export function installProfiler(): Profiler {
  const phases = new Map<string, Stat>();
  const sql = new Map<string, Stat>();
  let events = 0;
  let dispatched = 0;

  const add = (map: Map<string, Stat>, key: string, ms: number, rows = 0) => {
    const s = map.get(key) ?? { n: 0, ms: 0, max: 0, rows: 0 };
    s.n++;
    s.ms += ms;
    s.rows += rows;
    s.max = Math.max(s.max, ms);
    map.set(key, s);
  };
  const timed = (proto: any, method: string, label: string) => {
    const original = proto[method];
    proto[method] = async function (this: unknown, ...args: unknown[]) {
      const t = performance.now();
      try {
        return await original.apply(this, args);
      } finally {
        add(phases, label, performance.now() - t);
      }
    };
  };
  const sqlKey = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, 90);
  const timedQueryable = (q: Queryable, scope: string): Queryable => ({
    async query(text, params, prepare) {
      const t = performance.now();
      const rows = await q.query(text, params, prepare);
      add(sql, `${scope} ${sqlKey(text)}`, performance.now() - t, rows.length);
      return rows;
    },
    async queryMany(text) {
      const t = performance.now();
      const results = await q.queryMany(text);
      add(sql, `${scope} (batch) ${sqlKey(text)}`, performance.now() - t, results.reduce((n, r) => n + r.length, 0));
      return results;
    },
    ...(q.queryAndCommit && {
      async queryAndCommit(text: string, params: unknown[], name: string) {
        const t = performance.now();
        const rows = await q.queryAndCommit!(text, params, name);
        add(sql, `${scope} (+ COMMIT) ${sqlKey(text)}`, performance.now() - t, rows.length);
        return rows;
      },
    }),
  });

  const iterate = SchedulingService.prototype.iterate;
  SchedulingService.prototype.iterate = async function (this: SchedulingService, evs, now, tick, published) {
    const t = performance.now();
    const result = await iterate.call(this, evs, now, tick, published);
    add(phases, tick ? 'iterate (tick)' : 'iterate (events)', performance.now() - t);
    events += evs.length;
    dispatched += result.dispatched;
    return result;
  };
  timed(SchedulingService.prototype, 'applyEvents', '  applyEvents');
  timed(SchedulingService.prototype, 'evaluateRuns', '  evaluateRuns');
  timed(SchedulingService.prototype, 'dispatch', '  dispatch');
  timed(SchedulerRunner.prototype, 'publish', 'publish outbox (after commit)');

  const transaction = Database.prototype.transaction;
  Database.prototype.transaction = function <T>(this: Database, work: (tx: Queryable, preludeRows: any[][]) => Promise<T>, prelude?: string): Promise<T> {
    const t = performance.now();
    let workEnded = 0;
    return transaction.call(this, (tx, rows) => {
      add(phases, '  BEGIN (+ prelude) round trip', performance.now() - t);
      const w = performance.now();
      return work(timedQueryable(tx, 'tx'), rows).finally(() => {
        workEnded = performance.now();
        add(phases, '  work inside the transaction', workEnded - w);
      });
    }, prelude)
      .finally(() => {
        if (workEnded) add(phases, '  COMMIT round trip', performance.now() - workEnded);
        add(phases, 'db transaction (all)', performance.now() - t);
      }) as Promise<T>;
  };
  const query = Database.prototype.query;
  Database.prototype.query = async function <T>(this: Database, text: string, params?: unknown[]): Promise<T[]> {
    const t = performance.now();
    const rows = await query.call(this, text, params);
    add(sql, `db ${sqlKey(text)}`, performance.now() - t, rows.length);
    return rows as T[];
  };

  // Event-loop lag: how long ready callbacks wait (the scheduler, log sink and poller share one thread).
  let lagMax = 0;
  let lagSum = 0;
  let lagN = 0;
  let expected = performance.now() + 10;
  const lagTimer = setInterval(() => {
    const now = performance.now();
    const lag = Math.max(0, now - expected);
    lagMax = Math.max(lagMax, lag);
    lagSum += lag;
    lagN++;
    expected = now + 10;
  }, 10);
  lagTimer.unref();

  return {
    reset() {
      phases.clear();
      sql.clear();
      events = 0;
      dispatched = 0;
      lagMax = lagSum = lagN = 0;
    },
    report(name, wallMs) {
      const f = (n: number) => n.toFixed(1);
      const its = (phases.get('iterate (events)')?.n ?? 0) + (phases.get('iterate (tick)')?.n ?? 0);
      const itMs = (phases.get('iterate (events)')?.ms ?? 0) + (phases.get('iterate (tick)')?.ms ?? 0);
      console.log(`\n[profile ${name}] wall ${f(wallMs)} ms; ${its} iterations, ${f(itMs)} ms in iterate ` +
        `(${f(itMs / Math.max(1, its))} ms each, ${f((100 * itMs) / wallMs)} % of wall); ${events} events, ${dispatched} dispatched; ` +
        `event-loop lag avg ${f(lagSum / Math.max(1, lagN))} ms, max ${f(lagMax)} ms`);
      const rows = (m: Map<string, Stat>) => [...m].sort((a, b) => b[1].ms - a[1].ms);
      for (const [k, s] of rows(phases)) {
        console.log(`  ${k.padEnd(34)} n=${String(s.n).padStart(6)} total=${f(s.ms).padStart(8)} ms  avg=${(s.ms / s.n).toFixed(2).padStart(7)}  max=${f(s.max).padStart(7)}`);
      }
      console.log('  SQL (by statement, total time):');
      for (const [k, s] of rows(sql).slice(0, 22)) {
        console.log(`  ${f(s.ms).padStart(8)} ms n=${String(s.n).padStart(6)} avg=${(s.ms / s.n).toFixed(2).padStart(6)} rows/call=${(s.rows / s.n).toFixed(0).padStart(5)}  ${k}`);
      }
    },
  };
}
