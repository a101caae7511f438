import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { artifactsUrlOf, logArchiveLocation, logArchiveName, parseArtifactsUrl } from '@swarmflow/core';
import { ArtifactNotFoundError, S3ArtifactStore, type ArtifactStore } from '@swarmflow/executors';
import { processMetrics } from '@swarmflow/observability';
import type { LogLine, Repositories, StoredLogBatch, UnarchivedLog } from '@swarmflow/persistence';
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
 * `@logs/<dag>/<run>/<task>/try-<n>.ti-<task instance id>.jsonl`, and deletes the database
 * rows of tries archived longer ago than the retention; `readArchived` serves a pruned try's
 * log from its object, with any batch stored after the prune merged in (a later pass merges
 * it into the object). Runs in the webserver, off the scheduling loop: a pass every
 * `intervalMs`, a batch of tries at a time, four uploads at once. A try stays due — and its
 * rows stay — until its upload succeeded: a store that is down is tried again at the next
 * pass. Several webservers may archive the same try at once: the same object is written
 * twice, the last record counts. See docs/DESIGN.md, "Remote logging".
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
   * The whole log of a try whose database rows were pruned: its archive, with any batch
   * stored after the prune (late) merged in by `seq`, none twice; null when the try was not
   * archived or still has its rows (read those: they hold the whole log).
   * @throws when the store cannot be read (the caller answers with the error)
   */
  async readArchived(tiId: number, tryNumber: number): Promise<{ lines: LogLine[]; url: string } | null> {
    if (this.artifactsUrl === null) return null;
    const first = await this.repos.logs.archiveOf(tiId, tryNumber);
    if (!first || first.prunedAt === null) return null;
    // Late rows first, then the record again: a pass that merges them into the archive writes
    // the object before it deletes them, so either they are read here or the object read
    // below holds them.
    const late = await this.repos.logs.readBatches(tiId, tryNumber);
    const archive = late.length > 0 ? (await this.repos.logs.archiveOf(tiId, tryNumber)) ?? first : first;
    return { lines: mergeArchived(await this.getArchive(archive.url), late).map(withoutSeq), url: archive.url };
  }

  /** The lines of an archived log object. @throws when the store cannot be read or the object is gone */
  private async getArchive(url: string): Promise<ArchivedLine[]> {
    const base = parseArtifactsUrl(url.slice(0, url.lastIndexOf('/') + 1));
    const store = await openArtifactStore(this.repos, this.clusterKey, base.kind);
    try {
      const body = await store.get(base, url.slice(url.lastIndexOf('/') + 1));
      return parseArchive(body.toString('utf8'));
    } catch (err) {
      if (err instanceof ArtifactNotFoundError) throw new Error(`the archived log ${url} is gone from the artefacts store`);
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
        const done: (ArchivedTry & { archivedAt: Date })[] = [];
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

  /**
   * Puts a try's log as one object. A pruned try (late batches came) is its archive with
   * them merged in; those rows are then deleted with the record (`folded`), so the try stays
   * pruned and its log whole in one object.
   */
  private async upload(store: ArtifactStore, base: ReturnType<typeof parseArtifactsUrl>, t: UnarchivedLog): Promise<ArchivedTry> {
    const batches = await this.repos.logs.readBatches(t.tiId, t.tryNumber);
    const lines = t.prunedArchiveUrl === null
      ? batches.flatMap((b) => b.lines.map((l) => ({ ...l, seq: b.seq })))
      : mergeArchived(await this.getArchive(t.prunedArchiveUrl), batches);
    const location = logArchiveLocation(base, t.dagId, t.runId, t.taskId);
    const name = logArchiveName(t);
    await store.put(location, name, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
    const upTo = batches.reduce((max, b) => Math.max(max, b.id), 0) || t.upTo;
    return {
      tiId: t.tiId, tryNumber: t.tryNumber, url: artifactsUrlOf(location) + name, lineCount: lines.length, upTo,
      ...(t.prunedArchiveUrl === null ? {} : { folded: batches.map((b) => b.id) }),
    };
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

/** An uploaded try, to record (see `TaskLogRepository.markArchived`). */
interface ArchivedTry {
  tiId: number;
  tryNumber: number;
  url: string;
  lineCount: number;
  upTo: number;
  folded?: number[];
}

/** A line of an archived log object: its batch's `seq` too (absent in objects written before it was kept). */
export type ArchivedLine = LogLine & { seq?: number };

/** The lines of an archived log (JSON lines). */
function parseArchive(text: string): ArchivedLine[] {
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as ArchivedLine);
}

function withoutSeq(l: ArchivedLine): LogLine {
  return { at: l.at, stream: l.stream, line: l.line };
}

/**
 * An archived log with the batches stored in the database for its try: a batch whose `seq`
 * the archive holds is left out (it is there already, e.g. a redelivery), the others go in
 * `seq` order among the archived lines. Lines of an archive that kept no `seq` come first.
 */
export function mergeArchived(archived: readonly ArchivedLine[], batches: readonly Pick<StoredLogBatch, 'seq' | 'lines'>[]): ArchivedLine[] {
  const held = new Set(archived.map((l) => l.seq));
  const extra: ArchivedLine[][] = [];
  const seqs: number[] = [];
  for (const b of [...batches].sort((x, y) => x.seq - y.seq)) {
    if (held.has(b.seq)) continue;
    held.add(b.seq); // a batch stored twice (a redelivery) goes in once
    extra.push(b.lines.map((l) => ({ ...l, seq: b.seq })));
    seqs.push(b.seq);
  }
  if (extra.length === 0) return [...archived];
  const out: ArchivedLine[] = [];
  let next = 0;
  for (const line of archived) {
    while (next < extra.length && line.seq !== undefined && seqs[next] < line.seq) out.push(...extra[next++]);
    out.push(line);
  }
  while (next < extra.length) out.push(...extra[next++]);
  return out;
}
