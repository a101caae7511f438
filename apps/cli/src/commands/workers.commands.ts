import { Command } from 'commander';
import type { CommandContext } from '../cli-context';
import { formatWorkersTable } from '../format';

export function registerWorkerCommands(program: Command, ctx: CommandContext): void {
  const workers = program.command('workers').description('inspect workers');

  workers.command('list')
    .description('list the workers and what they run')
    .option('--json', 'print the raw JSON')
    .action(async (opts: { json?: boolean }) => {
      const list = await ctx.client().workers();
      if (opts.json) return ctx.printJson(list);
      ctx.print(formatWorkersTable(list));
    });
}
