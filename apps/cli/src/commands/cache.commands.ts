import { Command } from 'commander';
import type { CommandContext } from '../cli-context';
import { CliError } from '../errors';
import { formatCacheTable, parsePositiveInt } from '../format';

const CACHE_HELP = `
A task with cache: true (or a DAG's defaults.cache) ends "cached" when a successful try with
the same cache key exists: its rendered command or image, env, the params it reads, and its
upstream tasks' cache keys or outputs. Entries are shared by DAGs of one cacheNamespace.

Examples:
  $ swarmflow cache list --dag ml_training
  $ swarmflow cache invalidate --dag ml_training --task prepare_data
  $ swarmflow cache invalidate --all
  $ swarmflow dags trigger ml_training --force            (run everything once, refreshing the cache)
  $ swarmflow dags trigger ml_training --force-task train  (only tasks matching /train/)
`;

export function registerCacheCommands(program: Command, ctx: CommandContext): void {
  const cache = program.command('cache').description('list and invalidate the task cache (successful tries cacheable tasks take over)')
    .addHelpText('after', CACHE_HELP);

  cache.command('list')
    .description('list cache entries, newest first')
    .option('--dag <dag>', 'only entries of this DAG')
    .option('--task <task>', 'only entries of this task id')
    .option('--key <key>', 'only the entry with this cache key (64 hex digits)')
    .option('--limit <n>', 'at most this many entries', parsePositiveInt, 50)
    .option('--json', 'print the raw JSON')
    .action(async (opts: { dag?: string; task?: string; key?: string; limit: number; json?: boolean }) => {
      const list = await ctx.client().listCache({ dagId: opts.dag, taskId: opts.task, key: opts.key, limit: opts.limit });
      if (opts.json) return ctx.printJson(list);
      ctx.print(formatCacheTable(list));
    });

  cache.command('invalidate')
    .description('end matching cache entries: their tasks run again next time (the tries and outputs stay); needs an admin')
    .option('--dag <dag>', 'entries of this DAG')
    .option('--task <task>', 'entries of this task id')
    .option('--key <key>', 'the entry with this cache key')
    .option('--all', 'every entry')
    .action(async (opts: { dag?: string; task?: string; key?: string; all?: boolean }) => {
      if (!opts.all && opts.dag === undefined && opts.task === undefined && opts.key === undefined) {
        throw new CliError('name what to invalidate: --dag, --task or --key, or --all for every entry');
      }
      const { invalidated } = await ctx.client().invalidateCache({
        dagId: opts.dag, taskId: opts.task, key: opts.key, ...(opts.all ? { all: true } : {}),
      });
      ctx.print(`invalidated ${invalidated} cache entr${invalidated === 1 ? 'y' : 'ies'}`);
    });
}
