import { TRIGGER_RULES, type TriggerRule } from '../dag/dag.types';
import type { TiState } from '../state/states';
import { evaluateTriggerRule, type TriggerDecision } from './trigger-rules';

type Row = [string, TiState[], Record<TriggerRule, TriggerDecision>];

const R = (
  all_success: TriggerDecision, all_failed: TriggerDecision, all_done: TriggerDecision,
  one_success: TriggerDecision, one_failed: TriggerDecision, none_failed: TriggerDecision,
  none_failed_min_one_success: TriggerDecision, none_skipped: TriggerDecision, always: TriggerDecision,
): Record<TriggerRule, TriggerDecision> => ({
  all_success, all_failed, all_done, one_success, one_failed, none_failed, none_failed_min_one_success, none_skipped, always,
});

// Columns: all_success, all_failed, all_done, one_success, one_failed, none_failed,
// none_failed_min_one_success, none_skipped, always. Semantics of Airflow's trigger_rule_dep.
const TABLE: Row[] = [
  ['no upstream', [], R('run', 'run', 'run', 'run', 'run', 'run', 'run', 'run', 'run')],
  ['all success', ['success', 'success'], R('run', 'skip', 'run', 'run', 'skip', 'run', 'run', 'run', 'run')],
  ['all failed', ['failed', 'failed'], R('upstream_failed', 'run', 'run', 'upstream_failed', 'run', 'upstream_failed', 'upstream_failed', 'run', 'run')],
  ['all skipped', ['skipped', 'skipped'], R('skip', 'skip', 'run', 'skip', 'skip', 'run', 'skip', 'skip', 'run')],
  ['all upstream_failed', ['upstream_failed', 'upstream_failed'], R('upstream_failed', 'run', 'run', 'upstream_failed', 'run', 'upstream_failed', 'upstream_failed', 'run', 'run')],
  ['success + failed', ['success', 'failed'], R('upstream_failed', 'skip', 'run', 'run', 'run', 'upstream_failed', 'upstream_failed', 'run', 'run')],
  ['success + skipped', ['success', 'skipped'], R('skip', 'skip', 'run', 'run', 'skip', 'run', 'run', 'skip', 'run')],
  ['failed + skipped', ['failed', 'skipped'], R('upstream_failed', 'skip', 'run', 'upstream_failed', 'run', 'upstream_failed', 'upstream_failed', 'skip', 'run')],
  ['failed + upstream_failed', ['failed', 'upstream_failed'], R('upstream_failed', 'run', 'run', 'upstream_failed', 'run', 'upstream_failed', 'upstream_failed', 'run', 'run')],
  ['success + failed + skipped', ['success', 'failed', 'skipped'], R('upstream_failed', 'skip', 'run', 'run', 'run', 'upstream_failed', 'upstream_failed', 'skip', 'run')],
  ['all running', ['running', 'queued'], R('wait', 'wait', 'wait', 'wait', 'wait', 'wait', 'wait', 'wait', 'run')],
  ['success + running', ['success', 'running'], R('wait', 'skip', 'wait', 'run', 'wait', 'wait', 'wait', 'wait', 'run')],
  ['failed + running', ['failed', 'running'], R('upstream_failed', 'wait', 'wait', 'wait', 'run', 'upstream_failed', 'upstream_failed', 'wait', 'run')],
  ['upstream_failed + running', ['upstream_failed', 'scheduled'], R('upstream_failed', 'wait', 'wait', 'wait', 'run', 'upstream_failed', 'upstream_failed', 'wait', 'run')],
  ['skipped + running', ['skipped', 'running'], R('skip', 'skip', 'wait', 'wait', 'wait', 'wait', 'wait', 'skip', 'run')],
  ['success + up_for_retry', ['success', 'up_for_retry'], R('wait', 'skip', 'wait', 'run', 'wait', 'wait', 'wait', 'wait', 'run')],
  ['none + none', ['none', 'none'], R('wait', 'wait', 'wait', 'wait', 'wait', 'wait', 'wait', 'wait', 'run')],
  ['cached counts as success', ['cached', 'success'], R('run', 'skip', 'run', 'run', 'skip', 'run', 'run', 'run', 'run')],
  ['cached + skipped', ['cached', 'skipped'], R('skip', 'skip', 'run', 'run', 'skip', 'run', 'run', 'skip', 'run')],
  ['removed is ignored (rest success)', ['removed', 'success'], R('run', 'skip', 'run', 'run', 'skip', 'run', 'run', 'run', 'run')],
  ['removed is ignored (rest failed)', ['removed', 'failed'], R('upstream_failed', 'run', 'run', 'upstream_failed', 'run', 'upstream_failed', 'upstream_failed', 'run', 'run')],
  ['only removed = no upstream', ['removed', 'removed'], R('run', 'run', 'run', 'run', 'run', 'run', 'run', 'run', 'run')],
  ['removed + running', ['removed', 'running'], R('wait', 'wait', 'wait', 'wait', 'wait', 'wait', 'wait', 'wait', 'run')],
];

const cases = TABLE.flatMap(([name, states, expected]) =>
  TRIGGER_RULES.map((rule) => [rule, name, states, expected[rule]] as const),
);

describe('evaluateTriggerRule', () => {
  it.each(cases)('%s with %s %j -> %s', (rule, _name, states, expected) => {
    expect(evaluateTriggerRule(rule, states)).toBe(expected);
  });

  it('does not depend on the order of upstream states', () => {
    for (const [, states, expected] of TABLE) {
      for (const rule of TRIGGER_RULES) {
        expect(evaluateTriggerRule(rule, [...states].reverse())).toBe(expected[rule]);
      }
    }
  });

  // A task whose upstreams are all finished must be decided, or its run would hang forever.
  it('never waits once every upstream is finished', () => {
    const finished: TiState[] = ['success', 'failed', 'skipped', 'upstream_failed', 'cached', 'removed'];
    const combos: TiState[][] = [];
    for (const a of finished) for (const b of finished) for (const c of finished) combos.push([a, b, c]);
    for (const rule of TRIGGER_RULES) {
      for (const states of combos) expect([rule, states, evaluateTriggerRule(rule, states)]).not.toEqual([rule, states, 'wait']);
    }
  });

  it('one_success runs as soon as one upstream succeeded, while others still run', () => {
    expect(evaluateTriggerRule('one_success', ['running', 'queued', 'success'])).toBe('run');
  });

  it('one_failed runs as soon as one upstream failed or upstream_failed', () => {
    expect(evaluateTriggerRule('one_failed', ['running', 'failed'])).toBe('run');
    expect(evaluateTriggerRule('one_failed', ['running', 'upstream_failed'])).toBe('run');
  });

  it('none_failed never skips, even when every upstream was skipped', () => {
    expect(evaluateTriggerRule('none_failed', ['skipped', 'skipped', 'skipped'])).toBe('run');
  });
});
