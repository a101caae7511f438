import type { ArgumentMetadata, PipeTransform } from '@nestjs/common';
import { ID_PATTERN, MAX_ID_LENGTH } from '@swarmflow/core';
import { RUN_ID } from './request.dto';
import { RequestValidationError } from './zod-validation.pipe';

/** What each id in a path may hold: what the DAG validator and the trigger accept, nothing more. */
const RULES: Record<string, { pattern: RegExp; max: number; allowed: string }> = {
  dagId: { pattern: ID_PATTERN, max: MAX_ID_LENGTH, allowed: 'letters, digits, "_", "." or "-"' },
  taskId: { pattern: ID_PATTERN, max: MAX_ID_LENGTH, allowed: 'letters, digits, "_", "." or "-"' },
  runId: { pattern: RUN_ID, max: 250, allowed: 'letters, digits, "_", ".", ":", "+" or "-"' },
  versionHash: { pattern: /^[A-Za-z0-9_-]+$/, max: 128, allowed: 'letters, digits, "_" or "-" (a run\'s `versionHash`)' },
};

/**
 * Checks the ids in every route's path (`:dagId`, `:runId`, `:taskId`) before a handler
 * sees them: a 400 naming the path parameter, rather than a lookup of an id that cannot
 * exist. Other path parameters (`:key`, `:name`) have pipes of their own.
 */
export class PathParamsPipe implements PipeTransform<unknown, unknown> {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== 'param' || metadata.data === undefined) return value;
    const rule = RULES[metadata.data];
    if (!rule || typeof value !== 'string') return value;
    if (value.length === 0 || value.length > rule.max || !rule.pattern.test(value)) {
      const shown = JSON.stringify(value.length > 260 ? `${value.slice(0, 250)}…` : value);
      throw new RequestValidationError(metadata.data, `${shown} is not a valid ${metadata.data}: it must be 1 to ${rule.max} ${rule.allowed}`);
    }
    return value;
  }
}
