import { Controller, Get, Inject, Param, Query, Req, Res } from '@nestjs/common';
import { AuthGuard } from '../auth/auth.guard';
import type { AuthedRequest } from '../auth/audit';
import { RunQueriesService } from '../services/run-queries.service';
import { RequiresRole } from './auth/requires-role.decorator';
import { toLogLineDto } from './presenters';
import { ReadLogsQuery } from './request.dto';
import { ZodValidationPipe } from './zod-validation.pipe';

/** How often the stream looks for new lines of a try that is still writing. */
export const LOG_STREAM_POLL_MS = 250;
/** A comment line this often keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

interface SseResponse {
  status(code: number): SseResponse;
  setHeader(name: string, value: string): void;
  flushHeaders(): void;
  write(chunk: string): boolean;
  end(): void;
  writableEnded: boolean;
}

interface ClosableRequest {
  on(event: 'close', listener: () => void): unknown;
}

/**
 * A task try's log as server-sent events, for the web UI: `lines` events (`{tryNumber,
 * lines, cursor}`) as lines are written, then one `end` event (`{tryNumber, cursor}`) once
 * no more will come for the try, and the stream closes. `cursor` resumes after a reconnect
 * (EventSource sends the last event id, which is the cursor, as `Last-Event-ID`).
 */
@Controller('dags')
@RequiresRole('viewer')
export class LogStreamController {
  constructor(
    @Inject(RunQueriesService) private readonly runs: RunQueriesService,
    @Inject(AuthGuard) private readonly guard: AuthGuard,
  ) {}

  @Get(':dagId/runs/:runId/tasks/:taskId/logs/stream')
  async stream(
    @Param('dagId') dagId: string,
    @Param('runId') runId: string,
    @Param('taskId') taskId: string,
    @Query(new ZodValidationPipe(ReadLogsQuery, 'query')) query: ReadLogsQuery,
    @Req() req: ClosableRequest & { headers: Record<string, string | string[] | undefined> },
    @Res() res: SseResponse,
  ): Promise<void> {
    const lastEventId = Number(req.headers['last-event-id']);
    let cursor = Number.isInteger(lastEventId) && lastEventId >= 0 ? lastEventId : query.cursor;
    // The first read answers a 404 (unknown DAG, run, task or try) as JSON, before the stream starts.
    let logs = await this.runs.logs(dagId, runId, taskId, query.try, cursor);
    const tryNumber = logs.tryNumber;
    let closed = false;
    req.on('close', () => (closed = true));
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write('retry: 1000\n\n');
    let lastWrite = Date.now();
    const send = (event: string, data: unknown, id?: number) => {
      res.write(`event: ${event}\n${id === undefined ? '' : `id: ${id}\n`}data: ${JSON.stringify(data)}\n\n`);
      lastWrite = Date.now();
    };
    try {
      for (;;) {
        if (logs.lines.length) send('lines', { tryNumber, lines: logs.lines.map(toLogLineDto), cursor: logs.cursor }, logs.cursor);
        cursor = logs.cursor;
        if (logs.finished) {
          send('end', { tryNumber, cursor });
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, LOG_STREAM_POLL_MS));
        if (closed) break;
        const keepAlive = Date.now() - lastWrite > KEEPALIVE_MS;
        if (keepAlive) {
          res.write(': keep-alive\n\n');
          lastWrite = Date.now();
        }
        logs = await this.runs.logs(dagId, runId, taskId, tryNumber, cursor);
        // Before more of the log goes out (and with each keep-alive), the caller must still be one:
        // a stream ends with its session (logout, expiry), a revoked token or a disabled user.
        if (keepAlive || logs.lines.length > 0 || logs.finished) {
          const still = await this.guard.resolve(req as unknown as AuthedRequest);
          if (!still || !('caller' in still)) {
            send('error', { reason: 'unauthenticated', message: still && 'problem' in still ? still.problem : 'no caller' });
            break;
          }
        }
      }
    } catch (err) {
      if (!closed) send('error', { message: (err as Error).message });
    }
    if (!res.writableEnded) res.end();
  }
}
