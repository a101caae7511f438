import { DagCycleError, DagValidationError } from '@swarmflow/core';
import { loadYamlDags, parseYamlDags } from './yaml';

const FILE = 'dags/nightly.yaml';

function yamlError(text: string, load = false): DagValidationError {
  try {
    if (load) loadYamlDags(text, FILE);
    else parseYamlDags(text, FILE);
  } catch (err) {
    expect(err).toBeInstanceOf(DagValidationError);
    return err as DagValidationError;
  }
  throw new Error('expected a throw');
}

const NIGHTLY = `id: nightly_etl
description: Nightly ETL
schedule: "0 2 * * *"
catchup: true
start_date: 2024-01-01
max_active_runs: 1
max_active_tasks: 8
tags: [etl]
params:
  region: { type: string, default: eu, enum: [eu, us] }
  limit: { type: integer, default: 10, minimum: 1, max_length: 5 }
defaults:
  retries: 1
  retry_delay: 1m
  retry_backoff: exponential
  max_retry_delay: 10m
  timeout: 2h
  queue: io
  priority: 3
  pool: db
  pool_slots: 2
  skip_exit_code: 42
  env: { A: "1" }
  cwd: /srv
tasks:
  extract: { shell: "extract --region {{ params.region }}" }
  load:
    shell: "load"
    upstream: [extract]
    retries: 3
    trigger_rule: all_done
  report:
    command: [python, report.py]
    upstream: load
  notify: echo done
`;

describe('parseYamlDags', () => {
  it('maps snake_case keys to a DagInput', () => {
    expect(parseYamlDags(NIGHTLY, FILE)).toEqual([
      {
        id: 'nightly_etl', description: 'Nightly ETL', schedule: '0 2 * * *', catchup: true, startDate: '2024-01-01',
        maxActiveRuns: 1, maxActiveTasks: 8, tags: ['etl'],
        params: {
          region: { type: 'string', default: 'eu', enum: ['eu', 'us'] },
          limit: { type: 'integer', default: 10, minimum: 1, maxLength: 5 },
        },
        defaults: {
          retries: 1, retryDelay: '1m', retryBackoff: 'exponential', maxRetryDelay: '10m', timeout: '2h', queue: 'io',
          priority: 3, pool: 'db', poolSlots: 2, skipExitCode: 42, env: { A: '1' }, cwd: '/srv',
        },
        tasks: [
          { id: 'extract', command: 'extract --region {{ params.region }}' },
          { id: 'load', command: 'load', upstream: ['extract'], retries: 3, triggerRule: 'all_done' },
          { id: 'report', command: ['python', 'report.py'], upstream: ['load'] },
          { id: 'notify', command: 'echo done' },
        ],
      },
    ]);
  });

  it('reads one DAG per document and skips empty documents', () => {
    const text = `id: a\ntasks: { t: { shell: x } }\n---\n---\n# comment only\n---\nid: b\ntasks: { t: { shell: y } }\n`;
    expect(parseYamlDags(text, FILE).map((d) => d.id)).toEqual(['a', 'b']);
  });

  it('returns nothing for an empty file', () => {
    expect(parseYamlDags('', FILE)).toEqual([]);
    expect(parseYamlDags('# nothing\n', FILE)).toEqual([]);
  });

  it('reports a syntax error with file:line', () => {
    const err = yamlError('id: x\ntasks:\n  a: { shell: "echo"\n  b: 1\n');
    expect(err.message).toMatch(/^dags\/nightly\.yaml:\d+: YAML syntax error: .+\. Fix: correct the YAML at this line\.$/);
    expect(err.line).toBeGreaterThanOrEqual(3);
    expect(err.dagId).toBeNull();
  });

  it('reports a syntax error in the second document with its line', () => {
    const err = yamlError('id: a\ntasks: { t: { shell: x } }\n---\nid: b\ntasks: [\n');
    expect(err.line).toBeGreaterThanOrEqual(5);
  });

  it('reports an unknown top-level key with its line and the allowed keys', () => {
    const err = yamlError('id: etl\nschedual: "@daily"\ntasks: { a: { shell: x } }\n');
    expect(err.message).toBe('dags/nightly.yaml:2: DAG "etl": unknown DAG key "schedual". Fix: did you mean "schedule"? use only id, description, schedule, catchup, start_date, max_active_runs, max_active_tasks, params, defaults, tags, tasks.');
    expect(err).toMatchObject({ line: 2, field: 'schedual', taskId: null });
  });

  it('reports an unknown task key with its line', () => {
    const err = yamlError('id: etl\ntasks:\n  a: { shell: x }\n  b:\n    shell: y\n    retry: 3\n');
    expect(err.message).toBe('dags/nightly.yaml:6: DAG "etl", task "b": unknown task key "retry". Fix: did you mean "retries"? use only shell, command, upstream, kind, retries, retry_delay, retry_backoff, max_retry_delay, timeout, queue, priority, pool, pool_slots, trigger_rule, skip_exit_code, env, cwd.');
  });

  it('reports unknown keys in defaults and params', () => {
    expect(yamlError('id: etl\ndefaults:\n  retryDelay: 5s\ntasks: { a: { shell: x } }\n').message).toBe(
      'dags/nightly.yaml:3: DAG "etl": unknown defaults key "retryDelay". Fix: did you mean "retry_delay"? use only retries, retry_delay, retry_backoff, max_retry_delay, timeout, queue, priority, pool, pool_slots, trigger_rule, skip_exit_code, env, cwd.',
    );
    expect(yamlError('id: etl\nparams:\n  n: { type: integer, dflt: 1 }\ntasks: { a: { shell: x } }\n').message).toBe(
      'dags/nightly.yaml:3: DAG "etl": unknown param "n" key "dflt". Fix: use only type, default, description, enum, minimum, maximum, min_length, max_length, pattern.',
    );
  });

  it('requires exactly one of shell and command', () => {
    expect(yamlError('id: etl\ntasks:\n  a: { upstream: [] }\n').message).toBe(
      'dags/nightly.yaml:3: DAG "etl", task "a": task has no command. Fix: add shell: "..." (a shell string) or command: [...] (argv).',
    );
    expect(yamlError('id: etl\ntasks:\n  a:\n    shell: x\n    command: [y]\n').message).toBe(
      'dags/nightly.yaml:5: DAG "etl", task "a": task has both "shell" and "command". Fix: keep one: "shell" for a shell string, "command" for a string or an argv list.',
    );
    expect(yamlError('id: etl\ntasks:\n  a: { shell: [x, y] }\n').message).toBe(
      'dags/nightly.yaml:3: DAG "etl", task "a": shell must be a string (got ["x","y"]). Fix: quote the command, or use "command:" with a list for argv.',
    );
  });

  it('rejects a document that is not a mapping, and tasks that are not a mapping', () => {
    expect(yamlError('- id: etl\n').message).toBe('dags/nightly.yaml:1: a DAG document must be a mapping (got [{"id":"etl"}]). Fix: write a mapping with id, schedule, tasks, ....');
    expect(yamlError('id: etl\ntasks:\n  - extract\n').message).toBe('dags/nightly.yaml:3: DAG "etl": tasks must be a mapping (got ["extract"]). Fix: use e.g. tasks: { extract: { shell: "extract.sh" } }.');
  });
});

