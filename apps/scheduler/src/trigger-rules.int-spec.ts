import { TRIGGER_RULES, type TiState, type TriggerRule } from '@swarmflow/core';
import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import { useStack } from './test-support/use-stack';

// Each trigger rule downstream of one upstream in each end state, run for real, checked
// against Airflow's documented behaviour ("run" = the task ran and succeeded).
const AIRFLOW: Record<TriggerRule, Record<'success' | 'failed' | 'skipped' | 'upstream_failed', TiState>> = {
  all_success: { success: 'success', failed: 'upstream_failed', skipped: 'skipped', upstream_failed: 'upstream_failed' },
  all_failed: { success: 'skipped', failed: 'success', skipped: 'skipped', upstream_failed: 'success' },
  all_done: { success: 'success', failed: 'success', skipped: 'success', upstream_failed: 'success' },
  one_success: { success: 'success', failed: 'upstream_failed', skipped: 'skipped', upstream_failed: 'upstream_failed' },
  one_failed: { success: 'skipped', failed: 'success', skipped: 'skipped', upstream_failed: 'success' },
  none_failed: { success: 'success', failed: 'upstream_failed', skipped: 'success', upstream_failed: 'upstream_failed' },
  none_failed_min_one_success: { success: 'success', failed: 'upstream_failed', skipped: 'skipped', upstream_failed: 'upstream_failed' },
  none_skipped: { success: 'success', failed: 'success', skipped: 'skipped', upstream_failed: 'success' },
  always: { success: 'success', failed: 'success', skipped: 'success', upstream_failed: 'success' },
};

const SOURCES = { success: 'ok', failed: 'bad', skipped: 'skip', upstream_failed: 'uf' } as const;

function matrixDag(): string {
  const lines = [
    'id: trigger_rules',
    'tasks:',
    '  ok: { shell: "true" }',
    '  bad: { shell: "exit 1" }',
    '  skip: { shell: "exit 99" }',
    '  uf: { shell: "true", upstream: [bad] }',
  ];
  for (const rule of TRIGGER_RULES) {
    for (const source of Object.values(SOURCES)) {
      lines.push(`  ${rule}__${source}: { shell: "true", upstream: [${source}], trigger_rule: ${rule} }`);
    }
  }
  // Mixed upstreams: one_success runs as soon as one upstream succeeded although another failed.
  lines.push('  one_success__mixed: { shell: "true", upstream: [ok, bad], trigger_rule: one_success }');
  lines.push('  none_failed_min_one_success__mixed: { shell: "true", upstream: [ok, skip], trigger_rule: none_failed_min_one_success }');
  lines.push('  all_success__mixed: { shell: "true", upstream: [ok, skip], trigger_rule: all_success }');
  return lines.join('\n') + '\n';
}

describeWithPostgres('trigger rules end to end', () => {
  const stack = useStack({ dagFiles: { 'rules.yaml': matrixDag() } });
  let states: Map<string, TiState>;

  beforeAll(async () => {
    const { tis } = await stack().waitForRun(await stack().trigger('trigger_rules'));
    states = new Map([...tis].map(([id, ti]) => [id, ti.state]));
  }, 60_000);

  it('puts the upstreams in the four end states', () => {
    expect([states.get('ok'), states.get('bad'), states.get('skip'), states.get('uf')]).toEqual(['success', 'failed', 'skipped', 'upstream_failed']);
  });

  for (const rule of TRIGGER_RULES) {
    it(`${rule} behaves as Airflow documents`, () => {
      const got = Object.fromEntries(Object.entries(SOURCES).map(([state, source]) => [state, states.get(`${rule}__${source}`)]));
      expect(got).toEqual(AIRFLOW[rule]);
    });
  }

  it('handles mixed upstreams', () => {
    expect(states.get('one_success__mixed')).toBe('success');
    expect(states.get('none_failed_min_one_success__mixed')).toBe('success');
    expect(states.get('all_success__mixed')).toBe('skipped');
  });
});
