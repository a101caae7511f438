/**
 * How the webserver authenticates callers (DESIGN.md, "Security"). Read from the
 * environment by `loadWebserverConfig`; tests and standalone pass it to `createWebserver`.
 */
export interface AuthOptions {
  /**
   * Addresses of reverse proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed
   * (Express's "trust proxy" list: IPs, CIDRs, `loopback`). Empty = none: the socket's
   * address is the client's and only a direct TLS connection counts as HTTPS.
   */
  trustedProxies: string[];
  /**
   * The header an authenticating proxy puts the user's name in (e.g. `X-Forwarded-User`),
   * honoured only on requests that come from a trusted proxy; null = off (the default).
   * The user must exist here: its role is the one stored.
   */
  proxyUserHeader: string | null;
  /** The session cookie's `Secure` flag: `auto` = when the request came over HTTPS. */
  cookieSecure: 'auto' | boolean;
  /** How long a browser session lasts after login. */
  sessionTtlMs: number;
  /** Failed logins allowed per user name, and per client address, within `loginWindowMs`. */
  loginFailuresPerUser: number;
  loginFailuresPerIp: number;
  loginWindowMs: number;
}

export const DEFAULT_AUTH_OPTIONS: AuthOptions = {
  trustedProxies: [],
  proxyUserHeader: null,
  cookieSecure: 'auto',
  sessionTtlMs: 12 * 3_600_000,
  loginFailuresPerUser: 5,
  loginFailuresPerIp: 20,
  loginWindowMs: 15 * 60_000,
};

/** The session cookie: HttpOnly, so page scripts never see it. */
export const SESSION_COOKIE = 'swarmflow_session';
/** The CSRF cookie: readable by the page, which echoes it in {@link CSRF_HEADER} on writes. */
export const CSRF_COOKIE = 'swarmflow_csrf';
export const CSRF_HEADER = 'x-csrf-token';
