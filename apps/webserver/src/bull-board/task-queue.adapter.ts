import { BaseAdapter } from '@bull-board/api/dist/queueAdapters/base.js';
import type {
  JobCleanStatus, JobCounts, JobStatus, QueueJob, QueueJobJson, QueueMetrics, Status,
} from '@bull-board/api/dist/types';
import type { Repositories, TryRecord } from '@swarmflow/persistence';

/** bull-board's job statuses, as task instance states of one queue topic. */
export const STATUS_STATES: Readonly<Record<string, string>> = {
  waiting: 'queued', //     published, waiting for a worker
  active: 'running', //     a worker runs it
  completed: 'success',
  failed: 'failed',
  delayed: 'up_for_retry', // failed with tries left, waits for its retry delay
};
/** Most tries one page of the board reads (GET /api/v1/tries allows as many). */
export const MAX_JOBS_PER_PAGE = 500;
const STATES_STATUS = Object.fromEntries(Object.entries(STATUS_STATES).map(([k, v]) => [v, k]));

/** What "retry" does to a task try: our clear (the task runs again with fresh retries), audited. */
export type RetryTask = (t: { dagId: string; runId: string; taskId: string; tiId: number }) => Promise<void>;

/** Thrown for what bull-board offers and Swarmflow does not do (pausing a topic, deleting history). */
export class NotSupportedError extends Error {
  constructor(what: string) {
    super(`${what} is not supported here: Swarmflow keeps task history and routes work by queue topic. Use the Swarmflow UI or CLI (swarmflow tasks clear, workers drain)`);
    this.name = 'NotSupportedError';
  }
}

function jobOf(t: TryRecord, retry: RetryTask | null): QueueJob {
  const json: QueueJobJson = {
    id: String(t.tiId),
    name: `${t.dagId}.${t.taskId}`,
    progress: 0,
    attemptsMade: t.tryNumber,
    timestamp: (t.queuedAt ?? t.startedAt ?? new Date(0)).getTime(),
    processedOn: t.startedAt?.getTime() ?? null,
    processedBy: t.worker,
    finishedOn: t.endedAt?.getTime() ?? null,
    failedReason: t.state === 'failed' || t.state === 'up_for_retry' ? (t.reason ?? `exit code ${t.exitCode ?? '?'}`) : '',
    stacktrace: null,
    data: { dagId: t.dagId, runId: t.runId, taskId: t.taskId, tryNumber: t.tryNumber, maxTries: t.maxTries, state: t.state, worker: t.worker, hostname: t.hostname, exitCode: t.exitCode },
    returnvalue: t.state === 'success' ? { exitCode: t.exitCode } : null,
    opts: { attempts: t.maxTries },
  };
  return {
    // bull-board's pages read `id` straight off the job.
    ...({ id: json.id } as object),
    opts: {},
    toJSON: () => json,
    getState: async () => (STATES_STATUS[t.state] ?? 'unknown') as never,
    retry: async () => {
      if (!retry) throw new NotSupportedError('retrying from a read-only board');
      await retry({ dagId: t.dagId, runId: t.runId, taskId: t.taskId, tiId: t.tiId });
    },
    promote: async () => { throw new NotSupportedError('promoting a delayed try'); },
    remove: async () => { throw new NotSupportedError('removing a try'); },
  };
}

/**
 * One queue topic as a bull-board queue, over the task instances whose queue it is:
 * waiting = queued, active = running, completed = success, failed = failed, delayed =
 * up_for_retry. "Retry" clears the task (operators' board only); the rest of bull-board's
 * writes are refused with {@link NotSupportedError}.
 */
export class TaskQueueAdapter extends BaseAdapter {
  constructor(
    private readonly topic: string,
    private readonly repos: Repositories,
    private readonly retryTask: RetryTask | null,
  ) {
    super('bull', { readOnlyMode: retryTask === null, allowRetries: retryTask !== null, description: `Task instances on queue topic "${topic}"` });
  }

  getName(): string {
    return this.topic;
  }

  async getRedisInfo(): Promise<string | null> {
    return null;
  }

  async getJob(id: string): Promise<QueueJob | null> {
    if (!/^\d{1,15}$/.test(id)) return null;
    const { items } = await this.repos.dashboard.tries({ tiId: Number(id), queue: this.topic, latestOnly: true, limit: 1, offset: 0 });
    return items[0] ? jobOf(items[0], this.retryTask) : null;
  }

  async getJobs(jobStatuses: JobStatus[], start = 0, end = 19): Promise<QueueJob[]> {
    const states = jobStatuses.map((s) => STATUS_STATES[s]).filter(Boolean);
    if (states.length === 0) return [];
    // bull-board's page size comes from the request (jobsPerPage): bounded as GET /tries bounds it.
    const { items } = await this.repos.dashboard.tries({ states, queue: this.topic, latestOnly: true, offset: Math.max(0, start), limit: Math.min(MAX_JOBS_PER_PAGE, Math.max(1, end - start + 1)) });
    return items.map((t) => jobOf(t, this.retryTask));
  }

  async getJobCounts(): Promise<JobCounts> {
    const byState = await this.repos.dashboard.countByState(this.topic, Object.values(STATUS_STATES));
    return Object.fromEntries(Object.entries(STATUS_STATES).map(([status, state]) => [status, byState[state] ?? 0])) as JobCounts;
  }

  async getJobLogs(id: string): Promise<string[]> {
    if (!/^\d{1,15}$/.test(id)) return [];
    const [ti] = await this.repos.tis.byIds([Number(id)]);
    if (!ti || ti.queue !== this.topic) return [];
    const page = await this.repos.logs.read(ti.id, ti.tryNumber, 0, 500);
    return page.lines.map((l) => `${l.at} ${l.line}`);
  }

  async getMetrics(): Promise<QueueMetrics> {
    return { meta: { count: 0, prevTS: 0, prevCount: 0 }, data: [], count: 0 };
  }

  getStatuses(): Status[] {
    return ['latest', 'active', 'waiting', 'completed', 'failed', 'delayed'] as Status[];
  }

  getJobStatuses(): JobStatus[] {
    return ['active', 'waiting', 'completed', 'failed', 'delayed'] as JobStatus[];
  }

  async isPaused(): Promise<boolean> { return false; }
  async getGlobalConcurrency(): Promise<number | null> { return null; }
  async setGlobalConcurrency(): Promise<void> { throw new NotSupportedError('a global concurrency'); }
  async clean(_status: JobCleanStatus): Promise<void> { throw new NotSupportedError('cleaning a status'); }
  async addJob(): Promise<QueueJob> { throw new NotSupportedError('adding a job (trigger a DAG run instead)'); }
  async pause(): Promise<void> { throw new NotSupportedError('pausing a queue topic (pause the DAG, or drain its workers)'); }
  async resume(): Promise<void> { throw new NotSupportedError('resuming a queue topic'); }
  async empty(): Promise<void> { throw new NotSupportedError('emptying a queue topic'); }
  async obliterate(): Promise<void> { throw new NotSupportedError('obliterating a queue topic'); }
  async promoteAll(): Promise<void> { throw new NotSupportedError('promoting delayed tries'); }
  async removeJobScheduler(): Promise<boolean> { return false; }
  async getJobSchedulers(): Promise<never[]> { return []; }
  async getJobSchedulersCount(): Promise<number> { return 0; }
  async updateJobScheduler(): Promise<'not-found'> { return 'not-found'; }
  async runJobSchedulerNow(): Promise<'not-found'> { return 'not-found'; }
}
