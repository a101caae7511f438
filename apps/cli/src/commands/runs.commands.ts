import { Command, Option } from 'commander';
import type { CommandContext } from '../cli-context';
import { formatRunExtras, formatRunsTable, formatTaskInstancesTable, formatDate, parsePositiveInt } from '../format';

const RUN_STATES = ['queued', 'running', 'success', 'failed'];

export function registerRunCommands(program: Command, ctx: CommandContext): void {
  const runs = program.command('runs').description('list, inspect and cancel DAG runs');

  runs.command('list')
    .description('list runs, newest first')
    .option('--dag <dag>', 'only the runs of this DAG')
    .addOption(new Option('--state <state>', 'only runs in this state').choices(RUN_STATES))
    .option('--limit <n>', 'at most this many runs', parsePositiveInt, 25)
    .option('--json', 'print the raw JSON')
    .action(async (opts: { dag?: string; state?: string; limit: number; json?: boolean }) => {
      const list = await ctx.client().listRuns({ dagId: opts.dag, state: opts.state, limit: opts.limit });
      if (opts.json) return ctx.printJson(list);
      ctx.print(formatRunsTable(list));
    });

  runs.command('show')
    .description('show a run and its task instances')
    .argument('<dag>', 'DAG id')
    .argument('<run>', 'run id')
    .option('--json', 'print the raw JSON')
    .action(async (dagId: string, runId: string, opts: { json?: boolean }) => {
      const run = await ctx.client().getRun(dagId, runId);
      if (opts.json) return ctx.printJson(run);
      ctx.print(`${run.dagId} run ${run.runId}: ${run.state} (${run.runType}, logical date ${formatDate(run.logicalDate)}, ` +
        `started ${formatDate(run.startedAt)}, ended ${formatDate(run.endedAt)})`);
      if (run.reason) ctx.print(`reason: ${run.reason}`);
      if (Object.keys(run.conf).length) ctx.print(`conf ${JSON.stringify(run.conf)}`);
      ctx.print(formatTaskInstancesTable(run.taskInstances));
      for (const line of formatRunExtras(run)) ctx.print(line);
    });

  runs.command('cancel')
    .description('cancel a run: running tries end failed (their workers stop them), the rest skipped; the run ends failed')
    .argument('<dag>', 'DAG id')
    .argument('<run>', 'run id')
    .action(async (dagId: string, runId: string) => {
      const result = await ctx.client().cancelRun(dagId, runId);
      const stopped = result.stopped.length ? `; asked ${[...new Set(result.stopped.map((s) => s.sentTo))].join(', ')} to stop ${result.stopped.map((s) => s.taskId).join(', ')}` : '';
      const ended = result.changes.length ? result.changes.map((c) => `${c.taskId} ${c.to}`).join(', ') : 'no unfinished task';
      ctx.print(`run ${runId} of ${dagId} failed (${result.reason}): ${ended}${stopped}`);
    });
}
