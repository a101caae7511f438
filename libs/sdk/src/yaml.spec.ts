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
    expect(err.message).toBe('dags/nightly.yaml:2: DAG "etl": unknown DAG key "schedual". Fix: did you mean "schedule"? use only id, description, schedule, catchup, start_date, max_active_runs, max_active_tasks, params, defaults, tags, cache_namespace, tasks.');
    expect(err).toMatchObject({ line: 2, field: 'schedual', taskId: null });
  });

  it('reports an unknown task key with its line', () => {
    const err = yamlError('id: etl\ntasks:\n  a: { shell: x }\n  b:\n    shell: y\n    retry: 3\n');
    expect(err.message).toBe('dags/nightly.yaml:6: DAG "etl", task "b": unknown task key "retry". Fix: did you mean "retries"? use only shell, command, docker, secrets, upstream, kind, retries, retry_delay, retry_backoff, max_retry_delay, timeout, queue, priority, pool, pool_slots, trigger_rule, skip_exit_code, env, cwd, cache, cache_ttl.');
  });

  it('reports unknown keys in defaults and params', () => {
    expect(yamlError('id: etl\ndefaults:\n  retryDelay: 5s\ntasks: { a: { shell: x } }\n').message).toBe(
      'dags/nightly.yaml:3: DAG "etl": unknown defaults key "retryDelay". Fix: did you mean "retry_delay"? use only retries, retry_delay, retry_backoff, max_retry_delay, timeout, queue, priority, pool, pool_slots, trigger_rule, skip_exit_code, env, cwd, cache, cache_ttl.',
    );
    expect(yamlError('id: etl\nparams:\n  n: { type: integer, dflt: 1 }\ntasks: { a: { shell: x } }\n').message).toBe(
      'dags/nightly.yaml:3: DAG "etl": unknown param "n" key "dflt". Fix: use only type, default, description, enum, minimum, maximum, min_length, max_length, pattern.',
    );
  });

  it('requires exactly one of shell and command', () => {
    expect(yamlError('id: etl\ntasks:\n  a: { upstream: [] }\n').message).toBe(
      'dags/nightly.yaml:3: DAG "etl", task "a": task has no command. Fix: add shell: "..." (a shell string), command: [...] (argv), or docker: { image: … } (a container).',
    );
    expect(yamlError('id: etl\ntasks:\n  a:\n    shell: x\n    command: [y]\n').message).toBe(
      'dags/nightly.yaml:5: DAG "etl", task "a": task has both "shell" and "command". Fix: keep one: "shell" for a shell string, "command" for a string or an argv list.',
    );
    expect(yamlError('id: etl\ntasks:\n  a: { shell: [x, y] }\n').message).toBe(
      'dags/nightly.yaml:3: DAG "etl", task "a": shell must be a string (got ["x","y"]). Fix: quote the command, or use "command:" with a list for argv.',
    );
  });

  it.each<[string, string, string]>([
    ['execution_timeout', 'timeout', 'id: etl\ntasks:\n  a:\n    shell: x\n    execution_timeout: 1h\n'],
    ['schedule_interval', 'schedule', 'id: etl\nschedule_interval: "@daily"\ntasks: { a: { shell: x } }\n'],
    ['default_args', 'defaults', 'id: etl\ndefault_args: { retries: 1 }\ntasks: { a: { shell: x } }\n'],
    ['bash_command', 'shell', 'id: etl\ntasks:\n  a:\n    bash_command: x\n'],
  ])('points the Airflow key %s to Swarmflow\'s %s', (airflow, ours, text) => {
    expect(yamlError(text).fix).toMatch(new RegExp(`^did you mean "${ours}" \\(Airflow's ${airflow} is Swarmflow's ${ours}\\)\\? use only `));
  });

  it('puts an image given beside the task into docker:', () => {
    expect(yamlError('id: etl\ntasks:\n  a:\n    image: python:3\n').fix).toMatch(/^did you mean "docker"\? a task's image goes inside docker: \{ image: … \}; use only shell, /);
  });

  it('suggests the nearest trigger rule, in YAML terms, at its line', () => {
    const err = yamlError('id: etl\ntasks:\n  a: { shell: x }\n  b:\n    shell: y\n    upstream: [a]\n    trigger_rule: all_sucess\n', true);
    expect(err.message).toBe(
      'dags/nightly.yaml:7: DAG "etl", task "b": trigger_rule "all_sucess" is not a trigger rule. Fix: did you mean "all_success"? ' +
      'use one of all_success, all_failed, all_done, one_success, one_failed, none_failed, none_failed_min_one_success, none_skipped, always.',
    );
    expect(err.field).toBe('trigger_rule');
    expect(yamlError('id: etl\ndefaults:\n  trigger_rule: one_sucess\ntasks: { a: { shell: x } }\n', true)).toMatchObject({
      field: 'defaults.trigger_rule', line: 3, problem: 'defaults.trigger_rule "one_sucess" is not a trigger rule',
    });
  });

  it('requires tasks, with a fix in YAML', () => {
    expect(yamlError('id: etl\n').message).toBe('dags/nightly.yaml:1: DAG "etl": the DAG has no tasks. Fix: add tasks, e.g. tasks: { extract: { shell: "extract.sh" } }.');
    expect(yamlError('id: etl\ntasks: {}\n')).toMatchObject({ line: 2, field: 'tasks' });
  });

  it('gives unknown keys of defaults and params their full path', () => {
    expect(yamlError('id: etl\ndefaults:\n  retryDelay: 5s\ntasks: { a: { shell: x } }\n').field).toBe('defaults.retryDelay');
    expect(yamlError('id: etl\nparams:\n  n: { type: integer, dflt: 1 }\ntasks: { a: { shell: x } }\n').field).toBe('params.n.dflt');
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
    expect(err).toMatchObject({ line: 6, taskId: 'b', field: 'retry_delay' });
  });

  it.each<[string, string, string, string]>([
    ['start_date', 'start_date: yesterday', 'start_date', `start_date must be an ISO date (got "yesterday"). Fix: use e.g. '2024-01-01' or '2024-01-01T00:00:00Z'.`],
    ['max_active_runs', 'max_active_runs: 0', 'max_active_runs', 'max_active_runs must be a whole number >= 1 (got 0). Fix: use 1 or more.'],
    ['max_active_tasks', 'max_active_tasks: 1.5', 'max_active_tasks', 'max_active_tasks must be a whole number >= 1 (got 1.5). Fix: use 1 or more.'],
    ['defaults.retry_delay', 'defaults:\n  retry_delay: soon', 'defaults.retry_delay', `defaults.retry_delay is not a duration (got "soon"). Fix: use e.g. '500ms', '30s', '5m', '2h' or '1d', or a number of milliseconds.`],
    ['defaults.max_retry_delay', 'defaults:\n  max_retry_delay: soon', 'defaults.max_retry_delay', `defaults.max_retry_delay is not a duration (got "soon"). Fix: use e.g. '500ms', '30s', '5m', '2h' or '1d', or a number of milliseconds.`],
    ['defaults.pool_slots', 'defaults:\n  pool_slots: 0', 'defaults.pool_slots', 'defaults.pool_slots must be a whole number >= 1 (got 0). Fix: use 1 or more.'],
    ['defaults.skip_exit_code', 'defaults:\n  skip_exit_code: 300', 'defaults.skip_exit_code', 'defaults.skip_exit_code must be a whole number from 1 to 255, or null (got 300). Fix: use e.g. 99, or null to never skip.'],
    ['defaults.timeout', 'defaults:\n  timeout: 0', 'defaults.timeout', `defaults.timeout must be more than 0. Fix: use e.g. '2h', or null for no timeout.`],
    ['defaults.env', 'defaults:\n  env: { A: 1 }', 'defaults.env', 'defaults.env.A must be a string (got 1). Fix: quote it: "A": "1".'],
    ['params.*.min_length', 'params:\n  n: { type: string, min_length: x }', 'params.n.min_length', 'params.n.min_length must be a number (got "x"). Fix: set min_length to a number.'],
    ['params.*.max_length', 'params:\n  n: { type: string, max_length: x }', 'params.n.max_length', 'params.n.max_length must be a number (got "x"). Fix: set max_length to a number.'],
  ])('names the DAG field %s as the YAML writes it', (_name, body, field, message) => {
    const err = yamlError(`id: etl\n${body}\ntasks: { a: { shell: x } }\n`, true);
    expect(err.message).toBe(`dags/nightly.yaml:${body.includes('\n') ? 3 : 2}: DAG "etl": ${message}`);
    expect(err.field).toBe(field);
  });

  it.each<[string, string, string, string]>([
    ['retry_delay', 'shell: x\n    retry_delay: soon', 'retry_delay', `retry_delay is not a duration (got "soon"). Fix: use e.g. '500ms', '30s', '5m', '2h' or '1d', or a number of milliseconds.`],
    ['max_retry_delay', 'shell: x\n    max_retry_delay: soon', 'max_retry_delay', `max_retry_delay is not a duration (got "soon"). Fix: use e.g. '500ms', '30s', '5m', '2h' or '1d', or a number of milliseconds.`],
    ['pool_slots', 'shell: x\n    pool_slots: 0', 'pool_slots', 'pool_slots must be a whole number >= 1 (got 0). Fix: use 1 or more.'],
    ['skip_exit_code', 'shell: x\n    skip_exit_code: 0', 'skip_exit_code', 'skip_exit_code must be a whole number from 1 to 255, or null (got 0). Fix: use e.g. 99, or null to never skip.'],
    ['shell', 'shell: ""', 'shell', 'shell is empty. Fix: give a shell command like "python train.py", or an argv array like ["python", "train.py"].'],
    ['docker.command', 'docker: { image: x, command: [python, 3] }', 'docker.command', 'docker.command[1] must be a string (got 3). Fix: quote it: "3".'],
    ['docker.volumes[].read_only', 'docker: { image: x, volumes: [3] }', 'docker.volumes[0]', 'docker.volumes[0] must be a "source:target[:ro]" string or an object (got 3). Fix: use e.g. "/srv/data:/data:ro" or { source: "/srv/data", target: "/data", read_only: true }.'],
  ])('names the task field %s as the YAML writes it', (_name, body, field, message) => {
    const err = yamlError(`id: etl\ntasks:\n  pre: { shell: x }\n  a:\n    ${body}\n`, true);
    expect(err.message).toBe(`dags/nightly.yaml:${body.includes('\n') ? 6 : 5}: DAG "etl", task "a": ${message}`);
    expect(err.field).toBe(field);
  });

  it('keeps the names users chose (params, tasks) as written, even when they look like SDK fields', () => {
    expect(yamlError('id: etl\nparams:\n  startDate: { type: integer, default: x }\ntasks: { a: { shell: x } }\n', true).message).toBe(
      `dags/nightly.yaml:3: DAG "etl": params.startDate.default must be integer (got "x"). Fix: make the default match the param's type and limits, or change the type.`,
    );
    expect(yamlError('id: etl\ntasks:\n  maxActiveRuns: { shell: x }\n  b: { shell: y, upstream: [maxActiveRunz] }\n', true).message).toBe(
      'dags/nightly.yaml:4: DAG "etl", task "b": upstream "maxActiveRunz" does not exist. Fix: use one of maxActiveRuns.',
    );
  });

  it('names a bad task id by its key under tasks', () => {
    expect(yamlError('id: etl\ntasks:\n  "bad id": x\n', true)).toMatchObject({
      field: 'tasks.bad id', line: 3,
      message: 'dags/nightly.yaml:3: DAG "etl": task id "bad id" may only contain letters, digits, "_", "." and "-". Fix: rename it, e.g. "bad_id".',
    });
  });

  it('refuses a template that reads an undeclared param, at parse time, naming the shell field and its line', () => {
    const err = yamlError('id: etl\nparams: { x: { type: string, default: a } }\ntasks:\n  a: { shell: x }\n  b:\n    upstream: [a]\n    shell: "echo {{ params.y }}"\n', true);
    expect(err.message).toBe(
      `dags/nightly.yaml:7: DAG "etl", task "b": shell reads params.y, a param the DAG does not declare (its params: x). ` +
      `Fix: declare "y" under params, e.g. params: { y: { type: 'string', default: '…' } }, or give it a fallback: {{ params.y | default('…') }}; a value given only in a trigger's conf is read as {{ conf.y }}.`,
    );
    expect(err).toMatchObject({ field: 'shell', taskId: 'b', line: 7 });
  });

  it('points a template error in an argv item or an env value at its own line', () => {
    expect(yamlError('id: etl\ntasks:\n  a:\n    command:\n      - echo\n      - "{{ parms.x }}"\n', true)).toMatchObject({ field: 'command[1]', line: 6 });
    expect(yamlError('id: etl\ntasks:\n  a:\n    shell: x\n    env:\n      A: "1"\n      B: "{{ dss }}"\n', true)).toMatchObject({ field: 'env.B', line: 7 });
    expect(yamlError('id: etl\ntasks:\n  a:\n    docker:\n      image: x\n      command:\n        - run\n        - "{{ params.n }}"\n', true)).toMatchObject({ field: 'docker.command[1]', line: 8 });
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

const ML = `id: ml
params: { epochs: { type: integer, default: 10 } }
tasks:
  prep: { shell: prep.sh }
  train:
    upstream: prep
    secrets: [wandb_api_key, db.password]
    env: { SEED: "1" }
    cwd: /work
    retries: 2
    docker:
      image: ghcr.io/acme/trainer:1.4
      command: [python, train.py, --epochs, "{{ params.epochs }}"]
      entrypoint: /entry.sh
      pull_policy: always
      user: 1000
      volumes:
        - /srv/datasets:/data:ro
        - { source: models, target: /models, read_only: false }
      network: bridge
      labels: { com.acme.team: ml }
      registry_credentials: ghcr_credentials
      resources: { cpus: 8, memory: 30g, gpus: 1 }
      gpu_mode: runtime
      runtime: nvidia
      auto_remove: false
      secrets_path: /run/secrets
  hello:
    docker: { image: hello-world }
`;

describe('YAML docker tasks', () => {
  it('maps a docker: block and task-level secrets to a DagInput', () => {
    expect(parseYamlDags(ML, FILE)[0].tasks).toEqual([
      { id: 'prep', command: 'prep.sh' },
      {
        id: 'train', upstream: ['prep'], secrets: ['wandb_api_key', 'db.password'], env: { SEED: '1' }, cwd: '/work', retries: 2,
        command: ['python', 'train.py', '--epochs', '{{ params.epochs }}'],
        docker: {
          image: 'ghcr.io/acme/trainer:1.4', entrypoint: '/entry.sh', pullPolicy: 'always', user: 1000,
          volumes: ['/srv/datasets:/data:ro', { source: 'models', target: '/models', readOnly: false }], network: 'bridge',
          labels: { 'com.acme.team': 'ml' }, registryCredentials: 'ghcr_credentials', resources: { cpus: 8, memory: '30g', gpus: 1 },
          gpuMode: 'runtime', runtime: 'nvidia', autoRemove: false, secretsPath: '/run/secrets',
        },
      },
      { id: 'hello', docker: { image: 'hello-world' } },
    ]);
  });

  it('validates them into docker task specs', () => {
    const [dag] = loadYamlDags(ML, FILE);
    expect(dag.tasks[1]).toMatchObject({
      kind: 'docker', command: ['python', 'train.py', '--epochs', '{{ params.epochs }}'], secrets: ['wandb_api_key', 'db.password'],
      docker: {
        image: 'ghcr.io/acme/trainer:1.4', entrypoint: ['/entry.sh'], user: '1000', memoryBytes: 30 * 1024 ** 3, cpus: 8, gpus: 1,
        volumes: [{ source: '/srv/datasets', target: '/data', readOnly: true }, { source: 'models', target: '/models', readOnly: false }],
      },
    });
    expect(dag.tasks[2]).toMatchObject({ kind: 'docker', command: [], secrets: [], docker: { image: 'hello-world', network: 'none' } });
  });

  it('reads a single secret as a list', () => {
    expect(parseYamlDags('id: a\ntasks:\n  t:\n    docker: { image: x }\n    secrets: k\n', FILE)[0].tasks[0].secrets).toEqual(['k']);
  });

  it.each<[string, string, string]>([
    ['shell then docker', 'id: etl\ntasks:\n  a:\n    shell: x\n    docker: { image: y }\n',
      'dags/nightly.yaml:5: DAG "etl", task "a": task has both "shell" and "docker". Fix: keep one: "shell" runs a process on the worker; a container\'s command goes inside docker: { image: …, command: [...] }.'],
    ['docker then command', 'id: etl\ntasks:\n  a:\n    docker: { image: y }\n    command: [x]\n',
      'dags/nightly.yaml:5: DAG "etl", task "a": task has both "command" and "docker". Fix: keep one: "command" runs a process on the worker; a container\'s command goes inside docker: { image: …, command: [...] }.'],
    ['an unknown docker key', 'id: etl\ntasks:\n  a:\n    docker:\n      image: y\n      pullPolicy: always\n',
      'dags/nightly.yaml:6: DAG "etl", task "a": unknown docker key "pullPolicy". Fix: did you mean "pull_policy"? use only image, command, entrypoint, pull_policy, user, volumes, network, labels, registry_credentials, resources, gpu_mode, runtime, auto_remove, secrets_path.'],
    ['an unknown resources key', 'id: etl\ntasks:\n  a:\n    docker:\n      image: y\n      resources:\n        cpu: 2\n',
      'dags/nightly.yaml:7: DAG "etl", task "a": unknown resources key "cpu". Fix: did you mean "cpus"? use only cpus, memory, gpus.'],
    ['an unknown volume key', 'id: etl\ntasks:\n  a:\n    docker:\n      image: y\n      volumes:\n        - source: /a\n          target: /b\n          readOnly: true\n',
      'dags/nightly.yaml:9: DAG "etl", task "a": unknown volume key "readOnly". Fix: did you mean "read_only"? use only source, target, read_only.'],
    ['docker that is not a mapping', 'id: etl\ntasks:\n  a:\n    docker: python:3\n',
      'dags/nightly.yaml:4: DAG "etl", task "a": docker must be a mapping (got "python:3"). Fix: use e.g. docker: { image: "python:3.12-slim", command: [python, run.py] }.'],
    ['docker in defaults', 'id: etl\ndefaults:\n  docker: { image: y }\ntasks: { a: { shell: x } }\n',
      'dags/nightly.yaml:3: DAG "etl": unknown defaults key "docker". Fix: use only retries, retry_delay, retry_backoff, max_retry_delay, timeout, queue, priority, pool, pool_slots, trigger_rule, skip_exit_code, env, cwd, cache, cache_ttl.'],
  ])('rejects %s with its line', (_name, text, message) => {
    expect(yamlError(text).message).toBe(message);
  });

  it('gives the unknown docker key its field and line', () => {
    expect(yamlError('id: etl\ntasks:\n  a:\n    docker:\n      image: y\n      pullPolicy: always\n')).toMatchObject({ field: 'docker.pullPolicy', line: 6, taskId: 'a' });
  });

  it.each<[string, string, number, string]>([
    ['a bad pull policy', 'docker:\n      image: y\n      pull_policy: IfNotPresent\n', 7,
      'docker.pull_policy "IfNotPresent" is not a pull policy. Fix: did you mean "if-not-present"? use one of if-not-present, always, never.'],
    ['a missing image', 'docker:\n      command: [run]\n', 5,
      'docker.image is required, a non-empty image reference (got nothing). Fix: give the image to run, e.g. "python:3.12-slim" or "ghcr.io/org/trainer:1.4".'],
    ['a bad memory', 'docker:\n      image: y\n      resources:\n        cpus: 2\n        memory: 30 gigs\n', 9,
      'docker.resources.memory is not a memory size (got "30 gigs"). Fix: use e.g. \'512m\', \'1.5g\', \'30g\', \'1024k\', or a whole number of bytes.'],
    ['a duplicate volume target (object form)', 'docker:\n      image: y\n      volumes:\n        - /a:/data\n        - source: /b\n          target: /data\n', 10,
      'docker.volumes[1].target "/data" is already the target of docker.volumes[0]. Fix: give each volume its own target.'],
    ['a bad volume string', 'docker:\n      image: y\n      volumes:\n        - /a:/b\n        - ./c:/d\n', 9,
      'docker.volumes[1].source "./c" must be an absolute host path or a volume name. Fix: use e.g. "/srv/data" (a host directory) or "datasets" (a named volume).'],
    ['a volume on the secrets path', 'secrets: [k]\n    docker:\n      image: y\n      secrets_path: /s\n      volumes: ["/a:/s"]\n', 9,
      'docker.volumes[0].target "/s" is where the secrets are mounted (docker.secrets_path). Fix: mount the volume elsewhere, or set docker.secrets_path to another path.'],
    ['a bad secret key', 'docker: { image: y }\n    secrets:\n      - ok\n      - "db password"\n', 8,
      'secrets[1] "db password" is not a variable key: keys are 1 to 250 letters, digits, "_", "." and "-", not only dots. Fix: use the key of a variable, e.g. "db_password".'],
    ['secrets on a process task', 'shell: x\n    secrets: [k]\n', 6,
      'secrets are mounted into containers. Fix: make it a docker task (docker: { image: … }).'],
    ['a bad registry credentials key', 'docker:\n      image: y\n      registry_credentials: "ghcr creds"\n', 7,
      'docker.registry_credentials must be a variable key (got "ghcr creds"). Fix: name the variable that holds {"username", "password", "serveraddress"} as JSON, e.g. "ghcr_credentials".'],
    ['a bad auto_remove', 'docker:\n      image: y\n      auto_remove: maybe\n', 7,
      'docker.auto_remove must be true or false (got "maybe"). Fix: use true (remove the container after each try) or false (keep it to inspect).'],
    ['kind docker without a docker block', 'kind: docker\n', 4,
      'a docker task needs docker settings with an image. Fix: add docker: { image: "python:3.12-slim" }.'],
  ])('points %s at its line, in YAML terms', (_name, body, line, message) => {
    const err = yamlError(`id: etl\ntasks:\n  pre: { shell: x }\n  a:\n    ${body}`, true);
    expect(err.message).toBe(`dags/nightly.yaml:${line}: DAG "etl", task "a": ${message}`);
    expect(err.line).toBe(line);
  });
});

describe('YAML cache settings and outputs', () => {
  it('reads cache, cache_ttl and cache_namespace; a task may opt out; a pinned image is kept', () => {
    const [dag] = loadYamlDags(`id: ml
cache_namespace: ml
defaults: { cache: true, cache_ttl: 12h }
tasks:
  prep: { shell: "prep" }
  train:
    docker: { image: "trainer@sha256:${'a'.repeat(64)}", command: "train {{ outputs.prep.rows }}" }
    upstream: [prep]
  report: { shell: "report", upstream: [train], cache: false }
`, FILE);
    expect(dag.cacheNamespace).toBe('ml');
    expect(dag.tasks.map((t) => [t.id, t.cache, t.cacheTtlMs])).toEqual([['prep', true, 43_200_000], ['train', true, 43_200_000], ['report', undefined, undefined]]);
    expect(dag.tasks[1].docker!.image).toBe(`trainer@sha256:${'a'.repeat(64)}`);
  });

  it('refuses a template reading the outputs of a task that is not upstream, with the YAML spelling', () => {
    const err = yamlError(`id: ml
tasks:
  prep: { shell: "prep" }
  report: { shell: "echo {{ outputs.prep.rows }}" }
`, true);
    expect(err.message).toContain('reads outputs.prep, but "prep" is not upstream of "report" (it has no upstream task)');
    expect(err.message).toContain('upstream: [prep] in YAML');
  });
});
