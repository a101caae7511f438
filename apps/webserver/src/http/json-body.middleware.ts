import type { ApiErrorBody } from '@swarmflow/contracts/api.types';

interface Request {
  headers: Record<string, string | string[] | undefined>;
  is(types: string[]): string | false | null;
}

interface Response {
  status(code: number): { json(body: ApiErrorBody): void };
}

/** Media types read as JSON: `application/json` and the `+json` suffix types (`application/merge-patch+json`). */
export const JSON_TYPES = ['application/json', 'application/*+json'];

/**
 * Refuses (415) a request body that is not declared JSON, before any parser: not reading
 * it would leave the DTO an empty body, and a trigger would run with default params
 * without a word. That includes a body sent without a Content-Type (Python's
 * `requests.post(url, data=json.dumps(…))`). Requests without a body (`Content-Length: 0`,
 * or neither a length nor chunked encoding) pass: clients send those for bodiless POSTs (`…/kill`).
 */
export function requireJsonBody(req: Request, res: Response, next: () => void): void {
  const type = req.headers['content-type'];
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  if (!hasBody || (type !== undefined && req.is(JSON_TYPES))) return next();
  res.status(415).json({
    reason: 'unsupported_media_type',
    message: `the request body must be JSON, not ${type === undefined ? 'a body without a Content-Type' : JSON.stringify(type)}. ` +
      `Fix: send it with Content-Type: application/json (curl -d sends a form unless given -H 'Content-Type: application/json')`,
  });
}
