import { Controller, Get, Inject, Query, Req, Res } from '@nestjs/common';
import { EventsQuerySchema, type EventsQuery, type LiveEvent } from '@swarmflow/contracts';
import type { Request, Response } from 'express';
import { AuthGuard } from '../auth/auth.guard';
import type { AuthedRequest } from '../auth/audit';
import { LiveEventsService, toEventFilter } from '../services/live-events.service';
import { RequiresRole } from './auth/requires-role.decorator';
import { ZodValidationPipe } from './zod-validation.pipe';

/** A stream that buffers more than this (a client that stopped reading) is closed; it reconnects and catches up. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

/** The live feed: server-sent events of task instances, runs and workers (see libs/contracts/src/events.ts). */
@Controller()
export class EventsController {
  constructor(
    @Inject(LiveEventsService) private readonly live: LiveEventsService,
    @Inject(AuthGuard) private readonly guard: AuthGuard,
  ) {}

  @Get('events')
  @RequiresRole('viewer')
  async stream(
    @Query(new ZodValidationPipe(EventsQuerySchema, 'query')) query: EventsQuery,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    req.socket.setNoDelay(true);
    // Reconnect quickly after a webserver restart (EventSource's default is ~3 s).
    res.write('retry: 1000\n\n');
    let open = true;
    const end = () => {
      if (!open) return;
      open = false;
      clearInterval(keepAlive);
      remove?.();
      res.end();
    };
    const send = (event: LiveEvent, id: string) => {
      if (!open) return;
      res.write(`id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      if (res.writableLength > MAX_BUFFERED_BYTES) end();
    };
    // With each keep-alive, the credentials are checked again: a stream ends with its session
    // (logout, expiry, password change), a revoked token or a disabled user.
    const keepAlive = setInterval(() => {
      if (!open) return;
      res.write(': keep-alive\n\n');
      void this.guard.resolve(req as unknown as AuthedRequest).then((still) => {
        if (still && 'caller' in still) return;
        if (open) res.write(`event: error\ndata: ${JSON.stringify({ reason: 'unauthenticated', message: still && 'problem' in still ? still.problem : 'no caller' })}\n\n`);
        end();
      }, () => undefined);
    }, this.live.options.keepAliveMs);
    keepAlive.unref();
    let remove: (() => void) | undefined;
    req.on('close', end);
    const lastEventId = req.header('last-event-id') ?? null;
    try {
      remove = await this.live.subscribe(toEventFilter(query), send, lastEventId || null, end);
      if (!open) remove();
    } catch (err) {
      res.write(`event: error\ndata: ${JSON.stringify({ reason: 'feed_unavailable', message: (err as Error).message })}\n\n`);
      end();
    }
  }
}
