import { existsSync } from 'node:fs';
import path from 'node:path';
import { Logger, type INestApplication, type LoggerService } from '@nestjs/common';
import type { Repositories } from '@swarmflow/persistence';
import request from 'supertest';
import { describeListening } from './main';
import { nestLogLevels, readPublicUrl, WebserverConfigError } from './webserver.config';
import { createWebserver } from './webserver';
import { newApiToken } from './auth/credentials';

/** The one API token these repositories know: an admin's (every request is authenticated first). */
const ADMIN_TOKEN = newApiToken();

/** Repositories that must not be reached (the request is refused first), or that fail like a lost database. */
const failingRepos = {
  dags: { list: async () => { throw new Error('connection terminated\n    at Client.query (pg/lib/client.js:1:1)'); } },
  tokens: {
    findByHash: async (hash: string) => hash !== ADMIN_TOKEN.hash ? null : {
      token: { id: 1, revokedAt: null, expiresAt: null, lastUsedAt: new Date() },
      user: { id: 1, name: 'admin', role: 'admin', disabled: false },
    },
  },
  audit: { append: async () => undefined },
  db: { ping: async () => undefined },
} as unknown as Repositories;

class LevelRecorder implements LoggerService {
  readonly lines: { level: string; message: string; context?: string }[] = [];
  log(message: string, context?: string) { this.lines.push({ level: 'log', message, context }); }
  error(message: string, context?: string) { this.lines.push({ level: 'error', message, context }); }
  warn(message: string, context?: string) { this.lines.push({ level: 'warn', message, context }); }
  debug(message: string, context?: string) { this.lines.push({ level: 'debug', message, context }); }
  verbose(message: string, context?: string) { this.lines.push({ level: 'verbose', message, context }); }
}

