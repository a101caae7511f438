import { DagValidationError } from '@swarmflow/core';
import { describeImportError } from './import-error';

describe('describeImportError', () => {
  it('names the line and column of a TypeScript compile error, quotes the line and says how to fix it', () => {
    // What tsx throws for a file that does not compile: esbuild's message, no structured errors.
    const err = Object.assign(new Error('Transform failed with 1 error:\n/srv/dags/etl/daily.ts:2:46: ERROR: Unexpected "}"'), { name: 'TransformError' });
    const source = 'import { dag } from "swarmflow";\nexport default dag({ id: "daily", tasks: [ }\n';
    expect(describeImportError('etl/daily.ts', err, source)).toBe(
      'etl/daily.ts:2:47: TypeScript syntax error: Unexpected "}"\n' +
      '  export default dag({ id: "daily", tasks: [ }\n' +
      `  ${' '.repeat(46)}^\n` +
      'Fix: correct the code at this line.',
    );
  });

  it('lists every compile error, without a quote when the source could not be read', () => {
    const err = new Error('Transform failed with 2 errors:\n/d/a.ts:1:0: ERROR: Unexpected "<"\n/d/a.ts:3:4: ERROR: Expected ";" but found "x"');
    expect(describeImportError('a.ts', err, null)).toBe(
      'a.ts:1:1: TypeScript syntax error: Unexpected "<"\na.ts:3:5: TypeScript syntax error: Expected ";" but found "x"\n' +
      'Fix: correct the code at these lines.',
    );
  });

  it('keeps a runtime error\'s message and only the stack frames in the file, each once', () => {
    const err = new TypeError('Cannot read properties of undefined (reading \'id\')');
    err.stack = [
      "TypeError: Cannot read properties of undefined (reading 'id') in /srv/dags/etl/daily.ts",
      '    at build (/srv/dags/etl/daily.ts:7:12)',
      '    at Module._compile (node:internal/modules/cjs/loader:1364:14)',
      '    at Object.<anonymous> (/srv/dags/etl/daily.ts:12:1)',
    ].join('\n');
    expect(describeImportError('etl/daily.ts', err, 'source')).toBe(
      "etl/daily.ts: TypeError: Cannot read properties of undefined (reading 'id')\n" +
      '  at build (/srv/dags/etl/daily.ts:7:12)\n  at Object.<anonymous> (/srv/dags/etl/daily.ts:12:1)',
    );
  });

  it('passes a validation error through: it already names the file, the DAG, the task and the fix', () => {
    const err = new DagValidationError({ file: 'x.yaml', dagId: 'x', taskId: 'a', field: 'shell' }, 'shell is empty', 'give the command to run');
    expect(describeImportError('x.yaml', err, null)).toBe(err.message);
  });
});
