import { Command } from 'commander';
import type { CommandContext } from '../cli-context';
import { formatQueuesTable, formatWorkerDetail, formatWorkersTable } from '../format';

export function registerWorkerCommands(program: Command, ctx: CommandContext): void {
  const workers = program.command('workers').description('inspect workers; drain, shut down or resume one');

  workers.command('list')
    .description('list the workers and what they run')
    .option('--json', 'print the raw JSON')
    .addHelpText('after', '\nRUNNING is running tries/concurrency. A lost worker (no heartbeat for SWARMFLOW_HEARTBEAT_TIMEOUT)\n' +
      'runs nothing we know of: its tries were failed or retried when it was marked lost, so RUNNING\n' +
      'shows - and its JSON "running" is []. A lost worker that sends a heartbeat again is active.\n' +
      'STATE: active takes work; draining takes none and stays up (workers resume); stopping exits\n' +
      'once its running tries are reported; stopped has exited; lost is silent.')
    .action(async (opts: { json?: boolean }) => {
      const list = await ctx.client().workers();
      if (opts.json) return ctx.printJson(list);
      ctx.print(formatWorkersTable(list));
    });

  workers.command('show')
    .description('one worker: state, version, slots, GPUs, tries processed and failed, uptime, heartbeat age')
    .argument('<name>', 'worker name (workers list shows them)')
    .option('--json', 'print the raw JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      const worker = await ctx.client().worker(name);
      if (opts.json) return ctx.printJson(worker);
      ctx.print(formatWorkerDetail(worker));
    });

  const commands = [
    ['drain', 'stop taking tasks and finish the running ones; the worker stays up until `workers resume` or `workers shutdown`'],
    ['shutdown', 'drain, then exit once the running tasks are reported (as a first SIGTERM does)'],
    ['resume', 'take tasks again after a drain (not after a shutdown: start the worker again)'],
  ] as const;
  for (const [command, description] of commands) {
    workers.command(command)
      .description(`${description} (needs the operator role)`)
      .argument('<name>', 'worker name (workers list shows them)')
      .option('--json', 'print the raw JSON')
      .action(async (name: string, opts: { json?: boolean }) => {
        const result = await ctx.client().workerCommand(name, command);
        if (opts.json) return ctx.printJson(result);
        ctx.print(result.message);
      });
  }

  const queues = program.command('queues').description('inspect the task queues');
  queues.command('list')
    .description('list the task queue topics: messages ready and unacked, consumers and the workers serving each')
    .option('--json', 'print the raw JSON')
    .addHelpText('after', '\nREADY waits for a worker; UNACKED is held by workers (running, being reported, or waiting\n' +
      'for a slot), summed from their last heartbeats; CONSUMERS are attached now (a draining\n' +
      'worker detaches). "(not declared)": nothing was ever queued to the topic.')
    .action(async (opts: { json?: boolean }) => {
      const list = await ctx.client().queues();
      if (opts.json) return ctx.printJson(list);
      ctx.print(formatQueuesTable(list));
    });
}
