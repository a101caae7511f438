import { Command, Option } from 'commander';
import {
  ParamValidationError, renderCommand, renderTemplate, resolveParams, templateContext, TemplateRenderError, type TaskMessage,
} from '@swarmflow/core';
import type { CliDeps, CommandContext } from '../cli-context';
import { CliError, EXIT_FAILURE } from '../errors';
import { formatTaskInstanceDetail, parseConf, table, parsePositiveInt } from '../format';
import { followLogs } from './run-watch';

const TEST_EXAMPLES = `
Runs the task on this machine with the DAG's latest definition, the params resolved from
--conf, and the logical date = now: a process task as a process, a container task in its
container (image, command, env, volumes, resources, through this machine's Docker), with
templates rendered as a worker gets them. Nothing is recorded; the command exits with the
task's exit code. Secret variables are never sent to the CLI: a container task's secrets
(and registry credentials) are left out, and it says so.

Examples:
  $ swarmflow tasks test nightly_etl extract
  $ swarmflow tasks test train_ml1m train --conf '{"epochs": 1}'`;

/** States in which a task instance's next try is coming (its current one, if any, has ended). */
const NEXT_TRY_COMING: ReadonlySet<string> = new Set(['none', 'scheduled', 'up_for_retry']);

export function registerTaskCommands(program: Command, ctx: CommandContext): void {
  const tasks = program.command('tasks').description('task logs, clearing, marking, killing, and local test runs');

  tasks.command('logs')
    .description("print a task's log (default: its current try); a try whose database rows were pruned (SWARMFLOW_LOG_RETENTION) is read from its archive")
    .argument('<dag>', 'DAG id')
    .argument('<run>', 'run id')
    .argument('<task>', 'task id')
    .option('--try <n>', 'try number', parsePositiveInt)
    .option('-f, --follow', 'keep printing new lines until the try ends')
    .action(async (dagId: string, runId: string, taskId: string, opts: { try?: number; follow?: boolean }) => {
      let tryNumber = opts.try;
      if (opts.follow && tryNumber === undefined) {
        // Following a task that waits for its next try (cleared, or up for retry) means that
        // try, not the last one, which has ended: wait for it to start.
        const ti = await ctx.client().getTaskInstance(dagId, runId, taskId);
        if (NEXT_TRY_COMING.has(ti.state) && ti.tryNumber > 0) {
          tryNumber = ti.tryNumber + 1;
          ctx.deps.stderr(`(${taskId} is ${ti.state}: following its next try, ${tryNumber}, once it starts)\n`);
        }
      }
      const result = await followLogs(ctx.client(), { dagId, runId, taskId }, {
        tryNumber, follow: opts.follow ?? false, print: (line) => ctx.print(line), sleep: ctx.deps.sleep,
      });
      if (result.lines === 0) ctx.deps.stderr(`(no log lines for try ${result.tryNumber})\n`);
      if (result.archivedUrl) ctx.deps.stderr(`(try ${result.tryNumber}'s log was read from its archive ${result.archivedUrl}: its database rows were pruned)\n`);
    });

  tasks.command('kill')
    .description('stop a running, queued or retry-waiting task try wherever it is (it ends failed, and is not retried)')
    .argument('<dag>', 'DAG id')
    .argument('<run>', 'run id')
    .argument('<task>', 'task id')
    .action(async (dagId: string, runId: string, taskId: string) => {
      const result = await ctx.client().killTask(dagId, runId, taskId);
      if (!result.ended) return ctx.print(`asked ${result.sentTo} to stop try ${result.tryNumber} of ${taskId} in run ${runId}`);
      ctx.print(`try ${result.tryNumber} of ${taskId} in run ${runId} ended failed${result.sentTo === 'nobody' ? '' : `; asked ${result.sentTo} to drop its message`}`);
    });

  tasks.command('show')
    .description("show a task instance: state, outputs, the try a cached one came from, each try's outcome, exit code, worker, image digest and cache key")
    .argument('<dag>', 'DAG id')
    .argument('<run>', 'run id')
    .argument('<task>', 'task id')
    .option('--json', 'print the raw JSON')
    .action(async (dagId: string, runId: string, taskId: string, opts: { json?: boolean }) => {
      const ti = await ctx.client().getTaskInstance(dagId, runId, taskId);
      if (opts.json) return ctx.printJson(ti);
      ctx.print(formatTaskInstanceDetail(ti));
    });

  tasks.command('clear')
    .description('run a finished task again (the run goes back to running)')
    .argument('<dag>', 'DAG id')
    .argument('<run>', 'run id')
    .argument('<task>', 'task id')
    .option('--downstream', 'also clear every task downstream of it')
    .option('--upstream', 'also clear every task it depends on (all of them in one transaction, or none)')
    .option('--dry-run', 'only list the task instances it would reset, with their current states')
    .option('--latest-images', "container tasks run their images' newest digests, not the ones the run recorded")
    .action(async (dagId: string, runId: string, taskId: string, opts: { downstream?: boolean; upstream?: boolean; dryRun?: boolean; latestImages?: boolean }) => {
      const result = await ctx.client().clearTask(dagId, runId, taskId, {
        downstream: opts.downstream ?? false, upstream: opts.upstream ?? false, dryRun: opts.dryRun ?? false, latestImages: opts.latestImages ?? false,
      });
      if (opts.dryRun) {
        const tis = result.taskInstances ?? [];
        ctx.print(tis.length
          ? `would clear in run ${runId}:\n${table(['TASK', 'STATE', 'TRY'], tis.map((t) => [t.taskId, t.state, String(t.tryNumber)]))}`
          : `nothing to clear: ${taskId} has not run yet in run ${runId}`);
        const busy = result.busy ?? [];
        if (busy.length) ctx.print(`refused until these end: ${busy.map((b) => `${b.taskId} (${b.state})`).join(', ')}`);
        return;
      }
      ctx.print(result.cleared.length
        ? `cleared ${result.cleared.join(', ')} in run ${runId}; the scheduler runs ${result.cleared.length > 1 ? 'them' : 'it'} again`
        : `nothing to clear: ${taskId} has not run yet in run ${runId}`);
    });

  tasks.command('mark')
    .description("mark a task instance success or failed (Airflow's mark success/failed); a try a worker holds is stopped")
    .argument('<dag>', 'DAG id')
    .argument('<run>', 'run id')
    .argument('<task>', 'task id')
    .addOption(new Option('--state <state>', 'the state to mark it with').choices(['success', 'failed']).makeOptionMandatory())
    .option('--downstream', 'also mark every task downstream of it')
    .option('--upstream', 'also mark every task it depends on')
    .option('--dry-run', 'only list what would change')
    .action(async (dagId: string, runId: string, taskId: string, opts: { state: 'success' | 'failed'; downstream?: boolean; upstream?: boolean; dryRun?: boolean }) => {
      const result = await ctx.client().markTask(dagId, runId, taskId, {
        state: opts.state, downstream: opts.downstream ?? false, upstream: opts.upstream ?? false, dryRun: opts.dryRun ?? false,
      });
      if (result.changes.length === 0) return ctx.print(`nothing to change: ${taskId} already is ${opts.state} in run ${runId}`);
      const changes = table(['TASK', 'FROM', 'TO', 'TRY'], result.changes.map((c) => [c.taskId, c.from, c.to, String(c.tryNumber)]));
      ctx.print(`${opts.dryRun ? 'would mark' : 'marked'} in run ${runId}:\n${changes}`);
      for (const s of result.stopped) ctx.print(`asked ${s.sentTo} to stop try ${s.tryNumber} of ${s.taskId}`);
    });

  tasks.command('test')
    .description('run one task locally, without the scheduler, and record nothing')
    .argument('<dag>', 'DAG id')
    .argument('<task>', 'task id')
    .option('--conf <json>', "conf, a JSON object checked against the DAG's params", parseConf)
    .addHelpText('after', TEST_EXAMPLES)
    .action(async (dagId: string, taskId: string, opts: { conf?: Record<string, unknown> }) => {
      const dag = await ctx.client().getDag(dagId);
      const task = dag.tasks.find((t) => t.taskId === taskId);
      if (!task) {
        throw new CliError(`DAG "${dagId}" has no task "${taskId}". Its tasks are ${dag.tasks.map((t) => t.taskId).join(', ')}.`);
      }
      const conf = opts.conf ?? {};
      const now = ctx.deps.now();
      const runId = `test__${now.toISOString()}`;
      let message: TaskMessage;
      try {
        const params = resolveParams(dag.params, conf);
        const tctx = templateContext({ dagId, runId, taskId, tryNumber: 1, logicalDate: now, params, conf });
        const env = Object.fromEntries(Object.entries(task.env).map(([k, v]) => [k, renderTemplate(v, tctx, `env.${k}`)]));
        message = {
          tiId: 0, dagId, runId, taskId, tryNumber: 1, queue: task.queue, command: renderCommand(task.command, tctx),
          env, cwd: task.cwd, timeoutMs: task.timeoutMs, skipExitCode: task.skipExitCode, priority: task.priority,
        };
        if (task.kind === 'docker' && task.docker) {
          // As the scheduler builds a worker's message (task-message.builder.ts), secrets aside.
          message.kind = 'docker';
          message.docker = {
            ...task.docker,
            image: renderTemplate(task.docker.image, tctx, 'docker.image'),
            entrypoint: task.docker.entrypoint && task.docker.entrypoint.map((part, i) => renderTemplate(part, tctx, `docker.entrypoint[${i}]`)),
            registryCredentials: null,
          };
        }
      } catch (err) {
        if (err instanceof ParamValidationError || err instanceof TemplateRenderError) throw new CliError(err.message);
        throw err;
      }
      const shown = typeof message.command === 'string' ? message.command : JSON.stringify(message.command);
      if (message.docker) {
        ctx.deps.stderr(`running ${dagId}.${taskId} locally in a container of ${message.docker.image} (nothing is recorded): ${shown}\n`);
        const left = [...(task.secrets ?? []).map((k) => `secret ${k} (/secrets/variables/${k} will be missing)`),
          ...(task.docker?.registryCredentials ? [`registry credentials ${task.docker.registryCredentials} (the image must be on this machine or public)`] : [])];
        if (left.length) ctx.deps.stderr(`note: secret variables never reach the CLI; running without ${left.join(', ')}\n`);
      } else {
        ctx.deps.stderr(`running ${dagId}.${taskId} locally (nothing is recorded): ${shown}\n`);
      }
      const runTask = ctx.deps.runTask ?? defaultRunTask;
      const result = await runTask(message, (line) => ctx.print(line));
      ctx.exitCode = result.exitCode ?? EXIT_FAILURE;
    });
}

const defaultRunTask: NonNullable<CliDeps['runTask']> = async (message, out) => {
  // Loaded on demand: only `tasks test` needs the executors.
  const { runTaskLocally } = await import('../../../worker/src/run-local');
  return runTaskLocally(message, out);
};
