import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Req } from '@nestjs/common';
import { roleAllows } from '@swarmflow/core';
import { Accounts, parseTokenLifetime } from '../auth/accounts';
import { AuthError } from '../auth/auth-errors';
import { Audit, auditNote, callerOf, type AuthedRequest } from '../auth/audit';
import { ACCOUNTS } from '../tokens';
import { RequiresRole } from './auth/requires-role.decorator';
import { CreateTokenBody, ListTokensQuery, TokenIdPipe } from './auth.dto';
import { toCreatedTokenDto, toTokenDto } from './auth.presenters';
import type { CreatedTokenDto, TokenDto } from '@swarmflow/contracts/auth.types';
import { ZodValidationPipe } from './zod-validation.pipe';

/**
 * API tokens: admins create them (the secret is answered once), list every user's (never
 * the secret) and revoke any; every other user lists and revokes their own.
 */
@Controller('tokens')
@RequiresRole('admin')
export class TokensController {
  constructor(@Inject(ACCOUNTS) private readonly accounts: Accounts) {}

  /** An admin: every token, or `user`'s. Anyone else: their own (`user`, if given, must be them). */
  @Get()
  @RequiresRole('viewer')
  async list(@Query(new ZodValidationPipe(ListTokensQuery, 'query')) query: ListTokensQuery, @Req() req: AuthedRequest): Promise<TokenDto[]> {
    const caller = callerOf(req)!.user;
    if (roleAllows(caller.role, 'admin')) return (await this.accounts.listTokens(query.user)).map(toTokenDto);
    if (query.user !== undefined && query.user !== caller.name) {
      throw new AuthError('forbidden', `listing the tokens of another user ("${query.user}") needs role admin; you are ${caller.role} (user ${caller.name}). Fix: leave out user to list your own, or ask an admin.`);
    }
    return (await this.accounts.listTokens(caller.name)).map(toTokenDto);
  }

  /** The token for `user` (default the caller); the answer's `token` is the only time the secret is shown. */
  @Post()
  @HttpCode(201)
  @Audit('token.create')
  async create(@Body(new ZodValidationPipe(CreateTokenBody)) body: CreateTokenBody, @Req() req: AuthedRequest): Promise<CreatedTokenDto> {
    const userName = body.user ?? callerOf(req)!.user.name;
    auditNote(req, { target: userName, detail: { name: body.name, expiresIn: body.expiresIn ?? 'never' } });
    const created = await this.accounts.createToken({ name: body.name, userName, lifetimeMs: parseTokenLifetime(body.expiresIn, 'expiresIn') });
    auditNote(req, { detail: { tokenId: created.info.id } });
    return toCreatedTokenDto(created);
  }

  /** Revokes the token at once; answers it as it now is. An admin revokes any token, anyone else only their own. */
  @Delete(':id')
  @RequiresRole('viewer')
  @HttpCode(200)
  @Audit('token.revoke')
  async revoke(@Param('id', TokenIdPipe) id: number, @Req() req: AuthedRequest): Promise<TokenDto> {
    const caller = callerOf(req)!.user;
    if (!roleAllows(caller.role, 'admin')) {
      const owned = await this.accounts.getToken(id);
      if (owned.userName !== caller.name) {
        auditNote(req, { target: owned.userName, detail: { tokenId: id } });
        throw new AuthError('forbidden', `revoking another user's token needs role admin; you are ${caller.role} (user ${caller.name}). Fix: \`swarmflow tokens list\` shows your own tokens; ask an admin for others.`);
      }
    }
    const token = await this.accounts.revokeToken(id);
    auditNote(req, { target: token.userName, detail: { tokenId: id, name: token.name } });
    return toTokenDto(token);
  }
}
