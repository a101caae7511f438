import { gzipSync } from 'node:zlib';
import { describeWithPostgres } from '@swarmflow/persistence/test-support/postgres';
import request from 'supertest';
import { createFuzzTarget, type FuzzTarget } from './test-support/fuzz-target';

/** Values as they go in a URL (already percent-encoded) and as they go in JSON. */
const HOSTILE: { name: string; url: string; json: string }[] = [
  { name: 'NUL', url: 'a%00b', json: 'a\u0000b' },
  { name: 'lone high surrogate', url: '%ED%A0%80', json: 'a\ud800' },
  { name: 'lone low surrogate', url: '%ED%B0%80x', json: '\udc00b' },
  { name: 'bad UTF-8', url: '%FF%FE', json: '\uFFFD' },
  { name: 'bare percent', url: '%', json: '%' },
  { name: 'long', url: 'x'.repeat(400), json: 'x'.repeat(400) },
  { name: 'traversal', url: '..%2F..%2Fetc', json: '../../etc' },
  { name: 'sql', url: "'%3B%20DROP%20TABLE%20dag%3B--", json: "'; DROP TABLE dag;--" },
  { name: 'template', url: '%7B%7B%207*7%20%7D%7D', json: '{{ 7*7 }}' },
  { name: 'emoji', url: '%F0%9F%98%80', json: '😀' },
  { name: 'newline', url: 'a%0Ab', json: 'a\nb' },
];

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

describeWithPostgres('every API route under hostile input', () => {
  let t: FuzzTarget;
  let sent = 0;
  const failures: string[] = [];

  beforeAll(async () => {
    t = await createFuzzTarget();
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  /** The routes, `{dag}`/`{run}`/`{task}`/`{key}`/`{pool}` standing for path parameters. */
  const ROUTES: [Method, string][] = [
    ['get', '/dags'], ['get', '/dags/{dag}'], ['patch', '/dags/{dag}'], ['post', '/dags/{dag}/runs'], ['get', '/dags/{dag}/runs'],
    ['get', '/dags/{dag}/runs/{run}'], ['get', '/dags/{dag}/runs/{run}/tasks/{task}'], ['get', '/dags/{dag}/runs/{run}/tasks/{task}/logs'],
    ['post', '/dags/{dag}/runs/{run}/tasks/{task}/clear'], ['post', '/dags/{dag}/runs/{run}/tasks/{task}/kill'],
    ['post', '/dags/{dag}/runs/{run}/tasks/{task}/mark'], ['post', '/dags/{dag}/runs/{run}/cancel'],
    ['get', '/runs'], ['get', '/health'], ['get', '/import-errors'], ['get', '/workers'], ['get', '/pools'],
    ['put', '/pools/{pool}'], ['delete', '/pools/{pool}'], ['get', '/variables'], ['get', '/variables/export'],
    ['post', '/variables/import'], ['get', '/variables/{key}'], ['put', '/variables/{key}'], ['delete', '/variables/{key}'],
  ];
  /** Every body field any route reads, so each gets a hostile value somewhere. */
  const bodiesWith = (v: string): unknown[] => [
    { conf: { region: v } }, { conf: { [v]: 1 } }, { runId: v }, { logicalDate: v }, { isPaused: v }, { downstream: v },
    { state: v }, { state: 'success', upstream: v, dryRun: v },
    { value: v, description: v }, { value: 'ok', secret: true, description: v }, { slots: 1, description: v },
    { variables: { [v]: { value: v } } }, { [v]: v },
  ];
  const QUERY_FIELDS = ['state', 'limit', 'offset', 'dagId', 'after', 'before', 'tryNumber', 'since', v0()];
  function v0() { return 'x'; }

  async function send(method: Method, path: string, body?: string, extra: Record<string, string> = {}): Promise<request.Response> {
    sent++;
    let req = request(t.app.getHttpServer())[method](`/api/v1${path}`).set(t.headers);
    for (const [k, v] of Object.entries(extra)) req = req.set(k, v);
    if (body !== undefined) req = req.set('Content-Type', 'application/json').send(body);
    const res = await req;
    if (res.status >= 500 || (res.status >= 400 && typeof res.body?.reason !== 'string')) {
      failures.push(`${method.toUpperCase()} ${path.slice(0, 120)} ${(body ?? '').slice(0, 120)} → ${res.status} ${res.text.slice(0, 160)}`);
    }
    return res;
  }

  const fill = (path: string, v: string | null) => path
    .replace('{dag}', v ?? t.dagId).replace('{run}', v ?? t.runId).replace('{task}', v ?? t.taskId)
    .replace('{key}', v ?? 'fuzz_key').replace('{pool}', v ?? 'fuzz_pool');

  it('answers every hostile path, query and body without a 5xx, as an API error', async () => {
    for (const [method, route] of ROUTES) {
      for (const h of HOSTILE) {
        if (route.includes('{')) await send(method, fill(route, h.url), method === 'get' || method === 'delete' ? undefined : '{}');
        if (method === 'get') await send(method, `${fill(route, null)}?${QUERY_FIELDS.map((f) => `${f}=${h.url}`).join('&')}`);
        if (method !== 'get' && method !== 'delete') {
          for (const body of bodiesWith(h.json)) await send(method, fill(route, null), JSON.stringify(body));
        }
      }
    }
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(300);
  }, 300_000);

  it('names the field a NUL or a lone surrogate is in', async () => {
    const trigger = await send('post', `/dags/${t.dagId}/runs`, JSON.stringify({ conf: { region: 'eu\u0000' } }));
    expect([trigger.status, trigger.body.field]).toEqual([400, 'conf.region']);
    expect(trigger.body.message).toMatch(/^conf\.region: .*NUL/);
    const variable = await send('put', '/variables/k', JSON.stringify({ value: 'a\ud800' }));
    expect([variable.status, variable.body.field]).toEqual([400, 'value']);
    const path = await send('get', `/dags/a%00b`);
    expect([path.status, path.body.field]).toEqual([400, 'path']);
    const query = await send('get', `/runs?state=a%00b`);
    expect([query.status, query.body.field]).toEqual([400, 'query.state']);
    const surrogate = await send('get', `/runs?state=%ED%A0%80`); // decoded to U+FFFD: no such state
    expect([surrogate.status, surrogate.body.field]).toEqual([400, 'state']);
  });

  it('refuses a body that claims gzip and is not, and reads one that is', async () => {
    const bad = await send('put', '/variables/k', '{"value":"v"}', { 'Content-Encoding': 'gzip' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/Content-Encoding/);
    let req = request(t.app.getHttpServer()).put('/api/v1/variables/zipped').set(t.headers)
      .set('Content-Type', 'application/json').set('Content-Encoding', 'gzip');
    // As bytes: superagent would JSON-encode a Buffer for a JSON Content-Type.
    req = req.serialize((b: unknown) => b as string).send(gzipSync(Buffer.from('{"value":"v"}')) as unknown as string);
    const good = await req;
    expect([good.status, good.body]).toEqual([201, expect.objectContaining({ key: 'zipped', value: 'v' })]);
  });
});
