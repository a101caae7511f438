import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitUntil } from '@swarmflow/messaging/test-support/wait';
import { Gateway, GATEWAY_HEALTH_PATH, startGateway } from './gateway';
import { gatewayConfigFromEnv, GatewayConfigError } from './gateway.config';

// Backends are webserver stand-ins on distinct loopback addresses (127.0.0.x, all on `lo`) and
// one port, as Swarm's `tasks.webserver` gives one address per task and one port.

interface Backend {
  address: string;
  server: http.Server;
  seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

async function backend(address: string, port: number, handler?: http.RequestListener): Promise<Backend> {
  const seen: Backend['seen'] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => { body += c; });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (handler) return handler(req, res);
      res.writeHead(200, { 'content-type': 'application/json', 'x-backend': address, connection: 'keep-alive' });
      res.end(JSON.stringify({ backend: address, body }));
    });
  });
  await new Promise<void>((ok, fail) => { server.once('error', fail); server.listen(port, address, () => ok()); });
  return {
    address, server, seen,
    // As the webserver on SIGTERM: stop accepting, finish what is in flight.
    stop: () => new Promise<void>((ok) => { server.close(() => ok()); server.closeIdleConnections(); }),
  };
}

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

function request(port: number, method = 'GET', path = '/api/v1/health', body?: string, headers: http.OutgoingHttpHeaders = {}): Promise<Reply> {
  return new Promise((ok, fail) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false, headers: { ...headers, ...(body ? { 'content-type': 'text/plain' } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', fail);
    req.end(body);
  });
}

describe('gateway', () => {
  let port: number;
  let gateway: Gateway | undefined;
  let backends: Backend[] = [];
  let dnsAnswer: string[] = [];
  let lookups = 0;
  const lines: string[] = [];

  async function start(overrides: Partial<Parameters<typeof startGateway>[0]> = {}): Promise<Gateway> {
    gateway = await startGateway({
      host: '127.0.0.1', port: 0, backendHost: 'tasks.webserver', backendPort: port,
      resolveIntervalMs: 100, retryWindowMs: 10_000, connectTimeoutMs: 1000, ...overrides,
    }, { resolve: async () => { lookups++; return [...dnsAnswer]; }, log: (l) => lines.push(l) });
    return gateway;
  }

  beforeEach(async () => {
    port = await freePort();
    dnsAnswer = [];
    lookups = 0;
    lines.length = 0;
  });
  afterEach(async () => {
    await gateway?.close(100);
    gateway = undefined;
    await Promise.all(backends.map((b) => b.stop()));
    backends = [];
  });

  it('forwards method, path, body and headers, adds X-Forwarded-*, drops hop-by-hop headers', async () => {
    backends.push(await backend('127.0.0.2', port));
    dnsAnswer = ['127.0.0.2'];
    const gw = await start();
    const reply = await request(gw.port, 'POST', '/api/v1/dags/x/runs?a=1', 'payload', { 'x-forwarded-for': '203.0.113.9', 'keep-alive': 'timeout=5', cookie: 'sid=1' });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({ backend: '127.0.0.2', body: 'payload' });
    expect(reply.headers['x-backend']).toBe('127.0.0.2');
    const seen = backends[0].seen[0];
    expect(seen).toMatchObject({ method: 'POST', url: '/api/v1/dags/x/runs?a=1', body: 'payload' });
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe(`127.0.0.1:${gw.port}`);
    expect(seen.headers.cookie).toBe('sid=1');
    expect(seen.headers['keep-alive']).toBeUndefined();
    expect(lines.join('\n')).toContain('tasks.webserver: 127.0.0.2');
  });

  it('sends requests to every task the name resolves to', async () => {
    backends.push(await backend('127.0.0.2', port), await backend('127.0.0.3', port));
    dnsAnswer = ['127.0.0.2', '127.0.0.3'];
    const gw = await start();
    for (let i = 0; i < 6; i++) expect((await request(gw.port)).status).toBe(200);
    expect(backends.map((b) => b.seen.length)).toEqual([3, 3]);
  });

  it('sends a request a task refuses to another task: the POST body arrives whole, once', async () => {
    backends.push(await backend('127.0.0.3', port)); // 127.0.0.2 resolves but nothing listens there (a stopped task)
    dnsAnswer = ['127.0.0.2', '127.0.0.3'];
    const gw = await start();
    const body = 'x'.repeat(200_000);
    for (let i = 0; i < 4; i++) {
      const reply = await request(gw.port, 'POST', `/p${i}`, body);
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body).body).toHaveLength(body.length);
    }
    expect(backends[0].seen.map((s) => s.url)).toEqual(['/p0', '/p1', '/p2', '/p3']);
  });

  it('holds a request while no task accepts, and delivers it when one comes up (a stop-first update)', async () => {
    const gw = await start();
    const pending = request(gw.port, 'POST', '/held', 'body');
    // The gateway has looked for a task more than once and found none: only then does one start.
    await waitUntil('the gateway to look for a webserver task again', () => lookups >= 3);
    backends.push(await backend('127.0.0.4', port));
    dnsAnswer = ['127.0.0.4'];
    const reply = await pending;
    expect(reply.status).toBe(200);
    expect(backends[0].seen).toEqual([expect.objectContaining({ url: '/held', body: 'body' })]);
  });

  it('answers 503 with the fix when no task accepts within the retry window', async () => {
    dnsAnswer = ['127.0.0.2'];
    const gw = await start({ retryWindowMs: 300 });
    const reply = await request(gw.port);
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('1');
    expect(JSON.parse(reply.body).message).toMatch(/no webserver task accepted the connection within 300 ms .*Fix: check `docker service ps <stack>_webserver`/);
  });

  it('answers 502, not a retry, when a task breaks the connection after the request was sent', async () => {
    backends.push(await backend('127.0.0.2', port, (_req, res) => res.socket?.destroy()));
    backends.push(await backend('127.0.0.3', port, (_req, res) => res.socket?.destroy()));
    dnsAnswer = ['127.0.0.2', '127.0.0.3'];
    const gw = await start();
    const reply = await request(gw.port, 'POST', '/once', 'charge the card');
    expect(reply.status).toBe(502);
    expect(JSON.parse(reply.body).message).toMatch(/the request may have been received/);
    // Sent to one task only: a POST is never sent twice.
    expect(backends.flatMap((b) => b.seen).map((s) => s.url)).toEqual(['/once']);
  });

  it('streams a response as it comes (server-sent events)', async () => {
    let finish!: () => void;
    backends.push(await backend('127.0.0.2', port, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      finish = () => res.end('data: last\n\n');
    }));
    dnsAnswer = ['127.0.0.2'];
    const gw = await start();
    const chunks: string[] = [];
    const done = new Promise<void>((ok) => {
      http.get({ host: '127.0.0.1', port: gw.port, path: '/api/v1/events' }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (c: string) => chunks.push(c));
        res.on('end', () => ok());
      });
    });
    await waitUntil('the first event through the gateway before the stream ends', () => chunks.join('').includes('data: first'));
    expect(chunks.join('')).not.toContain('last');
    finish();
    await done;
    expect(chunks.join('')).toBe('data: first\n\ndata: last\n\n');
  });

  it('fails no request while the webserver is replaced start-first (new task up, old task stops)', async () => {
    const old = await backend('127.0.0.2', port);
    backends.push(old);
    dnsAnswer = ['127.0.0.2'];
    const gw = await start();
    const replies: Reply[] = [];
    let running = true;
    const load = Promise.all([1, 2, 3, 4].map(async () => {
      while (running) replies.push(await request(gw.port, 'POST', '/api/v1/x', 'b').catch((err: Error) => ({ status: 0, headers: {}, body: err.message })));
    }));
    await waitUntil('requests through the old task', () => replies.length >= 20);
    const fresh = await backend('127.0.0.3', port);
    backends.push(fresh);
    dnsAnswer = ['127.0.0.2', '127.0.0.3']; // the new task is healthy: Swarm adds it to DNS...
    await waitUntil('requests through the new task', () => fresh.seen.length >= 5);
    // Swarm stops the old task: out of DNS first, then SIGTERM. The webserver drains
    // (SWARMFLOW_WEB_DRAIN: still answering, each answer closing its connection) longer than the
    // gateway's resolve interval, then stops listening.
    dnsAnswer = ['127.0.0.3'];
    await new Promise((ok) => setTimeout(ok, 300)); // the drain: a stand-in for the webserver's own timer
    await old.stop();
    backends.splice(backends.indexOf(old), 1);
    const afterStop = replies.length;
    await waitUntil('requests after the old task stopped', () => replies.length >= afterStop + 100);
    running = false;
    await load;
    const failed = replies.filter((r) => r.status !== 200);
    expect(failed).toEqual([]);
    expect(old.seen.length).toBeGreaterThan(0);
    expect(fresh.seen.length).toBeGreaterThan(100);
    expect(old.seen.length + fresh.seen.length).toBe(replies.length);
  });

  it('sends a GET again when a task closes its connection before answering; a POST never', async () => {
    backends.push(await backend('127.0.0.2', port, (_req, res) => res.socket?.destroy())); // a task closing while stopping
    backends.push(await backend('127.0.0.3', port));
    dnsAnswer = ['127.0.0.2', '127.0.0.3'];
    const gw = await start();
    for (let i = 0; i < 4; i++) expect((await request(gw.port, 'GET', `/g${i}`)).status).toBe(200);
    expect(backends[1].seen.map((s) => s.url)).toEqual(['/g0', '/g1', '/g2', '/g3']);
    expect(backends[0].seen.length).toBeGreaterThan(0); // some went to the closing task first
  });

  it('answers its own health path, 503 once closing, and lets a request in flight finish on close', async () => {
    let release!: () => void;
    backends.push(await backend('127.0.0.2', port, (_req, res) => { release = () => res.end('done'); }));
    dnsAnswer = ['127.0.0.2'];
    const gw = await start();
    const health = await request(gw.port, 'GET', GATEWAY_HEALTH_PATH);
    expect([health.status, JSON.parse(health.body)]).toEqual([200, { status: 'ok', backends: 1 }]);
    const slow = request(gw.port, 'GET', '/slow');
    await waitUntil('the slow request at the backend', () => backends[0].seen.length === 1);
    const closed = gw.close(10_000);
    gateway = undefined;
    release();
    expect((await slow).body).toBe('done');
    await closed;
    await expect(request(gw.port)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('gatewayConfigFromEnv', () => {
  it('has defaults for Swarm and names the variable and the fix on a bad value', () => {
    expect(gatewayConfigFromEnv({})).toEqual({
      host: '0.0.0.0', port: 8080, backendHost: 'tasks.webserver', backendPort: 8080,
      resolveIntervalMs: 1000, retryWindowMs: 15_000, connectTimeoutMs: 2000,
    });
    expect(gatewayConfigFromEnv({ SWARMFLOW_GATEWAY_BACKEND: 'tasks.web:9000', SWARMFLOW_GATEWAY_RETRY_WINDOW: '30s' }))
      .toMatchObject({ backendHost: 'tasks.web', backendPort: 9000, retryWindowMs: 30_000 });
    expect(() => gatewayConfigFromEnv({ SWARMFLOW_GATEWAY_BACKEND: 'http://web' })).toThrow(GatewayConfigError);
    expect(() => gatewayConfigFromEnv({ SWARMFLOW_GATEWAY_BACKEND: 'http://web' })).toThrow(/SWARMFLOW_GATEWAY_BACKEND: .* give e.g. tasks.webserver:8080/);
    expect(() => gatewayConfigFromEnv({ SWARMFLOW_GATEWAY_PORT: '70000' })).toThrow(/SWARMFLOW_GATEWAY_PORT: "70000" is not a port/);
    expect(() => gatewayConfigFromEnv({ SWARMFLOW_GATEWAY_RETRY_WINDOW: 'soon' })).toThrow(/SWARMFLOW_GATEWAY_RETRY_WINDOW: "soon" is not a duration/);
  });
});
