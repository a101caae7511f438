import type { INestApplication } from '@nestjs/common';
import type { Repositories } from '@swarmflow/persistence';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { createWebserver } from './webserver';

type Operation = { summary?: string; requestBody?: { content: Record<string, { schema: any }> }; parameters?: any[]; security?: unknown[]; 'x-required-role'?: string };
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>>; components: { securitySchemes: Record<string, any> }; security: unknown[] };

const METHODS = ['get', 'put', 'post', 'patch', 'delete'];

/** `GET|PATCH /dags/:dag` items of the README's REST API section, as `METHOD /api/v1/path` with `{}` for each parameter. */
function readmeRoutes(): string[] {
  const readme = readFileSync(join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
  const start = readme.indexOf('## REST API');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const routes: string[] = [];
  for (const [, methods, path] of section.matchAll(/`((?:GET|POST|PUT|PATCH|DELETE)(?:\|(?:GET|POST|PUT|PATCH|DELETE))*) (\/[^`?\s]*)/g)) {
    for (const method of methods.split('|')) routes.push(`${method} ${normalize(path.startsWith('/api/') ? path : `/api/v1${path}`)}`);
  }
  return routes;
}

const normalize = (path: string) => path.replace(/:\w+|\{\w+\}/g, '{}');

/** Routes Express has, from Nest's controllers (the docs' own routes left out). */
function expressRoutes(app: INestApplication): string[] {
  type Router = { stack: { route?: { path: string; methods: Record<string, boolean> } }[] };
  const express = app.getHttpAdapter().getInstance() as { router?: Router; _router?: Router };
  const router = (express.router ?? express._router)!;
  return router.stack.filter((l) => l.route && l.route.path.startsWith('/api/v1/') && !l.route.path.includes('openapi'))
    .flatMap((l) => Object.keys(l.route!.methods).map((m) => `${m.toUpperCase()} ${normalize(l.route!.path)}`));
}

describe('OpenAPI document and /api/docs', () => {
  let app: INestApplication;
  let doc: Doc;

  beforeAll(async () => {
    app = await createWebserver({ repos: {} as Repositories, logger: false });
    doc = (await request(app.getHttpServer()).get('/api/v1/openapi.json').expect(200)).body;
  });

  afterAll(async () => {
    await app?.close();
  });

  const operations = () => Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((m) => ({ key: `${m.toUpperCase()} ${path}`, op: item[m] })));

  it('is an OpenAPI 3 document with the bearer token and session cookie schemes, required by default', () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes.session).toMatchObject({ type: 'apiKey', in: 'cookie', name: 'swarmflow_session' });
    expect(doc.security).toEqual([{ bearer: [] }, { session: [] }]);
    expect(doc.paths['/api/v1/health'].get.security).toEqual([]);
  });

  it('lists every route the README lists', () => {
    const documented = new Set(operations().map(({ key }) => normalize(key)));
    // The document itself is served (fetched above), not listed in itself.
    const listed = readmeRoutes().filter((r) => r !== 'GET /api/v1/openapi.json');
    expect(listed.length).toBeGreaterThan(25);
    expect(listed).toContain('POST /api/v1/workers/{}/drain');
    expect(listed.filter((r) => !documented.has(r))).toEqual([]);
  });

  it('documents every controller route, each with a summary, its path parameters and its least role', () => {
    const routes = expressRoutes(app);
    expect(routes.length).toBeGreaterThan(20);
    const byKey = new Map(operations().map(({ key, op }) => [normalize(key), op]));
    expect(routes.filter((r) => !byKey.has(r))).toEqual([]);
    for (const { key, op } of operations()) {
      expect([key, op.summary]).toEqual([key, expect.any(String)]);
      const params = [...key.matchAll(/\{(\w+)\}/g)].map(([, name]) => name);
      expect([key, (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name)]).toEqual([key, params]);
      if (key !== 'GET /api/v1/health' && key !== 'POST /api/v1/auth/login') expect([key, op['x-required-role']]).toEqual([key, expect.stringMatching(/^(viewer|operator|admin)$/)]);
    }
    expect(byKey.get('POST /api/v1/workers/{}/drain')!['x-required-role']).toBe('operator');
    expect(byKey.get('GET /api/v1/queues')!['x-required-role']).toBe('viewer');
  });

  it('derives request bodies and query parameters from the zod schemas the routes validate with', () => {
    const body = doc.paths['/api/v1/variables/{key}'].put.requestBody!.content['application/json'].schema;
    expect(body).toMatchObject({ type: 'object', required: ['value'], additionalProperties: false });
    expect(Object.keys(body.properties)).toEqual(['value', 'secret', 'description']);
    const trigger = doc.paths['/api/v1/dags/{dagId}/runs'].post.requestBody!.content['application/json'].schema;
    expect(trigger.properties.runId).toMatchObject({ type: 'string', maxLength: 250, pattern: '^[A-Za-z0-9_.:+-]+$' });
    const logs = doc.paths['/api/v1/dags/{dagId}/runs/{runId}/tasks/{taskId}/logs'].get.parameters!;
    expect(logs.filter((p) => p.in === 'query').map((p) => p.name)).toEqual(['try', 'cursor']);
    // Every body a route takes is a strict zod object: none is the bare { type: object } Nest would guess.
    for (const { key, op } of operations()) {
      if (!op.requestBody) continue;
      expect([key, op.requestBody.content['application/json'].schema.additionalProperties]).toEqual([key, false]);
    }
    for (const key of ['PUT /api/v1/pools/{name}', 'PATCH /api/v1/dags/{dagId}', 'POST /api/v1/variables/import']) {
      const [method, path] = key.split(' ');
      expect([key, doc.paths[path][method.toLowerCase()].requestBody]).toEqual([key, expect.anything()]);
    }
  });

  it('serves the interactive page at /api/docs from bundled assets: no CDN, no inline script', async () => {
    const page = await request(app.getHttpServer()).get('/api/docs').redirects(1).expect(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    const scripts = [...page.text.matchAll(/<script([^>]*)>([^<]*)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, inline] of scripts) {
      expect(attrs).toMatch(/src=/);
      expect(attrs).not.toMatch(/https?:\/\//);
      expect(inline.trim()).toBe('');
    }
    const bundle = await request(app.getHttpServer()).get('/api/docs/swagger-ui-bundle.js').expect(200);
    expect(bundle.headers['content-type']).toMatch(/javascript/);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
  });
});
