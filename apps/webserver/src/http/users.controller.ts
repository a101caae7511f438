import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Put, Req } from '@nestjs/common';
import { Accounts } from '../auth/accounts';
import { Audit, auditNote, type AuthedRequest } from '../auth/audit';
import { ACCOUNTS } from '../tokens';
import { RequiresRole } from './auth/requires-role.decorator';
import { CreateUserBody, PatchUserBody, SetPasswordBody, UserNamePipe } from './auth.dto';
import { toUserDto } from './auth.presenters';
import type { UserDto } from '@swarmflow/contracts/auth.types';
import { ZodValidationPipe } from './zod-validation.pipe';

/** Users: admins list, create, change and delete them. Passwords go in, never out. */
@Controller('users')
@RequiresRole('admin')
export class UsersController {
  constructor(@Inject(ACCOUNTS) private readonly accounts: Accounts) {}

  @Get()
  async list(): Promise<UserDto[]> {
    return (await this.accounts.listUsers()).map(toUserDto);
  }

  @Get(':name')
  async get(@Param('name', UserNamePipe) name: string): Promise<UserDto> {
    return toUserDto(await this.accounts.getUser(name));
  }

  @Post()
  @HttpCode(201)
  @Audit('user.create')
  async create(@Body(new ZodValidationPipe(CreateUserBody)) body: CreateUserBody, @Req() req: AuthedRequest): Promise<UserDto> {
    auditNote(req, { target: body.name, detail: { role: body.role } });
    return toUserDto(await this.accounts.createUser({ name: body.name, role: body.role, password: body.password ?? null }));
  }

  /** Sets the role and/or disables or enables the user. */
  @Patch(':name')
  @Audit('user.update')
  async update(
    @Param('name', UserNamePipe) name: string,
    @Body(new ZodValidationPipe(PatchUserBody)) body: PatchUserBody,
    @Req() req: AuthedRequest,
  ): Promise<UserDto> {
    auditNote(req, { target: name, detail: { ...body } });
    let user = await this.accounts.getUser(name);
    if (body.role !== undefined) user = await this.accounts.setRole(name, body.role);
    if (body.disabled !== undefined) user = await this.accounts.setDisabled(name, body.disabled);
    return toUserDto(user);
  }

  /** Sets a new password; the user's browser sessions end. */
  @Put(':name/password')
  @HttpCode(204)
  @Audit('user.password')
  async setPassword(
    @Param('name', UserNamePipe) name: string,
    @Body(new ZodValidationPipe(SetPasswordBody)) body: SetPasswordBody,
    @Req() req: AuthedRequest,
  ): Promise<void> {
    auditNote(req, { target: name });
    await this.accounts.resetPassword(name, body.password);
  }

  @Delete(':name')
  @HttpCode(204)
  @Audit('user.delete')
  async delete(@Param('name', UserNamePipe) name: string, @Req() req: AuthedRequest): Promise<void> {
    auditNote(req, { target: name });
    await this.accounts.deleteUser(name);
  }
}
