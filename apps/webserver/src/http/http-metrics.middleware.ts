import { processMetrics, statusClass } from '@swarmflow/observability';
import type { NextFunction, Request, Response } from 'express';

/** Label of requests no route matched (404s, probes): one value, whatever the path was. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Counts every answered request by method, route template (`/api/v1/dags/:dagId`, never
 * the path itself: its ids would make a series each) and status class, with its duration.
 */
export function httpMetrics(req: Request, res: Response, next: NextFunction): void {
  const startedAt = performance.now();
  res.once('finish', () => {
    const metrics = processMetrics();
    const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : UNMATCHED_ROUTE;
    const labels = { method: KNOWN_METHODS.has(req.method) ? req.method : 'other', route, status_class: statusClass(res.statusCode) };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, (performance.now() - startedAt) / 1000);
  });
  next();
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
