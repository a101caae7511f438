import { DagCycleError, DagValidationError } from '../errors';
import { errorOf } from '../test-support/error-of';
import type { DagInput, TaskInput } from './dag-input';
import type { DockerSpec, SerializedDag, TaskSpec } from './dag.types';
import { canonicalJson, dagHash, nearestNames, suggestName, validateDag } from './validate-dag';

const FILE = 'examples/dags/etl.ts';

const etl = (over: Partial<DagInput> = {}, tasks?: TaskInput[]): DagInput => ({
  id: 'etl',
  tasks: tasks ?? [
    { id: 'extract', command: 'extract.sh' },
    { id: 'transform', command: ['python', 'transform.py'], upstream: ['extract'] },
    { id: 'load', command: 'load.sh', upstream: ['transform'] },
  ],
  ...over,
});

function invalid(input: unknown): DagValidationError {
  const err = errorOf<DagValidationError>(() => validateDag(input as DagInput, FILE));
  expect(err).toBeInstanceOf(DagValidationError);
  return err;
}

const withTask = (task: Record<string, unknown>) => etl({}, [{ id: 'extract', command: 'x' }, task as unknown as TaskInput]);

describe('validateDag', () => {
  it('applies every built-in default', () => {
    const dag = validateDag(etl(), FILE);
    expect(dag).toEqual<SerializedDag>({
      id: 'etl', description: null, schedule: null, catchup: false, startDate: null,
      maxActiveRuns: 16, maxActiveTasks: 16, params: {}, tags: [], fileloc: FILE,
      tasks: [
        {
          id: 'extract', kind: 'process', command: 'extract.sh', docker: null, secrets: [], env: {}, cwd: null, upstream: [],
          triggerRule: 'all_success', retries: 0, retryDelayMs: 30_000, retryBackoff: 'fixed',
          maxRetryDelayMs: 3_600_000, timeoutMs: null, queue: 'default', priority: 0,
          pool: 'default_pool', poolSlots: 1, skipExitCode: 99,
        },
        expect.objectContaining({ id: 'transform', command: ['python', 'transform.py'], upstream: ['extract'] }),
        expect.objectContaining({ id: 'load', upstream: ['transform'] }),
      ],
    });
  });

  it('applies DAG defaults under task values, merging env', () => {
    const dag = validateDag(
      etl({
        description: 'nightly', schedule: '0 2 * * *', catchup: true, startDate: new Date('2024-01-01T00:00:00Z'),
        maxActiveRuns: 1, maxActiveTasks: 4, tags: ['etl'],
        defaults: {
          retries: 2, retryDelay: '1m', retryBackoff: 'exponential', maxRetryDelay: '10m', timeout: '2h',
          queue: 'gpu', priority: 5, pool: 'db', poolSlots: 2, triggerRule: 'all_done', skipExitCode: null,
          env: { A: '1', B: '1' }, cwd: '/work',
        },
      }, [
        { id: 'a', command: 'x', retries: 0, timeout: null, env: { B: '2' }, queue: 'default', cwd: null },
        { id: 'b', command: 'y', upstream: ['a', 'a'], timeout: 500 },
      ]),
      FILE,
    );
    expect(dag).toMatchObject({ description: 'nightly', schedule: '0 2 * * *', catchup: true, startDate: '2024-01-01T00:00:00.000Z', maxActiveRuns: 1, maxActiveTasks: 4, tags: ['etl'] });
    expect(dag.tasks[0]).toEqual({
      id: 'a', kind: 'process', command: 'x', docker: null, secrets: [], env: { A: '1', B: '2' }, cwd: null, upstream: [],
      triggerRule: 'all_done', retries: 0, retryDelayMs: 60_000, retryBackoff: 'exponential',
      maxRetryDelayMs: 600_000, timeoutMs: null, queue: 'default', priority: 5, pool: 'db', poolSlots: 2, skipExitCode: null,
    });
    expect(dag.tasks[1]).toMatchObject({ upstream: ['a'], timeoutMs: 500, queue: 'gpu', cwd: '/work', retries: 2, env: { A: '1', B: '1' } });
  });

  it('does not share env objects between tasks or with the input', () => {
    const input = etl({ defaults: { env: { A: '1' } } });
    const dag = validateDag(input, FILE);
    dag.tasks[0].env.A = 'changed';
    expect(dag.tasks[1].env.A).toBe('1');
    expect(input.defaults!.env!.A).toBe('1');
  });

  it('reports an unknown upstream with the nearest names', () => {
    const err = invalid(etl({}, [
      { id: 'extract', command: 'x' },
      { id: 'transform', command: 'y' },
      { id: 'load', command: 'z', upstream: ['extrct'] },
    ]));
    expect(err.message).toBe('examples/dags/etl.ts: DAG "etl", task "load": upstream "extrct" does not exist. Fix: use one of extract, transform.');
    expect(err).toMatchObject({ file: FILE, dagId: 'etl', taskId: 'load', field: 'upstream', fix: 'use one of extract, transform' });
  });

  it('suggests at most five names, nearest first', () => {
    const tasks = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta'].map((id) => ({ id, command: 'x' }));
    const err = invalid(etl({}, [...tasks, { id: 'last', command: 'x', upstream: ['zetta'] }]));
    expect(err.fix).toBe('use one of zeta, beta, delta, eta, alpha');
  });

  it('reports a cycle with its path', () => {
    const err = invalid(etl({}, [
      { id: 'a', command: 'x', upstream: ['c'] },
      { id: 'b', command: 'x', upstream: ['a'] },
      { id: 'c', command: 'x', upstream: ['b'] },
      { id: 'd', command: 'x', upstream: ['c'] },
    ]));
    expect(err).toBeInstanceOf(DagCycleError);
    expect((err as DagCycleError).path).toEqual(['a', 'b', 'c', 'a']);
    expect(err.message).toBe('examples/dags/etl.ts: DAG "etl", task "a": upstream links form a cycle: a -> b -> c -> a. Fix: remove one of these links so that no task depends on itself.');
    expect(err).toMatchObject({ taskId: 'a', field: 'upstream' });
  });

  it('reports a task that is its own upstream as a cycle', () => {
    const err = invalid(etl({}, [{ id: 'a', command: 'x', upstream: ['a'] }]));
    expect(err).toBeInstanceOf(DagCycleError);
    expect((err as DagCycleError).path).toEqual(['a', 'a']);
    expect(err.message).toContain('upstream links form a cycle: a -> a.');
  });

  it('finds a cycle at the end of a 3,000-task chain without overflowing the stack', () => {
    const tasks: TaskInput[] = Array.from({ length: 3000 }, (_, i) => ({ id: `t${i}`, command: 'x', upstream: i ? [`t${i - 1}`] : ['t2999'] }));
    const err = invalid(etl({}, tasks));
    expect((err as DagCycleError).path).toHaveLength(3001);
  });

  it.each<[string, unknown, string]>([
    ['a non-object', 'etl', `examples/dags/etl.ts: a DAG definition must be an object (got "etl"). Fix: pass { id, tasks, ... } to dag().`],
    ['a missing id', { tasks: [] }, `examples/dags/etl.ts: DAG id must be a non-empty string (got nothing). Fix: give it an id like "my_dag".`],
    ['a bad DAG id', { id: 'my etl', tasks: [] }, `examples/dags/etl.ts: DAG id "my etl" may only contain letters, digits, "_", "." and "-". Fix: rename it, e.g. "my_etl".`],
    ['a too long DAG id', { id: 'x'.repeat(251), tasks: [] }, `examples/dags/etl.ts: DAG id is 251 characters long, more than 250. Fix: use a shorter id.`],
    ['an unknown DAG key', etl({ scheduel: '@daily' } as never), `examples/dags/etl.ts: DAG "etl": unknown DAG key "scheduel". Fix: did you mean "schedule"? use only id, description, schedule, catchup, startDate, maxActiveRuns, maxActiveTasks, params, defaults, tags, cacheNamespace, tasks.`],
    ['a bad cron', etl({ schedule: '61 * * * *' }), `examples/dags/etl.ts: DAG "etl": invalid cron expression "61 * * * *": Constraint error, got value 61 expected range 0-59. Fix: use a cron like "0 3 * * *", a preset (@hourly, @daily, @weekly, @monthly, @yearly, @once), or null for manual runs only.`],
    ['a bad preset', etl({ schedule: '@dialy' }), `examples/dags/etl.ts: DAG "etl": unknown schedule preset "@dialy" (use one of @once, @hourly, @daily, @weekly, @monthly, @yearly, @annually). Fix: use a cron like "0 3 * * *", a preset (@hourly, @daily, @weekly, @monthly, @yearly, @once), or null for manual runs only.`],
    ['a non-boolean catchup', etl({ catchup: 'yes' as never }), `examples/dags/etl.ts: DAG "etl": catchup must be true or false (got "yes"). Fix: use true or false.`],
    ['a bad start date', etl({ startDate: 'yesterday' }), `examples/dags/etl.ts: DAG "etl": startDate must be an ISO date (got "yesterday"). Fix: use e.g. '2024-01-01' or '2024-01-01T00:00:00Z'.`],
    ['zero maxActiveRuns', etl({ maxActiveRuns: 0 }), `examples/dags/etl.ts: DAG "etl": maxActiveRuns must be a whole number >= 1 (got 0). Fix: use 1 or more.`],
    ['fractional maxActiveTasks', etl({ maxActiveTasks: 1.5 }), `examples/dags/etl.ts: DAG "etl": maxActiveTasks must be a whole number >= 1 (got 1.5). Fix: use 1 or more.`],
    ['bad tags', etl({ tags: 'etl' as never }), `examples/dags/etl.ts: DAG "etl": tags must be an array of strings (got "etl"). Fix: use e.g. ["ml", "nightly"].`],
    ['no tasks', etl({ tasks: [] }), `examples/dags/etl.ts: DAG "etl": the DAG has no tasks. Fix: create tasks inside the dag() callback with shell() or task(), or list them in tasks.`],
    ['a bad default in defaults', etl({ defaults: { retries: -1 } }), `examples/dags/etl.ts: DAG "etl": defaults.retries must be a whole number >= 0 (got -1). Fix: set retries to 0 or more (the number of extra tries).`],
    ['an unknown key in defaults', etl({ defaults: { retry: 1 } as never }), `examples/dags/etl.ts: DAG "etl": unknown defaults key "retry". Fix: did you mean "retries"? use only retries, retryDelay, retryBackoff, maxRetryDelay, timeout, queue, priority, pool, poolSlots, triggerRule, skipExitCode, env, cwd, cache, cacheTtl.`],
  ])('rejects %s', (_name, input, message) => {
    expect(invalid(input).message).toBe(message);
  });

  it.each<[string, Record<string, unknown>, string, string]>([
    ['a bad task id', { id: 'lo ad', command: 'x' }, 'tasks[1].id', `examples/dags/etl.ts: DAG "etl": task id "lo ad" may only contain letters, digits, "_", "." and "-". Fix: rename it, e.g. "lo_ad".`],
    ['a duplicate task id', { id: 'extract', command: 'x' }, 'id', `examples/dags/etl.ts: DAG "etl", task "extract": task id "extract" is used twice. Fix: give each task a unique id.`],
    ['an unknown task key', { id: 'load', command: 'x', retires: 3 }, 'retires', `examples/dags/etl.ts: DAG "etl", task "load": unknown task key "retires". Fix: did you mean "retries"? use only id, kind, command, docker, secrets, upstream, retries, retryDelay, retryBackoff, maxRetryDelay, timeout, queue, priority, pool, poolSlots, triggerRule, skipExitCode, env, cwd, cache, cacheTtl.`],
    ['an unknown kind', { id: 'load', command: 'x', kind: 'container' }, 'kind', `examples/dags/etl.ts: DAG "etl", task "load": kind "container" is not a task kind. Fix: did you mean "docker"? use one of process, docker, or leave kind out: a task with docker settings is a docker task.`],
    ['an empty command', { id: 'load', command: '  ' }, 'command', `examples/dags/etl.ts: DAG "etl", task "load": command is empty. Fix: give a shell command like "python train.py", or an argv array like ["python", "train.py"].`],
    ['an empty argv', { id: 'load', command: [] }, 'command', `examples/dags/etl.ts: DAG "etl", task "load": command is an empty array. Fix: give a shell command like "python train.py", or an argv array like ["python", "train.py"].`],
    ['a non-string argv part', { id: 'load', command: ['python', 3] }, 'command', `examples/dags/etl.ts: DAG "etl", task "load": command[1] must be a string (got 3). Fix: quote it: "3".`],
    ['a missing command', { id: 'load' }, 'command', `examples/dags/etl.ts: DAG "etl", task "load": command must be a string or an array of strings (got nothing). Fix: give a shell command like "python train.py", or an argv array like ["python", "train.py"].`],
    ['a non-array upstream', { id: 'load', command: 'x', upstream: 'extract' }, 'upstream', `examples/dags/etl.ts: DAG "etl", task "load": upstream must be an array of task ids (got "extract"). Fix: use e.g. ["extract"].`],
    ['negative retries', { id: 'load', command: 'x', retries: -1 }, 'retries', `examples/dags/etl.ts: DAG "etl", task "load": retries must be a whole number >= 0 (got -1). Fix: set retries to 0 or more (the number of extra tries).`],
    ['a bad retryDelay', { id: 'load', command: 'x', retryDelay: '30 seconds' }, 'retryDelay', `examples/dags/etl.ts: DAG "etl", task "load": retryDelay is not a duration (got "30 seconds"). Fix: use e.g. '500ms', '30s', '5m', '2h' or '1d', or a number of milliseconds.`],
    ['a negative maxRetryDelay', { id: 'load', command: 'x', maxRetryDelay: -5 }, 'maxRetryDelay', `examples/dags/etl.ts: DAG "etl", task "load": maxRetryDelay must be a non-negative number of milliseconds (got -5). Fix: use e.g. 30000 or '30s'.`],
    ['a zero timeout', { id: 'load', command: 'x', timeout: '0s' }, 'timeout', `examples/dags/etl.ts: DAG "etl", task "load": timeout must be more than 0. Fix: use e.g. '2h', or null for no timeout.`],
    ['an unknown backoff', { id: 'load', command: 'x', retryBackoff: 'linear' }, 'retryBackoff', `examples/dags/etl.ts: DAG "etl", task "load": retryBackoff "linear" is not a retry backoff. Fix: use one of fixed, exponential.`],
    ['an unknown trigger rule', { id: 'load', command: 'x', triggerRule: 'all_sucess' }, 'triggerRule', `examples/dags/etl.ts: DAG "etl", task "load": triggerRule "all_sucess" is not a trigger rule. Fix: did you mean "all_success"? use one of all_success, all_failed, all_done, one_success, one_failed, none_failed, none_failed_min_one_success, none_skipped, always.`],
    ['a bad queue name', { id: 'load', command: 'x', queue: 'gpu queue' }, 'queue', `examples/dags/etl.ts: DAG "etl", task "load": queue name "gpu queue" may only contain letters, digits, "_", "." and "-". Fix: use a name like "gpu".`],
    ['a bad pool name', { id: 'load', command: 'x', pool: '' }, 'pool', `examples/dags/etl.ts: DAG "etl", task "load": pool name "" may only contain letters, digits, "_", "." and "-". Fix: use a name like "default_pool".`],
    ['a fractional priority', { id: 'load', command: 'x', priority: 0.5 }, 'priority', `examples/dags/etl.ts: DAG "etl", task "load": priority must be a whole number (got 0.5). Fix: use a whole number, higher runs first.`],
    ['zero poolSlots', { id: 'load', command: 'x', poolSlots: 0 }, 'poolSlots', `examples/dags/etl.ts: DAG "etl", task "load": poolSlots must be a whole number >= 1 (got 0). Fix: use 1 or more.`],
    ['skipExitCode 0', { id: 'load', command: 'x', skipExitCode: 0 }, 'skipExitCode', `examples/dags/etl.ts: DAG "etl", task "load": skipExitCode must be a whole number from 1 to 255, or null (got 0). Fix: use e.g. 99, or null to never skip.`],
    ['a non-string env value', { id: 'load', command: 'x', env: { PORT: 80 } }, 'env', `examples/dags/etl.ts: DAG "etl", task "load": env.PORT must be a string (got 80). Fix: quote it: "PORT": "80".`],
    ['a non-object env', { id: 'load', command: 'x', env: ['A=1'] }, 'env', `examples/dags/etl.ts: DAG "etl", task "load": env must be an object of strings (got ["A=1"]). Fix: use e.g. { "LOG_LEVEL": "info" }.`],
    ['an empty cwd', { id: 'load', command: 'x', cwd: '' }, 'cwd', `examples/dags/etl.ts: DAG "etl", task "load": cwd must be a non-empty path or null (got ""). Fix: use an absolute path, or null for the worker's own directory.`],
  ])('rejects a task with %s', (_name, task, field, message) => {
    const err = invalid(withTask(task));
    expect(err.message).toBe(message);
    expect(err.field).toBe(field);
  });

  describe('params', () => {
    it('keeps valid param specs', () => {
      const params = { epochs: { type: 'integer' as const, default: 10, minimum: 1, description: 'passes' }, region: { type: 'string' as const, enum: ['eu', 'us'] } };
      expect(validateDag(etl({ params }), FILE).params).toEqual(params);
    });

    it.each<[string, unknown, string, string]>([
      ['a default of the wrong type', { epochs: { type: 'integer', default: 'ten' } }, 'params.epochs.default', `examples/dags/etl.ts: DAG "etl": params.epochs.default must be integer (got "ten"). Fix: make the default match the param's type and limits, or change the type.`],
      ['a default below its minimum', { epochs: { type: 'integer', default: 0, minimum: 1 } }, 'params.epochs.default', `examples/dags/etl.ts: DAG "etl": params.epochs.default must be >= 1 (got 0). Fix: make the default match the param's type and limits, or change the type.`],
      ['a default outside its enum', { region: { type: 'string', default: 'asia', enum: ['eu', 'us'] } }, 'params.region.default', `examples/dags/etl.ts: DAG "etl": params.region.default must be one of "eu", "us" (got "asia"). Fix: make the default match the param's type and limits, or change the type.`],
      ['an unknown type', { epochs: { type: 'int' } }, 'params.epochs.type', `examples/dags/etl.ts: DAG "etl": params.epochs.type "int" is not a param type. Fix: did you mean "integer"? use one of string, integer, number, boolean, array, object.`],
      ['an unknown spec key', { epochs: { type: 'integer', defualt: 3 } }, 'params.epochs.defualt', `examples/dags/etl.ts: DAG "etl": unknown param "epochs" key "defualt". Fix: did you mean "default"? use only type, default, description, enum, minimum, maximum, minLength, maxLength, pattern.`],
      ['a misspelt type', { epochs: { type: 'strin' } }, 'params.epochs.type', `examples/dags/etl.ts: DAG "etl": params.epochs.type "strin" is not a param type. Fix: did you mean "string"? use one of string, integer, number, boolean, array, object.`],
      ['no type', { epochs: { default: 3 } }, 'params.epochs.type', `examples/dags/etl.ts: DAG "etl": params.epochs.type is missing. Fix: set type to one of string, integer, number, boolean, array, object.`],
      ['a bad name', { 'max-epochs': { type: 'integer' } }, 'params.max-epochs', `examples/dags/etl.ts: DAG "etl": param name "max-epochs" is not an identifier. Fix: use letters, digits and "_", not starting with a digit, so that templates can use {{ params.max_epochs }}.`],
      ['a bad pattern', { name: { type: 'string', pattern: '([a-z' } }, 'params.name.pattern', `examples/dags/etl.ts: DAG "etl": params.name.pattern is not a valid regular expression: Invalid regular expression: /([a-z/u: Unterminated character class. Fix: fix the regular expression.`],
      ['an empty enum', { name: { type: 'string', enum: [] } }, 'params.name.enum', `examples/dags/etl.ts: DAG "etl": params.name.enum must be a non-empty array (got []). Fix: list the allowed values, e.g. ["eu", "us"].`],
      ['a non-object spec', { name: 'string' }, 'params.name', `examples/dags/etl.ts: DAG "etl": params.name must be a param spec object (got "string"). Fix: use e.g. { type: 'string', default: 'eu' }.`],
    ])('rejects %s', (_name, params, field, message) => {
      const err = invalid(etl({ params: params as never }));
      expect(err.message).toBe(message);
      expect(err.field).toBe(field);
      expect(err.taskId).toBeNull();
    });
  });

  const RULES = 'all_success, all_failed, all_done, one_success, one_failed, none_failed, none_failed_min_one_success, none_skipped, always';
  it.each<[unknown, string | null]>([
    ['all_sucess', 'all_success'],
    ['ALL_SUCCESS', 'all_success'],
    ['all-success', 'all_success'],
    ['allSuccess', 'all_success'],
    ['one_faild', 'one_failed'],
    ['none_failed_min_one_sucess', 'none_failed_min_one_success'],
    ['none_failed_or_skipped', 'none_failed_min_one_success'],
    ['dummy', 'always'],
    ['sometimes', null],
    [3, null],
  ])('refuses the trigger rule %p, suggesting %p and listing the rules', (rule, meant) => {
    const hint = meant ? `did you mean "${meant}"? ` : '';
    expect(invalid(withTask({ id: 'load', command: 'x', triggerRule: rule }))).toMatchObject({
      field: 'triggerRule', problem: `triggerRule ${JSON.stringify(rule)} is not a trigger rule`, fix: `${hint}use one of ${RULES}`,
    });
    expect(invalid(etl({ defaults: { triggerRule: rule as never } }))).toMatchObject({ field: 'defaults.triggerRule', fix: `${hint}use one of ${RULES}` });
  });

  it.each<[string, Record<string, unknown>, string, string]>([
    ['a misspelt backoff', { retryBackoff: 'exponentail' }, 'retryBackoff', 'retryBackoff "exponentail" is not a retry backoff. Fix: did you mean "exponential"? use one of fixed, exponential.'],
    ['a misspelt kind', { kind: 'dockr' }, 'kind', 'kind "dockr" is not a task kind. Fix: did you mean "docker"? use one of process, docker, or leave kind out: a task with docker settings is a docker task.'],
    ['the SDK\'s word for a kind', { kind: 'shell' }, 'kind', 'kind "shell" is not a task kind. Fix: did you mean "process"? use one of process, docker, or leave kind out: a task with docker settings is a docker task.'],
  ])('suggests the nearest value for %s', (_name, over, field, message) => {
    const err = invalid(withTask({ id: 'load', command: 'x', ...over }));
    expect(err.message).toBe(`${FILE}: DAG "etl", task "load": ${message}`);
    expect(err.field).toBe(field);
  });

  it('spells fields with the given spelling, in the field and in the message', () => {
    const upper = (field: string, taskId: string | null) => `${taskId ?? 'dag'}:${field.toUpperCase()}`;
    const err = errorOf<DagValidationError>(() => validateDag(withTask({ id: 'load', command: 'x', retryDelay: 'soon' }), FILE, { spelling: upper }));
    expect(err).toMatchObject({ field: 'load:RETRYDELAY', taskId: 'load' });
    expect(err.message).toBe(`${FILE}: DAG "etl", task "load": load:RETRYDELAY is not a duration (got "soon"). Fix: use e.g. '500ms', '30s', '5m', '2h' or '1d', or a number of milliseconds.`);
    expect(errorOf<DagValidationError>(() => validateDag(etl({ startDate: 'x' }), FILE, { spelling: upper })).field).toBe('dag:STARTDATE');
  });

  it('keeps the SDK\'s camelCase names by default', () => {
    expect(invalid(withTask({ id: 'load', command: 'x', retryDelay: 'soon' }))).toMatchObject({ field: 'retryDelay' });
    expect(invalid(etl({ defaults: { poolSlots: 0 } }))).toMatchObject({ field: 'defaults.poolSlots', problem: 'defaults.poolSlots must be a whole number >= 1 (got 0)' });
  });

  describe('templates', () => {
    const params = { region: { type: 'string', default: 'eu' }, limit: { type: 'integer', default: 10 } } as const;
    const templated = (task: Record<string, unknown>, over: Partial<DagInput> = {}) =>
      etl({ params, ...over }, [{ id: 'extract', command: 'x' }, { id: 'load', ...task } as unknown as TaskInput]);
    const LOAD = `${FILE}: DAG "etl", task "load": `;

    it.each<[string, Record<string, unknown>, string, string]>([
      ['a shell command', { command: 'echo {{ params.y }}' }, 'command',
        `command reads params.y, a param the DAG does not declare (its params: region, limit). Fix: declare "y" under params, e.g. params: { y: { type: 'string', default: '…' } }, or give it a fallback: {{ params.y | default('…') }}; a value given only in a trigger's conf is read as {{ conf.y }}.`],
      ['an argv part, with the nearest param', { command: ['load.sh', '--region', '{{ params.regoin }}'] }, 'command[2]',
        `command[2] reads params.regoin, a param the DAG does not declare (its params: region, limit). Fix: did you mean params.region? if not, declare "regoin" under params, e.g. params: { regoin: { type: 'string', default: '…' } }.`],
      ['an env value', { command: 'x', env: { LIMIT: '{{ params.limt }}' } }, 'env.LIMIT',
        `env.LIMIT reads params.limt, a param the DAG does not declare (its params: region, limit). Fix: did you mean params.limit? if not, declare "limt" under params, e.g. params: { limt: { type: 'string', default: '…' } }.`],
      ['a docker image', { docker: { image: 'trainer:{{ params.tag }}' } }, 'docker.image',
        `docker.image reads params.tag, a param the DAG does not declare (its params: region, limit). Fix: declare "tag" under params, e.g. params: { tag: { type: 'string', default: '…' } }, or give it a fallback: {{ params.tag | default('…') }}; a value given only in a trigger's conf is read as {{ conf.tag }}.`],
      ['Airflow\'s params.get', { command: "echo {{ params.get('y') }}" }, 'command',
        `command calls params.get(…), which templates do not have (its params: region, limit). Fix: write {{ params.x }} for a declared param x, or {{ params.x | default('…') }} for one that may be missing.`],
      ['a misspelt filter', { command: 'echo {{ ds | uppr }}' }, 'command',
        expect.stringMatching(/^command uses the filter "uppr", which nunjucks does not have\. Fix: did you mean "upper"\? the filters are .*\bdefault\b.*\.$/) as unknown as string],
      ['a docker entrypoint', { docker: { image: 'trainer', entrypoint: '{{ parms.entry }}' } }, 'docker.entrypoint',
        `docker.entrypoint reads "parms", which is not a template variable. Fix: did you mean "params"? the variables are params, conf, dag_id, run_id, task_id, try_number, ds, ds_nodash, ts, logical_date, outputs.`],
      ['a docker command', { docker: { image: 'trainer' }, command: ['run', '{{ dss }}'] }, 'command[1]',
        `command[1] reads "dss", which is not a template variable. Fix: did you mean "ds"? the variables are params, conf, dag_id, run_id, task_id, try_number, ds, ds_nodash, ts, logical_date, outputs.`],
      ['Airflow\'s execution_date', { command: 'run {{ execution_date }}' }, 'command',
        `command reads "execution_date", which is not a template variable. Fix: use {{ logical_date }}, {{ ds }} or {{ ts }}; the variables are params, conf, dag_id, run_id, task_id, try_number, ds, ds_nodash, ts, logical_date, outputs.`],
      ['a syntax error', { command: 'echo ${#FILES[@]}' }, 'command',
        `command is not a valid template: expected end of comment, got end of file. Fix: check the {{ }}, {% %} and {# #} pairs; to keep such text as is (e.g. the shell's \${#list}), wrap it in {% raw %}…{% endraw %}.`],
    ])('refuses an undeclared param or unknown name in %s', (_name, task, field, message) => {
      const err = invalid(templated(task));
      expect(err.message.slice(0, LOAD.length)).toBe(LOAD);
      expect(err.message.slice(LOAD.length)).toEqual(message);
      expect(err).toMatchObject({ taskId: 'load', field });
    });

    it('says when the DAG declares no params', () => {
      expect(invalid(etl({}, [{ id: 'load', command: 'load --region {{ params.region }}' }])).problem).toBe(
        'command reads params.region, a param the DAG does not declare (it declares none)',
      );
    });

    it('checks the env of the DAG defaults once, as a DAG field', () => {
      expect(invalid(templated({ command: 'x' }, { defaults: { env: { DAY: '{{ ds }}', REGION: '{{ params.regoin }}' } } }))).toMatchObject({
        taskId: null, field: 'defaults.env.REGION', problem: 'defaults.env.REGION reads params.regoin, a param the DAG does not declare (its params: region, limit)',
      });
    });

    it('accepts templates that read declared params, through filters, defaults and nested fields', () => {
      const dag = validateDag(templated({
        command: ['load', '--region', '{{ params.region | upper }}', '--limit', '{{ params.limit | default(5) }}', '--key', '{{ params.cfg.key | default("k") }}'],
        env: { DAY: '{{ ds_nodash }}', RUN: '{{ run_id }}', OPT: '{{ params.optional | default("") }}', CONF: '{{ conf.extra }}' },
      }, { params: { ...params, cfg: { type: 'object', default: { key: 'a' } } } }), FILE);
      expect(dag.tasks[1].env).toMatchObject({ DAY: '{{ ds_nodash }}' });
    });
  });

  it('accepts every preset and 5- and 6-field crons', () => {
    for (const schedule of ['@once', '@hourly', '@daily', '@weekly', '@monthly', '@yearly', '*/5 * * * *', '0 */10 * * * *', null]) {
      expect(validateDag(etl({ schedule }), FILE).schedule).toBe(schedule);
    }
  });
});

