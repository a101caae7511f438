import { confMessageForCli, DagCycleError, DagValidationError, InvalidTransitionError, ParamValidationError } from './errors';

describe('core errors', () => {
  it('DagValidationError formats file, DAG, task, problem and fix, and keeps them as fields', () => {
    const err = new DagValidationError({ file: 'examples/dags/etl.ts', dagId: 'etl', taskId: 'load', field: 'upstream' }, 'upstream "extrct" does not exist', 'use one of extract, transform');
    expect(err.message).toBe('examples/dags/etl.ts: DAG "etl", task "load": upstream "extrct" does not exist. Fix: use one of extract, transform.');
    expect(err).toMatchObject({ name: 'DagValidationError', file: 'examples/dags/etl.ts', dagId: 'etl', taskId: 'load', field: 'upstream', line: null, fix: 'use one of extract, transform' });
    expect(err).toBeInstanceOf(Error);
  });

  it('DagValidationError leaves out the parts it does not know', () => {
    expect(new DagValidationError({ file: 'a.yaml', dagId: 'd', taskId: null, field: 'schedule' }, 'bad', 'fix it').message).toBe('a.yaml: DAG "d": bad. Fix: fix it.');
    expect(new DagValidationError({ file: 'a.yaml', dagId: null, taskId: null, field: null }, 'bad', 'fix it').message).toBe('a.yaml: bad. Fix: fix it.');
  });

  it('withLine puts the line after the file', () => {
    const err = new DagValidationError({ file: 'a.yaml', dagId: 'd', taskId: 't', field: 'retries' }, 'bad', 'fix it').withLine(7);
    expect(err.message).toBe('a.yaml:7: DAG "d", task "t": bad. Fix: fix it.');
    expect(err.line).toBe(7);
  });

  it('DagCycleError is a DagValidationError with the cycle path', () => {
    const err = new DagCycleError({ file: 'f.ts', dagId: 'd', taskId: 'a', field: 'upstream' }, ['a', 'b', 'a']);
    expect(err).toBeInstanceOf(DagValidationError);
    expect(err.name).toBe('DagCycleError');
    expect(err.path).toEqual(['a', 'b', 'a']);
    expect(err.message).toBe('f.ts: DAG "d", task "a": upstream links form a cycle: a -> b -> a. Fix: remove one of these links so that no task depends on itself.');
    const lined = err.withLine(3);
    expect(lined).toBeInstanceOf(DagCycleError);
    expect(lined.message).toBe('f.ts:3: DAG "d", task "a": upstream links form a cycle: a -> b -> a. Fix: remove one of these links so that no task depends on itself.');
  });

  it('ParamValidationError reads field, problem, fix', () => {
    const err = new ParamValidationError('conf.epochs', 'must be integer (got "ten")', `pass a whole number, e.g. --conf '{"epochs": 10}'`);
    expect(err.message).toBe(`conf.epochs must be integer (got "ten"). Fix: pass a whole number, e.g. --conf '{"epochs": 10}'.`);
    expect(err).toMatchObject({ name: 'ParamValidationError', field: 'conf.epochs' });
  });

  it('InvalidTransitionError says nothing is allowed for a state with no exits', () => {
    expect(new InvalidTransitionError('none', 'running', []).message).toBe('cannot move a task instance from "none" to "running": it is "none", which may only move to nothing');
  });
});

describe('ParamValidationError for the API and the CLI', () => {
  it('words the fix as a JSON body for the API, and back as --conf for the CLI', () => {
    const err = new ParamValidationError('conf.epochs', 'must be integer (got "ten")', `pass a whole number, e.g. --conf '{"epochs": 10}'`, { hint: 'pass a whole number', conf: { epochs: 10 } });
    expect(err.apiMessage).toBe('conf.epochs must be integer (got "ten"). Fix: pass a whole number, e.g. the body {"conf": {"epochs":10}}.');
    expect(confMessageForCli(err.apiMessage)).toBe(err.message);
    expect(confMessageForCli('conf must be a JSON object')).toBe('conf must be a JSON object');
  });

  it('keeps the fix without its example as the hint, for a form; with no example the hint is the whole fix', () => {
    const err = new ParamValidationError('conf.epochs', 'must be integer (got "ten")', `pass a whole number, e.g. --conf '{"epochs": 10}'`, { hint: 'pass a whole number', conf: { epochs: 10 } });
    expect(err).toMatchObject({ problem: 'must be integer (got "ten")', hint: 'pass a whole number' });
    expect(new ParamValidationError('conf.x', 'is wrong', 'pass another').hint).toBe('pass another');
  });
});
