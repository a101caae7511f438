import type { ApiErrorBody } from './api.types';

interface Request {
  headers: Record<string, string | string[] | undefined>;
  is(type: string): string | false | null;
}

interface Response {
  status(code: number): { json(body: ApiErrorBody): void };
}

/**
 * Refuses (415) a request body of another Content-Type than JSON, before any parser: not
 * reading it would leave the DTO an empty body, and a trigger would run with default params
 * without a word. Requests without a Content-Type or without a body (`Content-Length: 0`)
 * pass: clients send those for bodiless POSTs (`…/kill`).
 */
export function requireJsonBody(req: Request, res: Response, next: () => void): void {
  const type = req.headers['content-type'];
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  if (type === undefined || !hasBody || req.is('application/json')) return next();
  res.status(415).json({
    reason: 'unsupported_media_type',
    message: `the request body must be JSON, not ${JSON.stringify(type)}. ` +
      `Fix: send it with Content-Type: application/json (curl -d sends a form unless given -H 'Content-Type: application/json')`,
  });
}
