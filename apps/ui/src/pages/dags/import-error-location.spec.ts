import { describe, expect, it } from '@jest/globals';
import { locate } from './import-error-location';

// The messages as the DAG processor stores them (see apps/scheduler/src/dag-processor/import-error.spec.ts).
describe('locate (import errors page)', () => {
  it('takes the line of a syntax error in the DAG file itself', () => {
    expect(locate('etl/daily.ts:2:44: TypeScript syntax error: Unexpected "}"\n  export default dag({ }\n  ^\nFix: correct the syntax there; …', 'etl/daily.ts'))
      .toEqual({ line: 2, elsewhere: null });
    expect(locate('ybad.yaml:5: YAML syntax error: … Fix: correct the YAML at this line.', 'ybad.yaml')).toEqual({ line: 5, elsewhere: null });
  });

  it('pins no line on the DAG file when the error is in a module it imports, and names that module\'s line apart', () => {
    expect(locate('_shared/bad.ts:3:3: TypeScript syntax error: Unexpected ";"\n  ;\n  ^\nFix: correct the syntax there (in _shared/bad.ts, which daily.ts imports); …', 'daily.ts'))
      .toEqual({ line: null, elsewhere: { file: '_shared/bad.ts', line: 3 } });
    expect(locate('_shared/timer.ts:9, imported by daily.ts: Error: late', 'daily.ts')).toEqual({ line: null, elsewhere: { file: '_shared/timer.ts', line: 9 } });
  });

  it('keeps the DAG file\'s line (the call) and the helper\'s (where it threw) apart', () => {
    const message = 'etl/daily.ts:4: Error: NOPE is not set\n  thrown in _shared/config.ts:3, a module etl/daily.ts imports\n  at <anonymous> (/srv/dags/etl/daily.ts:4:11)';
    expect(locate(message, 'etl/daily.ts')).toEqual({ line: 4, elsewhere: { file: '_shared/config.ts', line: 3 } });
  });

  it('is not fooled by a file whose path ends like the DAG file, nor by absolute stack paths', () => {
    expect(locate('old/daily.ts:7: Error: x\n  at f (/srv/dags/daily.ts:12:1)', 'daily.ts')).toEqual({ line: null, elsewhere: { file: 'old/daily.ts', line: 7 } });
    expect(locate('2 DAGs of two.ts are invalid:\n- two.ts: DAG "a": schedule …', 'two.ts')).toEqual({ line: null, elsewhere: null });
  });
});
