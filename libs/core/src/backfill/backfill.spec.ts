import type { TaskInput } from '../dag/dag-input';
import type { SerializedDag } from '../dag/dag.types';
import { planRun } from '../dag/plan';
import { validateDag } from '../dag/validate-dag';
import type { TiState } from '../state/states';
import { errorOf } from '../test-support/error-of';
import { BackfillRequestError, backfillDates, backfillState, planBackfill, selectBackfillTasks, type ExistingBackfillRun } from './backfill';

const t = (id: string, upstream: string[] = []): TaskInput => ({ id, command: 'x', upstream });
// extract -> clean -> train -> report ; extract -> stats
const dag: SerializedDag = validateDag({
  id: 'etl', schedule: '0 3 * * *', tasks: [t('extract'), t('clean', ['extract']), t('train', ['clean']), t('report', ['train']), t('stats', ['extract'])],
}, 'etl.ts');
const d = (iso: string) => new Date(iso);
const NOW = new Date('2025-01-01T00:00:00Z');

describe('backfillDates', () => {
  it('gives one logical date per schedule interval, both ends inclusive', () => {
    expect(backfillDates(dag, d('2024-01-01T00:00:00Z'), d('2024-01-03T03:00:00Z'), NOW).map((x) => x.toISOString()))
      .toEqual(['2024-01-01T03:00:00.000Z', '2024-01-02T03:00:00.000Z', '2024-01-03T03:00:00.000Z']);
  });

  it('takes presets', () => {
    expect(backfillDates({ id: 'h', schedule: '@daily' }, d('2024-01-01T00:00:00Z'), d('2024-01-02T00:00:00Z'), NOW)).toHaveLength(2);
  });

  it.each([
    [{ id: 'm', schedule: null }, 'dagId', 'DAG "m" has no schedule (manual only), so it has no intervals to backfill'],
    [{ id: 'o', schedule: '@once' }, 'dagId', 'DAG "o" has the schedule @once, so it has no intervals to backfill'],
  ])('refuses a DAG without intervals: %j', (spec, field, message) => {
    const err = errorOf<BackfillRequestError>(() => backfillDates(spec, d('2024-01-01T00:00:00Z'), d('2024-01-02T00:00:00Z'), NOW));
    expect(err).toBeInstanceOf(BackfillRequestError);
    expect(err.field).toBe(field);
    expect(err.message).toContain(message);
  });

  it('refuses a range that ends in the future', () => {
    expect(errorOf<BackfillRequestError>(() => backfillDates(dag, d('2024-12-01T00:00:00Z'), d('2025-01-02T00:00:00Z'), NOW)).message)
      .toBe("--to 2025-01-02T00:00:00.000Z is in the future (the server's time is 2025-01-01T00:00:00.000Z): a run's logical date is the start of the data it processes. Fix: end the range at or before now.");
  });

  it('refuses a reversed range, an empty one and one too wide', () => {
    expect(errorOf<BackfillRequestError>(() => backfillDates(dag, d('2024-01-02T00:00:00Z'), d('2024-01-01T00:00:00Z'), NOW)).message)
      .toBe('--from 2024-01-02T00:00:00.000Z is after --to 2024-01-01T00:00:00.000Z. Fix: swap them.');
    expect(errorOf<BackfillRequestError>(() => backfillDates(dag, d('2024-01-01T04:00:00Z'), d('2024-01-01T05:00:00Z'), NOW)).message)
      .toBe('no interval of DAG "etl" (0 3 * * *) starts between 2024-01-01T04:00:00.000Z and 2024-01-01T05:00:00.000Z. Fix: widen the range.');
    expect(errorOf<BackfillRequestError>(() => backfillDates({ id: 'm', schedule: '* * * * *' }, d('2024-01-01T00:00:00Z'), d('2024-01-02T00:00:00Z'), NOW)).field).toBe('to');
  });
});

