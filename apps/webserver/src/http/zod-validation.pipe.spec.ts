import { ImportVariablesBody, PatchDagBody, PutVariableBody } from './request.dto';
import { RequestValidationError, ZodValidationPipe } from './zod-validation.pipe';

/** The error the pipe throws for `body`, as { field, message }. */
function errorOf(pipe: ZodValidationPipe<never>, body: unknown): { field: string | undefined; message: string } {
  try {
    pipe.transform(body);
  } catch (err) {
    if (err instanceof RequestValidationError) return { field: err.field, message: err.message };
    throw err;
  }
  throw new Error('expected a RequestValidationError');
}

describe('ZodValidationPipe', () => {
  const patch = new ZodValidationPipe(PatchDagBody) as unknown as ZodValidationPipe<never>;
  const fix = 'send {"isPaused": true} to pause the DAG or {"isPaused": false} to unpause it';

  it('passes a valid body through', () => {
    expect(patch.transform({ isPaused: true } as never)).toEqual({ isPaused: true });
  });

  it.each([
    [{ isPaused: 'yes' }, 'isPaused', `isPaused: must be true or false (got "yes"): ${fix}`],
    [{ isPaused: 1 }, 'isPaused', `isPaused: must be true or false (got 1): ${fix}`],
    [{}, 'isPaused', `isPaused: is required: ${fix}`],
    [undefined, 'isPaused', `isPaused: is required: ${fix}`],
    // A misspelt field is why the real one is missing: it is the one named.
    [{ is_paused: 'yes' }, 'is_paused', 'is_paused: unknown body field (did you mean "isPaused"?); the body takes only isPaused'],
    [{ isPaused: true, paused: true }, 'paused', 'paused: unknown body field (did you mean "isPaused"?); the body takes only isPaused'],
    [{ isPaused: true, colour: 'red', size: 2 }, 'colour', 'colour: unknown body fields colour, size; the body takes only isPaused'],
    [[true], undefined, 'the request body must be a JSON object with the fields isPaused (got an array)'],
  ])('names the field of %j', (body, field, message) => {
    expect(errorOf(patch, body)).toEqual({ field, message });
  });

  it('suggests the nearest field of other bodies too', () => {
    const put = new ZodValidationPipe(PutVariableBody) as unknown as ZodValidationPipe<never>;
    expect(errorOf(put, { value: 'x', isSecret: true })).toEqual({
      field: 'isSecret', message: 'isSecret: unknown body field (did you mean "secret"?); the body takes only value, secret, description',
    });
  });

  it('names the missing field first when the unknown one is no misspelling of it', () => {
    const importPipe = new ZodValidationPipe(ImportVariablesBody) as unknown as ZodValidationPipe<never>;
    // A flat key → value map sent where { "variables": … } is expected.
    expect(errorOf(importPipe, { region: 'eu' })).toEqual({
      field: 'variables', message: 'variables: is required: an object of key → value or key → { value, secret?, description? }',
    });
  });

  it('words zod\'s own messages as the API does, naming the field', () => {
    const { z } = require('zod') as typeof import('zod');
    const pipe = new ZodValidationPipe(z.object({ runId: z.string().min(1), note: z.string().max(3), n: z.number().min(2), tags: z.array(z.string()).min(1) }).strict()) as unknown as ZodValidationPipe<never>;
    const ok = { runId: 'r', note: 'ab', n: 2, tags: ['a'] };
    expect(errorOf(pipe, { ...ok, runId: '' })).toEqual({ field: 'runId', message: 'runId: must not be empty' });
    expect(errorOf(pipe, { ...ok, note: 'abcd' })).toEqual({ field: 'note', message: 'note: must be at most 3 characters long' });
    expect(errorOf(pipe, { ...ok, n: 1 })).toEqual({ field: 'n', message: 'n: must be at least 2' });
    expect(errorOf(pipe, { ...ok, tags: [] })).toEqual({ field: 'tags', message: 'tags: must have at least 1 item' });
    expect(errorOf(pipe, { ...ok, runId: 5 })).toEqual({ field: 'runId', message: 'runId: must be a string (got a number)' });
  });
});
