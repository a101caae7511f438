import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { artifactsUrlOf, logArchiveLocation, logArchiveName, parseArtifactsUrl } from '@swarmflow/core';
import { ArtifactNotFoundError, S3ArtifactStore, type ArtifactStore } from '@swarmflow/executors';
import { processMetrics } from '@swarmflow/observability';
import type { LogLine, Repositories, UnarchivedLog } from '@swarmflow/persistence';
import type { ClusterKey } from '@swarmflow/secrets';
import { ARTIFACTS_URL, CLOCK, CLUSTER_KEY, LOG_ARCHIVE, REPOSITORIES, type Clock } from '../tokens';
import { openArtifactStore } from './artifacts.service';

/** Remote logging (SWARMFLOW_LOG_ARCHIVE, SWARMFLOW_LOG_RETENTION): what is archived and pruned, and how often. */
export interface LogArchiveOptions {
  /** The `task_log` rows of tries archived longer ago than this are deleted; null keeps them. */
  retentionMs: number | null;
  /** How often a pass runs (default 15 s; the first runs at start). */
  intervalMs?: number;
  /** A try is archived once it ended this long ago (default 30 s): a late log batch still makes it. */
  graceMs?: number;
  /** Tries per round of uploads, and per prune statement (default 100). */
  batchSize?: number;
}

const DEFAULT_INTERVAL_MS = 15_000;
const DEFAULT_GRACE_MS = 30_000;
const DEFAULT_BATCH = 100;
/** `task_log` rows the watermark passes per statement. */
const SCAN_BATCH = 5000;
/** A row younger than this (or than the grace, if shorter) may have an older id still uncommitted: the watermark waits. */
const SETTLE_MS = 5000;
/** Uploads in flight at once. */
const UPLOADS = 4;
/** The cursor of an answer read from the archive: every line was given, and nothing in `task_log` comes after it. */
export const ARCHIVED_CURSOR = Number.MAX_SAFE_INTEGER;

/**
 * Archives each ended try's log as one object (JSON lines) under the artefacts store's
 * `@logs/<dag>/<run>/<task>/try-<n>.ti-<task instance id>.jsonl`, and deletes the database rows of tries archived
 * longer ago than the retention; `readArchived` serves a pruned try's log from its object.
 * Runs in the webserver, off the scheduling loop: a pass every `intervalMs`, a batch of tries
 * at a time, four uploads at once. A try stays unarchived — and its rows stay — until its
 * upload succeeded: a store that is down is tried again at the next pass. Several webservers
 * may archive the same try at once: the same object is written twice, the first row counts.
 */
