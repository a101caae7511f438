import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO } from '../../support/processes';

/**
 * A DAGs folder with the examples (linked, so their imports resolve as in the repository)
 * plus `ui_flaky`: a slow task that logs a line every 0.4 s (a log to watch live), a task
 * that fails on its first try and succeeds after a clear, and one downstream of it; and
 * `ui_actions`: a task that runs for a minute (to mark or cancel while it runs) and two after it.
 */
export function browserTestDags(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'swarmflow-ui-dags-'));
  const examples = path.join(REPO, 'examples/dags');
  for (const entry of readdirSync(examples)) symlinkSync(path.join(examples, entry), path.join(dir, entry));
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'ui_flaky.yaml'), `id: ui_flaky
description: "Browser tests: a slow task with a live log; flaky fails on its first try, succeeds when cleared"
schedule: null
tags: [test, ui]
params:
  ticks:
    type: integer
    default: 3
    minimum: 1
    maximum: 100
    description: lines the slow task prints, one every 0.4 s
defaults:
  retries: 0
tasks:
  slow: >-
    for i in $(seq 1 {{ params.ticks }}); do echo "tick $i of {{ params.ticks }}"; sleep 0.4; done
  flaky:
    upstream: [slow]
    shell: >-
      if [ "$SWARMFLOW_TRY_NUMBER" = 1 ]; then echo "flaky: failing on purpose (try 1)" >&2; exit 3; fi;
      echo "flaky: ok on try $SWARMFLOW_TRY_NUMBER"
  after:
    upstream: [flaky]
    shell: echo after
`);
  writeFileSync(path.join(dir, 'ui_actions.yaml'), `id: ui_actions
description: "Browser tests: a long task to mark or cancel while it runs, and two tasks after it"
schedule: null
tags: [test, ui]
defaults:
  retries: 0
tasks:
  long: >-
    for i in $(seq 1 300); do echo "long: tick $i"; sleep 0.2; done
  next:
    upstream: [long]
    shell: echo next
  last:
    upstream: [next]
    shell: echo last
`);
  return dir;
}