describe('selectBackfillTasks', () => {
  it('selects every task without a pattern', () => {
    expect(selectBackfillTasks(dag, null, false)).toEqual({ run: ['extract', 'clean', 'stats', 'train', 'report'], removed: [] });
  });

  it('adds what the matching tasks need upstream', () => {
    expect(selectBackfillTasks(dag, '^train$', false)).toEqual({ run: ['extract', 'clean', 'train'], removed: ['stats', 'report'] });
  });

  it('with ignoreDependencies runs exactly the matching tasks', () => {
    expect(selectBackfillTasks(dag, 'train|report', true)).toEqual({ run: ['train', 'report'], removed: ['extract', 'clean', 'stats'] });
  });

  it('the planner runs a selected task at once when its upstreams were left out (removed)', () => {
    const sel = selectBackfillTasks(dag, 'train|report', true);
    const states = new Map<string, TiState>(sel.removed.map((id) => [id, 'removed']));
    expect(planRun(dag, states)).toEqual([{ taskId: 'train', to: 'scheduled' }]);
  });

  it('refuses a pattern that matches nothing, or is no regular expression', () => {
    const none = errorOf<BackfillRequestError>(() => selectBackfillTasks(dag, '^nope', false));
    expect(none.field).toBe('tasks');
    expect(none.message).toBe('--tasks "^nope" matches no task of DAG "etl"; its tasks are extract, clean, stats, train, report. Fix: pick a pattern that matches some of them.');
    expect(errorOf<BackfillRequestError>(() => selectBackfillTasks(dag, '(', false)).message).toMatch(/^--tasks "\(" is not a regular expression \(.*Fix: use a simpler pattern, e\.g\./);
    expect(errorOf<BackfillRequestError>(() => selectBackfillTasks(dag, '(a+)+$', false))).toMatchObject({ field: 'tasks', message: expect.stringContaining('nested quantifier') });
  });
});

describe('planBackfill', () => {
  const dates = [d('2024-01-01T03:00:00Z'), d('2024-01-02T03:00:00Z'), d('2024-01-03T03:00:00Z')];
  const sel = selectBackfillTasks(dag, '^train$', false);
  const existing = new Map<number, ExistingBackfillRun>([
    [dates[0].getTime(), { runId: 'scheduled__x', state: 'success', tasks: new Map() }],
    [dates[1].getTime(), { runId: 'manual__y', state: 'failed', tasks: new Map<string, TiState>([['train', 'failed'], ['report', 'upstream_failed'], ['extract', 'success']]) }],
  ]);

  it('creates the missing runs and reuses the others', () => {
    expect(planBackfill(dates, existing, sel, false).map((p) => [p.action, p.runId, p.rerun])).toEqual([
      ['reuse', 'scheduled__x', []], ['reuse', 'manual__y', []], ['create', 'backfill__2024-01-03T03:00:00.000Z', []],
    ]);
  });

  it('with rerunFailed clears the failed tasks among the selection only', () => {
    expect(planBackfill(dates, existing, sel, true)[1]).toMatchObject({ action: 'rerun', runId: 'manual__y', rerun: ['train'] });
  });

  it('creates nothing when every date has its run (asking twice)', () => {
    const all = new Map(dates.map((x) => [x.getTime(), { runId: 'r', state: 'running' as const, tasks: new Map() }]));
    expect(planBackfill(dates, all, sel, true).every((p) => p.action === 'reuse')).toBe(true);
  });
});

describe('backfillState', () => {
  it.each([
    [false, ['success', 'queued'], 'running'],
    [false, ['success', 'running'], 'running'],
    [true, ['queued', 'running'], 'paused'],
    [false, ['success', 'success'], 'success'],
    [true, ['success', 'failed'], 'failed'],
    [false, [], 'success'],
  ] as const)('paused=%s, runs %j: %s', (paused, states, want) => {
    expect(backfillState(paused, states)).toBe(want);
  });
});
