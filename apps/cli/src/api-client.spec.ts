import { ApiConnectionError, ApiError, SwarmflowClient } from './api-client';

function respond(status: number, body: unknown): typeof fetch {
  return jest.fn(async () => new Response(typeof body === 'string' ? body : JSON.stringify(body), { status })) as unknown as typeof fetch;
}

describe('SwarmflowClient', () => {
  it('calls the API under /api/v1 with encoded path segments and a JSON body', async () => {
    const fetchFn = respond(201, { runId: 'r' });
    const client = new SwarmflowClient('http://sf:8080/', { fetch: fetchFn });
    await client.trigger('my dag', { conf: { a: 1 } });
    const [url, init] = (fetchFn as jest.Mock).mock.calls[0];
    expect(url).toBe('http://sf:8080/api/v1/dags/my%20dag/runs');
    expect(init).toMatchObject({ method: 'POST', body: '{"conf":{"a":1}}', headers: { 'content-type': 'application/json' } });
  });

  it('sends the token as a bearer token, and none without one', async () => {
    const fetchFn = respond(200, []);
    await new SwarmflowClient('http://sf', { fetch: fetchFn, token: 'sfw_x' }).listDags();
    await new SwarmflowClient('http://sf', { fetch: fetchFn }).listDags();
    const [[, withToken], [, without]] = (fetchFn as jest.Mock).mock.calls;
    expect(withToken.headers).toEqual({ accept: 'application/json', authorization: 'Bearer sfw_x' });
    expect(without.headers).toEqual({ accept: 'application/json' });
  });

  it('builds query strings from the given filters only', async () => {
    const fetchFn = respond(200, []);
    const client = new SwarmflowClient('http://sf', { fetch: fetchFn });
    await client.listRuns({ state: 'failed', limit: 5 });
    await client.listRuns({ dagId: 'etl' });
    await client.readLogs('etl', 'r/1', 'load', { tryNumber: 2, cursor: 10 });
    expect((fetchFn as jest.Mock).mock.calls.map((c) => c[0])).toEqual([
      'http://sf/api/v1/runs?state=failed&limit=5',
      'http://sf/api/v1/dags/etl/runs',
      'http://sf/api/v1/dags/etl/runs/r%2F1/tasks/load/logs?try=2&cursor=10',
    ]);
  });

  it('turns an error body into an ApiError', async () => {
    const client = new SwarmflowClient('http://sf', { fetch: respond(400, { reason: 'invalid_conf', message: 'conf.epochs must be integer', field: 'conf.epochs' }) });
    await expect(client.trigger('etl')).rejects.toEqual(new ApiError(400, 'invalid_conf', 'conf.epochs must be integer', 'conf.epochs'));
  });

  it('explains an error response that is not the API\'s', async () => {
    const client = new SwarmflowClient('http://sf', { fetch: respond(502, 'Bad Gateway') });
    await expect(client.listDags()).rejects.toThrow('GET /dags failed with HTTP 502: Bad Gateway');
  });

  it('names the URL and the cause when the server cannot be reached', async () => {
    const refused = jest.fn(async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    }) as unknown as typeof fetch;
    const client = new SwarmflowClient('http://127.0.0.1:8080', { fetch: refused });
    const err = await client.listDags().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiConnectionError);
    expect((err as Error).message).toBe('cannot reach the Swarmflow API at http://127.0.0.1:8080 (connection refused). Start it with `npm start` or set SWARMFLOW_URL.');
  });
});
