import type { ApiErrorBody } from '@swarmflow/contracts/api.types';

interface Request {
  path: string;
  query: unknown;
  body?: unknown;
}

interface Response {
  status(code: number): { json(body: ApiErrorBody): void };
}

/** What PostgreSQL's text and jsonb refuse: a NUL character, or half of a UTF-16 surrogate pair. */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function problemOf(text: string): string {
  return text.includes('\u0000') ? 'a NUL character (\\u0000)' : 'half of a UTF-16 surrogate pair (invalid Unicode)';
}

/** `conf.region`, `variables["a b"]`: a JSON path as a client would write it. */
function child(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (/^[A-Za-z_$][\w$]*$/.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${JSON.stringify(key)}]`;
}

/** The first string or key in `value` the database cannot store: its field and what is wrong. */
export function findUnstorable(value: unknown, path: string): { field: string; problem: string } | null {
  if (typeof value === 'string') return UNSTORABLE.test(value) ? { field: path, problem: `holds ${problemOf(value)}` } : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorable(value[i], child(path, i));
      if (found) return found;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (UNSTORABLE.test(key)) return { field: path || 'body', problem: `has a key ${JSON.stringify(key)} holding ${problemOf(key)}` };
      const found = findUnstorable(v, child(path, key));
      if (found) return found;
    }
  }
  return null;
}

function refuse(res: Response, field: string, problem: string, fix: string): void {
  res.status(400).json({ reason: 'invalid_request', message: `${field}: ${problem}. Fix: ${fix}`, field });
}

/**
 * Refuses (400, naming the field) a path or query string that does not decode, or holds a
 * NUL or a lone surrogate, before any route reads it: such a value can never name anything
 * stored, and PostgreSQL would answer it with an error, not an empty result.
 */
export function rejectUnstorablePathAndQuery(req: Request, res: Response, next: () => void): void {
  for (const segment of req.path.split('/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return refuse(res, 'path', `the segment ${JSON.stringify(segment.slice(0, 80))} is not valid percent-encoded UTF-8`, 'percent-encode each byte of the UTF-8 text (encodeURIComponent)');
    }
    if (UNSTORABLE.test(decoded)) return refuse(res, 'path', `a segment holds ${problemOf(decoded)}`, 'remove it from the URL');
  }
  const query = findUnstorable(req.query, 'query');
  if (query) return refuse(res, query.field, query.problem, 'remove it from the query string');
  next();
}

/** Refuses (400, naming the JSON field) a parsed JSON body holding a NUL or a lone surrogate in a value or key. */
export function rejectUnstorableBody(req: Request, res: Response, next: () => void): void {
  const found = req.body === undefined ? null : findUnstorable(req.body, '');
  if (found) return refuse(res, found.field || 'body', found.problem, 'remove it from the value; JSON text cannot be stored with it');
  next();
}
