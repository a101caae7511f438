import { isIP } from 'node:net';
import type { ApiErrorBody } from '@swarmflow/contracts/api.types';

/** Which `Host` and `Origin` names the API answers to (DNS rebinding: a page of evil.example resolving to this server). */
export interface HostPolicy {
  /** SWARMFLOW_PUBLIC_URL, as the users reach the server; null = not configured. */
  publicUrl: string | null;
  /** The address the server binds (SWARMFLOW_WEB_HOST, `--host`); undefined = not known (tests). */
  bindHost?: string;
}

interface Request {
  headers: Record<string, string | string[] | undefined>;
  socket: { remoteAddress?: string };
}

interface Response {
  status(code: number): { json(body: ApiErrorBody): void };
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1']);

/** True for 127.0.0.0/8, ::1, localhost and its subdomains (which resolvers keep on loopback). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return LOOPBACK_NAMES.has(h) || h.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1';
}

/** The host name of a `Host` header value (`example.com:8080`, `[::1]:8080`), lower-cased, without the port. */
function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') === -1 ? undefined : h.indexOf(']'));
  const colon = h.indexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

/**
 * Refuses a request whose `Host` is a name this server does not answer to (421), or whose
 * `Origin` is another site (403): a DNS-rebinding page reaches the server under its own
 * name. Accepted: the host of SWARMFLOW_PUBLIC_URL; loopback names when the server binds
 * loopback or the request comes from loopback (a container's health check); and, only
 * when SWARMFLOW_PUBLIC_URL is not set on a server bound beyond loopback, any name (the
 * server cannot know its names: it logs a warning at start). IP literals pass: a
 * rebinding page cannot make a browser send one as its Host.
 */
export function hostCheck(policy: HostPolicy): (req: Request, res: Response, next: () => void) => void {
  const publicHost = policy.publicUrl ? new URL(policy.publicUrl).hostname.toLowerCase().replace(/^\[|\]$/g, '') : null;
  const boundToLoopback = policy.bindHost !== undefined && isLoopbackHost(policy.bindHost);
  const checking = publicHost !== null || boundToLoopback;
  const setting = publicHost !== null ? `SWARMFLOW_PUBLIC_URL (${policy.publicUrl})` : `SWARMFLOW_PUBLIC_URL (not set; the server binds ${policy.bindHost})`;
  const allowed = (name: string, fromLoopback: boolean): boolean =>
    name === publicHost || isIP(name) !== 0 || (isLoopbackHost(name) && (boundToLoopback || fromLoopback));
  const fix = publicHost !== null
    ? `reach the server as ${policy.publicUrl}, or set SWARMFLOW_PUBLIC_URL to the URL users reach it by`
    : `reach it as http://127.0.0.1 or http://localhost, or set SWARMFLOW_PUBLIC_URL to the URL users reach it by`;
  return (req, res, next) => {
    if (!checking) return next();
    const fromLoopback = req.socket.remoteAddress !== undefined && isLoopbackHost(req.socket.remoteAddress);
    const host = req.headers.host;
    if (typeof host === 'string' && !allowed(hostName(host), fromLoopback)) {
      res.status(421).json({
        reason: 'unknown_host',
        message: `this server does not answer to the host name "${hostName(host)}" (it follows ${setting}). Fix: ${fix}`,
      });
      return;
    }
    const origin = req.headers.origin;
    if (typeof origin === 'string' && origin !== '') {
      let name: string | null = null;
      try {
        name = origin === 'null' ? null : new URL(origin).hostname.toLowerCase().replace(/^\[|\]$/g, '');
      } catch {
        name = null;
      }
      if (name === null || !allowed(name, fromLoopback)) {
        res.status(403).json({
          reason: 'foreign_origin',
          message: `requests from the web page at ${JSON.stringify(origin)} are refused: only pages of this server may call the API (it follows ${setting}). Fix: ${fix}`,
        });
        return;
      }
    }
    next();
  };
}
