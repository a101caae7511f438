import type { PipeTransform } from '@nestjs/common';
import { ROLES, userNameProblem } from '@swarmflow/core';
import { z } from 'zod';
import { RequestValidationError } from './zod-validation.pipe';

const role = z.enum(ROLES as unknown as ['viewer', 'operator', 'admin'], { error: `must be one of ${ROLES.join(', ')}` });
const password = z.string({ error: 'must be a string' });
const lifetime = z.string({ error: 'must be a duration such as 90d, or "never"' }).optional();

export const LoginBody = z.object({
  name: z.string({ error: 'is required: the user name' }).min(1, 'is required: the user name'),
  password: z.string({ error: 'is required' }).min(1, 'is required'),
  /** `cookie` (default): a browser session; `token`: an API token for a CLI, returned once. */
  as: z.enum(['cookie', 'token']).optional(),
  /** With `as: "token"`: what to call it and how long it lives (default 30d). */
  tokenName: z.string().min(1).max(100).optional(),
  expiresIn: lifetime,
}).strict();
export type LoginBody = z.infer<typeof LoginBody>;

export const CreateUserBody = z.object({
  name: z.string({ error: 'is required' }),
  role,
  /** Leave out for a user that only holds tokens (a robot). */
  password: password.optional(),
}).strict();
export type CreateUserBody = z.infer<typeof CreateUserBody>;

export const PatchUserBody = z.object({ role: role.optional(), disabled: z.boolean().optional() }).strict();
export type PatchUserBody = z.infer<typeof PatchUserBody>;

export const SetPasswordBody = z.object({ password }).strict();
export type SetPasswordBody = z.infer<typeof SetPasswordBody>;

export const CreateTokenBody = z.object({
  name: z.string({ error: 'is required: what the token is for, e.g. ci' }),
  /** Whose role the token carries (default the caller). */
  user: z.string().optional(),
  /** `90d`, `12h`, … or `never` (the default). */
  expiresIn: lifetime,
}).strict();
export type CreateTokenBody = z.infer<typeof CreateTokenBody>;

export const ListTokensQuery = z.object({ user: z.string().optional() }).strict();
export type ListTokensQuery = z.infer<typeof ListTokensQuery>;

export const ListAuditQuery = z.object({
  /** An ISO timestamp, or a duration back from now (`1h`, `7d`). */
  since: z.string().optional(),
  limit: z.coerce.number({ error: 'must be a number' }).int().min(1).max(1000).optional(),
  actor: z.string().optional(),
  action: z.string().optional(),
}).strict();
export type ListAuditQuery = z.infer<typeof ListAuditQuery>;

/** A user name in a path. */
export class UserNamePipe implements PipeTransform<string, string> {
  transform(name: string): string {
    const problem = userNameProblem(name);
    if (problem) throw new RequestValidationError('name', problem);
    return name;
  }
}

/** A token id in a path. */
export class TokenIdPipe implements PipeTransform<string, number> {
  transform(id: string): number {
    if (!/^\d{1,15}$/.test(id)) throw new RequestValidationError('id', `must be a token id, a whole number as \`swarmflow tokens list\` shows (got ${JSON.stringify(id)})`);
    return Number(id);
  }
}
