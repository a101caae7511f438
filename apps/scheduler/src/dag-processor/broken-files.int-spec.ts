import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Database, Repositories } from '@swarmflow/persistence';
import { createTestDatabase, describeWithPostgres, type TestDatabase } from '@swarmflow/persistence/test-support/postgres';
import { DagProcessor } from './dag-processor';
import { MAX_ERROR_TEXT } from './storable';

const ts = (body: string) => `import { dag, shell } from 'swarmflow';\n${body}\n`;

/** 100 files, each broken in one of these ways (cycled), and what its import error must say. */
const KINDS: { ext: string; content: (i: number) => string; says: RegExp }[] = [
  { ext: 'yaml', content: (i) => `id: nul_${i}\u0000\ntasks:\n  a: { shell: "echo" }\n`, says: /./ },
  { ext: 'yaml', content: (i) => `id: nulcmd_${i}\ntasks:\n  a: { shell: "echo \\0 here" }\n`, says: /NUL character/ },
  { ext: 'ts', content: (i) => ts(`export default dag({ id: 'nults_${i}' }, () => { shell('a', 'echo \u0000'); });`), says: /NUL character|\\0/ },
  { ext: 'ts', content: (i) => ts(`export default dag({ id: 'sur_${i}' }, () => { shell('a', 'echo \\ud800'); });`), says: /surrogate/ },
  { ext: 'yaml', content: () => `id: [unclosed\ntasks: {`, says: /./ },
  { ext: 'ts', content: () => ts(`throw new Error('boom at import');`), says: /boom at import/ },
  { ext: 'ts', content: () => ts(`module.exports = 42;`), says: /exports no DAG: module.exports is a number \(42\)/ },
  { ext: 'ts', content: () => ts(`export default 7;`), says: /the default export is a number \(7\)/ },
  { ext: 'ts', content: (i) => ts(`export default () => dag({ id: 'fn_${i}' }, () => { shell('a', 'true'); });`), says: /a function.*call it/ },
  { ext: 'ts', content: () => ts(`const x: number = ;`), says: /syntax error/ },
  { ext: 'ts', content: (i) => ts(`export default dag({ id: '${'x'.repeat(300)}${i}' }, () => { shell('a', 'true'); });`), says: /./ },
  { ext: 'ts', content: () => ts(`throw new Error('${'long '.repeat(10_000)}');`), says: /cut/ },
  { ext: 'yaml', content: (i) => `# ${'huge '.repeat(400_000)}\nid: huge_${i}\ntasks: [`, says: /./ },
  { ext: 'ts', content: (i) => ts(`export default [dag({ id: 'c1_${i}' }, () => { shell('a', 'true', { upstream: ['nope'] } as never); }), dag({ id: 'c2_${i}', schedule: 'never' }, () => { shell('b', 'true'); })];`), says: /./ },
];
/** Files that cost a child each (it hangs, dies or outgrows its memory): a few, not 100. */
const COSTLY: { name: string; content: string; says: RegExp }[] = [
  { name: 'loop.ts', content: ts(`for (;;) {}`), says: /timed out/ },
  { name: 'exit.ts', content: ts(`process.exit(3);`), says: /exited while importing this file \(code 3\)/ },
  { name: 'heap.ts', content: ts(`const a: unknown[] = []; for (;;) a.push(new Array(1e6).fill(1.5));`), says: /ran out of memory.*limit of 192 MiB per import/ },
  { name: 'buffers.ts', content: ts(`const a: unknown[] = []; for (;;) a.push(Buffer.alloc(5e7, 1));`), says: /MiB of memory, over the limit of 192 MiB per import/ },
  { name: 'spawns.ts', content: ts(`require('node:child_process').spawn('sleep', ['1000'], { stdio: 'ignore' }); for (;;) {}`), says: /timed out/ },
];

describeWithPostgres('DAG processing of a folder of broken files', () => {
  let testDb: TestDatabase;
  let db: Database;
  let repos: Repositories;
  let folder: string;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({ url: testDb.url, poolSize: 2 });
    await db.connect();
    repos = new Repositories(db);
    folder = mkdtempSync(path.join(tmpdir(), 'sf-broken-'));
  });

  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
    rmSync(folder, { recursive: true, force: true });
  });

  it('registers the good DAGs and lists each broken file as an import error', async () => {
    const expected = new Map<string, RegExp>();
    for (let i = 0; i < 100 - COSTLY.length; i++) {
      const kind = KINDS[i % KINDS.length];
      const name = `broken_${String(i).padStart(3, '0')}.${kind.ext}`;
      writeFileSync(path.join(folder, name), kind.content(i));
      expected.set(name, kind.says);
    }
    for (const c of COSTLY) {
      writeFileSync(path.join(folder, c.name), c.content);
      expected.set(c.name, c.says);
    }
    writeFileSync(path.join(folder, 'good_a.yaml'), 'id: good_a\ntasks:\n  a: { shell: "echo {{ params.x | default(1) }}" }\n');
    writeFileSync(path.join(folder, 'good_b.ts'), ts(`export default dag({ id: 'good_b' }, () => { shell('b', 'echo b'); });`));
    writeFileSync(path.join(folder, 'good_c.ts'), ts(`export const one = dag({ id: 'good_c1' }, () => { shell('c', 'true'); });\nexport const two = dag({ id: 'good_c2' }, () => { shell('c', 'true'); });`));

    const processor = new DagProcessor({ folder, fileTimeoutMs: 3_000, fileMemoryMb: 192 }, repos.dags);
    await processor.run(new Date(), true);

    expect((await repos.dags.list()).map((d) => d.dagId)).toEqual(['good_a', 'good_b', 'good_c1', 'good_c2']);
    const errors = await repos.dags.importErrors();
    expect(errors.map((e) => e.fileloc).sort()).toEqual([...expected.keys()].sort());
    for (const e of errors) {
      expect({ file: e.fileloc, ok: expected.get(e.fileloc)!.test(e.message) || e.message }).toEqual({ file: e.fileloc, ok: true });
      expect(e.message.length).toBeLessThanOrEqual(MAX_ERROR_TEXT);
    }
  }, 180_000);
});
