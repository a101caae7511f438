import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Req } from '@nestjs/common';
import { Accounts, parseTokenLifetime } from '../auth/accounts';
import { Audit, auditNote, callerOf, type AuthedRequest } from '../auth/audit';
import { ACCOUNTS } from '../tokens';
import { RequiresRole } from './auth/requires-role.decorator';
import { CreateTokenBody, ListTokensQuery, TokenIdPipe } from './auth.dto';
import { toCreatedTokenDto, toTokenDto } from './auth.presenters';
import type { CreatedTokenDto, TokenDto } from './auth.types';
import { ZodValidationPipe } from './zod-validation.pipe';

/** API tokens: admins create (the secret is answered once), list (never the secret) and revoke them. */
@Controller('tokens')
@RequiresRole('admin')
export class TokensController {
  constructor(@Inject(ACCOUNTS) private readonly accounts: Accounts) {}

  @Get()
  async list(@Query(new ZodValidationPipe(ListTokensQuery, 'query')) query: ListTokensQuery): Promise<TokenDto[]> {
    return (await this.accounts.listTokens(query.user)).map(toTokenDto);
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

  /** Revokes the token at once; answers it as it now is. */
  @Delete(':id')
  @HttpCode(200)
  @Audit('token.revoke')
  async revoke(@Param('id', TokenIdPipe) id: number, @Req() req: AuthedRequest): Promise<TokenDto> {
    const token = await this.accounts.revokeToken(id);
    auditNote(req, { target: token.userName, detail: { tokenId: id, name: token.name } });
    return toTokenDto(token);
  }
}
