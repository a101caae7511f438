/**
 * The gateway: the stack's published port, in front of the webserver's tasks.
 *
 * Swarm's routing mesh keeps a `start-first` webserver update free of failed requests only where
 * the kernel has IPVS. The gateway does it everywhere: it resolves the webserver's tasks by DNS
 * (`tasks.webserver`, one address per running task, refreshed every second), sends each request
 * to one of them, and when a task refuses the connection (it is stopping, or gone) it tries the
 * next, re-resolving, for up to a retry window. A request is retried only when its connection
 * was never made, so nothing of it reached a webserver: a POST is never sent twice. What was
 * sent and then broke is answered 502. Responses stream through as they come (server-sent
 * events included).
 *
 * Self-contained on purpose (Node's own modules only): the stack runs it from an image of its
 * own that changes only when this code does, so redeploying Swarmflow leaves the port's holder
 * running (deploy/swarm/build-images.sh).
 */
import { promises as dns } from 'node:dns';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface GatewayConfig {
  /** Address and port the gateway listens on. */
  host: string;
  port: number;
  /** The backend's DNS name and port, e.g. tasks.webserver:8080. */
  backendHost: string;
  backendPort: number;
  /** How often the backend's addresses are resolved again. */
  resolveIntervalMs: number;
  /** How long a request waits for a backend that accepts its connection before a 503. */
  retryWindowMs: number;
  /** A connection not made within this is given up (and tried elsewhere). */
  connectTimeoutMs: number;
}

export interface GatewayDeps {
  /** Addresses of a name (default: DNS A records, else the system resolver for literals and hosts files). */
  resolve?: (host: string) => Promise<string[]>;
  log?: (line: string) => void;
}

export interface Gateway {
  port: number;
  /** Addresses the gateway currently sends requests to. */
  backends(): readonly string[];
  /** Stops listening, lets requests in flight finish (up to graceMs), then closes the rest. */
  close(graceMs?: number): Promise<void>;
}

/** Headers that describe one connection, not the request (RFC 9110 §7.6.1): never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Connection errors that prove nothing was sent: the request may go to another backend. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ECONNABORTED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNECT_TIMEOUT']);

/**
 * Methods that mean the same when sent twice (RFC 9110 §9.2.2). Such a request without a body
 * is sent again when its connection broke before any answer came (a task that closed it while
 * stopping); any other request that reached a task is answered 502, never sent twice.
 */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

function replayable(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return IDEMPOTENT.has(req.method ?? '') && !req.headers['transfer-encoding'] && (length === undefined || length === '0');
}

export const GATEWAY_HEALTH_PATH = '/__gateway/health';

async function defaultResolve(host: string): Promise<string[]> {
  try {
    return await dns.resolve4(host);
  } catch {
    const all = await dns.lookup(host, { all: true });
    return all.map((a) => a.address);
  }
}

