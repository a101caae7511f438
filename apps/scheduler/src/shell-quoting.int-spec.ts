import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import { useStack } from './test-support/use-stack';

// A trigger's conf and params reach a shell command as data: scheduler renders (quoting each
// value), worker runs it through /bin/sh, and what the value says is printed, never run.
describeWithPostgres('template values in a shell command', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sf-inject-'));
  const marker = path.join(dir, 'pwned');
  const stack = useStack({
    dagFiles: {
      'echo.yaml': 'id: echo\nparams: { region: { type: string, default: eu } }\ntasks:\n' +
        '  say: { shell: "echo region={{ params.region }} note=\\"{{ conf.note }}\\"" }\n',
    },
    workers: [{ concurrency: 1 }],
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('are printed, and the command they hold does not run', async () => {
    const region = `eu; touch ${marker}`;
    const note = `$(touch ${marker}) \`touch ${marker}\` " ; touch ${marker}`;
    const run = await stack().trigger('echo', { region, note });
    const { state, tis } = await stack().waitForRun(run, 20_000);
    expect(state).toBe('success');
    const ti = tis.get('say')!;
    const { lines } = await stack().repos.logs.read(ti.id, ti.tryNumber);
    expect(lines.map((l) => l.line)).toContain(`region=${region} note=${note}`);
    expect(existsSync(marker)).toBe(false);
  }, 30_000);
});
