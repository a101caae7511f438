import { Command } from 'commander';
import type { CommandContext } from '../cli-context';
import { formatWorkersTable } from '../format';

export function registerWorkerCommands(program: Command, ctx: CommandContext): void {
  const workers = program.command('workers').description('inspect workers');

  workers.command('list')
    .description('list the workers and what they run')
    .option('--json', 'print the raw JSON')
    .addHelpText('after', '\nRUNNING is running tries/concurrency. A lost worker (no heartbeat for SWARMFLOW_HEARTBEAT_TIMEOUT)\n' +
      'runs nothing we know of: its tries were failed or retried when it was marked lost, so RUNNING\n' +
      'shows - and its JSON "running" is []. A lost worker that sends a heartbeat again is active.')
    .action(async (opts: { json?: boolean }) => {
      const list = await ctx.client().workers();
      if (opts.json) return ctx.printJson(list);
      ctx.print(formatWorkersTable(list));
    });
}
