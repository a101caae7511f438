import { DagValidationError } from '@swarmflow/core';
import { describeImportError } from './import-error';

/** What tsx throws for a file that does not compile: esbuild's message, no structured errors. */
function transformError(...errors: string[]): Error {
  return Object.assign(new Error(`Transform failed with ${errors.length} error(s):\n${errors.join('\n')}`), { name: 'TransformError' });
}

const FIX = 'Fix: correct the syntax there; the file is imported again at the next parse.';

describe('describeImportError', () => {
  it('names the line and column of a compile error, quotes the line with a caret and says how to fix it', () => {
    const source = 'import { dag } from "swarmflow";\r\nexport default dag({ id: "daily", tasks: [ }\r\n';
    const read = (p: string) => (p === '/srv/dags/etl/daily.ts' ? source : null);
    expect(describeImportError('/srv/dags', 'etl/daily.ts', transformError('/srv/dags/etl/daily.ts:2:43: ERROR: Unexpected "}"'), read)).toBe(
      'etl/daily.ts:2:44: TypeScript syntax error: Unexpected "}"\n' +
      '  export default dag({ id: "daily", tasks: [ }\n' +
      `  ${' '.repeat(43)}^\n${FIX}`,
    );
  });

  it('keeps tabs under the caret and counts the column in characters, not bytes', () => {
    const read = () => '\tconst é = [ }\n';
    // esbuild's column 14 is in bytes: "\t" 1, "const " 6, "é" 2, " = [ " 5.
    expect(describeImportError('/d', 'a.ts', transformError('/d/a.ts:1:14: ERROR: Unexpected "}"'), read)).toBe(
      `a.ts:1:14: TypeScript syntax error: Unexpected "}"\n  \tconst é = [ }\n  \t${' '.repeat(12)}^\n${FIX}`,
    );
  });

  it('names the imported module a compile error is in, lists every error and says when esbuild left some out', () => {
    const err = transformError('/d/lib/util.ts:1:0: ERROR: Unexpected "<"', '/d/lib/util.ts:3:4: ERROR: Expected ";" but found "x"', '...');
    expect(describeImportError('/d', 'daily.ts', err, () => null)).toBe(
      'lib/util.ts:1:1: TypeScript syntax error: Unexpected "<"\nlib/util.ts:3:5: TypeScript syntax error: Expected ";" but found "x"\n' +
      '(and more errors after these)\nFix: correct the syntax there (in lib/util.ts, which daily.ts imports); the file is imported again at the next parse.',
    );
  });

  it('calls it a syntax error, not a TypeScript one, in a JavaScript file', () => {
    expect(describeImportError('/d', 'a.js', transformError('/d/a.js:1:0: ERROR: Unexpected "<"'), () => null))
      .toBe(`a.js:1:1: syntax error: Unexpected "<"\n${FIX}`);
  });

  it("keeps a runtime error's message and only the stack frames in the DAG file itself", () => {
    const err = new TypeError("Cannot read properties of undefined (reading 'id')");
    err.stack = [
      "TypeError: Cannot read properties of undefined (reading 'id') in /srv/dags/etl/daily.ts",
      '    at build (/srv/dags/etl/daily.ts:7:12)',
      '    at load (/srv/dags/old/etl/daily.ts:3:1)',
      '    at Module._compile (node:internal/modules/cjs/loader:1364:14)',
      '    at /srv/dags/etl/daily.ts:12:1',
    ].join('\n');
    expect(describeImportError('/srv/dags', 'etl/daily.ts', err, () => null)).toBe(
      "etl/daily.ts:7: TypeError: Cannot read properties of undefined (reading 'id')\n" +
      '  at build (/srv/dags/etl/daily.ts:7:12)\n  at /srv/dags/etl/daily.ts:12:1',
    );
  });

  it('names both lines when a helper module throws: the DAG file\'s call first, then the helper\'s own, labelled as such', () => {
    const err = new Error('NOPE is not set');
    err.stack = [
      'Error: NOPE is not set',
      '    at config (/srv/dags/_shared/config.ts:3:20)',
      '    at <anonymous> (/srv/dags/etl/daily.ts:4:11)',
      '    at Module._compile (node:internal/modules/cjs/loader:1364:14)',
    ].join('\n');
    expect(describeImportError('/srv/dags', 'etl/daily.ts', err, () => null)).toBe(
      'etl/daily.ts:4: Error: NOPE is not set\n  thrown in _shared/config.ts:3, a module etl/daily.ts imports\n  at <anonymous> (/srv/dags/etl/daily.ts:4:11)',
    );
  });

  it('names the helper, imported by the DAG file, when no frame is in the DAG file itself', () => {
    const err = new Error('late');
    err.stack = ['Error: late', '    at tick (/srv/dags/_shared/timer.ts:9:5)', '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)'].join('\n');
    expect(describeImportError('/srv/dags', 'daily.ts', err, () => null)).toBe('_shared/timer.ts:9, imported by daily.ts: Error: late');
  });

  it('describes a thrown value that is not an Error, even one without a prototype', () => {
    expect(describeImportError('/d', 'a.ts', { code: 1 })).toBe('a.ts: the file threw { code: 1 }, not an Error');
    expect(describeImportError('/d', 'a.ts', 'oops')).toBe("a.ts: the file threw 'oops', not an Error");
    expect(describeImportError('/d', 'a.ts', Object.create(null))).toBe('a.ts: the file threw [Object: null prototype] {}, not an Error');
  });

  it('passes a validation error through: it already names the file, the DAG, the task and the fix', () => {
    const err = new DagValidationError({ file: 'x.yaml', dagId: 'x', taskId: 'a', field: 'shell' }, 'shell is empty', 'give the command to run');
    expect(describeImportError('/d', 'x.yaml', err)).toBe(err.message);
  });
});