@Injectable()
export class LogArchive implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('LogArchive');
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<{ archived: number; pruned: number }> | null = null;

  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ARTIFACTS_URL) private readonly artifactsUrl: string | null,
    @Inject(CLUSTER_KEY) private readonly clusterKey: ClusterKey | null,
    @Inject(LOG_ARCHIVE) private readonly options: LogArchiveOptions | null,
  ) {}

  /** Whether logs are archived (SWARMFLOW_LOG_ARCHIVE with an artefacts store). */
  get enabled(): boolean {
    return this.options !== null && this.artifactsUrl !== null;
  }

  onApplicationBootstrap(): void {
    if (!this.enabled) return;
    void this.pass();
    this.timer = setInterval(() => void this.pass(), this.options!.intervalMs ?? DEFAULT_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** One pass: archives what is due, then prunes past the retention. Never throws; one pass at a time. */
  pass(): Promise<{ archived: number; pruned: number }> {
    if (!this.enabled) return Promise.resolve({ archived: 0, pruned: 0 });
    this.running ??= this.archiveAndPrune().finally(() => { this.running = null; });
    return this.running;
  }

  /**
   * The lines of a try whose database rows were pruned, from its archive; null when the
   * try was not archived or still has its rows (read those).
   * @throws when the store cannot be read (the caller answers with the error)
   */
  async readArchived(tiId: number, tryNumber: number): Promise<{ lines: LogLine[]; url: string } | null> {
    if (this.artifactsUrl === null) return null;
    const archive = await this.repos.logs.archiveOf(tiId, tryNumber);
    if (!archive || archive.prunedAt === null) return null;
    const base = parseArtifactsUrl(archive.url.slice(0, archive.url.lastIndexOf('/') + 1));
    const store = await openArtifactStore(this.repos, this.clusterKey, base.kind);
    try {
      const body = await store.get(base, archive.url.slice(archive.url.lastIndexOf('/') + 1));
      return { lines: parseArchive(body.toString('utf8')), url: archive.url };
    } catch (err) {
      if (err instanceof ArtifactNotFoundError) throw new Error(`the archived log ${archive.url} is gone from the artefacts store`);
      throw err;
    } finally {
      if (store instanceof S3ArtifactStore) store.destroy();
    }
  }

  private async archiveAndPrune(): Promise<{ archived: number; pruned: number }> {
    const options = this.options!;
    const batch = options.batchSize ?? DEFAULT_BATCH;
    const now = this.clock();
    let archived = 0;
    let store: ArtifactStore | null = null;
    try {
      const base = parseArtifactsUrl(this.artifactsUrl!);
      const settleMs = Math.min(options.graceMs ?? DEFAULT_GRACE_MS, SETTLE_MS);
      while ((await this.repos.logs.scanForArchive(settleMs, SCAN_BATCH)).more);
      for (;;) {
        const due = await this.repos.logs.unarchived(new Date(now.getTime() - (options.graceMs ?? DEFAULT_GRACE_MS)), batch);
        if (due.length === 0) break;
        store ??= await openArtifactStore(this.repos, this.clusterKey, base.kind);
        const s = store;
        const done: { tiId: number; tryNumber: number; url: string; lineCount: number; archivedAt: Date; upTo: number }[] = [];
        const failures: unknown[] = [];
        for (let i = 0; i < due.length; i += UPLOADS) {
          const results = await Promise.allSettled(due.slice(i, i + UPLOADS).map((t) => this.upload(s, base, t)));
          results.forEach((r) => (r.status === 'fulfilled' ? done.push({ ...r.value, archivedAt: this.clock() }) : failures.push(r.reason)));
        }
        await this.repos.logs.markArchived(done);
        archived += done.length;
        processMetrics().logsArchived.inc({ outcome: 'archived' }, done.length);
        if (failures.length > 0) processMetrics().logsArchived.inc({ outcome: 'failed' }, failures.length);
        if (failures.length > 0) {
          this.logger.warn(`could not archive ${failures.length} task log(s) (${(failures[0] as Error).message ?? String(failures[0])}); ` +
            'their rows stay in the database, and they are tried again in the next pass');
          break;
        }
        if (due.length < batch) break;
      }
    } catch (err) {
      this.logger.warn(`could not archive task logs (${archived} archived in this pass): ${(err as Error).message}; trying again in the next pass`);
    } finally {
      if (store instanceof S3ArtifactStore) store.destroy();
    }
    const pruned = await this.prune(now, batch);
    if (archived + pruned > 0) this.logger.log(`archived ${archived} task log(s); pruned the database rows of ${pruned} archived one(s)`);
    return { archived, pruned };
  }

  private async upload(store: ArtifactStore, base: ReturnType<typeof parseArtifactsUrl>, t: UnarchivedLog): Promise<{ tiId: number; tryNumber: number; url: string; lineCount: number; upTo: number }> {
    const batches = await this.repos.logs.readBatches(t.tiId, t.tryNumber);
    const lines = batches.flatMap((b) => b.lines);
    const location = logArchiveLocation(base, t.dagId, t.runId, t.taskId);
    const name = logArchiveName(t);
    await store.put(location, name, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
    const upTo = batches.reduce((max, b) => Math.max(max, b.id), 0) || t.upTo;
    return { tiId: t.tiId, tryNumber: t.tryNumber, url: artifactsUrlOf(location) + name, lineCount: lines.length, upTo };
  }

  private async prune(now: Date, batch: number): Promise<number> {
    const retentionMs = this.options!.retentionMs;
    if (retentionMs === null) return 0;
    let total = 0;
    try {
      for (;;) {
        const n = await this.repos.logs.pruneArchived(new Date(now.getTime() - retentionMs), now, batch);
        total += n;
        processMetrics().logsPruned.inc(n);
        if (n < batch) break;
      }
    } catch (err) {
      this.logger.warn(`could not prune archived task logs (${total} pruned so far): ${(err as Error).message}; trying again in the next pass`);
    }
    return total;
  }
}

/** The lines of an archived log (JSON lines). */
function parseArchive(text: string): LogLine[] {
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as LogLine);
}
