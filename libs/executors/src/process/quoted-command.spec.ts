import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderCommand, templateContext } from '@swarmflow/core';
import { useSpawner } from '../test-support/processes';
import { directArgv } from './direct-command';
import { nativeSpawnerPath, runProcess } from './process-executor';

// Template values reach `/bin/sh -c` quoted: what a param or conf holds is printed, never run,
// whichever way the worker starts the command (exec of plain words, or the shell).
const spawners = nativeSpawnerPath() !== null || process.env.CI === 'true' ? ['node', 'native'] as const : ['node'] as const;

describe.each(spawners)('rendered shell commands with the %s spawner', (spawner) => {
  useSpawner(spawner);
  const dir = mkdtempSync(join(tmpdir(), 'sf-quote-'));
  const marker = join(dir, 'pwned');
  const hostile = [
    `eu; touch ${marker}`, `$(touch ${marker})`, `\`touch ${marker}\``, `x\ntouch ${marker}`,
    `it's "quoted" && touch ${marker}`, `'; touch ${marker}; '`, `" ; touch ${marker} ; "`, '', 'a  b\tc', '*',
  ];

  async function output(command: string | string[]): Promise<string[]> {
    const lines: string[] = [];
    const result = await runProcess({ command, env: {}, cwd: null, timeoutMs: 10_000, onLine: (_s, line) => lines.push(line) }).result;
    expect(result.exitCode).toBe(0);
    return lines;
  }

  it.each(hostile.map((v) => [JSON.stringify(v), v]))('prints %s and runs nothing of it', async (_name, value) => {
    const ctx = templateContext({ dagId: 'd', runId: 'r', taskId: 't', tryNumber: 1, logicalDate: new Date(0), params: { v: value }, conf: { v: value } });
    for (const template of ['printf "%s|" {{ params.v }}', 'printf "%s|" "{{ conf.v }}"', `printf "%s|" '{{ params.v }}'`, 'printf "%s|" $(printf "%s" {{ params.v }})']) {
      const command = renderCommand(template, ctx) as string;
      const lines = await output(command);
      if (!template.includes('$(')) expect(lines.join('\n')).toBe(`${value}|`);
      expect(existsSync(marker)).toBe(false);
    }
  });

  it('runs a safe value the same way as before, without the shell', async () => {
    const ctx = templateContext({ dagId: 'd', runId: 'r', taskId: 't', tryNumber: 1, logicalDate: new Date(0), params: { n: 3, name: 'eu-west-1' }, conf: {} });
    const command = renderCommand('/bin/echo {{ params.name }} {{ params.n }} {{ ds }}', ctx) as string;
    expect(command).toBe('/bin/echo eu-west-1 3 1970-01-01');
    expect(directArgv(command)).toEqual(['/bin/echo', 'eu-west-1', '3', '1970-01-01']);
    expect(await output(command)).toEqual(['eu-west-1 3 1970-01-01']);
    const quoted = renderCommand('/bin/echo {{ params.name }}', templateContext({ dagId: 'd', runId: 'r', taskId: 't', tryNumber: 1, logicalDate: new Date(0), params: { name: 'a b' }, conf: {} })) as string;
    expect(directArgv(quoted)).toBeNull(); // quotes: the shell runs it
    expect(await output(quoted)).toEqual(['a b']);
  });
});
