import { type PipeTransform } from '@nestjs/common';
import type { z } from 'zod';

/** A request body or query string does not match its DTO; `field` is a dotted path (`isPaused`, `conf`). */
export class RequestValidationError extends Error {
  override name = 'RequestValidationError';

  constructor(readonly field: string | undefined, problem: string) {
    super(field ? `${field}: ${problem}` : problem);
  }
}

/** Validates a body or query with a zod schema and hands the parsed value to the controller. */
export class ZodValidationPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(private readonly schema: S, private readonly what: 'body' | 'query' = 'body') {}

  transform(value: unknown): z.infer<S> {
    // An empty or missing JSON body reaches us as undefined or {}.
    const result = this.schema.safeParse(value ?? {});
    if (result.success) return result.data;
    const issue = result.error.issues[0];
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      const field = [path, issue.keys[0]].filter(Boolean).join('.');
      return fail(field, `unknown ${this.what} field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`);
    }
    return fail(path || undefined, issue.message);
  }
}

function fail(field: string | undefined, problem: string): never {
  throw new RequestValidationError(field, problem);
}