describe('loadYamlDags', () => {
  it('validates each DAG and applies defaults', () => {
    const [dag] = loadYamlDags(NIGHTLY, FILE);
    expect(dag.fileloc).toBe(FILE);
    expect(dag.startDate).toBe('2024-01-01T00:00:00.000Z');
    expect(dag.tasks.find((t) => t.id === 'load')).toMatchObject({ retries: 3, triggerRule: 'all_done', retryDelayMs: 60_000, queue: 'io', upstream: ['extract'] });
  });

  it('puts the line of the offending key on validation errors, in YAML terms', () => {
    const err = yamlError('id: etl\ntasks:\n  a: { shell: x }\n  b:\n    shell: y\n    retry_delay: 3x\n', true);
    expect(err.message).toBe(`dags/nightly.yaml:6: DAG "etl", task "b": retry_delay is not a duration (got "3x"). Fix: use e.g. '500ms', '30s', '5m', '2h' or '1d', or a number of milliseconds.`);
    expect(err).toMatchObject({ line: 6, taskId: 'b', field: 'retryDelay' });
  });

  it('points an unknown upstream at its line', () => {
    const err = yamlError('id: etl\ntasks:\n  extract: { shell: x }\n  load:\n    shell: y\n    upstream: [extrct]\n', true);
    expect(err.message).toBe('dags/nightly.yaml:6: DAG "etl", task "load": upstream "extrct" does not exist. Fix: use one of extract.');
  });

  it('points a cycle at its first task and keeps the cycle error', () => {
    const err = yamlError('id: etl\ntasks:\n  a: { shell: x, upstream: [b] }\n  b: { shell: y, upstream: [a] }\n', true);
    expect(err).toBeInstanceOf(DagCycleError);
    expect(err.message).toBe('dags/nightly.yaml:3: DAG "etl", task "a": upstream links form a cycle: a -> b -> a. Fix: remove one of these links so that no task depends on itself.');
  });

  it('points a bad param default and a bad schedule at their lines', () => {
    expect(yamlError('id: etl\nparams:\n  n:\n    type: integer\n    default: ten\ntasks: { a: { shell: x } }\n', true).message).toBe(
      `dags/nightly.yaml:5: DAG "etl": params.n.default must be integer (got "ten"). Fix: make the default match the param's type and limits, or change the type.`,
    );
    expect(yamlError('id: etl\nschedule: "@dialy"\ntasks: { a: { shell: x } }\n', true).line).toBe(2);
  });

  it('uses the DAG document line when nothing closer is known', () => {
    expect(yamlError('id: a\ntasks: { t: { shell: x } }\n---\nid: "bad id"\ntasks: { t: { shell: y } }\n', true).message).toBe(
      'dags/nightly.yaml:4: DAG id "bad id" may only contain letters, digits, "_", "." and "-". Fix: rename it, e.g. "bad_id".',
    );
  });
});