describe('validateDag: docker tasks', () => {
  const SHA = 'b'.repeat(64);
  const train = (over: Record<string, unknown> = {}, docker: Record<string, unknown> = {}) =>
    withTask({ id: 'train', docker: { image: 'ghcr.io/acme/trainer:1.4', ...docker }, ...over });
  const trainSpec = (input: DagInput) => validateDag(input, FILE).tasks[1];

  it('gives process tasks no docker settings and no secrets', () => {
    expect(validateDag(etl(), FILE).tasks.map((t) => [t.kind, t.docker, t.secrets])).toEqual([
      ['process', null, []], ['process', null, []], ['process', null, []],
    ]);
    expect(trainSpec(withTask({ id: 'train', command: 'x', kind: 'process', secrets: [] }))).toMatchObject({ kind: 'process', docker: null, secrets: [] });
  });

  it('applies every container default', () => {
    expect(trainSpec(train())).toEqual<TaskSpec>({
      id: 'train', kind: 'docker', command: [], secrets: [], env: {}, cwd: null, upstream: [],
      docker: {
        image: 'ghcr.io/acme/trainer:1.4', pullPolicy: 'if-not-present', entrypoint: null, user: null, volumes: [],
        network: 'none', labels: {}, registryCredentials: null, cpus: null, memoryBytes: null, gpus: 0,
        gpuMode: 'device-request', runtime: null, autoRemove: true, secretsPath: '/secrets/variables',
      },
      triggerRule: 'all_success', retries: 0, retryDelayMs: 30_000, retryBackoff: 'fixed', maxRetryDelayMs: 3_600_000,
      timeoutMs: null, queue: 'default', priority: 0, pool: 'default_pool', poolSlots: 1, skipExitCode: 99,
    });
  });

  it('keeps every container setting, with DAG defaults applied under the task', () => {
    const params = { epochs: { type: 'integer', default: 10 }, tag: { type: 'string', default: '1.4' } } as const;
    const input = etl({ params, defaults: { retries: 2, queue: 'gpu', env: { A: '1' } } }, [
      { id: 'extract', command: 'x' },
      {
        id: 'train', kind: 'docker', command: ['python', 'train.py', '--epochs', '{{ params.epochs }}'], upstream: ['extract'],
        secrets: ['wandb_api_key', 'db.password'], env: { B: '2' }, cwd: '/work', timeout: '2h',
        docker: {
          image: `trainer:{{ params.tag }}@sha256:${SHA}`, pullPolicy: 'always', entrypoint: '/entry.sh', user: 1000,
          volumes: ['/srv/datasets:/data:ro', 'models:/models', '/tmp/x:/scratch:rw', { source: '/etc/ssl', target: '/ssl', readOnly: true }],
          network: 'etl_net', labels: { 'com.acme.team': 'ml' }, registryCredentials: 'ghcr_credentials',
          resources: { cpus: 7.5, memory: '30g', gpus: 2 }, gpuMode: 'runtime', autoRemove: false, secretsPath: '/run/secrets',
        },
      },
    ]);
    expect(trainSpec(input)).toEqual<TaskSpec>({
      id: 'train', kind: 'docker', command: ['python', 'train.py', '--epochs', '{{ params.epochs }}'], upstream: ['extract'],
      secrets: ['wandb_api_key', 'db.password'], env: { A: '1', B: '2' }, cwd: '/work',
      docker: {
        image: `trainer:{{ params.tag }}@sha256:${SHA}`, pullPolicy: 'always', entrypoint: ['/entry.sh'], user: '1000',
        volumes: [
          { source: '/srv/datasets', target: '/data', readOnly: true }, { source: 'models', target: '/models', readOnly: false },
          { source: '/tmp/x', target: '/scratch', readOnly: false }, { source: '/etc/ssl', target: '/ssl', readOnly: true },
        ],
        network: 'etl_net', labels: { 'com.acme.team': 'ml' }, registryCredentials: 'ghcr_credentials',
        cpus: 7.5, memoryBytes: 30 * 1024 ** 3, gpus: 2, gpuMode: 'runtime', runtime: 'nvidia', autoRemove: false, secretsPath: '/run/secrets',
      },
      triggerRule: 'all_success', retries: 2, retryDelayMs: 30_000, retryBackoff: 'fixed', maxRetryDelayMs: 3_600_000,
      timeoutMs: 7_200_000, queue: 'gpu', priority: 0, pool: 'default_pool', poolSlots: 1, skipExitCode: 99,
    });
  });

  it.each<[Record<string, unknown>, Partial<DockerSpec>]>([
    [{ gpuMode: 'runtime', runtime: 'nvidia-experimental' }, { gpuMode: 'runtime', runtime: 'nvidia-experimental' }],
    [{ runtime: 'runsc' }, { gpuMode: 'device-request', runtime: 'runsc' }],
    [{ network: 'container:db', entrypoint: null, user: 'nobody:nogroup' }, { network: 'container:db', entrypoint: null, user: 'nobody:nogroup' }],
    [{ resources: { memory: 536870912, cpus: 0.5 } }, { memoryBytes: 536870912, cpus: 0.5, gpus: 0 }],
    [{ resources: { memory: '1.5g' } }, { memoryBytes: 1.5 * 1024 ** 3 }],
    [{ resources: { memory: null, cpus: null } }, { memoryBytes: null, cpus: null }],
  ])('resolves %p', (docker, expected) => {
    expect(trainSpec(train({}, docker)).docker).toMatchObject(expected);
  });

  it('makes a task with docker settings a docker task, with a string command or the image\'s', () => {
    expect(trainSpec(train({ command: 'python train.py' }))).toMatchObject({ kind: 'docker', command: 'python train.py' });
    expect(trainSpec(train({ command: [] })).command).toEqual([]);
  });

  it('does not share container settings between tasks or with the input', () => {
    const input = train({}, { volumes: [{ source: '/a', target: '/b' }], labels: { a: '1' }, entrypoint: ['x'] });
    const spec = trainSpec(input);
    spec.docker!.labels.a = 'changed';
    spec.docker!.volumes[0].target = '/changed';
    spec.docker!.entrypoint!.push('y');
    const docker = input.tasks[1].docker;
    expect(docker).toEqual({ image: 'ghcr.io/acme/trainer:1.4', volumes: [{ source: '/a', target: '/b' }], labels: { a: '1' }, entrypoint: ['x'] });
  });

  it('changes the DAG hash when a container setting changes, and keeps keys sorted in it', () => {
    const a = validateDag(train(), FILE);
    expect(dagHash(validateDag(train({}, { pullPolicy: 'always' }), FILE))).not.toBe(dagHash(a));
    const json = canonicalJson(a.tasks[1].docker);
    expect(json.indexOf('"autoRemove"')).toBeLessThan(json.indexOf('"cpus"'));
    expect(json.indexOf('"secretsPath"')).toBeLessThan(json.indexOf('"user"'));
  });

  const A = 'examples/dags/etl.ts: DAG "etl", task "train": ';
  it.each<[string, Record<string, unknown>, Record<string, unknown>, string, string]>([
    ['secrets on a process task', { docker: undefined, command: 'x', secrets: ['db_password'] }, {}, 'secrets', `${A}secrets are mounted into containers. Fix: make it a docker task (docker: { image: … }).`],
    ['docker settings on a process task', { kind: 'process' }, {}, 'kind', `${A}kind is "process" but the task has docker settings. Fix: remove kind to run it in a container, or remove docker to run it as a process.`],
    ['kind docker without settings', { kind: 'docker', command: 'x', docker: undefined }, {}, 'docker', `${A}a docker task needs docker settings with an image. Fix: add docker: { image: "python:3.12-slim" }.`],
    ['non-object docker settings', { docker: 'python:3' }, {}, 'docker', `${A}docker must be an object with at least an image (got "python:3"). Fix: use e.g. docker: { image: "python:3.12-slim" }.`],
    ['no image', {}, { image: undefined }, 'docker.image', `${A}docker.image is required, a non-empty image reference (got nothing). Fix: give the image to run, e.g. "python:3.12-slim" or "ghcr.io/org/trainer:1.4".`],
    ['an image in capitals', {}, { image: 'Acme/Trainer:1.4' }, 'docker.image', `${A}docker.image "Acme/Trainer:1.4" is not a valid image reference: the repository "Acme/Trainer" must be lowercase. Fix: write it in lowercase: "acme/trainer:1.4".`],
    ['a bad digest', {}, { image: 'trainer@sha256:123' }, 'docker.image', `${A}docker.image "trainer@sha256:123" is not a valid image reference: digest "sha256:123" must be <algorithm>:<hex digits>, e.g. "sha256:" and 64 hex digits. Fix: copy the digest from \`docker images --digests\`, or leave out "@…".`],
    ['an unknown docker key', {}, { pulPolicy: 'always' }, 'docker.pulPolicy', `${A}unknown docker key "pulPolicy". Fix: did you mean "pullPolicy"? use only image, pullPolicy, entrypoint, user, volumes, network, labels, registryCredentials, resources, gpuMode, runtime, autoRemove, secretsPath.`],
    ['an unknown pull policy', {}, { pullPolicy: 'IfNotPresent' }, 'docker.pullPolicy', `${A}docker.pullPolicy "IfNotPresent" is not a pull policy. Fix: did you mean "if-not-present"? use one of if-not-present, always, never.`],
    ['an empty command', { command: ' ' }, {}, 'command', `${A}command is empty. Fix: give the container's command as a string (run by /bin/sh -c) or an argv array, or leave it out for the image's default command.`],
    ['a non-string argv part', { command: ['train', 3] }, {}, 'command', `${A}command[1] must be a string (got 3). Fix: quote it: "3".`],
    ['an empty entrypoint', {}, { entrypoint: [] }, 'docker.entrypoint', `${A}docker.entrypoint must be a program or a non-empty argv array of strings (got []). Fix: use e.g. "/bin/bash" or ["python", "-u"], or null for the image's entrypoint.`],
    ['a bad user', {}, { user: 'root user' }, 'docker.user', `${A}docker.user must be "uid[:gid]" or a user name (got "root user"). Fix: use e.g. "1000:1000" or "nobody", or null for the image's user.`],
    ['a relative cwd', { cwd: 'work' }, {}, 'cwd', `${A}cwd "work" must be an absolute path in the container. Fix: use e.g. "/work", or null for the image's working directory.`],
    ['a non-array volumes', {}, { volumes: '/a:/b' }, 'docker.volumes', `${A}docker.volumes must be an array (got "/a:/b"). Fix: use e.g. ["/srv/data:/data:ro"].`],
    ['a volume string without target', {}, { volumes: ['/data'] }, 'docker.volumes[0]', `${A}docker.volumes[0] "/data" must be "source:target" or "source:target:ro". Fix: use e.g. "/srv/data:/data:ro" or { source: "/srv/data", target: "/data", readOnly: true }.`],
    ['a volume mode other than ro/rw', {}, { volumes: ['/a:/b:z'] }, 'docker.volumes[0]', `${A}docker.volumes[0] "/a:/b:z" must be "source:target" or "source:target:ro". Fix: use e.g. "/srv/data:/data:ro" or { source: "/srv/data", target: "/data", readOnly: true }.`],
    ['a relative volume source', {}, { volumes: ['./data:/data'] }, 'docker.volumes[0].source', `${A}docker.volumes[0].source "./data" must be an absolute host path or a volume name. Fix: use e.g. "/srv/data" (a host directory) or "datasets" (a named volume).`],
    ['a relative volume target', {}, { volumes: [{ source: '/a', target: 'data' }] }, 'docker.volumes[0].target', `${A}docker.volumes[0].target "data" must be an absolute path in the container, other than "/". Fix: use e.g. "/data".`],
    ['a volume on /', {}, { volumes: ['/srv:/'] }, 'docker.volumes[0].target', `${A}docker.volumes[0].target "/" must be an absolute path in the container, other than "/". Fix: use e.g. "/data".`],
    ['two volumes on one target', {}, { volumes: ['/a:/data', 'cache:/tmp', { source: 'vol', target: '/data/' }] }, 'docker.volumes[2].target', `${A}docker.volumes[2].target "/data/" is already the target of docker.volumes[0]. Fix: give each volume its own target.`],
    ['an unknown volume key', {}, { volumes: [{ source: '/a', target: '/b', readonly: true }] }, 'docker.volumes[0].readonly', `${A}unknown volume key "readonly". Fix: did you mean "readOnly"? use only source, target, readOnly.`],
    ['a non-boolean readOnly', {}, { volumes: [{ source: '/a', target: '/b', readOnly: 'yes' }] }, 'docker.volumes[0].readOnly', `${A}docker.volumes[0].readOnly must be true or false (got "yes"). Fix: use true or false.`],
    ['a volume on the secrets path', { secrets: ['k'] }, { volumes: ['/x:/secrets/variables/'] }, 'docker.volumes[0].target', `${A}docker.volumes[0].target "/secrets/variables/" is where the secrets are mounted (docker.secretsPath). Fix: mount the volume elsewhere, or set docker.secretsPath to another path.`],
    ['a bad network', {}, { network: 'my net' }, 'docker.network', `${A}docker.network "my net" is not a valid name. Fix: use letters, digits, "_", "." and "-", e.g. "none" (no network), "bridge", "host" or "etl_net".`],
    ['a reserved label', {}, { labels: { 'swarmflow.dag': 'x' } }, 'docker.labels', `${A}docker.labels."swarmflow.dag" uses the "swarmflow." prefix, which Swarmflow keeps for its own labels. Fix: use another prefix, e.g. "com.example.team".`],
    ['a non-string label', {}, { labels: { version: 2 } }, 'docker.labels', `${A}docker.labels."version" must be a string (got 2). Fix: quote it: "version": "2".`],
    ['bad registry credentials', {}, { registryCredentials: 'ghcr creds' }, 'docker.registryCredentials', `${A}docker.registryCredentials must be a variable key (got "ghcr creds"). Fix: name the variable that holds {"username", "password", "serveraddress"} as JSON, e.g. "ghcr_credentials".`],
    ['an unknown resources key', {}, { resources: { memroy: '1g' } }, 'docker.resources.memroy', `${A}unknown resources key "memroy". Fix: did you mean "memory"? use only cpus, memory, gpus.`],
    ['zero cpus', {}, { resources: { cpus: 0 } }, 'docker.resources.cpus', `${A}docker.resources.cpus must be a number of cores > 0 (got 0). Fix: use e.g. 2 or 0.5, or leave it out for no limit.`],
    ['a bad memory', {}, { resources: { memory: '30 gigs' } }, 'docker.resources.memory', `${A}docker.resources.memory is not a memory size (got "30 gigs"). Fix: use e.g. '512m', '1.5g', '30g', '1024k', or a whole number of bytes.`],
    ['a memory under 6m', {}, { resources: { memory: '1m' } }, 'docker.resources.memory', `${A}docker.resources.memory is 1048576 bytes, less than Docker's minimum of 6m. Fix: use at least '6m', e.g. '512m'.`],
    ['fractional gpus', {}, { resources: { gpus: 1.5 } }, 'docker.resources.gpus', `${A}docker.resources.gpus must be a whole number >= 0 (got 1.5). Fix: use the number of GPUs, e.g. 1, or 0 for none.`],
    ['an unknown gpu mode', {}, { gpuMode: 'cdi' }, 'docker.gpuMode', `${A}docker.gpuMode "cdi" is not a GPU mode. Fix: use one of device-request, runtime.`],
    ['a bad runtime', {}, { runtime: 'container:x' }, 'docker.runtime', `${A}docker.runtime "container:x" is not a valid name. Fix: use letters, digits, "_", "." and "-", e.g. "nvidia" or "runsc".`],
    ['a non-boolean autoRemove', {}, { autoRemove: 'yes' }, 'docker.autoRemove', `${A}docker.autoRemove must be true or false (got "yes"). Fix: use true (remove the container after each try) or false (keep it to inspect).`],
    ['a relative secretsPath', {}, { secretsPath: 'secrets' }, 'docker.secretsPath', `${A}docker.secretsPath must be an absolute path other than "/", without ".." (got "secrets"). Fix: use e.g. "/secrets/variables".`],
    ['a secretsPath with ..', {}, { secretsPath: '/run/../etc' }, 'docker.secretsPath', `${A}docker.secretsPath must be an absolute path other than "/", without ".." (got "/run/../etc"). Fix: use e.g. "/secrets/variables".`],
    ['non-array secrets', { secrets: 'db_password' }, {}, 'secrets', `${A}secrets must be an array of variable keys (got "db_password"). Fix: use e.g. ["db_password", "api_token"].`],
    ['a bad secret key', { secrets: ['ok', 'db password'] }, {}, 'secrets[1]', `${A}secrets[1] "db password" is not a variable key: keys are 1 to 250 letters, digits, "_", "." and "-", not only dots. Fix: use the key of a variable, e.g. "db_password".`],
    ['a secret key of dots', { secrets: ['..'] }, {}, 'secrets[0]', `${A}secrets[0] ".." is not a variable key: keys are 1 to 250 letters, digits, "_", "." and "-", not only dots. Fix: use the key of a variable, e.g. "db_password".`],
    ['a secret key over 250 characters', { secrets: ['k'.repeat(251)] }, {}, 'secrets[0]', `${A}secrets[0] "${'k'.repeat(251)}" is not a variable key: keys are 1 to 250 letters, digits, "_", "." and "-", not only dots. Fix: use the key of a variable, e.g. "db_password".`],
    ['a secret listed twice', { secrets: ['a', 'b', 'a'] }, {}, 'secrets[2]', `${A}secrets lists "a" twice. Fix: list each variable once.`],
  ])('rejects %s', (_name, over, docker, field, message) => {
    const err = invalid(train(over, docker));
    expect(err.message).toBe(message);
    expect(err).toMatchObject({ file: FILE, dagId: 'etl', taskId: 'train', field });
  });

  it('rejects a relative cwd that a docker task takes from the DAG defaults', () => {
    const err = invalid({ ...train(), defaults: { cwd: 'work' } });
    expect(err.message).toBe(`${A}cwd "work" must be an absolute path in the container. Fix: use e.g. "/work", or null for the image's working directory.`);
  });

  it('keeps container settings and secrets out of the DAG defaults', () => {
    expect(invalid(etl({ defaults: { secrets: ['k'] } as never })).message).toBe(
      'examples/dags/etl.ts: DAG "etl": unknown defaults key "secrets". Fix: use only retries, retryDelay, retryBackoff, maxRetryDelay, timeout, queue, priority, pool, poolSlots, triggerRule, skipExitCode, env, cwd, cache, cacheTtl.',
    );
  });
});

