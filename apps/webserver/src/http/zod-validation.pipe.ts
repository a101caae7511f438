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
    return fail(path || undefined, issue.message);
  }
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return `a ${typeof value}`;
}

function fail(field: string | undefined, problem: string): never {
  throw new RequestValidationError(field, problem);
}
