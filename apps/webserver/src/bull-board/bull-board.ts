import { createBullBoard } from '@bull-board/api';
import { ExpressAdapter } from '@bull-board/express';
import type { INestApplication } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { roleAllows, type Caller } from '@swarmflow/core';
import type { Repositories } from '@swarmflow/persistence';
import type { NextFunction, Request, Response } from 'express';
import { Accounts } from '../auth/accounts';
import { AuditService, type AuthedRequest } from '../auth/audit';
import { AuthGuard, foreignOrigin } from '../auth/auth.guard';
import type { AuthOptions } from '../auth/auth-options';
import { ClearService } from '../services/clear.service';
import { ACCOUNTS, AUTH_OPTIONS, CLOCK, REPOSITORIES, type Clock } from '../tokens';
import { TaskQueueAdapter, type RetryTask } from './task-queue.adapter';

/** Where bull-board is mounted (outside the API). */
export const BULL_BOARD_PATH = '/queues';
/** How long the list of queue topics is reused before it is read again. */
const TOPICS_TTL_MS = 5_000;

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A page of this server, not another site's: `Sec-Fetch-Site` (every current browser sends
 * it), else an `Origin` whose host is the request's. bull-board's own pages cannot send our
 * CSRF header, so a cookie-authenticated write to it is held to this instead.
 */
export function sameOrigin(req: Request): boolean {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string') return site === 'same-origin';
  const origin = req.headers.origin;
  if (typeof origin !== 'string') return false;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/**
 * bull-board at `/queues`, behind the same login as the UI: a session cookie (or a bearer
 * token). Without one, a page request is redirected to the UI's login and an API request
 * answers 401. Viewers get a read-only board; operators and admins one whose "retry" clears
 * the task (audited as `task.clear`). bull-board's other writes (clean, pause, add…) are
 * refused: task history stays.
 */
export function mountBullBoard(app: INestApplication): void {
  const repos = app.get<Repositories>(REPOSITORIES);
  const clock = app.get<Clock>(CLOCK);
  const audit = app.get(AuditService);
  const clear = app.get(ClearService);
  const guard = new AuthGuard(app.get(Reflector), app.get<Accounts>(ACCOUNTS), repos, app.get<AuthOptions>(AUTH_OPTIONS), audit, clock);

  const retry: RetryTask = async (t) => {
    await clear.clear(t.dagId, t.runId, t.taskId);
  };
  const board = (writable: boolean) => {
    const server = new ExpressAdapter();
    server.setBasePath(BULL_BOARD_PATH);
    const api = createBullBoard({
      queues: [], serverAdapter: server,
      options: {
        uiConfig: {
          boardTitle: 'Swarmflow queues', hideRedisDetails: true, hideDocsLink: true,
          miscLinks: [{ text: 'Back to Swarmflow', url: '/workers' }],
        },
      },
    });
    return { server, api, writable, topics: '' };
  };
  const boards = { viewer: board(false), operator: board(true) };
  let topicsReadAt = 0;
  let topics: string[] = [];
  const refresh = async () => {
    if (clock().getTime() - topicsReadAt > TOPICS_TTL_MS) {
      topics = await repos.workers.knownQueues();
      topicsReadAt = clock().getTime();
    }
    const key = topics.join(',');
    for (const b of Object.values(boards)) {
      if (b.topics === key) continue;
      b.api.replaceQueues(topics.map((t) => new TaskQueueAdapter(t, repos, b.writable ? retry : null)));
      b.topics = key;
    }
  };

  const viewerRouter = boards.viewer.server.getRouter();
  const operatorRouter = boards.operator.server.getRouter();
  app.use(BULL_BOARD_PATH, (req: Request, res: Response, next: NextFunction) => {
    void (async () => {
      const authed = req as unknown as AuthedRequest;
      const resolved = await guard.resolve(authed);
      const caller: Caller | null = resolved && 'caller' in resolved ? resolved.caller : null;
      const isApi = req.path.startsWith('/api/');
      if (!caller) {
        if (!isApi && READS.has(req.method)) {
          res.redirect(302, `/login?next=${encodeURIComponent(req.originalUrl)}`);
        } else {
          res.status(401).json({ reason: 'unauthenticated', message: `bull-board needs a caller: ${resolved && 'problem' in resolved ? resolved.problem : 'log in to the Swarmflow UI first'}` });
        }
        return;
      }
      authed.swarmflow = { caller };
      const write = !READS.has(req.method);
      if (write) {
        const action = /\/retry(\/|$)/.test(req.path) ? 'task.clear' : `queues.${req.method.toLowerCase()}`;
        authed.swarmflow.audit = { action, target: `queues${req.path}`, detail: { via: 'bull-board' } };
        res.once('close', () => void audit.recordRequest(authed, res.statusCode));
        if (!roleAllows(caller.user.role, 'operator')) {
          res.status(403).json({ reason: 'forbidden', message: `needs role operator; you are ${caller.user.role} (user ${caller.user.name})` });
          return;
        }
        if (caller.method === 'session' && !sameOrigin(req)) {
          res.status(403).json({ reason: 'csrf_failed', message: 'a bull-board write with the session cookie must come from a page of this server' });
          return;
        }
        // A proxy authenticates a browser by its own cookie: as on the API, another site's page must not write through it.
        if (caller.method === 'proxy' && (typeof req.headers['sec-fetch-site'] === 'string' ? !sameOrigin(req) : foreignOrigin(req) !== null)) {
          res.status(403).json({ reason: 'csrf_failed', message: "a bull-board write authenticated by the proxy's user header must come from a page of this server" });
          return;
        }
      }
      await refresh();
      const router = roleAllows(caller.user.role, 'operator') ? operatorRouter : viewerRouter;
      router(req, res, next);
    })().catch(next);
  });
}
