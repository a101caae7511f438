import { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import type { BackfillDto } from '../api-client';
import type { CommandContext } from '../cli-context';
import { CliError, EXIT_FAILURE } from '../errors';
import { formatDate, formatDuration, parsePositiveInt, table } from '../format';

/** Exit code of a command interrupted by Ctrl-C (128 + SIGINT), as shells report it. */
const EXIT_INTERRUPTED = 130;
/** How often a followed backfill is polled. */
const POLL_MS = 1000;

const BACKFILL_HELP = `
Examples:
  $ swarmflow dags backfill nightly_etl --from 2024-06-01 --to 2024-06-07
  $ swarmflow dags backfill train_ml1m --from 2024-06-01 --to 2024-06-03 --tasks '^train$' --ignore-dependencies
  $ swarmflow dags backfill nightly_etl --from 2024-06-01 --to 2024-06-30 --rerun-failed --max-active-runs 4 --dry-run

One run per schedule interval whose logical date is in [--from, --to] (run type backfill).
A date that already has a run (scheduled, manual or an earlier backfill's) reuses it:
running the same backfill twice creates nothing new. --tasks runs only the tasks whose id
matches the regular expression, plus (without --ignore-dependencies) the tasks they need
upstream; the other tasks of its new runs end "removed". --rerun-failed clears the failed
tasks (among the selected ones) of ended runs so that they run again.

The backfill is a record on the server: Ctrl-C interrupts it (its queued runs wait,
running ones finish) and running the same command again resumes it. It exits 0 when
every run succeeded, 1 naming the failed runs.`;

export function registerBackfillCommands(program: Command, ctx: CommandContext): void {
  const dags = program.commands.find((c) => c.name() === 'dags')!;
  const runs = program.commands.find((c) => c.name() === 'runs')!;

  dags.command('backfill')
    .description('run a DAG for the schedule intervals of a past date range (one run per interval, created or reused)')
    .argument('<dag>', 'DAG id')
    .requiredOption('--from <date>', 'first logical date, inclusive: an ISO 8601 date (midnight UTC) or timestamp')
    .requiredOption('--to <date>', 'last logical date, inclusive (not later than now)')
    .option('--tasks <regex>', 'run only the tasks whose id matches (and, without --ignore-dependencies, what they need upstream); at most 200 characters, no backreference or repeated group holding a repetition or "|"')
    .option('--ignore-dependencies', 'run only the matching tasks, without their upstream tasks')
    .option('--rerun-failed', 'clear the failed tasks of ended runs in the range so that they run again')
    .option('--max-active-runs <n>', "runs of this backfill at once (default the DAG's max_active_runs, which also holds: it counts every run of the DAG)", parsePositiveInt)
    .option('--dry-run', 'print what it would do, change nothing')
    .option('--no-wait', 'start (or resume) it and return at once; follow it later by running the same command')
    .option('--json', 'print the backfill as JSON (progress goes to stderr)')
    .addHelpText('after', BACKFILL_HELP)
    .action(async (dagId: string, opts: {
      from: string; to: string; tasks?: string; ignoreDependencies?: boolean; rerunFailed?: boolean; maxActiveRuns?: number;
      dryRun?: boolean; wait: boolean; json?: boolean;
    }) => {
      const client = ctx.client();
      const created = await client.createBackfill(dagId, {
        from: opts.from, to: opts.to, tasks: opts.tasks, ignoreDependencies: opts.ignoreDependencies ?? false,
        rerunFailed: opts.rerunFailed ?? false, maxActiveRuns: opts.maxActiveRuns, dryRun: opts.dryRun ?? false,
      });
      if (opts.dryRun) {
        if (opts.json) return ctx.printJson(created);
        ctx.print(formatBackfillPlan(created));
        return;
      }
      const say = (line: string) => (opts.json ? ctx.printErr(line) : ctx.print(line));
      say(`${created.resumed ? 'resumed' : 'started'} backfill #${created.id} of ${dagId}: ${created.dates.length} run(s) ` +
        `from ${formatDate(created.from)} to ${formatDate(created.to)}, tasks ${created.selectedTasks.join(', ')}` +
        (created.removedTasks.length ? ` (left out: ${created.removedTasks.join(', ')})` : ''));
      if (!opts.wait) {
        if (opts.json) ctx.printJson(created);
        return;
      }
      const done = await followBackfill(ctx, created, say);
      if (opts.json) ctx.printJson(done);
      if (done === 'interrupted') {
        throw new CliError(`interrupted: backfill #${created.id} is paused (running runs finish, queued ones wait); run the same command again to resume it`, EXIT_INTERRUPTED);
      }
      const failed = done.dates.filter((d) => d.state === 'failed').map((d) => d.runId);
      if (done.state === 'failed') {
        throw new CliError(`backfill #${done.id} of ${dagId}: ${failed.length} of ${done.dates.length} run(s) failed: ${failed.join(', ')}. ` +
          `See \`swarmflow runs show ${dagId} <run>\`; \`--rerun-failed\` runs their failed tasks again`, EXIT_FAILURE);
      }
      say(`backfill #${done.id} of ${dagId}: all ${done.dates.length} run(s) succeeded`);
    });

  dags.command('versions')
    .description("list a DAG's versions: hash, when first seen, file, task count (newest first)")
    .argument('<dag>', 'DAG id')
    .option('--json', 'print the raw JSON')
    .action(async (dagId: string, opts: { json?: boolean }) => {
      const versions = await ctx.client().dagVersions(dagId);
      if (opts.json) return ctx.printJson(versions);
      ctx.print(table(['HASH', 'FIRST SEEN', 'FILE', 'TASKS', ''],
        versions.map((v) => [v.hash.slice(0, 12), formatDate(v.firstSeenAt), v.fileloc, v.taskCount, v.latest ? 'latest' : ''])));
    });

  const tasks = program.commands.find((c) => c.name() === 'tasks')!;
  tasks.command('artifacts')
    .description("list what a task try stored in the artefacts store (SWARMFLOW_ARTIFACTS_URL): name, size, time, URL; for a cached task, what the try it was cached from stored")
    .argument('<dag>', 'DAG id')
    .argument('<run>', 'run id')
    .argument('<task>', 'task id')
    .option('--try <n>', 'the try (default the latest)', parsePositiveInt)
    .option('--json', 'print the raw JSON')
    .action(async (dagId: string, runId: string, taskId: string, opts: { try?: number; json?: boolean }) => {
      const listed = await ctx.client().listArtifacts(dagId, runId, taskId, opts.try);
      if (opts.json) return ctx.printJson(listed);
      const from = listed.cachedFrom;
      ctx.print(from
        ? `${dagId}.${taskId} (run ${runId}) is cached: its artefacts are those of try ${from.tryNumber} of ${from.dagId}.${from.taskId} in run ${from.runId}: ${listed.url}`
        : `try ${listed.tryNumber} of ${dagId}.${taskId} (run ${runId}): ${listed.url}`);
      ctx.print(listed.artifacts.length === 0 ? 'No artefacts.'
        : table(['NAME', 'SIZE', 'MODIFIED', 'URL'], listed.artifacts.map((a) => [a.name, a.size, formatDate(a.modifiedAt), a.url])));
    });

  runs.command('upgrade')
    .description("move a run to another version of its DAG (default the latest): new tasks run when their upstreams allow, removed ones end 'removed', ended ones keep their state")
    .argument('<dag>', 'DAG id')
    .argument('<run>', 'run id')
    .option('--to <hash>', 'the version: a hash or a unique prefix of one (see `dags versions`); default the latest')
    .option('--dry-run', 'print what it would do, change nothing')
    .option('--json', 'print the raw JSON')
    .action(async (dagId: string, runId: string, opts: { to?: string; dryRun?: boolean; json?: boolean }) => {
      const result = await ctx.client().upgradeRun(dagId, runId, { to: opts.to, dryRun: opts.dryRun ?? false });
      if (opts.json) return ctx.printJson(result);
      const head = result.from === result.to
        ? `run ${runId} of ${dagId} is at version ${result.to.slice(0, 12)}`
        : `${opts.dryRun ? 'would move' : 'moved'} run ${runId} of ${dagId} from version ${result.from.slice(0, 12)} to ${result.to.slice(0, 12)}`;
      ctx.print(head);
      const rows: string[][] = [
        ...result.added.map((t) => [t, 'added', 'runs when its upstreams allow']),
        ...result.removed.map((t) => [t.taskId, 'removed', `${t.state} → removed`]),
        ...result.kept.map((t) => [t.taskId, 'kept', t.state]),
        ...result.gone.map((t) => [t.taskId, 'not in version', `${t.state} (kept)`]),
      ];
      ctx.print(table(['TASK', 'CHANGE', 'STATE'], rows));
    });
}

/** What a dry run would do, date by date. */
export function formatBackfillPlan(b: BackfillDto): string {
  const lines = [
    `backfill of ${b.dagId} (dry run${b.resumed ? ', resumes an unfinished backfill' : ''}): ${b.dates.length} run(s) from ${formatDate(b.from)} to ${formatDate(b.to)}`,
    `tasks: ${b.selectedTasks.join(', ')}${b.removedTasks.length ? `; left out (end removed in new runs): ${b.removedTasks.join(', ')}` : ''}`,
    table(['LOGICAL DATE', 'ACTION', 'RUN', 'RERUN'], b.dates.map((d) => [formatDate(d.logicalDate), d.action, d.runId, d.rerun.join(', ') || '-'])),
  ];
  return lines.join('\n');
}

/** One line of progress: runs ended of all, by state. */
export function backfillProgressLine(b: BackfillDto): string {
  const ended = b.counts.success + b.counts.failed;
  return `backfill #${b.id}: ${ended}/${b.dates.length} run(s) ended (${b.counts.success} success, ${b.counts.failed} failed), ` +
    `${b.counts.running} running, ${b.counts.queued} queued`;
}

/**
 * The time left, from the pace of the runs that ended while it was followed: `--` until
 * one has (cli-progress's own ETA printed `LLs` then, and reads the process clock).
 */
export function backfillEta(ended: number, total: number, followedFrom: { ended: number; at: Date }, now: Date): string {
  const done = ended - followedFrom.ended;
  if (ended >= total) return '0s';
  if (done <= 0) return '--';
  return formatDuration(Math.ceil(((now.getTime() - followedFrom.at.getTime()) / 1000) * (total - ended) / done));
}

/**
 * Polls the backfill until it ends: a progress bar (counts and ETA) on a terminal (the
 * progress stream's isTTY), a line per change otherwise. Ctrl-C pauses it on the server
 * and returns 'interrupted'.
 */
async function followBackfill(ctx: CommandContext, start: BackfillDto, say: (line: string) => void): Promise<BackfillDto | 'interrupted'> {
  const client = ctx.client();
  const stream = ctx.deps.progressStream ?? process.stderr;
  const tty = stream.isTTY === true;
  let interrupted = false;
  const stopListening = (ctx.deps.onInterrupt ?? onSigint)(() => {
    interrupted = true;
  });
  const bar = tty
    ? new SingleBar({
      format: `backfill #${start.id} [{bar}] {value}/{total} runs | {success} ok, {failed} failed, {running} running | ETA {etaText}`,
      stream, hideCursor: true,
    })
    : null;
  const ended = (b: BackfillDto) => b.counts.success + b.counts.failed;
  const followedFrom = { ended: ended(start), at: ctx.deps.now() };
  const payload = (b: BackfillDto) => ({
    success: b.counts.success, failed: b.counts.failed, running: b.counts.running,
    etaText: backfillEta(ended(b), b.dates.length, followedFrom, ctx.deps.now()),
  });
  bar?.start(start.dates.length, ended(start), payload(start));
  let last = '';
  try {
    for (let b = start; ;) {
      if (bar) bar.update(ended(b), payload(b));
      else {
        const line = backfillProgressLine(b);
        if (line !== last) say(line);
        last = line;
      }
      if (b.state === 'success' || b.state === 'failed') return b;
      if (interrupted || b.state === 'paused') {
        if (b.state !== 'paused') await client.pauseBackfill(b.dagId, b.id!);
        return 'interrupted';
      }
      await ctx.deps.sleep(POLL_MS);
      if (interrupted) continue; // pause at once, without another read
      b = await client.getBackfill(b.dagId, b.id!);
    }
  } finally {
    bar?.stop();
    stopListening();
  }
}

function onSigint(handler: () => void): () => void {
  process.on('SIGINT', handler);
  return () => process.off('SIGINT', handler);
}
