import { Body, Controller, Get, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import type { Repositories } from '@swarmflow/persistence';
import { Accounts, parseTokenLifetime } from '../auth/accounts';
import { Audit, auditNote, callerOf, type AuthedRequest } from '../auth/audit';
import { AuthError } from '../auth/auth-errors';
import { CSRF_COOKIE, SESSION_COOKIE, type AuthOptions } from '../auth/auth-options';
import { cookie } from '../auth/auth.guard';
import { newCsrfToken, newSessionId, sha256 } from '../auth/credentials';
import type { LoginThrottle } from '../auth/login-throttle';
import { ACCOUNTS, AUTH_OPTIONS, CLOCK, LOGIN_THROTTLE, REPOSITORIES, type Clock } from '../tokens';
import { Public, RequiresRole } from './auth/requires-role.decorator';
import { LoginBody } from './auth.dto';
import { toCreatedTokenDto } from './auth.presenters';
import type { LoginTokenDto, MeDto } from '@swarmflow/contracts/auth.types';
import { ZodValidationPipe } from './zod-validation.pipe';

interface CookieResponse {
  cookie(name: string, value: string, options: Record<string, unknown>): unknown;
  clearCookie(name: string, options: Record<string, unknown>): unknown;
}

type Request = AuthedRequest & { secure?: boolean };

/** Default lifetime of a token made by a login (`swarmflow login`). */
const LOGIN_TOKEN_LIFETIME = '30d';

/** Login (a browser session or a CLI token), logout, and who am I. */
@Controller('auth')
export class AuthController {
  constructor(
    @Inject(ACCOUNTS) private readonly accounts: Accounts,
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(LOGIN_THROTTLE) private readonly throttle: LoginThrottle,
    @Inject(AUTH_OPTIONS) private readonly options: AuthOptions,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * Checks a user's password. `as: "cookie"` (default) starts a session: an HttpOnly cookie
   * and a CSRF token for writes; `as: "token"` answers an API token instead (once).
   * Failed attempts are counted per user and per address: past the limit, 429.
   */
  @Post('login')
  @Public()
  @HttpCode(200)
  @Audit('auth.login')
  async login(
    @Body(new ZodValidationPipe(LoginBody)) body: LoginBody,
    @Req() req: Request,
    @Res({ passthrough: true }) res: CookieResponse,
  ): Promise<MeDto | LoginTokenDto> {
    auditNote(req, { target: body.name, actor: null, detail: { as: body.as ?? 'cookie' } });
    const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    const now = this.clock();
    const wait = this.throttle.retryAfterMs(body.name, ip, now);
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      throw new AuthError('too_many_attempts', `too many failed logins for this user or from this address: try again in ${seconds}s`, seconds);
    }
    const lifetimeMs = body.as === 'token' ? parseTokenLifetime(body.expiresIn ?? LOGIN_TOKEN_LIFETIME, 'expiresIn') : null;
    const user = await this.accounts.verifyLogin(body.name, body.password);
    if (!user) {
      this.throttle.failed(body.name, ip, now);
      throw new AuthError('unauthenticated', 'wrong user name or password (or the user is disabled)');
    }
    this.throttle.succeeded(body.name);
    auditNote(req, { actor: user.name });
    if (body.as === 'token') {
      const created = await this.accounts.createToken({ name: body.tokenName ?? 'login', userName: user.name, lifetimeMs });
      auditNote(req, { detail: { tokenId: created.info.id } });
      return { user: { name: user.name, role: user.role }, token: toCreatedTokenDto(created) };
    }
    await this.repos.sessions.deleteExpired(now);
    const sessionId = newSessionId();
    const csrfToken = newCsrfToken();
    await this.repos.sessions.create({
      idHash: sha256(sessionId), userId: user.id, csrfToken, expiresAt: new Date(now.getTime() + this.options.sessionTtlMs),
    }, now);
    const flags = this.cookieFlags(req);
    res.cookie(SESSION_COOKIE, sessionId, { ...flags, httpOnly: true });
    res.cookie(CSRF_COOKIE, csrfToken, { ...flags, httpOnly: false });
    return { name: user.name, role: user.role, method: 'session', csrfToken };
  }

  /** Ends the caller's session (and clears its cookies), or revokes the token that made the call. */
  @Post('logout')
  @RequiresRole('viewer')
  @HttpCode(204)
  @Audit('auth.logout')
  async logout(@Req() req: Request, @Res({ passthrough: true }) res: CookieResponse): Promise<void> {
    const caller = callerOf(req)!;
    if (caller.method === 'session') {
      const sessionId = cookie(req, SESSION_COOKIE);
      if (sessionId) await this.repos.sessions.delete(sha256(sessionId));
      const flags = this.cookieFlags(req);
      res.clearCookie(SESSION_COOKIE, { ...flags, httpOnly: true });
      res.clearCookie(CSRF_COOKIE, { ...flags, httpOnly: false });
    } else if (caller.method === 'token' && caller.tokenId !== undefined) {
      await this.accounts.revokeToken(caller.tokenId);
      auditNote(req, { detail: { tokenId: caller.tokenId } });
    }
  }

  @Get('me')
  @RequiresRole('viewer')
  async me(@Req() req: Request): Promise<MeDto> {
    const caller = callerOf(req)!;
    const me: MeDto = { name: caller.user.name, role: caller.user.role, method: caller.method };
    if (caller.method === 'session' && caller.sessionId) {
      const session = await this.repos.sessions.find(caller.sessionId, this.clock());
      if (session) me.csrfToken = session.csrfToken;
    }
    return me;
  }

  private cookieFlags(req: Request): Record<string, unknown> {
    const secure = this.options.cookieSecure === 'auto' ? req.secure === true : this.options.cookieSecure;
    return { sameSite: 'lax', secure, path: '/', maxAge: this.options.sessionTtlMs };
  }
}
