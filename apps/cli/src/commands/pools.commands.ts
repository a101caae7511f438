import { Command } from 'commander';
import type { CommandContext } from '../cli-context';
import { formatPoolsTable, parseNonNegativeInt } from '../format';

export function registerPoolCommands(program: Command, ctx: CommandContext): void {
  const pools = program.command('pools').description('list, create, resize and delete pools (slots shared by the tasks that name the pool)');

  pools.command('list')
    .description('list the pools and their slots')
    .option('--json', 'print the raw JSON')
    .action(async (opts: { json?: boolean }) => {
      const list = await ctx.client().pools();
      if (opts.json) return ctx.printJson(list);
      ctx.print(formatPoolsTable(list));
    });

  pools.command('set')
    .description('create a pool, or resize one (the scheduler applies it within a tick)')
    .argument('<name>', 'pool name, as tasks give it (pool: <name>)')
    .argument('<slots>', 'how many slots its tasks may hold at once (0 holds them all)', parseNonNegativeInt)
    .option('--description <text>', 'what the pool is for (default: keep the current one)')
    .action(async (name: string, slots: number, opts: { description?: string }) => {
      const { pool, created } = await ctx.client().setPool(name, { slots, description: opts.description });
      ctx.print(`${created ? 'created' : 'resized'} pool ${pool.name}: ${pool.slots} slot${pool.slots === 1 ? '' : 's'}`);
    });

  pools.command('delete')
    .description('delete a pool (tasks naming it then wait, with a reason, until it exists again; default_pool cannot be deleted)')
    .argument('<name>', 'pool name')
    .action(async (name: string) => {
      await ctx.client().deletePool(name);
      ctx.print(`deleted pool ${name}`);
    });
}