export async function startGateway(config: GatewayConfig, deps: GatewayDeps = {}): Promise<Gateway> {
  const resolve = deps.resolve ?? defaultResolve;
  const log = deps.log ?? ((line: string) => process.stdout.write(`${new Date().toISOString()} gateway: ${line}\n`));
  let addresses: string[] = [];
  let next = 0;
  let resolving: Promise<void> | null = null;
  let closing = false;

  /** Resolves the backend again (one lookup at a time); logs when the set of addresses changes. */
  const refresh = (): Promise<void> => {
    resolving ??= resolve(config.backendHost)
      .then((found) => [...new Set(found)].sort(), () => [])
      .then((found) => {
        if (found.join() !== addresses.join()) {
          log(`${config.backendHost}: ${found.length ? found.join(', ') : 'no address'}`);
        }
        addresses = found;
      })
      .finally(() => { resolving = null; });
    return resolving;
  };
  await refresh();
  const timer = setInterval(() => void refresh(), config.resolveIntervalMs);
  timer.unref();

  const inflight = new Set<http.ServerResponse>();

  const server = http.createServer((req, res) => {
    if (req.url === GATEWAY_HEALTH_PATH) {
      res.writeHead(closing ? 503 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: closing ? 'closing' : 'ok', backends: addresses.length }));
      return;
    }
    inflight.add(res);
    res.on('close', () => {
      inflight.delete(res);
      // Closing: a client's keep-alive connection that just went idle is not kept open.
      if (closing) server.closeIdleConnections();
    });
    forward(req, res, Date.now() + config.retryWindowMs, 0);
  });

  function forwardedHeaders(req: http.IncomingMessage): http.OutgoingHttpHeaders {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
    }
    const client = req.socket.remoteAddress ?? '';
    const prior = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${client}` : client;
    headers['x-forwarded-proto'] ??= 'http';
    if (req.headers.host) headers['x-forwarded-host'] ??= req.headers.host;
    headers.connection = 'close';
    return headers;
  }

  function pick(skip: ReadonlySet<string>): string | undefined {
    const usable = addresses.filter((a) => !skip.has(a));
    if (!usable.length) return undefined;
    next = (next + 1) % usable.length;
    return usable[next];
  }

  function forward(req: http.IncomingMessage, res: http.ServerResponse, deadline: number, attempt: number, refused = new Set<string>()): void {
    const address = pick(refused);
    if (!address) {
      // Every known task refused (or none is known): look again, wait a little, and retry until the window ends.
      if (Date.now() >= deadline || closing) {
        answer(res, 503, `no webserver task accepted the connection within ${config.retryWindowMs} ms (${config.backendHost}:${config.backendPort}). ` +
          'Fix: check `docker service ps <stack>_webserver`; retry the request');
        return;
      }
      const wait = Math.min(1000, 50 * 2 ** Math.min(attempt, 5));
      setTimeout(() => void refresh().then(() => forward(req, res, deadline, attempt + 1)), wait).unref();
      return;
    }
    let connected = false;
    let answered = false;
    const upstream = http.request({
      host: address, port: config.backendPort, method: req.method, path: req.url,
      headers: forwardedHeaders(req), agent: false, timeout: config.connectTimeoutMs,
    });
    upstream.on('socket', (socket: Socket) => {
      socket.once('connect', () => {
        connected = true;
        upstream.setTimeout(0);
        // A request sent again (see replayable) has no body, and its stream has ended already.
        if (req.readableEnded) upstream.end();
        else req.pipe(upstream);
      });
    });
    upstream.on('timeout', () => {
      if (!connected) upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'ECONNECT_TIMEOUT' }));
    });
    upstream.on('response', (answerRes) => {
      answered = true;
      const headers: http.OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(answerRes.headers)) {
        if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
      }
      res.writeHead(answerRes.statusCode ?? 502, answerRes.statusMessage, headers);
      res.flushHeaders();
      answerRes.pipe(res);
      answerRes.on('error', () => res.destroy());
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if ((!connected && NOT_CONNECTED.has(err.code ?? '')) || (connected && !answered && !res.headersSent && replayable(req))) {
        refused.add(address);
        void refresh();
        forward(req, res, deadline, attempt + 1, refused);
        return;
      }
      if (res.headersSent) res.destroy();
      else answer(res, 502, `the webserver task ${address} broke the connection (${err.code ?? err.message}); the request may have been received. Fix: retry it if it is safe to`);
    });
    // The caller went away: stop the upstream request too.
    res.on('close', () => { if (!res.writableFinished) upstream.destroy(); });
  }

  function answer(res: http.ServerResponse, status: number, message: string): void {
    if (res.headersSent) { res.destroy(); return; }
    res.writeHead(status, { 'content-type': 'application/json', 'retry-after': '1' });
    res.end(JSON.stringify({ statusCode: status, error: status === 503 ? 'Service Unavailable' : 'Bad Gateway', message }));
  }

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(config.port, config.host, () => { server.off('error', fail); ok(); });
  });
  const port = (server.address() as AddressInfo).port;
  log(`listening on ${config.host}:${port}, forwarding to ${config.backendHost}:${config.backendPort}`);

  return {
    port,
    backends: () => addresses,
    close: async (graceMs = 10_000) => {
      closing = true;
      clearInterval(timer);
      const closed = new Promise<void>((ok) => server.close(() => ok()));
      server.closeIdleConnections();
      const deadline = setTimeout(() => { for (const res of inflight) res.destroy(); server.closeAllConnections(); }, graceMs);
      deadline.unref();
      await closed;
      clearTimeout(deadline);
    },
  };
}
