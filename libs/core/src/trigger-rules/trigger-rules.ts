import type { TriggerRule } from '../dag/dag.types';
import type { TiState } from '../state/states';

/** What a task in state `none` should do given its direct upstreams' states. */
export type TriggerDecision =
  | 'run' //             its rule is met: move it to `scheduled`
  | 'wait' //            not decidable yet: some upstream is still unfinished
  | 'skip' //            its rule can no longer be met because of skips: `skipped`
  | 'upstream_failed'; // its rule can no longer be met because of failures: `upstream_failed`

interface UpstreamCounts {
  total: number;
  success: number;
  failed: number;
  upstreamFailed: number;
  skipped: number;
  done: number;
}

function countUpstream(upstream: readonly TiState[]): UpstreamCounts {
  const c: UpstreamCounts = { total: 0, success: 0, failed: 0, upstreamFailed: 0, skipped: 0, done: 0 };
  for (const state of upstream) {
    // A removed upstream no longer exists in the DAG version: it does not count at all.
    if (state === 'removed') continue;
    c.total++;
    switch (state) {
      case 'success':
      case 'cached': // an identical try already succeeded: as good as success
        c.success++;
        c.done++;
        break;
      case 'failed':
        c.failed++;
        c.done++;
        break;
      case 'upstream_failed':
        c.upstreamFailed++;
        c.done++;
        break;
      case 'skipped':
        c.skipped++;
        c.done++;
        break;
      default: // none, scheduled, queued, running, up_for_retry: not finished yet
        break;
    }
  }
  return c;
}

/**
 * Decides a task's fate from its direct upstreams' states, with Airflow's semantics
 * (airflow/ti_deps/deps/trigger_rule_dep.py): `cached` counts as success, `removed`
 * upstreams are ignored, and a task with no (remaining) upstream runs.
 *
 * | rule | run when | skip when | upstream_failed when |
 * |---|---|---|---|
 * | all_success | all succeeded | any skipped (no failure) | any failed / upstream_failed |
 * | all_failed | all failed / upstream_failed | any succeeded or skipped | never |
 * | all_done | all finished | never | never |
 * | one_success | one succeeded (no need to wait) | all finished and all skipped | all finished, none succeeded |
 * | one_failed | one failed / upstream_failed (no need to wait) | all finished, none failed | never |
 * | none_failed | all succeeded or skipped | never | any failed / upstream_failed |
 * | none_failed_min_one_success | all succeeded or skipped, not all skipped | all skipped | any failed / upstream_failed |
 * | none_skipped | all finished, none skipped | any skipped | never |
 * | always | at once | never | never |
 *
 * Failures and skips are decided as soon as they are seen, even while other upstreams run.
 */
export function evaluateTriggerRule(rule: TriggerRule, upstream: readonly TiState[]): TriggerDecision {
  const c = countUpstream(upstream);
  const allDone = c.done === c.total;
  const anyFailed = c.failed + c.upstreamFailed > 0;
  switch (rule) {
    case 'all_success':
      if (anyFailed) return 'upstream_failed';
      if (c.skipped > 0) return 'skip';
      return c.success === c.total ? 'run' : 'wait';
    case 'all_failed':
      if (c.success + c.skipped > 0) return 'skip';
      return allDone ? 'run' : 'wait';
    case 'all_done':
      return allDone ? 'run' : 'wait';
    case 'one_success':
      if (c.total === 0 || c.success > 0) return 'run';
      if (!allDone) return 'wait';
      return c.skipped === c.total ? 'skip' : 'upstream_failed';
    case 'one_failed':
      if (c.total === 0 || anyFailed) return 'run';
      return allDone ? 'skip' : 'wait';
    case 'none_failed':
      if (anyFailed) return 'upstream_failed';
      return allDone ? 'run' : 'wait';
    case 'none_failed_min_one_success':
      if (anyFailed) return 'upstream_failed';
      if (!allDone) return 'wait';
      return c.total > 0 && c.skipped === c.total ? 'skip' : 'run';
    case 'none_skipped':
      if (c.skipped > 0) return 'skip';
      return allDone ? 'run' : 'wait';
    case 'always':
      return 'run';
  }
}
