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

  it('counts helpers in the fingerprint but parses only DAG files', () => {
    const before = folderFingerprint(folder);
    const helper = path.join(folder, '_shared', 'command.ts');
    utimesSync(helper, new Date(), new Date(Date.now() + 5_000));
    expect(folderFingerprint(folder)).not.toBe(before);
    expect(findDagFiles(folder)).toEqual(['daily.ts']);
  });
});
