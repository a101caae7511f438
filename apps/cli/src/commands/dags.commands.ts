import { Command, Option } from 'commander';
import type { CommandContext } from '../cli-context';
import { CliError, EXIT_FAILURE } from '../errors';
import { formatDagDetail, formatDagsTable, formatImportErrors, formatImportErrorSummary, parseConf, parseTimeout } from '../format';
import { describeFailures, watchRun } from './run-watch';

const TRIGGER_EXAMPLES = `
Examples:
  $ swarmflow dags trigger nightly_etl
  $ swarmflow dags trigger train_ml1m --conf '{"epochs": 5}'
  $ swarmflow dags trigger train_ml1m --run-id retrain-2024-06 --wait --timeout 2h
  $ swarmflow dags trigger nightly_etl --logical-date 2024-06-01

A DAG has one run per logical date (as in Airflow): a date that already has a run is
refused, naming that run (clear its tasks to run it again, or pick another date); so is
a date later than now (a minute of clock skew is allowed).

With --wait, prints each task's state changes and exits 0 when the run succeeds,
1 when it fails (with the failed tasks' exit codes and last log lines). A run of more
than 50 tasks prints per task only failures, retries and upstream failures, and a
progress line (tasks per state) when the counts change (at most every 5 s), every
minute while they do not, and at the end.`;

export function registerDagCommands(program: Command, ctx: CommandContext): void {
  const dags = program.command('dags').description('list, show, trigger and pause DAGs');

  dags.command('list')
    .description('list the DAGs, with their last run')
    .option('--json', 'print the raw JSON')
    .action(async (opts: { json?: boolean }) => {
      const client = ctx.client();
      const [list, errors] = await Promise.all([client.listDags(), client.importErrors()]);
      if (opts.json) return ctx.printJson(list);
      ctx.print(list.length ? formatDagsTable(list) : 'No DAGs yet: put DAG files in the DAGs folder.');
      const summary = formatImportErrorSummary(errors);
      if (summary) ctx.print(summary);
    });

  dags.command('show')
    .description("show a DAG's tasks and params")
    .argument('<dag>', 'DAG id')
    .option('--json', 'print the raw JSON')
    .action(async (dagId: string, opts: { json?: boolean }) => {
      const dag = await ctx.client().getDag(dagId);
      if (opts.json) return ctx.printJson(dag);
      ctx.print(formatDagDetail(dag));
    });

  dags.command('trigger')
    .description('start a run of a DAG now')
    .argument('<dag>', 'DAG id')
    .option('--conf <json>', "the run's conf, a JSON object checked against the DAG's params", parseConf)
    .option('--run-id <id>', 'run id (default manual__<logical date>; ids starting scheduled__ are the schedule\'s own and refused)')
    .option('--logical-date <iso>', 'logical date: an ISO 8601 date (midnight UTC) or timestamp, not later than now; a DAG has one run per logical date (default now)')
    .option('--force', 'run every task, also the cacheable ones that have a cached try')
    .option('--force-task <regex>', 'run the tasks whose id matches this regular expression although they have a cached try (at most 200 characters, no backreference or repeated group holding a repetition or "|")')
    .option('--wait', 'wait for the run to end; exit 1 if it fails (an API or database outage meanwhile is retried until --timeout)')
    .addOption(new Option('--timeout <duration>', 'with --wait: give up after this long (exit 1)').default(3_600_000, '1h').argParser(parseTimeout))
    .option('--json', 'print the created run as JSON (with --wait: the ended run; progress goes to stderr)')
    .addHelpText('after', TRIGGER_EXAMPLES)
    .action(async (dagId: string, opts: {
      conf?: Record<string, unknown>; runId?: string; logicalDate?: string; force?: boolean; forceTask?: string; wait?: boolean; timeout: number; json?: boolean;
    }) => {
      const client = ctx.client();
      const run = await client.trigger(dagId, {
        conf: opts.conf, runId: opts.runId, logicalDate: opts.logicalDate,
        ...(opts.force ? { force: true } : {}), ...(opts.forceTask !== undefined ? { forceTasks: opts.forceTask } : {}),
      });
      if (opts.json && !opts.wait) return ctx.printJson(run);
      // With --json, stdout carries only the JSON; what --wait reports on the way goes to stderr.
      const say = (line: string) => (opts.json ? ctx.printErr(line) : ctx.print(line));
      say(`triggered ${run.dagId} run ${run.runId} (logical date ${run.logicalDate})`);
      // Only a note: the run exists whatever this lookup gives.
      if (await client.getDag(dagId).then((d) => d.isPaused, () => false)) {
        ctx.printErr(`note: ${dagId} is paused: the run stays queued, not started, until \`swarmflow dags unpause ${dagId}\``);
      }
      if (!opts.wait) return;
      const done = await watchRun(client, dagId, run.runId, {
        timeoutMs: opts.timeout, print: say, sleep: ctx.deps.sleep, now: ctx.deps.now,
      });
      if (opts.json) ctx.printJson(done);
      if (done.state === 'failed') {
        for (const line of await describeFailures(client, done)) say(line);
        throw new CliError(`run ${done.runId} of ${dagId} failed`, EXIT_FAILURE);
      }
    });

  for (const [name, paused] of [['pause', true], ['unpause', false]] as const) {
    dags.command(name)
      .description(paused
        ? 'hold a DAG: no new scheduled runs, and its runs (also ones triggered by hand) queue no more tasks; running tasks finish'
        : 'resume a DAG: its schedule, and the tasks its runs were holding')
      .argument('<dag>', 'DAG id')
      .action(async (dagId: string) => {
        const dag = await ctx.client().setPaused(dagId, paused);
        ctx.print(dag.isPaused
          ? `${dag.dagId} is paused: its runs queue no more tasks (running and already queued ones go on) until \`swarmflow dags unpause ${dag.dagId}\``
          : `${dag.dagId} is unpaused`);
      });
  }

  dags.command('errors')
    .description('show the DAG files that failed to import')
    .option('--json', 'print the raw JSON')
    .action(async (opts: { json?: boolean }) => {
      const errors = await ctx.client().importErrors();
      if (opts.json) return ctx.printJson(errors);
      ctx.print(formatImportErrors(errors));
    });
}
