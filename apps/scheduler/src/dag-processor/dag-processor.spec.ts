import { mkdtempSync, rmSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DagRepository } from '@swarmflow/persistence';
import { DagProcessor, findDagFiles, folderFingerprint } from './dag-processor';

describe('DagProcessor', () => {
  let folder: string;
  beforeEach(() => {
    folder = mkdtempSync(path.join(tmpdir(), 'sf-dags-'));
    mkdirSync(path.join(folder, '_shared'));
    writeFileSync(path.join(folder, '_shared', 'command.ts'), `export const command = 'echo one';\n`);
    writeFileSync(path.join(folder, 'daily.ts'),
      `import { dag, shell } from 'swarmflow';\nimport { command } from './_shared/command';\n` +
      `export default dag({ id: 'daily' }, () => { shell('run', command); });\n`);
  });
  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  /** The command of task `run` of each recorded parse. */
  function recorder() {
    const commands: string[] = [];
    const dags = {
      list: async () => [],
      recordParse: async (parsed: { dag: { tasks: { id: string; command?: unknown }[] } }[]) => {
        commands.push(String(parsed[0]?.dag.tasks.find((t) => t.id === 'run')?.command));
        return { newVersions: [] };
      },
    } as unknown as DagRepository;
    return { dags, commands };
  }

  it('parses again when a helper module the DAG file imports changes, and skips when nothing changed', async () => {
    const { dags, commands } = recorder();
    const processor = new DagProcessor({ folder, fileTimeoutMs: 30_000 }, dags);
    expect(await processor.run(new Date())).not.toBeNull();
    expect(await processor.run(new Date())).toBeNull();
    writeFileSync(path.join(folder, '_shared', 'command.ts'), `export const command = 'echo two, longer';\n`);
    expect(await processor.run(new Date())).not.toBeNull();
    expect(commands).toEqual(['echo one', 'echo two, longer']);
  }, 30_000);

  it('keeps a DAG with the file that defined it when another file takes its id; the newcomer is an import error', async () => {
    const dagFile = (command: string) => `id: daily\ntasks:\n  run: { shell: "${command}" }\n`;
    writeFileSync(path.join(folder, 'zz_daily.yaml'), dagFile('echo original'));
    rmSync(path.join(folder, 'daily.ts'));
    const processor = new DagProcessor({ folder, fileTimeoutMs: 30_000 }, recorder().dags);
    const owners = new Map([['daily', 'zz_daily.yaml']]);
    writeFileSync(path.join(folder, 'aa_copy.yaml'), dagFile('echo intruder'));
    const result = await processor.parse(findDagFiles(folder), owners);
    expect(result.dags.map((d) => [d.dag.id, d.dag.fileloc])).toEqual([['daily', 'zz_daily.yaml']]);
    expect(result.errors).toEqual([{
      fileloc: 'aa_copy.yaml', message: 'aa_copy.yaml: DAG "daily" is already defined in zz_daily.yaml. Fix: give one of them another id.',
    }]);
    // With no earlier owner, the first file by name keeps it.
    expect((await processor.parse(findDagFiles(folder))).dags.map((d) => d.dag.fileloc)).toEqual(['aa_copy.yaml']);
  }, 30_000);

  it('reports a broken YAML DAG in YAML terms, with the line of the key', async () => {
    rmSync(path.join(folder, 'daily.ts'));
    writeFileSync(path.join(folder, 'etl.yaml'), 'id: etl\nstart_date: yesterday\ntasks:\n  load: { shell: x, retry_delay: soon }\n');
    const result = await new DagProcessor({ folder, fileTimeoutMs: 30_000 }, recorder().dags).parse(findDagFiles(folder));
    expect(result.errors).toEqual([{
      fileloc: 'etl.yaml',
      message: `etl.yaml:2: DAG "etl": start_date must be an ISO date (got "yesterday"). Fix: use e.g. '2024-01-01' or '2024-01-01T00:00:00Z'.`,
    }]);
  }, 30_000);

  it('makes a DAG whose template reads an undeclared param an import error, and keeps the others', async () => {
    writeFileSync(path.join(folder, 'typo.ts'),
      `import { dag, shell } from 'swarmflow';\n` +
      `export default dag({ id: 'typo', params: { x: { type: 'string', default: 'a' } } }, () => { shell('echo', 'echo {{ params.y }}'); });\n`);
    const result = await new DagProcessor({ folder, fileTimeoutMs: 30_000 }, recorder().dags).parse(findDagFiles(folder));
    expect(result.dags.map((d) => d.dag.id)).toEqual(['daily']);
    expect(result.errors).toEqual([{
      fileloc: 'typo.ts',
      message: `typo.ts: DAG "typo", task "echo": command reads params.y, a param the DAG does not declare (its params: x). ` +
        `Fix: declare "y" under params, e.g. params: { y: { type: 'string', default: '…' } }, or give it a fallback: {{ params.y | default('…') }}; a value given only in a trigger's conf is read as {{ conf.y }}.`,
    }]);
  }, 30_000);

  it('counts helpers in the fingerprint but parses only DAG files', () => {
    const before = folderFingerprint(folder);
    const helper = path.join(folder, '_shared', 'command.ts');
    utimesSync(helper, new Date(), new Date(Date.now() + 5_000));
    expect(folderFingerprint(folder)).not.toBe(before);
    expect(findDagFiles(folder)).toEqual(['daily.ts']);
  });
});
