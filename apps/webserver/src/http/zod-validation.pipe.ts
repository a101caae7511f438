import { type PipeTransform } from '@nestjs/common';
import { suggestName } from '@swarmflow/core';
import { z } from 'zod';

/** A request body or query string does not match its DTO; `field` is a dotted path (`isPaused`, `conf`). */
export class RequestValidationError extends Error {
  override name = 'RequestValidationError';

  constructor(readonly field: string | undefined, problem: string) {
    super(field ? `${field}: ${problem}` : problem);
  }
}

/**
 * Validates a body or query with a zod schema and hands the parsed value to the controller.
 * The first problem becomes a {@link RequestValidationError} naming the field; an unknown
 * field close to a known one comes first, as that misspelling (`is_paused`) is why the
 * known one seems missing.
 */
export class ZodValidationPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  /** The top-level fields of the schema, when it is an object: named in the errors. */
  private readonly known: string[];

  constructor(private readonly schema: S, private readonly what: 'body' | 'query' = 'body') {
    this.known = schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
  }

  transform(value: unknown): z.infer<S> {
    // An empty or missing JSON body reaches us as undefined or {}.
    const result = this.schema.safeParse(value ?? {});
    if (result.success) return result.data;
    const issues = result.error.issues;
    const unknown = issues.find((i) => i.code === 'unrecognized_keys' && i.path.length === 0);
    const misspelt = unknown?.code === 'unrecognized_keys' && suggestName(unknown.keys[0], this.known) !== null;
    const issue = misspelt ? unknown : issues[0];
    const path = issue.path.map(String).join('.');
    const known = path === '' ? this.known : [];
    if (issue.code === 'unrecognized_keys') {
      const field = [path, issue.keys[0]].filter(Boolean).join('.');
      const near = suggestName(issue.keys[0], known);
      const what = issue.keys.length > 1 ? `unknown ${this.what} fields ${issue.keys.join(', ')}` : `unknown ${this.what} field`;
      const takes = known.length ? `; the ${this.what} takes only ${known.join(', ')}` : '';
      return fail(field, `${what}${near ? ` (did you mean "${near}"?)` : ''}${takes}`);
    }
    if (path === '' && issue.code === 'invalid_type' && known.length) {
      return fail(undefined, `the request ${this.what} must be a JSON object with the fields ${known.join(', ')} (got ${kindOf(value)})`);
    }
    return fail(path || undefined, humanMessage(issue));
  }
}

/** zod's own wording (`Too small: expected string to have >=1 characters`) in the API's words; a schema's own message as is. */
export function humanMessage(issue: z.core.$ZodIssue): string {
  if (!/^(Too small|Too big|Invalid input)\b/.test(issue.message)) return issue.message;
  const i = issue as unknown as { code: string; origin?: string; minimum?: number | bigint; maximum?: number | bigint; inclusive?: boolean; expected?: string };
  const n = Number(i.minimum ?? i.maximum);
  const unit = (what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  if (i.code === 'too_small') {
    if (i.origin === 'string') return n <= 1 ? 'must not be empty' : `must be at least ${unit('character')} long`;
    if (i.origin === 'array' || i.origin === 'set') return `must have at least ${unit('item')}`;
    return `must be ${i.inclusive === false ? 'greater than' : 'at least'} ${n}`;
  }
  if (i.code === 'too_big') {
    if (i.origin === 'string') return `must be at most ${unit('character')} long`;
    if (i.origin === 'array' || i.origin === 'set') return `must have at most ${unit('item')}`;
    return `must be ${i.inclusive === false ? 'less than' : 'at most'} ${n}`;
  }
  if (i.code === 'invalid_type' && i.expected) {
    const got = /received (\w+)/.exec(issue.message)?.[1];
    return `must be ${/^[aeiou]/.test(i.expected) ? 'an' : 'a'} ${i.expected}${got ? ` (got ${got === 'undefined' ? 'nothing' : /^[aeiou]/.test(got) ? `an ${got}` : `a ${got}`})` : ''}`;
  }
  return issue.message.replace(/^Invalid input: /, 'is invalid: ');
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return `a ${typeof value}`;
}

function fail(field: string | undefined, problem: string): never {
  throw new RequestValidationError(field, problem);
}