describe('dagHash', () => {
  it('is the sha256 of the canonical JSON and ignores key order', () => {
    const a = validateDag(etl(), FILE);
    const b = { ...Object.fromEntries(Object.entries(a).reverse()) } as SerializedDag;
    expect(dagHash(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(dagHash(b)).toBe(dagHash(a));
  });

  it('changes when anything in the DAG changes', () => {
    const a = validateDag(etl(), FILE);
    const b = validateDag(etl({ defaults: { retries: 1 } }), FILE);
    expect(dagHash(b)).not.toBe(dagHash(a));
  });

  it('canonicalJson sorts keys at every level and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[3,{"y":2,"z":1}]},"b":1}');
  });
});

describe('nearestNames / suggestName', () => {
  it('orders by edit distance, case-insensitively', () => {
    expect(nearestNames('Extrct', ['load', 'transform', 'extract'])).toEqual(['extract', 'load', 'transform']);
  });

  it('suggests only a close name', () => {
    expect(suggestName('retires', ['retries', 'queue'])).toBe('retries');
    expect(suggestName('retry', ['retries', 'queue'])).toBe('retries');
    expect(suggestName('zzz', ['retries', 'queue'])).toBeNull();
  });

  it('suggests the one candidate a short name begins, and none when several do', () => {
    expect(suggestName('int', ['string', 'integer', 'number'])).toBe('integer');
    expect(suggestName('ret', ['retries', 'retryDelay', 'queue'])).toBeNull();
  });
});
