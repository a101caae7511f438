import { existsSync } from 'node:fs';
import path from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import type { NestExpressApplication } from '@nestjs/platform-express';

/**
 * Where `npm run build` puts the web UI (apps/ui → dist/ui), from this file compiled
 * (dist/apps/webserver/src/http) or run from source (apps/webserver/src/http, tests).
 */
export function defaultUiDir(): string | null {
  const candidates = [path.resolve(__dirname, '../../../../ui'), path.resolve(__dirname, '../../../../dist/ui')];
  return candidates.find((dir) => existsSync(path.join(dir, 'index.html'))) ?? null;
}

/** Names of static files; anything else outside the server's paths is a page of the app. */
const STATIC_FILE = /\.(js|mjs|css|map|png|jpe?g|gif|ico|svg|webp|woff2?|ttf|txt|webmanifest)$/i;

/** Paths that belong to the server, never to the single-page app. */
const SERVER_PATHS = /^\/(api|metrics|queues)(\/|$)/;

/**
 * Serves the web UI at `/`: its hashed assets (`/assets/*`, cached for a year: their names
 * change with their content), and `index.html` (never cached) for every other GET outside
 * the API, so a deep link (`/dags/x/runs/y`) opens the app at that view. Without a built UI,
 * `/` says how to build it.
 */
export function serveUi(app: NestExpressApplication, uiDir: string | null): void {
  if (uiDir) {
    app.useStaticAssets(path.join(uiDir, 'assets'), { prefix: '/assets/', immutable: true, maxAge: '365d', index: false, fallthrough: false });
  }
  app.use((req: Request, res: Response, next: NextFunction) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || SERVER_PATHS.test(req.path)) return next();
    // A static file that is not there (favicon.ico, robots.txt…): a plain 404, not the app. Only
    // these extensions: a run id may end in `.630Z` and its page must open.
    if (STATIC_FILE.test(req.path)) return next();
    if (!uiDir) {
      res.status(404).type('text/plain').send('The web UI is not built. Fix: run `npm run build` (it builds apps/ui into dist/ui), then restart. The API is at /api/v1.\n');
      return;
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(path.join(uiDir, 'index.html'));
  });
}