describe('HTTP hardening', () => {
  const apps: INestApplication[] = [];
  const make = async (options: { publicUrl?: string | null; bindHost?: string; logger?: LoggerService } = {}) => {
    const app = await createWebserver({ repos: failingRepos, logger: options.logger ?? false, ...options });
    apps.push(app);
    return request.agent(app.getHttpServer()).set('Authorization', `Bearer ${ADMIN_TOKEN.secret}`);
  };

  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
  });

  describe('request bodies', () => {
    it('refuses a body over 1 MiB with 413 body_too_large stating the limit', async () => {
      const api = await make();
      const res = await api.put('/api/v1/variables/big').set('content-type', 'application/json')
        .send(JSON.stringify({ value: 'x'.repeat(1024 * 1024 + 10) })).expect(413);
      expect(res.body).toEqual({ reason: 'body_too_large', message: expect.stringContaining('the limit is 1 MiB') });
    });
  });

  describe('ids in paths', () => {
    it.each([
      ['/api/v1/dags/bad%20dag', 'dagId'],
      ['/api/v1/dags/ok/runs/bad%2Frun', 'runId'],
      ['/api/v1/dags/ok/runs/r1/tasks/t%3Bdrop', 'taskId'],
      [`/api/v1/dags/${'d'.repeat(251)}`, 'dagId'],
    ])('GET %s is a 400 naming the path parameter %s', async (path, field) => {
      const api = await make();
      const res = await api.get(path).expect(400);
      expect(res.body).toEqual({ reason: 'invalid_request', field, message: expect.stringContaining(`is not a valid ${field}`) });
    });

    it('a valid run id with the characters scheduled runs use passes the check (and reaches the lookup)', async () => {
      const api = await make();
      // The lookup fails on these repositories: a 500, so the id was accepted.
      await api.get('/api/v1/dags/ok/runs/scheduled__2024-01-01T00:00:00+00:00').expect(500);
    });
  });

  describe('errors', () => {
    it('a failure inside a handler answers 500 with a generic message: no stack, no driver message', async () => {
      const logger = new LevelRecorder();
      const api = await make({ logger });
      const res = await api.get('/api/v1/dags').expect(500);
      expect(res.body).toEqual({ reason: 'internal_error', message: 'internal server error; the server log has the details' });
      expect(res.text).not.toMatch(/connection terminated|at Client|\.js:\d/);
      expect(logger.lines.some((l) => l.level === 'error' && l.message.includes('connection terminated'))).toBe(true);
    });

    it('unknown routes and malformed JSON answer without a stack', async () => {
      const api = await make();
      const missing = await api.get('/api/v1/nothing-here').expect(404);
      expect(missing.text).not.toMatch(/\n\s+at /);
      const bad = await api.put('/api/v1/variables/k').set('content-type', 'application/json').send('{"value": ').expect(400);
      expect(bad.body.reason).toBe('invalid_json');
      expect(bad.text).not.toMatch(/\n\s+at |node_modules/);
    });
  });

  describe('security headers', () => {
    it.each([
      ['a success', '/api/v1/health', 200],
      ['an error', '/api/v1/dags/bad%20dag', 400],
      ['an unknown route', '/api/v1/nothing', 404],
      // Outside /api/v1 a path is a page of the web UI (index.html), or a 404 saying to build it.
      ['a page of the web UI', '/dags/x', existsSync(path.join(__dirname, '../../../dist/ui/index.html')) ? 200 : 404],
    ])('are on %s', async (_what, path, status) => {
      const api = await make();
      const res = await api.get(path).expect(status);
      expect(res.headers['content-security-policy']).toContain("default-src 'self'");
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-powered-by']).toBeUndefined();
    });
  });

  describe('Host and Origin (DNS rebinding)', () => {
    it('with SWARMFLOW_PUBLIC_URL, a request for another host name is a 421 naming the setting', async () => {
      const api = await make({ publicUrl: 'https://swarmflow.example.com', bindHost: '0.0.0.0' });
      await api.get('/api/v1/health').set('host', 'swarmflow.example.com').expect(200);
      await api.get('/api/v1/health').set('host', 'SwarmFlow.Example.com:443').expect(200);
      const res = await api.get('/api/v1/health').set('host', 'evil.example:8080').expect(421);
      expect(res.body).toEqual({ reason: 'unknown_host', message: expect.stringContaining('"evil.example"') });
      expect(res.body.message).toContain('SWARMFLOW_PUBLIC_URL (https://swarmflow.example.com)');
    });

    it('with SWARMFLOW_PUBLIC_URL, a page of another site is refused (403); the server\'s own origin passes', async () => {
      const api = await make({ publicUrl: 'https://swarmflow.example.com', bindHost: '0.0.0.0' });
      await api.get('/api/v1/health').set('host', 'swarmflow.example.com').set('origin', 'https://swarmflow.example.com').expect(200);
      const res = await api.post('/api/v1/dags/d/runs').set('host', 'swarmflow.example.com').set('origin', 'https://evil.example').send({}).expect(403);
      expect(res.body).toEqual({ reason: 'foreign_origin', message: expect.stringContaining('SWARMFLOW_PUBLIC_URL') });
      await api.get('/api/v1/health').set('host', 'swarmflow.example.com').set('origin', 'null').expect(403);
    });

    it('loopback names pass from a loopback client (a container health check), and IP literals always pass', async () => {
      const api = await make({ publicUrl: 'https://swarmflow.example.com', bindHost: '0.0.0.0' });
      await api.get('/api/v1/health').set('host', 'localhost:8080').expect(200);
      await api.get('/api/v1/health').set('host', '10.1.2.3:8080').expect(200);
    });

    it('bound to loopback without SWARMFLOW_PUBLIC_URL (standalone), only loopback names and IPs are answered', async () => {
      const api = await make({ bindHost: '127.0.0.1' });
      await api.get('/api/v1/health').set('host', '127.0.0.1:8080').expect(200);
      await api.get('/api/v1/health').set('host', 'localhost:8080').expect(200);
      const res = await api.get('/api/v1/health').set('host', 'rebind.evil.example').expect(421);
      expect(res.body.message).toContain('SWARMFLOW_PUBLIC_URL (not set; the server binds 127.0.0.1)');
    });

    it('bound beyond loopback without SWARMFLOW_PUBLIC_URL, every name is answered (the start log says so)', async () => {
      const api = await make({ bindHost: '0.0.0.0' });
      await api.get('/api/v1/health').set('host', 'webserver:8080').expect(200);
      expect(describeListening({ address: '0.0.0.0', port: 8080, family: 'IPv4' }, null)).toMatch(/SWARMFLOW_PUBLIC_URL is not set: every host name is answered/);
    });

    it('SWARMFLOW_PUBLIC_URL must be an origin: a path or credentials are refused naming the variable', () => {
      expect(readPublicUrl({ SWARMFLOW_PUBLIC_URL: 'https://sf.example.com/' })).toBe('https://sf.example.com');
      expect(readPublicUrl({})).toBeNull();
      expect(() => readPublicUrl({ SWARMFLOW_PUBLIC_URL: 'https://sf.example.com/swarmflow' })).toThrow(WebserverConfigError);
      expect(() => readPublicUrl({ SWARMFLOW_PUBLIC_URL: 'ftp://sf.example.com' })).toThrow(/SWARMFLOW_PUBLIC_URL: must be an http/);
      expect(() => readPublicUrl({ SWARMFLOW_PUBLIC_URL: 'sf.example.com' })).toThrow(/SWARMFLOW_PUBLIC_URL: is not a URL/);
    });
  });

  describe('start-up log', () => {
    it('states the address really bound: every interface is 0.0.0.0, not 127.0.0.1', () => {
      expect(describeListening({ address: '0.0.0.0', port: 8080, family: 'IPv4' }, null))
        .toMatch(/^REST API on 0\.0\.0\.0:8080 \(every interface\): http:\/\/127\.0\.0\.1:8080\/api\/v1 from this host\./);
      expect(describeListening({ address: '127.0.0.1', port: 8080, family: 'IPv4' }, null))
        .toBe('REST API on 127.0.0.1:8080 (loopback only): http://127.0.0.1:8080/api/v1');
      expect(describeListening({ address: '::', port: 80, family: 'IPv6' }, 'https://sf.example.com'))
        .toBe('REST API on [::]:80 (every interface): users reach it as https://sf.example.com/api/v1 (requests for other host names are refused)');
    });

    it("with a Nest Logger at the default level, prints none of Nest's startup lines (and does not loop through itself)", async () => {
      const written: string[] = [];
      const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
        written.push(String(chunk));
        return true;
      });
      Logger.overrideLogger(nestLogLevels('log'));
      try {
        const api = await make({ logger: new Logger('Webserver') });
        new Logger('Webserver').log('one line of ours');
        await api.get('/api/v1/dags').expect(500);
      } finally {
        write.mockRestore();
        Logger.overrideLogger(nestLogLevels('debug'));
      }
      const text = written.join('');
      expect(text).toContain('one line of ours');
      expect(text).not.toMatch(/RouterExplorer|RoutesResolver|InstanceLoader|Nest application successfully started/);
    });

    it("puts Nest's module, route and start lines at debug", async () => {
      const logger = new LevelRecorder();
      await make({ logger });
      const atLog = logger.lines.filter((l) => l.level === 'log');
      expect(atLog).toEqual([]);
      const debug = logger.lines.filter((l) => l.level === 'debug');
      expect(debug.some((l) => l.context === 'RouterExplorer' && l.message.includes('/api/v1/dags'))).toBe(true);
      expect(debug.some((l) => l.context === 'InstanceLoader')).toBe(true);
    });
  });
});
