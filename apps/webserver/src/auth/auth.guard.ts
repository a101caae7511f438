import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Caller, Role } from '@swarmflow/core';
import { ACCOUNTS, AUTH_OPTIONS, CLOCK, REPOSITORIES, type Clock } from '../tokens';
import type { Repositories } from '@swarmflow/persistence';
import { PUBLIC_ROUTE, REQUIRED_ROLE } from '../http/auth/requires-role.decorator';
import { Accounts, roleShortfall, tokenProblemMessage } from './accounts';
import { AUDIT_ACTION, AuditService, type AuthedRequest } from './audit';
import { AuthError } from './auth-errors';
import { CSRF_HEADER, SESSION_COOKIE, type AuthOptions } from './auth-options';
import { sameSecret, sha256 } from './credentials';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

const LOGIN_HINT = 'send Authorization: Bearer <token> (create one with `swarmflow tokens create`, or log in with `swarmflow login`)';

interface Response {
  statusCode: number;
  once(event: 'close', listener: () => void): unknown;
}

type Resolved = { caller: Caller; csrfToken?: string } | { problem: string } | null;

/**
 * The global guard: finds the caller (bearer token, session cookie, or a trusted proxy's
 * header), checks the CSRF header on cookie-authenticated writes, and checks the route's
 * role (`@RequiresRole`; default viewer for GET/HEAD, admin otherwise; `@Public()` needs
 * none). 401 without a valid caller, 403 naming the missing role. Every write, allowed
 * or not, is audited when its response is sent.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(ACCOUNTS) private readonly accounts: Accounts,
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(AUTH_OPTIONS) private readonly options: AuthOptions,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const http = context.switchToHttp();
    const req = http.getRequest<AuthedRequest>();
    const res = http.getResponse<Response>();
    const targets = [context.getHandler(), context.getClass()];
    const write = !READS.has(req.method);
    req.swarmflow = { caller: null };
    if (write) {
      const routePath = (req.route?.path ?? req.path).replace(/^\/?api\/v1\//, '');
      req.swarmflow.audit = {
        action: this.reflector.getAllAndOverride<string>(AUDIT_ACTION, targets) ?? `${req.method.toLowerCase()} ${routePath}`,
        target: safeDecode(req.path.replace(/^\/?api\/v1\//, '')),
        detail: {},
      };
      // 'close' comes after the answer is sent, and also when the client hung up before it was.
      res.once('close', () => void this.audit.recordRequest(req, res.statusCode));
    }

    const isPublic = this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets) === true;
    // A public route answers even when the credentials cannot be checked (health while the database is down).
    const resolved = isPublic ? await this.resolve(req).catch(() => null) : await this.resolve(req);
    if (resolved && 'caller' in resolved) req.swarmflow.caller = resolved.caller;
    if (isPublic) return true;

    if (!resolved) throw new AuthError('unauthenticated', `this API needs a caller: ${LOGIN_HINT}`);
    if ('problem' in resolved) throw new AuthError('unauthenticated', `${resolved.problem}: ${LOGIN_HINT}`);
    if (write && resolved.caller.method === 'session') {
      const header = req.headers[CSRF_HEADER];
      if (typeof header !== 'string' || !resolved.csrfToken || !sameSecret(header, resolved.csrfToken)) {
        throw new AuthError('csrf_failed', `a write with the session cookie needs the ${CSRF_HEADER} header set to the session's CSRF token (from the login answer, GET /api/v1/auth/me or the ${'swarmflow_csrf'} cookie)`);
      }
    }
    if (write && resolved.caller.method === 'proxy') {
      // The proxy authenticates a browser by its own cookie, so another site's page could
      // write through it: a browser says where a write comes from in Origin, which must be this server.
      const problem = foreignOrigin(req);
      if (problem) throw new AuthError('csrf_failed', `a write authenticated by the proxy's ${this.options.proxyUserHeader} header ${problem}: only this server's own pages (or clients that send no Origin) may write`);
    }
    const needed = this.reflector.getAllAndOverride<Role>(REQUIRED_ROLE, targets) ?? (write ? 'admin' : 'viewer');
    const shortfall = roleShortfall(resolved.caller.user.role, needed);
    if (shortfall) throw new AuthError('forbidden', `${shortfall} (user ${resolved.caller.user.name}). Fix: call with a token of a user who has that role, or an admin runs \`swarmflow users set-role ${resolved.caller.user.name} ${needed}\``);
    return true;
  }

  /** The caller, why the credentials given are refused, or null when none were given. */
  async resolve(req: AuthedRequest): Promise<Resolved> {
    const authorization = req.headers.authorization;
    if (typeof authorization === 'string' && authorization.trim()) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization.trim());
      if (!match) return { problem: 'the Authorization header must be "Bearer <token>"' };
      const result = await this.accounts.authenticateToken(match[1]);
      return 'caller' in result ? result : { problem: tokenProblemMessage(result.problem) };
    }
    const sessionId = cookie(req, SESSION_COOKIE);
    if (sessionId) {
      const session = await this.repos.sessions.find(sha256(sessionId), this.clock());
      if (!session) return { problem: 'the session has ended (logged out, expired, or the password changed): log in again' };
      if (session.user.disabled) return { problem: "the session's user is disabled" };
      return {
        caller: { user: { id: session.user.id, name: session.user.name, role: session.user.role }, method: 'session', sessionId: session.idHash },
        csrfToken: session.csrfToken,
      };
    }
    const header = this.options.proxyUserHeader;
    if (header && this.fromTrustedProxy(req)) {
      const name = req.headers[header.toLowerCase()];
      if (typeof name === 'string' && name.trim()) {
        const user = await this.repos.users.get(name.trim());
        if (!user) return { problem: `the proxy's user ${JSON.stringify(name.trim())} is not a user here: create it with \`swarmflow users create\`` };
        if (user.disabled) return { problem: `user ${user.name} is disabled` };
        return { caller: { user: { id: user.id, name: user.name, role: user.role }, method: 'proxy' } };
      }
    }
    return null;
  }

  private fromTrustedProxy(req: AuthedRequest): boolean {
    const trust = (req as unknown as { app?: { get(name: string): unknown } }).app?.get('trust proxy fn');
    const address = req.socket.remoteAddress;
    return this.options.trustedProxies.length > 0 && typeof trust === 'function' && !!address && trust(address, 0) === true;
  }
}

/**
 * Why a request's `Origin` is not the server it was sent to (the `Host` it named, as the
 * proxy forwarded it), or null when it is, or when there is no Origin (not a browser page).
 */
export function foreignOrigin(req: { headers: Record<string, string | string[] | undefined> }): string | null {
  const origin = req.headers.origin;
  if (typeof origin !== 'string' || origin === '') return null;
  const forwarded = req.headers['x-forwarded-host'];
  const named = typeof forwarded === 'string' && forwarded ? forwarded.split(',')[0] : req.headers.host;
  const host = typeof named === 'string' ? named.trim().toLowerCase() : undefined;
  let originHost: string | null = null;
  try {
    originHost = origin === 'null' ? null : new URL(origin).host.toLowerCase();
  } catch {
    originHost = null;
  }
  return originHost !== null && originHost === host ? null : `came from the page at ${JSON.stringify(origin)}, not from ${host ?? 'this server'}`;
}

/** One cookie's value from the Cookie header, or null. */
export function cookie(req: { headers: Record<string, string | string[] | undefined> }, name: string): string | null {
  const header = req.headers.cookie;
  if (typeof header !== 'string') return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return safeDecode(part.slice(eq + 1).trim());
  }
  return null;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
